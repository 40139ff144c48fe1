"""LeNet-5's time to accuracy: odyssey against its PyTorch twin, same recipe and same data, in one
run; and the faithful LeNet5's training throughput with a profile of where its time goes.

The recipe is lenet5's modern variant as `odyssey train lenet5 --variant modern` resolves it
(papers/lenet5/paper.toml through odyssey.papers.resolve, so it follows the paper's tuning),
with the distortions on for mnist-sample; --set KEY=VALUE (as odyssey train's), --epochs and
--threads override it. Ours is trained as `odyssey train` trains it (papers.build_model /
build_data / optimizer_factory / scheduler_factory, a Classifier in a Trainer, progress bar off);
the twin is papers/lenet5/twin.py's train_twin: TorchLeNet5Modern on the very batches of the
same odyssey loaders, torch.optim's optimizer and scheduler of the same names and arguments.

- throughput: training images/s of one step (forward, cross-entropy, backward, the recipe's
  optimizer at a zero learning rate, see `frozen`) on a fixed batch of the recipe's size, rounds
  alternating, medians;
- time to accuracy: both sides train with the test accuracy evaluated at the end of every epoch
  (evaluation off the clock; loading, augmentation, the Trainer's logging and checkpoints on it)
  until it reaches the bar (98 % on mnist-sample with distortions, the recipe's epochs; 90 % on
  Fashion-MNIST in 10 epochs without them, as the issue's Fashion row, when Debian's
  dataset-fashion-mnist is installed) or the epochs run out, which is reported as such. The
  recipe's schedule is sized to those epochs (a one-cycle schedule peaks and anneals within
  them), so the time to the bar depends on them too. Rounds alternate which side goes first;
  round r uses seed r (initialisation, shuffling, augmentation), and the twin starts from
  odyssey's initial weights of that seed (--torch-init: from torch's own draw), so both sides
  take about the same number of epochs and the ratio measures speed, not which draw was luckier
  (with separate draws the epochs to 98 % differed by up to 3 of ~15 between the two sides);
  each round's ratio is torch's seconds / ours, the headline their median (the issue's goal:
  >= 3), with the medians of the seconds and their ratio beside it;
- where a step's time goes, ours and the twin's: forward, loss, backward, optimizer, and the
  loader's epoch with and without augmentation;
- the faithful LeNet5 (model.py: C3's partial connections, trainable subsampling, squashing,
  RBF penalties), trained with map_loss and plain SGD at batch 64: images/s, and its forward and
  backward time layer by layer, and by kernel call.

Results are printed and written as JSON to benchmarks/results/lenet_tta.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Idle OpenMP workers (PyTorch's) spin 300,000 times before sleeping by default; here they would
# hold a core against the DataLoader's prefetch thread, so they spin less (the LeNet-5 step
# benchmark keeps PyTorch's default).
os.environ.setdefault("GOMP_SPINCOUNT", "10000")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

import numpy as np
from harness import SETTLE_SECONDS, kernel_profile, side_by_side, write_report

import odyssey
import odyssey.nn.functional as F
from odyssey import optim, papers
from odyssey.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "papers" / "lenet5"
RESULTS = Path(__file__).parent / "results"
GOAL = 3.0
FASHION = Path("/usr/share/datasets/fashion-mnist")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TWIN = _load("_odyssey_bench_lenet5_twin", PAPER / "twin.py")
MODEL = papers.load_model_module(PAPER)


# -- the recipe ----------------------------------------------------------------------------------


def recipe(
    dataset: str, augment: bool, sets: Sequence[str], epochs: int | None, threads: int | None
) -> tuple[dict[str, Any], bool]:
    """The modern variant's configuration on `dataset` with train.augment = `augment`, and
    whether the distortions are on (an odyssey without the train.augment key trains without)."""
    paper = papers.load_paper(PAPER)
    flags = {"dataset": dataset, "epochs": epochs, "threads": threads}
    try:
        wanted = f"train.augment={'true' if augment else 'false'}"
        return papers.resolve(paper, "modern", flags, [*sets, wanted]), augment
    except papers.PaperError as error:
        if "train.augment" not in str(error):
            raise
    if augment:
        print(f"note: odyssey.papers has no train.augment key; {dataset} runs WITHOUT distortions")
    return papers.resolve(paper, "modern", flags, list(sets)), False


# -- time to accuracy ----------------------------------------------------------------------------


@odyssey.no_grad()
def test_accuracy(model: Any, loader: Any) -> float:
    right = count = 0
    for images, labels in loader:
        logits = model(odyssey.from_numpy(images))
        right += int(np.count_nonzero(np.argmax(logits.data, axis=1) == labels))
        count += len(labels)
    return right / count


def train_ours(
    config: dict[str, Any], seed: int, bar: float, root: Path, stop_at_bar: bool = True
) -> list[dict[str, Any]]:
    """`odyssey train`'s setup (cli/train.py's _train) with the test accuracy measured after
    every epoch, off the clock: one row per epoch (epoch, train_s so far, test_accuracy)."""
    from odyssey.train import Classifier, Trainer, callbacks

    config = {**config, "train": {**config["train"], "seed": seed}}
    train = config["train"]
    odyssey.manual_seed(seed)
    model = papers.build_model(config)
    data = papers.build_data(config)
    module = Classifier(
        model,
        optimizer=papers.optimizer_factory(config),
        scheduler=papers.scheduler_spec(config, len(data.train_loader)),
        num_classes=data.num_classes,
        class_names=data.classes,
    )
    history: list[dict[str, Any]] = []

    class EpochClock(callbacks.Callback):
        def on_train_start(self, trainer: Any, module: Any) -> None:
            self.excluded = 0.0
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            now = time.perf_counter()
            accuracy = test_accuracy(model, data.test_loader)
            history.append(
                {
                    "epoch": len(history) + 1,
                    "train_s": now - self.start - self.excluded,
                    "test_accuracy": accuracy,
                }
            )
            if stop_at_bar and accuracy >= bar:
                trainer.should_stop = True
            self.excluded += time.perf_counter() - now

    trainer = Trainer(
        max_epochs=train["epochs"],
        callbacks=[EpochClock()],
        default_root_dir=root,
        seed=seed,
        threads=train.get("threads"),
        progress=False,
        config=config,
    )
    trainer.fit(module, data.train_loader, data.val_loader)
    return history


def initial_weights(config: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """LeNet5Modern's initial weights in a run of `seed` (odyssey train's initialisation)."""
    odyssey.manual_seed(seed)
    return {k: np.array(v) for k, v in papers.build_model(config).state_dict().items()}


def train_theirs(
    config: dict[str, Any], seed: int, bar: float, stop_at_bar: bool = True, same_init: bool = False
) -> list[dict[str, Any]]:
    """The twin with the test accuracy after every epoch (train_twin keeps it off the clock);
    `same_init`: from odyssey's initial weights of that seed instead of torch's own draw."""
    result = TWIN.train_twin(
        config,
        seed=seed,
        initial_state=initial_weights(config, seed) if same_init else None,
        eval_every=1,
        on_eval=lambda epoch, row: stop_at_bar and row["test_accuracy"] >= bar,
    )
    return [
        {"epoch": row["epoch"], "train_s": row["train_s"], "test_accuracy": row["test_accuracy"]}
        for row in result["history"]
    ]


def reached(history: list[dict[str, Any]], bar: float) -> dict[str, Any]:
    """The first epoch at or above `bar` and its seconds, or None for both; the best accuracy."""
    hit = next((row for row in history if row["test_accuracy"] >= bar), None)
    return {
        "epochs": None if hit is None else hit["epoch"],
        "seconds": None if hit is None else hit["train_s"],
        "epochs_run": len(history),
        "best_accuracy": max(row["test_accuracy"] for row in history),
        "curve": [[row["epoch"], row["train_s"], row["test_accuracy"]] for row in history],
    }


def describe(side: dict[str, Any], epochs: int) -> str:
    if side["seconds"] is None:
        return f"never in {epochs} ep (best {100 * side['best_accuracy']:.1f} %)"
    return f"{side['seconds']:.2f} s ({side['epochs']} ep)"


def time_to_accuracy(
    label: str,
    config: dict[str, Any],
    augment: bool,
    bar: float,
    seeds: Sequence[int],
    stop_at_bar: bool,
    same_init: bool,
) -> dict[str, Any]:
    """Rounds of ours and the twin, alternating which goes first, seed r in round r."""
    epochs = config["train"]["epochs"]
    print(
        f"\n{label}: time to {100 * bar:.0f} % test accuracy, {config['train']['dataset']}, "
        f"distortions {'on' if augment else 'off'}, at most {epochs} epochs "
        f"(batch {config['train']['batch_size']}, {config['train']['optimizer']} lr "
        f"{config['train']['lr']}, scheduler {config['train']['scheduler']}; the twin from "
        f"{'odyssey' if same_init else 'its own'} initial weights)"
    )
    rounds = []
    with tempfile.TemporaryDirectory() as directory:
        for number, seed in enumerate(seeds):
            order = ("ours", "torch") if number % 2 == 0 else ("torch", "ours")
            row: dict[str, Any] = {"seed": seed}
            for side in order:
                time.sleep(SETTLE_SECONDS)
                if side == "ours":
                    history = train_ours(
                        config, seed, bar, Path(directory) / f"r{number}", stop_at_bar
                    )
                else:
                    history = train_theirs(config, seed, bar, stop_at_bar, same_init)
                row[side] = reached(history, bar)
            ours, theirs = row["ours"], row["torch"]
            both = ours["seconds"] is not None and theirs["seconds"] is not None
            row["ratio"] = theirs["seconds"] / ours["seconds"] if both else None
            ratio = f"{row['ratio']:.2f}" if both else "-"
            print(
                f"  seed {seed}: ours {describe(ours, epochs):<28} torch "
                f"{describe(theirs, epochs):<28} ratio {ratio}"
            )
            rounds.append(row)
    summary: dict[str, Any] = {
        "what": label,
        "dataset": config["train"]["dataset"],
        "augment": augment,
        "bar": bar,
        "max_epochs": epochs,
        "seeds": list(seeds),
        "twin_init": "odyssey's" if same_init else "torch's own",
        "rounds": rounds,
    }
    for side in ("ours", "torch"):
        times = [r[side]["seconds"] for r in rounds if r[side]["seconds"] is not None]
        summary[f"{side}_reached"] = len(times)
        summary[f"{side}_seconds"] = statistics.median(times) if len(times) == len(rounds) else None
        summary[f"{side}_epochs"] = (
            statistics.median(r[side]["epochs"] for r in rounds)
            if len(times) == len(rounds)
            else None
        )
    ok = summary["ours_seconds"] is not None and summary["torch_seconds"] is not None
    # A round pairs the two sides on one seed (and, by default, one initialisation), so the
    # headline is the median of the rounds' ratios; the ratio of the two medians, which may
    # come from different rounds, is kept beside it.
    summary["ratio"] = statistics.median(r["ratio"] for r in rounds) if ok else None
    summary["ratio_of_medians"] = summary["torch_seconds"] / summary["ours_seconds"] if ok else None
    if ok:
        print(
            f"  median: ours {summary['ours_seconds']:.2f} s ({summary['ours_epochs']:g} ep), "
            f"torch {summary['torch_seconds']:.2f} s ({summary['torch_epochs']:g} ep); ratio "
            f"{summary['ratio']:.2f}, the median of the rounds' (goal >= {GOAL:g}); ratio of the "
            f"medians {summary['ratio_of_medians']:.2f}"
        )
    else:
        print(
            f"  no ratio: ours reached {100 * bar:.0f} % in {summary['ours_reached']} of "
            f"{len(rounds)} rounds, torch in {summary['torch_reached']} of {len(rounds)} "
            f"within {epochs} epochs"
        )
    return summary


# -- one training step, side by side and by phase ------------------------------------------------


def fixed_batch(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The first batch of the recipe's train loader (epoch 0, augmented if the recipe is)."""
    loader = papers.build_data(config).train_loader
    loader.set_epoch(0)
    images, labels = next(iter(loader))
    return np.ascontiguousarray(images), np.ascontiguousarray(labels, dtype=np.int64)


def frozen(config: dict[str, Any]) -> dict[str, Any]:
    """The recipe with a zero learning rate, for steps timed on one fixed batch: the optimizer
    does all its work while the weights stay put. With the recipe's rate both models soon fit the
    batch, the gradients become exactly zero and the optimizer's state decays through the
    subnormal floats, whose arithmetic is tens of times slower, so the timings drift."""
    return {**config, "train": {**config["train"], "lr": 0.0}}


def our_step(config: dict[str, Any], images: np.ndarray, labels: np.ndarray) -> Callable[[], Any]:
    config = frozen(config)
    odyssey.manual_seed(0)
    model = papers.build_model(config)
    optimizer = papers.build_optimizer(config, model.parameters())
    x, y = odyssey.from_numpy(images), odyssey.from_numpy(labels)

    def step() -> Any:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def their_step(
    torch: Any, config: dict[str, Any], images: np.ndarray, labels: np.ndarray
) -> Callable[[], Any]:
    config = frozen(config)
    torch.manual_seed(0)
    model = TWIN.TorchLeNet5Modern()
    optimizer = TWIN.build_torch_optimizer(torch, config["train"], model.parameters())
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    loss_function = torch.nn.CrossEntropyLoss()

    def step() -> Any:
        loss = loss_function(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def phase_profile(
    forward: Callable[[], Any],
    loss_of: Callable[[Any], Any],
    zero_grad: Callable[[], Any],
    step: Callable[[], Any],
    steps: int,
) -> dict[str, float]:
    """Median microseconds of each phase of a training step over `steps` steps."""
    times: dict[str, list[float]] = {"forward": [], "loss": [], "backward": [], "optimizer": []}
    for _ in range(steps + 3):
        t0 = time.perf_counter()
        out = forward()
        t1 = time.perf_counter()
        loss = loss_of(out)
        t2 = time.perf_counter()
        zero_grad()
        loss.backward()
        t3 = time.perf_counter()
        step()
        t4 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[key].append(value)
    # The first three steps warm caches and allocate the optimizer's state: not counted.
    return {key: 1e6 * statistics.median(values[3:]) for key, values in times.items()}


def step_profiles(
    torch: Any, config: dict[str, Any], images: np.ndarray, labels: np.ndarray, steps: int
) -> dict[str, Any]:
    odyssey.manual_seed(0)
    model = papers.build_model(config)
    optimizer = papers.build_optimizer(config, model.parameters())
    x, y = odyssey.from_numpy(images), odyssey.from_numpy(labels)
    ours = phase_profile(
        lambda: model(x),
        lambda out: F.cross_entropy(out, y),
        optimizer.zero_grad,
        optimizer.step,
        steps,
    )
    torch.manual_seed(0)
    twin = TWIN.TorchLeNet5Modern()
    their_optimizer = TWIN.build_torch_optimizer(torch, config["train"], twin.parameters())
    tx, ty = torch.from_numpy(images), torch.from_numpy(labels)
    theirs = phase_profile(
        lambda: twin(tx),
        lambda out: torch.nn.functional.cross_entropy(out, ty),
        their_optimizer.zero_grad,
        their_optimizer.step,
        steps,
    )
    return {"ours_us": ours, "torch_us": theirs}


def epoch_profile(torch: Any, config: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
    """Median seconds of one training epoch on the recipe's loader: ours through the Trainer
    (as odyssey train), ours as a bare loop, and the twin's loop (train_twin's). The Trainer's
    cost is the first minus the second; the loader's, the second minus the steps alone."""
    seconds: dict[str, list[float]] = {"ours_trainer": [], "ours_bare": [], "torch": []}
    one = {**config, "train": {**config["train"], "epochs": epochs}}
    with tempfile.TemporaryDirectory() as directory:
        for number in range(2):
            time.sleep(SETTLE_SECONDS)
            curve = train_ours(one, 0, 2.0, Path(directory) / f"e{number}")
            seconds["ours_trainer"] += [
                b["train_s"] - a["train_s"]
                for a, b in zip([{"train_s": 0.0}, *curve], curve, strict=False)
            ]
            time.sleep(SETTLE_SECONDS)
            odyssey.manual_seed(0)
            model = papers.build_model(one)
            optimizer = papers.build_optimizer(one, model.parameters())
            loader = papers.build_data(one).train_loader
            for epoch in range(epochs):
                loader.set_epoch(epoch)
                start = time.perf_counter()
                for images, labels in loader:
                    loss = F.cross_entropy(
                        model(odyssey.from_numpy(images)), odyssey.from_numpy(labels)
                    )
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                seconds["ours_bare"].append(time.perf_counter() - start)
            time.sleep(SETTLE_SECONDS)
            result = TWIN.train_twin(one, seed=0, eval_every=1)
            times = [row["train_s"] for row in result["history"]]
            seconds["torch"] += [b - a for a, b in zip([0.0, *times], times, strict=False)]
    # The first epoch of each run pays the warm-up (allocation, the first augmentation batch).
    return {key: statistics.median(values) for key, values in seconds.items()}


def loader_profile(config: dict[str, Any], augment_config: dict[str, Any] | None) -> dict[str, Any]:
    """Seconds to iterate one epoch of the train loader without training (what the loader
    alone costs), plain and, when the recipe has them, with the distortions."""
    rows = {}
    for name, chosen in (("plain", config), ("augmented", augment_config)):
        if chosen is None:
            continue
        loader = papers.build_data(chosen).train_loader
        times = []
        for epoch in range(3):
            loader.set_epoch(epoch)
            start = time.perf_counter()
            count = sum(len(labels) for _, labels in loader)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        rows[name] = {"epoch_s": seconds, "images": count, "images_per_s": count / seconds}
    return rows


# -- the faithful LeNet5 -------------------------------------------------------------------------


def faithful_stages(model: Any, labels: np.ndarray) -> list[tuple[str, Callable[[Any], Any]]]:
    squash = model.squash
    return [
        ("C1 conv 1->6 5x5", model.c1),
        ("C1 squash", squash),
        ("S2 subsampling", model.s2),
        ("S2 squash", squash),
        ("C3 partial conv (Table I)", model.c3),
        ("C3 squash", squash),
        ("S4 subsampling", model.s4),
        ("S4 squash", squash),
        # As LeNet5.forward computes C5: the 5x5 kernels cover the whole 5x5 map, a matrix product.
        (
            "C5 16x5x5->120 as a matrix product",
            lambda x: F.linear(x.flatten(1), model.c5.weight.reshape(120, -1), model.c5.bias),
        ),
        ("C5 squash", squash),
        ("F6 linear 120->84", model.f6),
        ("F6 squash", squash),
        ("output RBF 84->10", model.output),
        ("MAP loss", lambda out: MODEL.map_loss(out, labels)),
    ]


def layer_profile(
    stages: list[tuple[str, Callable[[Any], Any]]], x: np.ndarray, reps: int
) -> list[dict[str, Any]]:
    """Each stage alone on its real input: median forward microseconds (building the graph, as
    in training) and backward microseconds (from a gradient of the output's shape to the
    parameters' and, but for the first layer, the input's gradient)."""
    rng = np.random.default_rng(0)
    rows = []
    value = x
    for index, (name, stage) in enumerate(stages):
        source = odyssey.tensor(value)
        if index > 0:
            source.requires_grad_()
        forward, backward = [], []
        out = None
        for _ in range(reps + 2):
            t0 = time.perf_counter()
            out = stage(source)
            t1 = time.perf_counter()
            gradient = None if out.data.size == 1 else rng.standard_normal(out.shape, np.float32)
            t2 = time.perf_counter()
            if out.requires_grad:
                out.backward(gradient)
            t3 = time.perf_counter()
            forward.append(t1 - t0)
            backward.append(t3 - t2)
        rows.append(
            {
                "layer": name,
                "output_shape": list(out.shape),
                "forward_us": 1e6 * statistics.median(forward[2:]),
                "backward_us": 1e6 * statistics.median(backward[2:]),
            }
        )
        value = out.detach().numpy()
    return rows


def faithful(batch: int, rounds: int, round_seconds: float, reps: int) -> dict[str, Any]:
    """The faithful LeNet5: SGD (no momentum) on map_loss, one batch of mnist-sample scaled as
    the paper scales it; images/s, and the profiles."""
    data = load_dataset("mnist-sample", "train")
    images, labels = data.get_float_batch(np.arange(batch))
    labels = np.asarray(labels, dtype=np.int64)
    start = time.perf_counter()
    x_tensor = MODEL.scale_input(images)
    scale_us = 1e6 * (time.perf_counter() - start)
    x = x_tensor.detach().numpy()
    odyssey.manual_seed(0)
    model = MODEL.LeNet5()
    optimizer = optim.SGD(model.parameters(), lr=1e-4)
    xt = odyssey.from_numpy(x)

    def step() -> Any:
        loss = MODEL.map_loss(model(xt), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    (seconds,) = side_by_side([step], rounds, round_seconds)
    phases = phase_profile(
        lambda: model(xt),
        lambda out: MODEL.map_loss(out, labels),
        optimizer.zero_grad,
        optimizer.step,
        reps,
    )
    layers = layer_profile(faithful_stages(model, labels), x, reps)
    step_us, kernels = kernel_profile(step, reps)
    return {
        "batch": batch,
        "threads": odyssey.get_num_threads(),
        "step_us": 1e6 * seconds,
        "images_per_s": batch / seconds,
        "scale_input_us": scale_us,
        "phases_us": phases,
        "layers": layers,
        "kernel_step_us": step_us,
        "kernels": kernels,
    }


def modern_layers(config: dict[str, Any], images: np.ndarray, labels: np.ndarray, reps: int) -> Any:
    """LeNet5Modern's stages profiled as the faithful model's are, for comparison."""
    odyssey.manual_seed(0)
    model = papers.build_model(config)
    stages = [
        ("C1 conv 1->6 5x5 pad 2", model.c1),
        ("ReLU + max-pool (relu_max_pool2d)", lambda t: F.relu_max_pool2d(t, 2)),
        ("C3 conv 6->16 5x5", model.c3),
        ("ReLU + max-pool + flatten", lambda t: F.relu_max_pool2d(t, 2).flatten(1)),
        ("F5 linear 400->120", model.f5),
        ("ReLU", F.relu),
        ("F6 linear 120->84", model.f6),
        ("ReLU", F.relu),
        ("output linear 84->10", model.output),
        ("cross-entropy", lambda t: F.cross_entropy(t, odyssey.from_numpy(labels))),
    ]
    return layer_profile(stages, images, reps)


def print_layers(title: str, rows: list[dict[str, Any]]) -> None:
    total_f = sum(r["forward_us"] for r in rows)
    total_b = sum(r["backward_us"] for r in rows)
    print(f"{title}: forward {total_f:.0f} us, backward {total_b:.0f} us (layers alone)")
    for r in rows:
        share = 100 * (r["forward_us"] + r["backward_us"]) / (total_f + total_b)
        shape = str(tuple(r["output_shape"]))
        print(
            f"  {r['layer']:<28} {shape:<18} fwd {r['forward_us']:7.1f} us  "
            f"bwd {r['backward_us']:7.1f} us  {share:5.1f} %"
        )


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="seeds 0..rounds-1, one a round")
    parser.add_argument("--bar", type=float, default=0.98, help="mnist-sample's bar")
    parser.add_argument("--fashion-bar", type=float, default=0.90)
    parser.add_argument("--fashion-rounds", type=int, default=3)
    parser.add_argument("--fashion-augment", action="store_true", help="distortions on Fashion")
    parser.add_argument(
        "--fashion-epochs", type=int, default=10, help="as the issue's Fashion-MNIST row (10)"
    )
    parser.add_argument("--no-augment", action="store_true", help="mnist-sample without them")
    parser.add_argument("--epochs", type=int, help="the recipe's epochs (the most a run trains)")
    parser.add_argument("--threads", type=int, help="train.threads (both sides)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the recipe as odyssey train --set does (repeatable)",
    )
    parser.add_argument("--full", action="store_true", help="train every epoch past the bar")
    parser.add_argument(
        "--torch-init",
        dest="same_init",
        action="store_false",
        help="start the twin from torch.manual_seed's own draw instead of odyssey's initial "
        "weights of the round's seed",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["throughput", "mnist", "fashion", "faithful", "profile"],
    )
    parser.add_argument(
        "--note", help="what else ran on the machine meanwhile, recorded in the JSON"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "lenet_tta.json")
    args = parser.parse_args()

    try:
        torch = TWIN.import_torch()
    except ImportError as error:
        print(f"bench_lenet_tta: {error}; nothing to compare against")
        return
    load_before = os.getloadavg()
    config, augment = recipe(
        "mnist-sample", not args.no_augment, args.sets, args.epochs, args.threads
    )
    plain, _ = recipe("mnist-sample", False, args.sets, args.epochs, args.threads)
    threads = config["train"].get("threads") or odyssey.get_num_threads()
    info = odyssey.cpu_info()
    print(
        f"odyssey {info['version']} ({info['isa_selected']}) vs torch {torch.__version__}, "
        f"{threads} threads; load average {load_before[0]:.2f} at the start"
    )
    results: list[dict[str, Any]] = []
    extra: dict[str, Any] = {"torch": torch.__version__, "threads": threads, "goal": GOAL}
    if args.note:
        extra["note"] = args.note
    previous = odyssey.get_num_threads(), torch.get_num_threads()
    odyssey.set_num_threads(threads)
    torch.set_num_threads(threads)
    images, labels = fixed_batch(config)
    batch = len(labels)
    try:
        if "throughput" not in args.skip:
            t_ours, t_theirs = side_by_side(
                [our_step(config, images, labels), their_step(torch, config, images, labels)],
                rounds=7,
                target_seconds=0.2,
            )
            row = {
                "what": "train step images/s",
                "batch": batch,
                "ours_images_per_s": batch / t_ours,
                "torch_images_per_s": batch / t_theirs,
                "ratio": t_theirs / t_ours,
            }
            results.append(row)
            print(
                f"\ntraining step, batch {batch} ({config['train']['optimizer']}): ours "
                f"{row['ours_images_per_s']:,.0f} img/s, torch {row['torch_images_per_s']:,.0f} "
                f"img/s, ratio {row['ratio']:.2f}"
            )
        if "mnist" not in args.skip:
            label = f"time to {100 * args.bar:.0f} % mnist-sample"
            results.append(
                time_to_accuracy(
                    label,
                    config,
                    augment,
                    args.bar,
                    range(args.rounds),
                    not args.full,
                    args.same_init,
                )
            )
        if "fashion" not in args.skip:
            if FASHION.is_dir():
                fashion, fashion_augment = recipe(
                    "fashion-mnist",
                    args.fashion_augment,
                    args.sets,
                    args.fashion_epochs,
                    args.threads,
                )
                label = f"time to {100 * args.fashion_bar:.0f} % fashion-mnist"
                results.append(
                    time_to_accuracy(
                        label,
                        fashion,
                        fashion_augment,
                        args.fashion_bar,
                        range(args.fashion_rounds),
                        not args.full,
                        args.same_init,
                    )
                )
            else:
                print(
                    f"\nFashion-MNIST row skipped: {FASHION} is absent "
                    "(apt-get install dataset-fashion-mnist installs it)"
                )
                extra["fashion_skipped"] = f"{FASHION} absent"
        if "profile" not in args.skip:
            steps = step_profiles(torch, config, images, labels, 200)
            loaders = loader_profile(plain, config if augment else None)
            epochs = epoch_profile(torch, config)
            layers = modern_layers(config, images, labels, 100)
            extra["modern_profile"] = {
                "phases": steps,
                "loader": loaders,
                "epoch_s": epochs,
                "layers": layers,
            }
            print(f"\nwhere a training step's time goes (batch {batch}, median us):")
            for key in steps["ours_us"]:
                print(
                    f"  {key:<10} ours {steps['ours_us'][key]:8.1f}   torch "
                    f"{steps['torch_us'][key]:8.1f}"
                )
            for name, row in loaders.items():
                print(
                    f"  loader alone, {name}: {row['epoch_s'] * 1e3:.0f} ms an epoch of "
                    f"{row['images']} images ({row['images_per_s']:,.0f} images/s, "
                    f"{1e6 * row['epoch_s'] / -(-row['images'] // batch):.0f} us a batch)"
                )
            steps_per_epoch = -(-len(papers.build_data(config).train) // batch)
            step_sum = sum(steps["ours_us"].values()) * steps_per_epoch / 1e6
            print(
                f"  an epoch of {steps_per_epoch} steps: ours through the Trainer "
                f"{epochs['ours_trainer']:.3f} s, ours bare loop {epochs['ours_bare']:.3f} s, "
                f"ours' steps alone {step_sum:.3f} s; torch's loop {epochs['torch']:.3f} s"
            )
            print_layers("LeNet5Modern layer by layer", layers)
        if "faithful" not in args.skip:
            row = faithful(64, 7, 0.2, 100)
            extra["faithful"] = row
            results.append(
                {
                    "what": "faithful LeNet5 train step images/s",
                    "batch": row["batch"],
                    "ours_images_per_s": row["images_per_s"],
                }
            )
            print(
                f"\nfaithful LeNet5 (map_loss, SGD), batch {row['batch']}: "
                f"{row['images_per_s']:,.0f} images/s ({row['step_us']:.0f} us a step; "
                f"scale_input {row['scale_input_us']:.0f} us a batch, outside the step)"
            )
            phases = row["phases_us"]
            print("  phases (us): " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
            print_layers("faithful LeNet5 layer by layer", row["layers"])
            kernel_us = sum(k["us_per_step"] for k in row["kernels"])
            print(
                f"faithful step by kernel call: {row['kernel_step_us']:.0f} us, kernels "
                f"{kernel_us:.0f} us, the rest (Python, NumPy glue) "
                f"{row['kernel_step_us'] - kernel_us:.0f} us"
            )
            for k in row["kernels"][:14]:
                print(
                    f"  {k['kernel']:<30} {k['input_shape']:<20} x{k['calls']:<2} "
                    f"{k['us_per_step']:8.1f} us"
                )
    finally:
        odyssey.set_num_threads(previous[0])
        torch.set_num_threads(previous[1])
    extra["load_average"] = {"start": load_before, "end": os.getloadavg()}
    extra["recipe"] = config["train"]
    print(f"\nload average {extra['load_average']['end'][0]:.2f} at the end")
    write_report(args.output, "lenet_tta", results, **extra)


if __name__ == "__main__":
    main()
