"""`odyssey train` and `odyssey evaluate` on the tiny test paper (mnist-sample, seconds)."""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_run import run
from rich.console import Console

import odyssey
from odyssey.cli import main
from odyssey.cli.train import print_summary

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TINY = Path(__file__).parent / "data" / "papers" / "tiny"
PNG = b"\x89PNG\r\n\x1a\n"


def train_args(out: Path, *more: str, paper: Path = TINY) -> list[str]:
    return ["train", str(paper), "--epochs", "1", "--out", str(out), "--no-progress", *more]


@pytest.fixture(scope="module")
def trainer_available() -> None:
    pytest.importorskip("odyssey.train.trainer")


@pytest.fixture(scope="module")
def trained(trainer_available, tmp_path_factory) -> tuple[Path, str, str]:
    """One epoch of the tiny paper: (run directory, stdout, stderr)."""
    out = tmp_path_factory.mktemp("train") / "run"
    status, stdout, stderr = run(*train_args(out))
    assert status == 0, stderr
    return out, stdout, stderr


# --- A run and its directory -------------------------------------------------------------------


def test_train_writes_every_file_of_the_run_directory(trained) -> None:
    run_dir, _, _ = trained
    for name in (
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "curves.png",
        "confusion.png",
        "summary.json",
        "weights.safetensors",
    ):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "checkpoints").glob("*.safetensors"))
    for plot in ("curves.png", "confusion.png"):
        assert (run_dir / plot).read_bytes().startswith(PNG)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows
    assert any("val_accuracy" in row for row in rows)
    assert (run_dir / "metrics.csv").read_text().splitlines()[0].count(",") >= 2


def test_config_toml_is_the_resolved_configuration(trained) -> None:
    run_dir, _, _ = trained
    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert config["paper"]["slug"] == "tiny"
    assert config["paper"]["path"] == str(TINY.resolve())
    assert config["variant"] == {"name": "relu", "model": "TinyNet", "model_args": {"hidden": 32}}
    assert config["train"]["epochs"] == 1  # the flag
    assert config["train"]["lr"] == 0.1  # the variant's
    assert config["train"]["optimizer_args"] == {"momentum": 0.9}


def test_summary_json_has_the_run_s_facts(trained) -> None:
    run_dir, _, _ = trained
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["paper"] == "tiny"
    assert summary["variant"] == "relu"
    assert summary["model"] == "TinyNet"
    assert summary["dataset"] == "mnist-sample"
    assert summary["epochs"] == 1
    assert summary["steps"] == -(-3500 // 64)
    assert summary["seed"] == 0
    assert summary["isa"] == odyssey.cpu_info()["isa_selected"]
    assert summary["odyssey_version"] == odyssey.__version__
    for key in ("threads", "best_val_accuracy", "wall_s", "train_img_per_s", "test_loss"):
        assert key in summary, key
    assert "git_commit" in summary
    weights = (run_dir / "weights.safetensors").read_bytes()
    assert summary["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert 0.5 < summary["test_accuracy"] <= 1.0  # one epoch of a tiny MLP learns digits


def test_final_weights_load_into_the_paper_s_model(trained) -> None:
    from odyssey import papers

    run_dir, _, _ = trained
    weights = odyssey.load(run_dir / "weights.safetensors")
    config = tomllib.loads((run_dir / "config.toml").read_text())
    model = papers.build_model(config)
    assert set(weights) == set(model.state_dict())
    model.load_state_dict(weights)


def test_the_summary_block_says_how_well_how_fast_and_where(trained) -> None:
    run_dir, stdout, _ = trained
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = stdout.splitlines()
    block = lines[lines.index("tiny / relu (TinyNet) on mnist-sample, 1 epoch") :]
    rows = dict(_row(line) for line in block[1:9])
    assert rows["test accuracy"] == f"{100 * summary['test_accuracy']:.2f} %"
    assert rows["test loss"] == f"{summary['test_loss']:.4f}"
    # The whole command's time holds the fit's (which holds the loop's, summary.json's wall_s),
    # then the test's.
    training = float(rows["training time"].removesuffix(" s"))
    assert training >= summary["wall_s"] - 0.05
    assert float(rows["wall time"].removesuffix(" s")) >= training
    assert rows["images/s"].endswith("(training)")
    assert rows["run"] == str(run_dir)
    assert rows["plots"] == f"{run_dir / 'curves.png'}, {run_dir / 'confusion.png'}"
    assert rows["weights"] == str(run_dir / "weights.safetensors")


def _row(line: str) -> tuple[str, str]:
    name, value = line.strip().split("  ", 1)
    return name, value.strip()


def test_the_summary_block_is_a_rich_panel_on_a_terminal(tmp_path) -> None:
    from odyssey import papers

    summary = {
        "test_accuracy": 0.9123,
        "test_loss": 0.25,
        "wall_s": 3.25,
        "train_img_per_s": 12345.6,
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "curves.png").write_bytes(PNG)
    config = papers.resolve(papers.load_paper(TINY))
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    print_summary(config, tmp_path, {"test_accuracy": 0.9123, "test_loss": 0.25}, 9.0, console)
    text = console.file.getvalue()
    assert "\x1b[" in text  # styled
    assert "╭─ tiny / relu (TinyNet) on mnist-sample, 2 epochs" in text
    for name, value in [
        ("test accuracy", "91.23 %"),
        ("test loss", "0.2500"),
        ("wall time", "9.0 s"),  # the command's, given
        ("training time", "3.2 s"),  # the fit's, from summary.json
        ("images/s", "12,346 (training)"),
        ("run", str(tmp_path)),
        ("plots", str(tmp_path / "curves.png")),
    ]:
        assert name in text
        assert value in text
    plain = Console(file=io.StringIO(), width=200)
    print_summary(config, tmp_path, {}, 9.0, plain)
    assert plain.file.getvalue().splitlines()[1:5] == [
        "  test accuracy  91.23 %",
        "  test loss      0.2500",
        "  wall time      9.0 s",
        "  training time  3.2 s",
    ]
    resumed = Console(file=io.StringIO(), width=200)
    print_summary(config, tmp_path, {}, 9.0, resumed, training=1.5, resumed=True)
    assert "  training time  1.5 s (this session)" in resumed.file.getvalue().splitlines()


# --- odyssey evaluate --------------------------------------------------------------------------


def test_evaluate_a_run_directory_gives_its_test_metrics_and_a_plot(trained) -> None:
    run_dir, _, _ = trained
    summary = json.loads((run_dir / "summary.json").read_text())
    plot = run_dir / "confusion-mnist-sample.png"
    plot.unlink(missing_ok=True)
    status, stdout, stderr = run("evaluate", str(run_dir), "--no-progress")
    assert status == 0, stderr
    rows = dict(_row(line) for line in stdout.splitlines()[1:])
    assert float(rows["test_accuracy"]) == pytest.approx(summary["test_accuracy"], abs=1e-4)
    assert float(rows["test_loss"]) == pytest.approx(summary["test_loss"], abs=1e-4)
    assert rows["confusion"] == str(plot)
    assert plot.read_bytes().startswith(PNG)
    assert stdout.splitlines()[0] == (
        f"{run_dir / 'weights.safetensors'} on mnist-sample (test, 1,000 images)"
    )


def test_evaluate_a_checkpoint_and_another_split(trained) -> None:
    run_dir, _, _ = trained
    checkpoint = sorted((run_dir / "checkpoints").glob("*.safetensors"))[0]
    status, stdout, stderr = run("evaluate", str(checkpoint), "--split", "train", "--no-progress")
    assert status == 0, stderr
    assert stdout.splitlines()[0] == f"{checkpoint} on mnist-sample (train, 4,000 images)"
    assert (run_dir / "confusion-mnist-sample-train.png").is_file()


# --- Errors: one line, exit status 2 (usage) or 1 (a failure) --------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "no-such-paper"], "odyssey train: unknown paper 'no-such-paper'; papers found:"),
        (
            ["train", str(TINY), "--variant", "tanh"],
            "odyssey train: unknown variant 'tanh' of tiny; variants: relu, conv",
        ),
        (
            ["train", str(TINY), "--set", "train.epoch=1"],
            "odyssey train: --set: unknown key 'train.epoch'; valid keys: train.dataset, ",
        ),
        (
            ["train", str(TINY), "--set", "train.epochs=one"],
            "odyssey train: --set train.epochs must be an int, got 'one' (str)",
        ),
        (["train", str(TINY), "--set", "epochs"], "odyssey train: --set expects key=value"),
        (["train", str(TINY), "--epochs", "0"], "odyssey train: --epochs must be >= 1, got 0"),
        (
            ["train", str(TINY), "--dataset", "cifar-10"],
            "odyssey train: --dataset: unknown 'cifar-10'; choices: mnist, ",
        ),
        (
            ["train", str(TINY), "--set", "variant.model_args.width=3"],
            "odyssey train: variant.model_args.width: unknown argument; TinyNet takes: hidden, "
            "num_classes",
        ),
        (
            ["train", str(TINY), "--set", "train.optimizer_args.momentum=-1"],
            "odyssey train: train.optimizer_args: ",
        ),
        (["train", str(TINY), "--resume", "nowhere.safetensors"], "odyssey train: --resume: no"),
        (["evaluate", "nowhere"], "odyssey evaluate: no run directory or checkpoint at nowhere"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, expected) -> None:
    status, stdout, stderr = run(*argv)
    assert status == 2
    assert stdout == ""
    assert stderr.startswith(expected)
    assert stderr.count("\n") == 1


def test_evaluate_errors_name_what_is_missing(trained, tmp_path) -> None:
    run_dir, _, _ = trained
    status, _, stderr = run("evaluate", str(tmp_path))
    assert (status, stderr) == (
        2,
        f"odyssey evaluate: no config.toml in {tmp_path}; evaluate needs the run's configuration\n",
    )
    status, _, stderr = run("evaluate", str(run_dir), "--dataset", "svhn")
    assert status == 2
    assert stderr.startswith("odyssey evaluate: --dataset: unknown 'svhn'; choices: mnist")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "weights.safetensors").unlink()
    status, _, stderr = run("evaluate", str(copy))
    assert status == 2
    assert stderr.startswith(f"odyssey evaluate: no weights.safetensors in {copy}")


def test_evaluate_weights_of_another_model_fails_with_status_1(trained, tmp_path) -> None:
    run_dir, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    config = (copy / "config.toml").read_text().replace("hidden = 32", "hidden = 16")
    (copy / "config.toml").write_text(config)
    status, stdout, stderr = run("evaluate", str(copy), "--no-progress")
    assert status == 1
    assert stdout == ""
    assert stderr.startswith(f"odyssey evaluate: {copy / 'weights.safetensors'} does not fit")
    assert stderr.count("\n") == 1


def broken_paper(folder: Path, forward: str) -> Path:
    """The tiny paper with the statement `forward` run first in each TinyNet.forward call."""
    shutil.copytree(TINY, folder)
    model = folder / "model.py"
    text = model.read_text().replace(
        "        return self.net(x)", f"        {forward}\n        return self.net(x)", 1
    )
    model.write_text("import os\nimport signal\n\nCALLS = [0]\n" + text)
    return folder


def test_a_failure_while_training_exits_1_without_a_traceback(trainer_available, tmp_path) -> None:
    paper = broken_paper(tmp_path / "broken", "raise RuntimeError('the model is broken')")
    status, _, stderr = run("train", str(paper), "--out", str(tmp_path / "run"), "--no-progress")
    assert status == 1
    assert "the model is broken" in stderr
    assert "Traceback" not in stderr
    with pytest.raises(RuntimeError, match="the model is broken"):
        main(["train", str(paper), "--out", str(tmp_path / "run2"), "--no-progress", "--debug"])


def test_ctrl_c_saves_prints_how_to_resume_and_the_resumed_run_ends_as_if_never_stopped(
    trained, tmp_path
) -> None:
    # A real SIGINT in the 30th training step of the epoch; the Trainer finishes the step,
    # saves a checkpoint and exits 130, and the command printed resumes it.
    paper = broken_paper(
        tmp_path / "tiny",
        "CALLS[0] += self.training\n"
        "        if CALLS[0] == 30 and self.training: os.kill(os.getpid(), signal.SIGINT)",
    )
    out = tmp_path / "run"
    status, _, stderr = run(*train_args(out, paper=paper))
    assert status == 130, stderr
    assert "saved a resumable checkpoint" in stderr  # the Trainer's own words
    line = stderr.splitlines()[-1]
    assert line.startswith("odyssey train: interrupted; resume with: ")
    command = shlex.split(line.split("resume with: ", 1)[1])
    checkpoint = Path(command[command.index("--resume") + 1])
    assert command == [
        "odyssey", "train", str(paper), "--epochs", "1", "--out", str(out), "--resume",
        str(checkpoint),
    ]  # fmt: skip
    assert checkpoint.parent == out / "checkpoints"
    status, stdout, stderr = run(*command[1:], "--no-progress")
    assert status == 0, stderr
    assert "tiny / relu (TinyNet) on mnist-sample, 1 epoch" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == -(-3500 // 64)
    uninterrupted = odyssey.load(trained[0] / "weights.safetensors")
    resumed = odyssey.load(out / "weights.safetensors")
    assert uninterrupted.keys() == resumed.keys()
    assert all(np.array_equal(uninterrupted[k], resumed[k]) for k in resumed)


# --- Mistakes found before anything is written (exit 2, the run directory untouched) -------------


def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every file under `directory`: (mtime_ns, sha256), to show that nothing was written."""
    return {
        str(path.relative_to(directory)): (
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_a_new_run_into_an_out_that_holds_a_run_is_refused(trained) -> None:
    run_dir, _, _ = trained
    before = snapshot(run_dir)
    status, stdout, stderr = run(*train_args(run_dir))
    assert (status, stdout) == (2, "")
    assert stderr == (
        f"odyssey train: --out {run_dir} already holds a run (summary.json); continue it with "
        f"--resume {run_dir / 'checkpoints' / 'last.safetensors'}, or choose another --out for "
        "a new run\n"
    )
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("marker", ["summary.json", "metrics.jsonl", "checkpoints/x.safetensors"])
def test_each_file_of_a_run_marks_an_out_as_taken(tmp_path, marker) -> None:
    out = tmp_path / "run"
    (out / marker).parent.mkdir(parents=True)
    (out / marker).write_text("{}")
    (out / "config.toml").write_text("")
    status, _, stderr = run(*train_args(out))
    assert status == 2
    assert stderr.startswith(f"odyssey train: --out {out} already holds a run ({marker});")
    assert "--resume" in stderr
    assert stderr.count("\n") == 1
    assert sorted(p.name for p in out.rglob("*")) == sorted({"config.toml", *Path(marker).parts})


def test_a_resume_into_another_run_s_out_is_refused(trained, tmp_path) -> None:
    run_dir, _, _ = trained
    other = tmp_path / "other"
    (other / "checkpoints").mkdir(parents=True)
    (other / "metrics.jsonl").write_text("")
    checkpoint = run_dir / "checkpoints" / "last.safetensors"
    before = snapshot(run_dir)
    status, _, stderr = run(*train_args(other, "--resume", str(checkpoint)))
    assert (status, stderr) == (
        2,
        f"odyssey train: --out {other} holds another run (metrics.jsonl) than the checkpoint "
        f"{checkpoint}; resume into the checkpoint's own run directory, or into a new --out\n",
    )
    assert snapshot(run_dir) == before
    assert sorted(p.name for p in other.iterdir()) == ["checkpoints", "metrics.jsonl"]


def test_the_trainer_s_run_directory_error_is_a_usage_error_too(
    trainer_available, tmp_path, monkeypatch
) -> None:
    # Should a run appear in --out between the command's check and the fit, the Trainer's own
    # refusal (fixtrainer's RunDirectoryError, a ValueError) is exit 2 as well.
    from odyssey.train import Trainer

    class RunDirectoryError(ValueError):
        pass

    def fit(self, *args, **kwargs):
        raise RunDirectoryError("Trainer: the directory holds a run")

    monkeypatch.setattr(Trainer, "fit", fit)
    status, _, stderr = run(*train_args(tmp_path / "run"))
    assert (status, stderr) == (
        2,
        "odyssey train: Trainer: the directory holds a run; here: --resume CKPT to continue "
        "it, or another --out\n",
    )


def test_an_out_that_is_a_file_exits_2(tmp_path) -> None:
    out = tmp_path / "run"
    out.write_text("notes")
    status, _, stderr = run(*train_args(out))
    assert (status, stderr) == (
        2,
        f"odyssey train: --out {out} is a file; the run directory must be a directory\n",
    )
    assert out.read_text() == "notes"


def test_an_out_with_no_run_in_it_is_not_taken(tmp_path) -> None:
    from odyssey.cli.train import existing_run

    assert existing_run(tmp_path / "nowhere") is None
    assert existing_run(tmp_path) is None
    (tmp_path / "config.toml").write_text("")  # a run that failed before writing anything else
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "notes.txt").write_text("")
    assert existing_run(tmp_path) is None
    (tmp_path / "metrics.jsonl").write_text("")
    assert existing_run(tmp_path) == "metrics.jsonl"


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        (
            ["--variant", "conv"],
            "--resume: Checkpoint.restore: {ckpt}: it was saved from another model: missing keys",
        ),
        (
            ["--set", "train.optimizer=Adam"],
            "--resume: Checkpoint.restore: {ckpt}: it holds the state of a SGD optimizer, not Adam",
        ),
        (
            ["--set", "train.scheduler=ExponentialLR", "--set", "train.scheduler_args.gamma=0.9"],
            "--resume: {ckpt}: its LR scheduler state does not fit train.scheduler = "
            "'ExponentialLR': ExponentialLR.load_state_dict: unexpected keys",
        ),
        (
            ["--set", "train.scheduler=none"],
            "--resume: {ckpt} holds 1 LR scheduler state(s), but train.scheduler = 'none' makes 0",
        ),
        (
            ["--batch-size", "32"],
            "--resume: {ckpt} was saved with another data loader (--batch-size, --dataset or "
            "train.val_size differ): DataLoader.load_state_dict: batch_size is 32 here but 64",
        ),
        (
            ["--set", "train.val_size=100"],
            "--resume: {ckpt} was saved with another data loader (--batch-size, --dataset or "
            "train.val_size differ): DataLoader.load_state_dict: dataset_size is 3900 here but "
            "3500",
        ),
    ],
)
def test_a_resume_that_does_not_fit_exits_2_and_leaves_the_run_alone(
    trained, more, expected
) -> None:
    run_dir, _, _ = trained
    checkpoint = run_dir / "checkpoints" / "last.safetensors"
    before = snapshot(run_dir)
    status, stdout, stderr = run(*train_args(run_dir, "--resume", str(checkpoint), *more))
    assert (status, stdout) == (2, "")
    assert stderr.startswith("odyssey train: " + expected.format(ckpt=checkpoint)), stderr
    assert stderr.count("\n") == 1
    assert snapshot(run_dir) == before  # summary.json still says the run succeeded


def test_resuming_from_plain_weights_or_another_file_exits_2(trained, tmp_path) -> None:
    run_dir, _, _ = trained
    before = snapshot(run_dir)
    weights = run_dir / "weights.safetensors"
    status, _, stderr = run(*train_args(run_dir, "--resume", str(weights)))
    assert status == 2
    assert stderr.startswith(f"odyssey train: --resume: load_checkpoint: {weights} holds weights")
    status, _, stderr = run(*train_args(run_dir, "--resume", str(run_dir / "config.toml")))
    assert status == 2
    assert stderr.startswith(f"odyssey train: --resume: load_checkpoint: {run_dir}")
    assert snapshot(run_dir) == before


ONE_CYCLE = [
    "--set",
    "train.scheduler=OneCycleLR",
    "--set",
    "train.scheduler_args.max_lr=0.1",
    "--set",
    "train.scheduler_interval=step",
]


def test_a_one_cycle_run_resumed_for_more_epochs_is_refused_up_front(
    trainer_available, tmp_path
) -> None:
    # The schedule's length (total_steps) is fixed when the run starts, and the checkpoint's
    # state keeps it: more epochs would step it past its end after the first resumed step.
    out = tmp_path / "run"
    status, _, stderr = run(*train_args(out, *ONE_CYCLE))
    assert status == 0, stderr
    checkpoint = out / "checkpoints" / "last.safetensors"
    before = snapshot(out)
    argv = ["train", str(TINY), "--epochs", "2", "--out", str(out), "--no-progress"]
    status, stdout, stderr = run(*argv, *ONE_CYCLE, "--resume", str(checkpoint))
    assert (status, stdout) == (2, "")
    steps = -(-3500 // 64)
    assert stderr == (
        f"odyssey train: --resume {checkpoint}: --epochs (train.epochs): 2 epochs of {steps} "
        f"scheduler steps need {2 * steps}, but the checkpoint's OneCycleLR schedule has "
        f"total_steps = {steps}, fixed when its run started; resume with at most --epochs 1, "
        "or start a new run (without --resume) for 2 epochs\n"
    )
    assert snapshot(out) == before
    # The epochs it was sized for resume (the run is complete: it tests and summarises again).
    status, _, stderr = run(*train_args(out, *ONE_CYCLE, "--resume", str(checkpoint)))
    assert status == 0, stderr


def test_a_one_cycle_schedule_shorter_than_the_run_exits_2_before_training(tmp_path) -> None:
    out = tmp_path / "run"
    steps = -(-3500 // 64)
    status, stdout, stderr = run(
        *train_args(out, *ONE_CYCLE, "--set", f"train.scheduler_args.total_steps={steps - 1}")
    )
    assert (status, stdout) == (2, "")
    assert stderr == (
        f"odyssey train: train.scheduler_args.total_steps: OneCycleLR's schedule has "
        f"total_steps = {steps - 1}, but 1 epoch of {steps} scheduler steps need {steps}; give "
        f"total_steps >= {steps}, or leave total_steps, epochs and steps_per_epoch out to size "
        "it from the run\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            ["variant.model_args.hidden=x"],
            "variant.model_args.hidden must be an int, got 'x' (str)\n",
        ),
        (
            ["variant.model_args.hidden=-3"],
            "variant.model_args.hidden: TinyNet(hidden=-3) failed: ValueError: Linear: ",
        ),
        (
            ["train.scheduler=ReduceLROnPlateau", "train.scheduler_monitor=val_los"],
            "train.scheduler_monitor: 'val_los' is not a metric the Classifier logs; choices: "
            "val_loss, val_accuracy, train_loss, train_accuracy, train_loss_epoch, "
            "train_accuracy_epoch\n",
        ),
        (
            ["train.scheduler=ReduceLROnPlateau", "train.val_size=0"],
            "train.scheduler_monitor: 'val_loss' needs a validation split, but train.val_size "
            "is 0; ",
        ),
        (
            ["train.scheduler=ReduceLROnPlateau", "train.scheduler_interval=step"],
            "train.scheduler_interval: ReduceLROnPlateau stepped after every training step "
            "cannot monitor 'val_loss' ",
        ),
        (
            ["train.scheduler=ReduceLROnPlateau", "train.scheduler_monitor=val_accuracy"],
            "train.scheduler_args.mode: val_accuracy is better higher, so ReduceLROnPlateau "
            'monitoring it needs mode = "max", got "min"\n',
        ),
    ],
)
def test_configuration_mistakes_exit_2_before_training(tmp_path, sets, expected) -> None:
    out = tmp_path / "run"
    argv = train_args(out)
    for assignment in sets:
        argv += ["--set", assignment]
    status, stdout, stderr = run(*argv)
    assert (status, stdout) == (2, "")
    assert stderr.startswith("odyssey train: " + expected), stderr
    assert stderr.count("\n") == 1
    assert not out.exists()


# --- odyssey evaluate's progress ------------------------------------------------------------------


def test_evaluate_shows_its_progress_on_stderr_unless_no_progress(trained, monkeypatch) -> None:
    from odyssey.cli import evaluate

    run_dir, _, _ = trained
    status, stdout, stderr = run("evaluate", str(run_dir))
    assert status == 0, stderr
    assert stderr.startswith("test  test_accuracy ")  # a log: the pass's one line
    assert "test  test_accuracy" not in stdout  # stdout holds the metrics alone
    terminal = Console(file=io.StringIO(), force_terminal=True, width=120)
    monkeypatch.setattr(evaluate, "progress_console", lambda: terminal)
    status, stdout, _ = run("evaluate", str(run_dir))
    assert status == 0
    drawn = terminal.file.getvalue()
    assert "\x1b[" in drawn  # a rich bar was drawn
    assert "16/16" in drawn or "/16" in drawn  # 1,000 test images in batches of 64
    quiet = Console(file=io.StringIO(), force_terminal=True, width=120)
    monkeypatch.setattr(evaluate, "progress_console", lambda: quiet)
    status, _, stderr = run("evaluate", str(run_dir), "--no-progress")
    assert (status, stderr, quiet.file.getvalue()) == (0, "", "")


def test_a_resume_with_other_settings_warns_in_one_line(trained, tmp_path) -> None:
    # The Trainer warns that the checkpoint's state wins over a changed setting; the command shows
    # it as one line naming itself, not Python's file, line and source excerpt.
    out = tmp_path / "run"
    assert run(*train_args(out))[0] == 0
    status, _, stderr = run(
        *train_args(out, "--resume", str(out / "checkpoints" / "last.safetensors")),
        "--epochs",
        "2",
    )
    assert status == 0, stderr
    warning = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warning) == 1, stderr
    assert warning[0].startswith("odyssey: warning: Trainer.fit: resuming from ")
    assert "train.epochs (1 in the checkpoint, 2 now)" in warning[0]
    assert "UserWarning" not in stderr


# --- papers/lenet5: found by slug, and trained on mnist-sample when mnist cannot be had -------


REPOSITORY = Path(__file__).resolve().parents[1]


def _no_download(name: str) -> None:
    raise OSError(f"{name}: cannot download (no network in this test)")


def test_lenet5_falls_back_to_mnist_sample_when_mnist_cannot_be_had(
    trainer_available, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(REPOSITORY)
    monkeypatch.setattr("odyssey.cli.train.ensure_dataset", _no_download)
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--variant", "modern", "--epochs", "1", "--out", str(out)]
    status, stdout, stderr = run(*argv, "--set", "train.val_size=200", "--no-progress")
    assert status == 0, stderr
    lines = [line for line in stderr.splitlines() if "mnist-sample" in line]
    assert len(lines) == 1
    assert "mnist is not on this machine" in lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "mnist-sample"
    assert summary["paper"] == "lenet5"
    assert summary["variant"] == "modern"
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["train"]["dataset"] == "mnist-sample"
    assert "on mnist-sample" in stdout


def test_lenet5_does_not_replace_a_dataset_the_user_chose(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(REPOSITORY)
    monkeypatch.setattr("odyssey.cli.train.ensure_dataset", _no_download)
    for choice in (["--dataset", "mnist"], ["--set", "train.dataset=mnist"]):
        out = tmp_path / "-".join(choice).strip("-").replace("=", "_")
        status, _, stderr = run("train", "lenet5", "--out", str(out), *choice)
        assert status == 1
        assert "cannot download" in stderr
        assert "mnist-sample" not in stderr
        assert not out.exists()
