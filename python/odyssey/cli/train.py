"""``odyssey train PAPER``: resolve the paper's configuration, train it with the Trainer, test it,
and print one summary block.

Exit status: 0 done; 1 a failure while training (the message; ``--debug`` shows the traceback);
2 a usage or configuration mistake (one line naming the key and the choices); 130 interrupted
(the Trainer keeps a resumable checkpoint, and the command to resume is printed).

Every mistake that can be found before training is found before anything is written: the
configuration (model arguments, the scheduler's monitor and length), an ``--out`` directory that
already holds a run (continue it with ``--resume``, or choose another ``--out``), and a
``--resume`` checkpoint that does not fit the model, optimizer, scheduler or data loader built
from the configuration. A resumed run keeps the schedule its checkpoint holds: a schedule whose
length is fixed when a run starts (OneCycleLR's total_steps) is not stretched to more
``--epochs``; that is refused up front, naming ``--epochs`` and the length (start a new run for
a longer schedule).
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from odyssey.cli.datasets import ensure_dataset

PROG = "odyssey train"
INTERRUPTED = 130  # a shell's status for SIGINT


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``train`` to the ``odyssey`` parser."""
    train = commands.add_parser(
        "train",
        help="train a paper's model and test it, writing a run directory",
        description="Train a paper (a folder with paper.toml and model.py, or its slug), test "
        "it, and write the run directory: config.toml, metrics, checkpoints, plots, "
        "summary.json and the final weights.",
    )
    train.add_argument("paper", metavar="PAPER", help="a paper's slug or a path to its folder")
    train.add_argument("--variant", help="a variant of paper.toml (default: the first)")
    train.add_argument("--dataset", help="train and test on this dataset instead")
    train.add_argument("--epochs", type=int, help="number of epochs")
    train.add_argument("--batch-size", type=int, help="images per batch")
    train.add_argument("--lr", type=float, help="the optimizer's learning rate")
    train.add_argument("--seed", type=int, help="initialisation, shuffling and the val split")
    train.add_argument("--threads", type=int, help="kernel threads (default: odyssey's)")
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train with the paper's distortions, train.augment = true (the ranges are "
        "train.augment_args); --no-augment turns them off (default: the paper's train.augment)",
    )
    train.add_argument(
        "--out",
        metavar="DIR",
        help="the run directory, new or empty unless resuming (default: a new runs/...)",
    )
    train.add_argument(
        "--resume",
        metavar="CKPT",
        help="continue from this checkpoint, with its optimizer and schedule (the checkpoint "
        "is checked against the configuration before anything is written)",
    )
    train.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the configuration, e.g. train.optimizer_args.momentum=0.5 "
        "(repeatable; applied after the flags)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    train.set_defaults(run=run)


def fail(message: str, status: int = 2) -> int:
    """Prints `odyssey train: message` on stderr and returns `status`."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def resume_command(args: argparse.Namespace, checkpoint: Path) -> str:
    """The command line that resumes this run from `checkpoint`."""
    words = ["odyssey", "train", args.paper]
    for flag in ("variant", "dataset", "epochs", "batch_size", "lr", "seed", "threads", "out"):
        value = getattr(args, flag)
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    if args.augment is not None:
        words.append("--augment" if args.augment else "--no-augment")
    for assignment in args.sets:
        words += ["--set", assignment]
    words += ["--resume", str(checkpoint)]
    return shlex.join(words)


# A paper's dataset that cannot be had (no cache, no network) -> the bundled one trained on
# instead, when the dataset is the paper's own choice (not --dataset or --set train.dataset).
OFFLINE_FALLBACKS = {"mnist": "mnist-sample"}


def offline_fallback(args: argparse.Namespace, config: Mapping[str, Any]) -> str | None:
    """The bundled dataset to train on when the paper's `train.dataset` cannot be fetched, or
    None: the user's own --dataset or --set train.dataset is never replaced."""
    chosen = args.dataset is not None or any(
        assignment.split("=", 1)[0].strip() == "train.dataset" for assignment in args.sets
    )
    return None if chosen else OFFLINE_FALLBACKS.get(config["train"]["dataset"])


class UsageError(Exception):
    """A mistake found before training: exit status 2 with this one-line message."""


# A directory holds a run when it has one of these (what the Trainer refuses to start afresh in).
RUN_MARKERS = ("summary.json", "metrics.jsonl", "checkpoints/*.safetensors")


def existing_run(directory: Path) -> str | None:
    """What shows that `directory` already holds a run (the first of RUN_MARKERS there), or None."""
    if not directory.is_dir():
        return None
    for marker in RUN_MARKERS:
        found = sorted(directory.glob(marker))
        if found:
            return str(found[0].relative_to(directory))
    return None


def check_out(args: argparse.Namespace) -> None:
    """UsageError when a fresh run (no --resume) would go into an --out that holds a run, or a
    resumed one into an --out holding a run other than the checkpoint's: the two would mix
    (metrics appended, checkpoints versioned, the old test results kept)."""
    if args.out is None:
        return
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; the run directory must be a directory")
    found = existing_run(out)
    if found is None:
        return
    if args.resume is not None:
        home = Path(args.resume).resolve().parent
        if home in (out.resolve(), (out / "checkpoints").resolve()):
            return
        raise UsageError(
            f"--out {out} holds another run ({found}) than the checkpoint {args.resume}; resume "
            "into the checkpoint's own run directory, or into a new --out"
        )
    checkpoints = sorted((out / "checkpoints").glob("*.safetensors"))
    last = out / "checkpoints" / "last.safetensors"
    if last.is_file() or not checkpoints:
        resume = str(last) if last.is_file() else "CKPT"
    else:
        resume = str(max(checkpoints, key=lambda path: path.stat().st_mtime_ns))
    raise UsageError(
        f"--out {out} already holds a run ({found}); continue it with --resume {resume}, or "
        "choose another --out for a new run"
    )


def run(args: argparse.Namespace) -> int:
    """Resolves, trains, tests and summarises; see the module docstring for the exit status."""
    from odyssey import papers

    started = time.perf_counter()
    flags = {key: getattr(args, key) for key in papers.FLAG_KEYS}
    try:
        paper = papers.load_paper(papers.find_paper(args.paper))
        config = papers.resolve(paper, args.variant, flags, args.sets)
        if args.resume is not None and not Path(args.resume).is_file():
            raise UsageError(f"--resume: no checkpoint at {args.resume}")
        check_out(args)
    except (papers.PaperError, UsageError) as error:
        return fail(str(error))
    try:
        ensure_dataset(config["train"]["dataset"])
    except (OSError, ValueError) as error:
        fallback = offline_fallback(args, config)
        if fallback is None:
            return fail(str(error), 1)
        print(
            f"{PROG}: {config['train']['dataset']} is not on this machine and cannot be "
            f"downloaded ({type(error).__name__}); training on the bundled {fallback} instead "
            f"(`odyssey datasets fetch {config['train']['dataset']}` gets the full set)",
            file=sys.stderr,
        )
        config["train"]["dataset"] = fallback
    except KeyboardInterrupt:
        return fail("interrupted while downloading; nothing half-written is kept", INTERRUPTED)
    try:
        return _train(args, config, started)
    except (papers.PaperError, UsageError) as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted", INTERRUPTED)
    except Exception as error:
        if type(error).__name__ == "RunDirectoryError":  # the Trainer's own check, in a race
            return fail(f"{error}; here: --resume CKPT to continue it, or another --out")
        if args.debug:
            raise
        return fail(f"training failed: {type(error).__name__}: {error} (--debug for details)", 1)


def check_resume(
    path: Path,
    config: Mapping[str, Any],
    model: Any,
    optimizer: Any,
    scheduler: Any,
    train_loader: Any,
) -> None:
    """UsageError unless the checkpoint at `path` can resume this run: a Trainer checkpoint
    whose weights fit `model`, whose optimizer state fits `optimizer`, with as many schedulers,
    a scheduler state `scheduler` takes, a data-loader state the train loader takes (the same
    batch size and dataset), and a schedule long enough for train.epochs. `optimizer` and
    `scheduler` are scratch copies (their state is overwritten here); the model, the loader
    and the run directory are not touched."""
    from odyssey import papers
    from odyssey.serialization import CheckpointError
    from odyssey.train.checkpoint import load_checkpoint

    try:
        checkpoint = load_checkpoint(path)
        state = checkpoint.state if isinstance(checkpoint.state, Mapping) else {}
        trainer_state = state.get("trainer")
        if not isinstance(trainer_state, Mapping):
            raise CheckpointError(
                f"{path}: not a Trainer checkpoint (no loop state); evaluate its weights with "
                "odyssey evaluate"
            )
        checkpoint.check_model(model)
        checkpoint.check_optimizer(optimizer)
    except (CheckpointError, OSError) as error:
        raise UsageError(f"--resume: {error}") from None
    schedulers = state.get("schedulers")
    schedulers = schedulers if isinstance(schedulers, list) else []
    configured = 0 if scheduler is None else 1
    train = config["train"]
    if "schedulers" in state and len(schedulers) != configured:
        raise UsageError(
            f"--resume: {path} holds {len(schedulers)} LR scheduler state(s), but train.scheduler "
            f"= {train['scheduler']!r} makes {configured}"
        )
    if scheduler is not None and schedulers:
        try:
            scheduler.load_state_dict(schedulers[0])
        except (TypeError, ValueError, KeyError) as error:
            raise UsageError(
                f"--resume: {path}: its LR scheduler state does not fit train.scheduler = "
                f"{train['scheduler']!r}: {error}"
            ) from None
        try:
            papers.check_schedule_length(config, scheduler, len(train_loader), resumed=True)
        except papers.PaperError as error:
            raise UsageError(f"--resume {path}: {error}") from None
    loader_state = state.get("loader")
    if isinstance(loader_state, Mapping) and hasattr(train_loader, "load_state_dict"):
        try:  # into a copy: load_state_dict moves a loader's position
            copy.copy(train_loader).load_state_dict(dict(loader_state))
        except (TypeError, ValueError) as error:
            raise UsageError(
                f"--resume: {path} was saved with another data loader (--batch-size, "
                f"--dataset or train.val_size differ): {error}"
            ) from None


def _train(args: argparse.Namespace, config: dict[str, Any], started: float) -> int:
    """Builds the model, data, Classifier and Trainer, checks the resume checkpoint, fits, tests
    and prints the summary (the command's wall time counted from `started`)."""
    import odyssey
    from odyssey import papers

    train = config["train"]
    odyssey.manual_seed(train["seed"])
    model = papers.build_model(config)
    data = papers.build_data(config)
    steps_per_epoch = len(data.train_loader)
    make_optimizer = papers.optimizer_factory(config)
    make_scheduler = papers.scheduler_factory(config, steps_per_epoch=steps_per_epoch)
    # Built once now so that a bad argument value is a configuration error before any training;
    # these scratch copies also take the resume checkpoint's state to check that it fits.
    probe = make_optimizer(model.parameters())
    probe_scheduler = None if make_scheduler is None else make_scheduler(probe)
    if args.resume is None:
        papers.check_schedule_length(config, probe_scheduler, steps_per_epoch)
    else:
        check_resume(Path(args.resume), config, model, probe, probe_scheduler, data.train_loader)
    from odyssey.train import Classifier, Trainer

    module = Classifier(
        model,
        loss=papers.build_loss(config),
        optimizer=make_optimizer,
        scheduler=papers.scheduler_spec(config, steps_per_epoch),
        num_classes=data.num_classes,
        class_names=data.classes,
    )
    variant = config["variant"]
    trainer = Trainer(
        max_epochs=train["epochs"],
        callbacks=papers.build_callbacks(config),
        default_root_dir=args.out,
        name=f"{config['paper']['slug']}-{variant['name']}",
        seed=train["seed"],
        threads=train.get("threads"),
        progress=not args.no_progress,
        config=config,
        run_info={
            "paper": config["paper"]["slug"],
            "variant": variant["name"],
            "model": variant["model"],
            "dataset": train["dataset"],
        },
    )
    fit_started = time.perf_counter()
    try:
        trainer.fit(module, data.train_loader, data.val_loader, ckpt_path=args.resume)
    except SystemExit as stop:  # the Trainer's Ctrl-C: a checkpoint saved, then exit 130
        if stop.code != INTERRUPTED:
            raise
        return _interrupted(args, trainer)
    except KeyboardInterrupt:  # a second Ctrl-C: aborted without saving
        return _interrupted(args, trainer)
    training = time.perf_counter() - fit_started
    results = trainer.test(module, data.test_loader)
    wall = time.perf_counter() - started
    print_summary(
        config,
        trainer.run_dir,
        results[0] if results else {},
        wall,
        training=training,
        resumed=args.resume is not None,
    )
    return 0


def _interrupted(args: argparse.Namespace, trainer: Any) -> int:
    """Exit status 130, with the exact command that resumes from the newest checkpoint (the one
    the Trainer saved on Ctrl-C, or the last one before a second Ctrl-C aborted)."""
    directory = trainer.checkpoint_dir
    saved = [] if directory is None else list(Path(directory).glob("*.safetensors"))
    if not saved:
        return fail("interrupted before any checkpoint was saved", INTERRUPTED)
    newest = max(saved, key=lambda path: path.stat().st_mtime_ns)
    return fail(f"interrupted; resume with: {resume_command(args, newest)}", INTERRUPTED)


def _summary_rows(
    config: Mapping[str, Any],
    run_dir: Path,
    test: Mapping[str, float],
    wall: float,
    training: float | None = None,
    resumed: bool = False,
) -> list[tuple[str, str]]:
    """The summary block's rows: what was trained, how well it does, how fast, and where. The
    wall time is the whole command's (`wall`); the training time is the fit's (`training`:
    Trainer.fit's seconds, with validation, checkpoints, the final weights and curves; this
    session's when `resumed`), else summary.json's wall_s."""
    summary: dict[str, Any] = {}
    path = run_dir / "summary.json"
    if path.is_file():
        summary = json.loads(path.read_text())
    accuracy = test.get("test_accuracy", summary.get("test_accuracy"))
    loss = test.get("test_loss", summary.get("test_loss"))
    rows = [
        ("test accuracy", "-" if accuracy is None else f"{100 * accuracy:.2f} %"),
        ("test loss", "-" if loss is None else f"{loss:.4f}"),
        ("wall time", f"{wall:.1f} s"),
    ]
    fit = training if training is not None else summary.get("wall_s")
    if fit is not None:
        rows.append(("training time", f"{fit:.1f} s" + (" (this session)" if resumed else "")))
    speed = summary.get("train_img_per_s")
    if speed is not None:
        rows.append(("images/s", f"{speed:,.0f} (training)"))
    rows.append(("run", str(run_dir)))
    plots = [run_dir / name for name in ("curves.png", "confusion.png")]
    rows.append(("plots", ", ".join(str(p) for p in plots if p.is_file()) or "-"))
    weights = run_dir / summary.get("weights", "weights.safetensors")
    if weights.is_file():
        rows.append(("weights", str(weights)))
    return rows


def print_summary(
    config: Mapping[str, Any],
    run_dir: Path,
    test: Mapping[str, float],
    wall: float,
    console: Console | None = None,
    training: float | None = None,
    resumed: bool = False,
) -> None:
    """One block on stdout (or `console`): a rich panel on a terminal, plain aligned lines
    otherwise, so that a log reads as well as a terminal. `wall`: the whole command's seconds
    (shown beside `training`, the fit's seconds, else summary.json's wall_s; `resumed`: the fit
    continued a checkpoint, so its time is this session's)."""
    from rich.panel import Panel
    from rich.table import Table

    train, variant = config["train"], config["variant"]
    title = (
        f"{config['paper']['slug']} / {variant['name']} ({variant['model']}) on "
        f"{train['dataset']}, {train['epochs']} epoch{'s' if train['epochs'] != 1 else ''}"
    )
    rows = _summary_rows(config, Path(run_dir), test, wall, training, resumed)
    console = console if console is not None else Console()
    if console.is_terminal:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for name, value in rows:
            grid.add_row(name, value)
        console.print(Panel(grid, title=title, title_align="left", expand=False))
        return
    width = max(len(name) for name, _ in rows)
    lines = [title, *(f"  {name:<{width}}  {value}" for name, value in rows)]
    console.file.write("\n".join(lines) + "\n")
