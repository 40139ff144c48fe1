"""Minimal private stand-ins for the modules other issue-9 branches write (checkpoint, callbacks,
loggers, progress, plots, metrics, lr_scheduler, clip_grad), so the Trainer's tests run before
those land. `install()` puts one in sys.modules only where the real module's file is missing;
once the branches are merged, the real modules are used and this file is dead weight to delete.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

import odyssey

PACKAGE = Path(odyssey.__file__).parent


def _missing(dotted: str) -> bool:
    relative = dotted.split(".")[1:]
    return (
        not (PACKAGE.joinpath(*relative).with_suffix(".py")).exists()
        and not (PACKAGE.joinpath(*relative) / "__init__.py").exists()
    )


def _module(dotted: str, namespace: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(dotted)
    module.__dict__.update(namespace)
    sys.modules[dotted] = module
    parent, _, child = dotted.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module


# --- _atomic, serialization -------------------------------------------------------------------


@contextlib.contextmanager
def atomic_write(path: Any, mode: str = "wb") -> Any:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(temporary, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_bytes_atomic(path: Any, data: bytes) -> None:
    with atomic_write(path, "wb") as file:
        file.write(data)


def write_text_atomic(path: Any, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


class CheckpointError(ValueError):
    pass


def save(state_dict: Any, path: Any, metadata: Any = None) -> None:
    from safetensors.numpy import save as st_save

    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in state_dict.items()}
    write_bytes_atomic(path, st_save(arrays, metadata=metadata))


def load(path: Any) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer.")}


# --- checkpoint -------------------------------------------------------------------------------


def to_json(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(obj).tobytes()).decode()
        return {"__array__": data, "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return to_json(np.asarray(obj))
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: to_json(v) for k, v in obj.items()}
        return {"__items__": [[to_json(k), to_json(v)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [to_json(v) for v in obj]}
    if isinstance(obj, list):
        return [to_json(v) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= 2**53:
        return {"__int__": str(obj)}
    return obj


def from_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            data = base64.b64decode(obj["__array__"])
            return np.frombuffer(data, dtype=obj["dtype"]).reshape(obj["shape"]).copy()
        if "__items__" in obj:
            return {from_json(k): from_json(v) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(from_json(v) for v in obj["__tuple__"])
        if "__int__" in obj:
            return int(obj["__int__"])
        return {k: from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json(v) for v in obj]
    return obj


class Checkpoint:
    def __init__(self, path: Path, model: dict, optimizer: dict | None, state: dict) -> None:
        self.path, self.model, self.optimizer, self.state = path, model, optimizer, state
        self.version = odyssey.__version__

    def restore(self, model: Any, optimizer: Any = None) -> None:
        own = model.state_dict()
        if set(own) != set(self.model) or any(own[k].shape != self.model[k].shape for k in own):
            raise CheckpointError(f"{self.path}: the checkpoint's model differs")
        model.load_state_dict(self.model)
        if optimizer is not None and self.optimizer is not None:
            optimizer.load_state_dict(self.optimizer)


def save_checkpoint(path: Any, model: Any, optimizer: Any = None, state: Any = None) -> Path:
    from safetensors.numpy import save as st_save

    arrays = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {"state": state or {}}
    if optimizer is not None:
        optimizer_state = optimizer.state_dict()
        scalars: dict[str, Any] = {}
        for index, entries in optimizer_state["state"].items():
            for name, value in entries.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer.state.{index}.{name}"] = np.ascontiguousarray(value)
                else:
                    scalars[f"{index}.{name}"] = value
        meta["optimizer"] = {"param_groups": optimizer_state["param_groups"], "scalars": scalars}
    text = json.dumps(to_json(meta))
    write_bytes_atomic(path, st_save(arrays, metadata={"odyssey": text}))
    return Path(path)


def load_checkpoint(path: Any) -> Checkpoint:
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as file:
            meta = from_json(json.loads(file.metadata()["odyssey"]))
            arrays = {k: file.get_tensor(k) for k in file.keys()}  # noqa: SIM118
    except Exception as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None
    model = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
    optimizer = None
    if "optimizer" in meta:
        state: dict[int, dict[str, Any]] = {}
        for key, value in arrays.items():
            if key.startswith("optimizer.state."):
                _, _, index, name = key.split(".", 3)
                state.setdefault(int(index), {})[name] = value
        for key, value in meta["optimizer"]["scalars"].items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = value
        optimizer = {"state": state, "param_groups": meta["optimizer"]["param_groups"]}
    return Checkpoint(path, model, optimizer, meta["state"])


# --- callbacks, loggers, progress, plots -------------------------------------------------------


class Callback:
    @property
    def state_key(self) -> str:
        return type(self).__name__

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


_HOOKS = [
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_optimizer_step",
    "on_validation_start",
    "on_validation_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_validation_batch_end",
    "on_test_start",
    "on_test_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_test_batch_end",
    "on_predict_start",
    "on_predict_end",
    "on_save_checkpoint",
    "on_load_checkpoint",
    "on_exception",
]
for _hook in _HOOKS:
    setattr(Callback, _hook, lambda self, *args: None)


class ModelCheckpoint(Callback):
    def __init__(self, dirpath: Any = None, save_last: bool | None = None, **_: Any) -> None:
        self.dirpath, self.save_last = dirpath, save_last

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        if self.save_last:
            directory = Path(self.dirpath or trainer.checkpoint_dir)
            trainer.save_checkpoint(directory / "last.safetensors")


class EarlyStopping(Callback):
    def __init__(self, monitor: str, **_: Any) -> None:
        self.monitor = monitor


class Throughput(Callback):
    pass


def _logging_standins(Callback: type) -> dict[str, type]:
    """Logger, CSVLogger, JSONLLogger and ProgressBar built on `Callback` (the real one when the
    callbacks branch has landed)."""

    class Logger(Callback):
        """Rows kept in memory and rewritten whole at each write; state = rows up to a step."""

        filename = ""

        def __init__(self) -> None:
            self.rows: list[dict] = []
            self.path: Path | None = None

        def setup(self, trainer: Any, module: Any, stage: str) -> None:
            if stage == "fit":
                self.path = trainer.run_dir / self.filename

        def log_metrics(self, metrics: dict, step: int) -> None:
            self.rows.append(dict(metrics))
            self._write()

        def log_hyperparams(self, config: Any) -> None:
            pass

        def finalize(self, status: str) -> None:
            pass

        def state_dict(self) -> dict:
            return {"rows": len(self.rows)}

        def load_state_dict(self, state: dict) -> None:
            self.path = None  # set again by setup? setup runs before restore: keep the rows on disk
            self._keep = int(state["rows"])

        def on_fit_start(self, trainer: Any, module: Any) -> None:
            keep = getattr(self, "_keep", None)
            if keep is not None:
                self.path = trainer.run_dir / self.filename
                self.rows = self._read()[:keep]
                self._keep = None
                self._write()

    class JSONLLogger(Logger):
        filename = "metrics.jsonl"

        def _write(self) -> None:
            write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))

        def _read(self) -> list[dict]:
            return [json.loads(line) for line in self.path.read_text().splitlines()]

    class CSVLogger(Logger):
        filename = "metrics.csv"

        def _write(self) -> None:
            keys: list[str] = []
            for row in self.rows:
                keys += [k for k in row if k not in keys]
            with atomic_write(self.path, "w") as file:
                writer = csv.DictWriter(file, keys)
                writer.writeheader()
                writer.writerows(self.rows)

        def _read(self) -> list[dict]:
            with open(self.path) as file:
                return list(csv.DictReader(file))

    class ProgressBar(Callback):
        def __init__(self, refresh_rate: int = 1) -> None:
            self.refresh_rate = refresh_rate

    return {
        "Logger": Logger,
        "CSVLogger": CSVLogger,
        "JSONLLogger": JSONLLogger,
        "ProgressBar": ProgressBar,
    }


def plot_curves(rows: list, path: Any) -> None:
    write_bytes_atomic(path, b"\x89PNG stand-in")


def plot_confusion(matrix: Any, class_names: Any, path: Any) -> None:
    write_bytes_atomic(path, b"\x89PNG stand-in")


# --- metrics, lr_scheduler, clip_grad ---------------------------------------------------------


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.data if hasattr(value, "data") else value)


class _Metric:
    def state_dict(self) -> dict:
        return {k: np.array(v) for k, v in vars(self).items() if isinstance(v, np.ndarray)}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, np.array(v))


class Accuracy(_Metric):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.total = np.zeros((), np.int64), np.zeros((), np.int64)

    def update(self, preds: Any, target: Any) -> None:
        preds, target = _array(preds), _array(target)
        labels = preds.argmax(1) if preds.ndim == 2 else preds
        self.correct = self.correct + (labels == target).sum()
        self.total = self.total + len(target)

    def compute(self) -> float:
        return float(self.correct) / float(self.total) if self.total else float("nan")


class MeanLoss(_Metric):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sum, self.weight = np.zeros((), np.float64), np.zeros((), np.float64)

    def update(self, loss: Any, weight: float = 1) -> None:
        self.sum = self.sum + float(_array(loss)) * weight
        self.weight = self.weight + weight

    def compute(self) -> float:
        return float(self.sum / self.weight) if self.weight else float("nan")


class ConfusionMatrix(_Metric):
    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        self.matrix = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, preds: Any, target: Any) -> None:
        preds, target = _array(preds), _array(target)
        labels = preds.argmax(1) if preds.ndim == 2 else preds
        np.add.at(self.matrix, (target, labels), 1)

    def compute(self) -> np.ndarray:
        return self.matrix.copy()


class StepLR:
    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0

    def step(self) -> None:
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * self.gamma ** (self.last_epoch // self.step_size)

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": self.base_lrs}

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch, self.base_lrs = state["last_epoch"], list(state["base_lrs"])


class ReduceLROnPlateau:
    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.1, patience: int = 10):
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.best, self.bad, self.calls = float("inf"), 0, []

    def step(self, metrics: float) -> None:
        self.calls.append(float(metrics))
        if metrics < self.best:
            self.best, self.bad = metrics, 0
        else:
            self.bad += 1
        if self.bad > self.patience:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.factor
            self.bad = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad, "calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad, self.calls = state["best"], state["bad"], list(state["calls"])


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0, **_: Any) -> Any:
    grads = [p.grad.data for p in parameters if p.grad is not None]
    total = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    coefficient = max_norm / (total + 1e-6)
    if coefficient < 1:
        for g in grads:
            g *= np.float32(coefficient)
    return odyssey.tensor(np.float32(total))


def clip_grad_value_(parameters: Any, clip_value: float, **_: Any) -> None:
    for p in parameters:
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


_SOURCES: dict[str, list[str]] = {
    "odyssey._atomic": ["atomic_write", "write_bytes_atomic", "write_text_atomic"],
    "odyssey.serialization": ["CheckpointError", "save", "load"],
    "odyssey.metrics": ["Accuracy", "MeanLoss", "ConfusionMatrix"],
    "odyssey.optim.lr_scheduler": ["StepLR", "ReduceLROnPlateau"],
    "odyssey.nn.utils": ["clip_grad_norm_", "clip_grad_value_"],
    "odyssey.train.checkpoint": [
        "Checkpoint", "save_checkpoint", "load_checkpoint", "to_json", "from_json",
        "CheckpointError",
    ],
    "odyssey.train.callbacks": [
        "Callback", "ModelCheckpoint", "EarlyStopping", "Throughput",
    ],
    "odyssey.train.loggers": ["Logger", "CSVLogger", "JSONLLogger"],
    "odyssey.train.progress": ["ProgressBar"],
    "odyssey.train.plots": ["plot_curves", "plot_confusion"],
}  # fmt: skip


def _load_real(dotted: str) -> types.ModuleType:
    """Executes a real module file under its name without importing odyssey.train's __init__
    (which needs the stand-ins first)."""
    import importlib.util

    relative = dotted.split(".")[1:]
    spec = importlib.util.spec_from_file_location(
        dotted, PACKAGE.joinpath(*relative).with_suffix(".py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[dotted] = module
    spec.loader.exec_module(module)
    return module


def install() -> list[str]:
    """Installs the stand-ins whose real module is missing; returns their names."""
    installed = []
    namespace = dict(globals())
    if "odyssey.train" not in sys.modules:
        if not _missing("odyssey.train.callbacks"):
            real = sys.modules.get("odyssey.train.callbacks") or _load_real(
                "odyssey.train.callbacks"
            )
            namespace["Callback"] = real.Callback
        namespace.update(_logging_standins(namespace["Callback"]))
    for dotted, names in _SOURCES.items():
        if _missing(dotted) and dotted not in sys.modules:
            _module(dotted, {name: namespace[name] for name in names})
            installed.append(dotted)
    if "odyssey.serialization" in installed:
        odyssey.save, odyssey.load = save, load  # type: ignore[attr-defined]
    return installed
