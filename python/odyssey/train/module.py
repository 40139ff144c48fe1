"""The model side of training: `TrainModule` (Lightning's LightningModule, without its weight)
and `Classifier`, the ready-made module for the common case of a plain classifier.

A TrainModule is an `nn.Module` that says what one step is (`training_step`, `validation_step`,
...) and what optimizes it (`configure_optimizers`); the `Trainer` owns the loop. When the module
keeps its network in `self.model` (and has no weights of its own besides), `state_dict` and
`load_state_dict` act on that network, so the saved weights carry its plain names
(`conv1.weight`, not `model.conv1.weight`) and load straight into the model by itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from odyssey import nn
from odyssey.optim.optimizer import Optimizer
from odyssey.tensor import Tensor, from_numpy, no_grad

if TYPE_CHECKING:
    from odyssey.train.trainer import Trainer

__all__ = ["Classifier", "TrainModule"]


class TrainModule(nn.Module):
    """Base class of what the Trainer trains: override `training_step` and
    `configure_optimizers` (and `validation_step`, `test_step`, `predict_step` as needed).

    Hooks with Lightning's names and signatures (`on_fit_start`, `on_train_batch_end`, ...) may be
    overridden too; each runs right after the callbacks' hook of the same name (except
    `on_train_epoch_end`, which runs before the monitoring callbacks, ModelCheckpoint and
    EarlyStopping, as in Lightning)."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_trainer", None)

    # -- what a subclass defines ---------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Runs `self.model` when the module keeps its network there."""
        model = self.__dict__.get("_modules", {}).get("model")
        if model is None:
            raise NotImplementedError(
                f"{type(self).__name__}: define forward() or keep the network in self.model"
            )
        return model(*args, **kwargs)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor | dict[str, Any]:
        """One training step: the loss Tensor, or a dict with the loss under "loss"."""
        raise NotImplementedError(f"{type(self).__name__} does not define training_step")

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Any] | None:
        """One validation batch; log what it measures with `self.log`."""
        raise NotImplementedError(f"{type(self).__name__} does not define validation_step")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, Any] | None:
        """One test batch; log what it measures with `self.log`."""
        raise NotImplementedError(f"{type(self).__name__} does not define test_step")

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        """One prediction batch: by default the module's output on the batch's inputs."""
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        if isinstance(inputs, np.ndarray):
            inputs = from_numpy(inputs)
        output = self(inputs)
        return output.data if isinstance(output, Tensor) else output

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        """The optimizer, or {"optimizer": o, "lr_scheduler": s or {"scheduler": s,
        "interval": "epoch" | "step", "frequency": 1, "monitor": "val_loss"}}."""
        raise NotImplementedError(f"{type(self).__name__} does not define configure_optimizers")

    # -- logging --------------------------------------------------------------------------------

    @property
    def trainer(self) -> Trainer | None:
        """The Trainer running this module (None outside fit/validate/test/predict)."""
        return self._trainer

    def log(
        self,
        name: str,
        value: Any,
        *,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        prog_bar: bool = False,
        batch_size: int | None = None,
    ) -> None:
        """Records a metric, as LightningModule.log: `value` is a Tensor, an array, a number or a
        metric object (odyssey.metrics; computed and reset at the end of the epoch). In a
        training step, on_step defaults to True and on_epoch to False; in validation and test
        the reverse. Epoch values are means weighted by `batch_size` (inferred from the batch).
        Values stay arrays until a row is written, so logging every step costs no conversion.
        Outside a Trainer, does nothing."""
        trainer = self._trainer
        if trainer is not None:
            trainer._log(name, value, on_step, on_epoch, prog_bar, batch_size)

    # -- weights: the network in self.model, when that is where they all live -------------------

    def _weights_owner(self) -> nn.Module:
        model = self._modules.get("model")
        if model is None:
            return self
        if self._parameters or self._buffers or len(self._modules) > 1:
            return self
        return model

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """The weights by name: the plain names of `self.model` when it holds them all."""
        owner = self._weights_owner()
        return super().state_dict() if owner is self else owner.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> Any:
        """Loads weights named as `state_dict()` names them."""
        owner = self._weights_owner()
        if owner is self:
            return super().load_state_dict(state_dict, strict)
        return owner.load_state_dict(state_dict, strict)

    # -- hooks (no-ops here; the Trainer calls only the ones a subclass overrides) ---------------

    def setup(self, stage: str) -> None:
        """At the start of fit/validate/test/predict, before the optimizers are configured."""

    def teardown(self, stage: str) -> None:
        """At the very end of fit/validate/test/predict, even after an error."""

    def on_fit_start(self) -> None:
        """After setup and any checkpoint restore, before training starts."""

    def on_fit_end(self) -> None:
        """At the end of a fit that completed (after on_train_end)."""

    def on_train_start(self) -> None:
        """Before the first training epoch (after on_fit_start)."""

    def on_train_end(self) -> None:
        """After the last training epoch."""

    def on_train_epoch_start(self) -> None:
        """At the start of each training epoch, before its first batch."""

    def on_train_epoch_end(self) -> None:
        """At the end of each training epoch, after its last batch (and validation)."""

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Before training_step."""

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """After the optimizer step (and a step-interval scheduler's step)."""

    def on_before_zero_grad(self, optimizer: Optimizer) -> None:
        """After training_step, before the gradients are cleared."""

    def on_before_backward(self, loss: Tensor) -> None:
        """Just before loss.backward()."""

    def on_after_backward(self) -> None:
        """Just after loss.backward(), before clipping and the optimizer step."""

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        """Before gradient clipping and optimizer.step() (Lightning's order)."""

    def on_validation_start(self) -> None:
        """At the start of a validation run (the module is in eval mode)."""

    def on_validation_end(self) -> None:
        """At the end of a validation run, once its metrics are in callback_metrics."""

    def on_validation_epoch_start(self) -> None:
        """Before the first validation batch."""

    def on_validation_epoch_end(self) -> None:
        """After the last validation batch: callback_metrics hold the pass's values (metric
        objects are reset only after this hook); what it logs joins them."""

    def on_test_epoch_start(self) -> None:
        """Before the first test batch."""

    def on_test_epoch_end(self) -> None:
        """After the last test batch: callback_metrics hold the pass's values (metric objects
        are reset only after this hook); what it logs joins them."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """When a checkpoint is saved: add JSON-able entries to `checkpoint` to keep them."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """When fit restores a checkpoint: read back what on_save_checkpoint added."""


OptimizerFactory = Callable[[Any], Optimizer]


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else from_numpy(np.ascontiguousarray(value))


def _shape_of(batch: Any) -> str:
    """What a batch is, for an error message: its type, and its keys or length."""
    if isinstance(batch, Mapping):
        return f"a {type(batch).__name__} with keys {sorted(map(str, batch))}"
    if isinstance(batch, (tuple, list)):
        return f"a {type(batch).__name__} of {len(batch)}"
    return f"a {type(batch).__name__}"


def _batch_accuracy(logits: Tensor, labels: np.ndarray) -> float:
    """The fraction of right answers in one batch: the count over the batch size, the very
    double np.mean of the matches gives (both divide two exact integers once), without its
    float64 pass over the matches."""
    matches = np.argmax(logits.data, axis=1) == labels
    if not matches.size:
        return float(np.mean(matches))  # NaN, with NumPy's warning about an empty mean
    return np.count_nonzero(matches) / matches.size


class Classifier(TrainModule):
    """A classifier trained on (images, labels) batches with no loop to write.

    `loss` defaults to nn.CrossEntropyLoss(); `optimizer` is a factory `f(parameters) ->
    Optimizer` (default: Adam, lr 1e-3) or an optimizer already built on the model's parameters;
    `scheduler` is None, a factory `f(optimizer) -> scheduler` (stepped every epoch), or
    Lightning's dict {"scheduler": factory, "interval", "frequency", "monitor"}. Logs train_loss
    and train_accuracy (each step, and as epoch means), val_loss, val_accuracy, test_loss and
    test_accuracy; keeps the test confusion matrix (`confusion_matrix`) for the run's plot.
    Accuracy ranks the model's `class_scores(outputs)` when the model defines it (outputs that
    are not logits: LeNet-5's RBF penalties, lower is better), the outputs otherwise; the loss
    always gets the outputs."""

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[[Tensor, Tensor], Tensor] | None = None,
        optimizer: OptimizerFactory | Optimizer | None = None,
        scheduler: Callable[[Optimizer], Any] | Mapping[str, Any] | None = None,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"Classifier: model must be an nn.Module, got {type(model).__name__}")
        if loss is not None and not callable(loss):
            raise TypeError(f"Classifier: loss must be callable, got {type(loss).__name__}")
        if optimizer is not None and not (isinstance(optimizer, Optimizer) or callable(optimizer)):
            raise TypeError(
                "Classifier: optimizer must be a factory f(parameters) -> Optimizer or an "
                f"Optimizer, got {type(optimizer).__name__}"
            )
        if scheduler is not None and not (callable(scheduler) or isinstance(scheduler, Mapping)):
            raise TypeError(
                "Classifier: scheduler must be a factory f(optimizer) -> scheduler or a dict, got "
                f"{type(scheduler).__name__}"
            )
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(f"Classifier: num_classes must be a positive int, got {num_classes!r}")
        if class_names is not None:
            class_names = [str(name) for name in class_names]
            if num_classes is None:
                num_classes = len(class_names)
            elif len(class_names) != num_classes:
                raise ValueError(
                    f"Classifier: {len(class_names)} class_names for num_classes={num_classes}"
                )
        self.model = model
        object.__setattr__(self, "loss_fn", loss if loss is not None else nn.CrossEntropyLoss())
        object.__setattr__(self, "_optimizer_spec", optimizer)
        object.__setattr__(self, "_scheduler_spec", scheduler)
        object.__setattr__(self, "num_classes", num_classes)
        object.__setattr__(self, "class_names", class_names)
        object.__setattr__(self, "confusion_matrix", None)
        object.__setattr__(self, "_eval_metrics", {})

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        """Builds the optimizer (and scheduler) from the factories given to the constructor."""
        from odyssey import optim

        spec = self._optimizer_spec
        if spec is None:
            optimizer = optim.Adam(self.model.parameters(), lr=1e-3)
        elif isinstance(spec, Optimizer):
            optimizer = spec
        else:
            optimizer = spec(self.model.parameters())
            if not isinstance(optimizer, Optimizer):
                raise TypeError(
                    "Classifier: the optimizer factory must return an odyssey Optimizer, got "
                    f"{type(optimizer).__name__}"
                )
        if self._scheduler_spec is None:
            return optimizer
        config = (
            dict(self._scheduler_spec)
            if isinstance(self._scheduler_spec, Mapping)
            else {"scheduler": self._scheduler_spec}
        )
        if "scheduler" not in config:
            raise ValueError('Classifier: the scheduler dict needs a "scheduler" entry')
        if callable(config["scheduler"]) and not hasattr(config["scheduler"], "step"):
            config["scheduler"] = config["scheduler"](optimizer)
        return {"optimizer": optimizer, "lr_scheduler": config}

    def _scores(self, outputs: Tensor) -> Tensor:
        """Class scores (higher = likelier) of the model's outputs: the model's
        `class_scores(outputs)` when it defines one (a model whose outputs are penalties, say),
        else the outputs themselves (logits)."""
        class_scores = getattr(self.model, "class_scores", None)
        return outputs if class_scores is None else class_scores(outputs)

    def _forward_batch(self, batch: Any) -> tuple[Tensor, Tensor, np.ndarray]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                f"Classifier: a batch must be an (images, labels) pair, got {_shape_of(batch)}; "
                "for other batches, subclass it and define training_step, validation_step and "
                "test_step"
            )
        images, labels = batch
        labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
        outputs = self.model(_as_tensor(images))
        loss = self.loss_fn(outputs, from_numpy(np.ascontiguousarray(labels, dtype=np.int64)))
        return self._scores(outputs), loss, labels

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Loss and accuracy of one batch, logged per step and as epoch means."""
        logits, loss, labels = self._forward_batch(batch)
        size = len(labels)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log("train_accuracy", _batch_accuracy(logits, labels), on_epoch=True, batch_size=size)
        return loss

    def _evaluate(self, batch: Any, stage: str) -> None:
        from odyssey import metrics

        logits, loss, labels = self._forward_batch(batch)
        named = self._eval_metrics.get(stage)
        if named is None:
            named = {"loss": metrics.MeanLoss(), "accuracy": metrics.Accuracy()}
            self._eval_metrics[stage] = named
        named["loss"].update(loss, weight=len(labels))
        named["accuracy"].update(logits, labels)
        if stage == "test":
            if self.confusion_matrix is None:
                classes = self.num_classes or int(logits.shape[1])
                object.__setattr__(self, "confusion_matrix", metrics.ConfusionMatrix(classes))
            self.confusion_matrix.update(logits, labels)
        self.log(f"{stage}_loss", named["loss"], on_epoch=True, prog_bar=stage == "val")
        self.log(f"{stage}_accuracy", named["accuracy"], on_epoch=True, prog_bar=stage == "val")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Accumulates val_loss and val_accuracy (exact counts, logged at the epoch's end)."""
        self._evaluate(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Accumulates test_loss, test_accuracy and the test confusion matrix."""
        self._evaluate(batch, "test")

    def on_test_epoch_start(self) -> None:
        """A new test run starts a new confusion matrix."""
        if self.confusion_matrix is not None:
            self.confusion_matrix.reset()

    @no_grad()
    def predict_step(self, batch: Any, batch_idx: int) -> np.ndarray:
        """The class scores (logits, or the model's `class_scores`) of a batch of images (or of
        an (images, labels) pair)."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self._scores(self.model(_as_tensor(images))).data
