"""What ``odyssey evaluate`` and ``odyssey predict`` share: finding a run's configuration and
weights from a run directory or a checkpoint, and rebuilding its model with those weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS = "weights.safetensors"
CONFIG = "config.toml"


class RunError(Exception):
    """A run that cannot be used: one line naming the file; `status` is the exit status (2 for a
    usage mistake, 1 for weights that cannot be loaded)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Run:
    """A run directory, the weights chosen in it and its resolved configuration."""

    directory: Path
    weights: Path
    config: dict[str, Any]


def locate(target: Path) -> tuple[Path, Path]:
    """(run directory, weights file) of a run directory or of a checkpoint inside one (in the run
    directory itself or in its checkpoints/)."""
    if target.is_dir():
        return target, target / WEIGHTS
    for folder in (target.parent, target.parent.parent):
        if (folder / CONFIG).is_file():
            return folder, target
    return target.parent, target


def with_paper(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with paper.path pointing at a folder that exists: the recorded one, or the paper
    found again by its slug when the folder has moved."""
    from odyssey import papers

    folder = Path(config["paper"]["path"])
    if not (folder / papers.MODEL_FILE).is_file():
        folder = papers.find_paper(config["paper"]["slug"])
        config["paper"]["path"] = str(folder)
    return config


def open_run(target: Path, command: str) -> Run:
    """The run of a run directory or checkpoint `target`; RunError (status 2) when there is none,
    it has no config.toml or weights, or its configuration cannot be read. `command` ("evaluate",
    "predict") is named in the messages."""
    from odyssey import papers

    if not target.exists():
        raise RunError(f"no run directory or checkpoint at {target}")
    run_dir, weights = locate(target)
    if not (run_dir / CONFIG).is_file():
        raise RunError(f"no {CONFIG} in {run_dir}; {command} needs the run's configuration")
    if not weights.is_file():
        raise RunError(f"no {WEIGHTS} in {run_dir} (the run did not finish?); pass a checkpoint")
    try:
        with (run_dir / CONFIG).open("rb") as file:
            config = papers.tomllib.load(file)
        config = with_paper(config)
    except (OSError, papers.tomllib.TOMLDecodeError) as error:
        raise RunError(f"cannot read {run_dir / CONFIG}: {error}") from None
    except papers.PaperError as error:
        raise RunError(str(error)) from None
    return Run(run_dir, weights, config)


def load_model(run: Run) -> Any:
    """The run's model rebuilt from its configuration with its weights loaded; RunError (status 1)
    when the weights do not fit the model (status 2 for a configuration the paper refuses)."""
    import odyssey
    from odyssey import papers

    try:
        model = papers.build_model(run.config)
    except papers.PaperError as error:
        raise RunError(str(error)) from None
    state = odyssey.load(run.weights)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as error:
        raise RunError(
            f"{run.weights} does not fit {run.config['variant']['model']}: {error}", 1
        ) from None
    return model
