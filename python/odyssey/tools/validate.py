"""What ``odyssey validate`` checks of a paper folder, every problem listed (not only the first):

- structure: the files DESIGN §5 asks for (paper.toml, model.py, README.md, __init__.py, tests/
  with a test_*.py);
- paper.toml: its JSON Schema, then what papers.load_paper checks beyond it;
- README.md: a title, the sections Architecture, How to run and Results, and in Results a table
  with a ``target`` column naming every [[targets]] row (by id) and an ``ours`` column;
- the model: model.py imports, every variant resolves and its model builds, and a forward pass
  on a batch of two samples of the declared ``train.input_shape`` (else the dataset's) gives a
  finite output with one row per sample;
- results/*.json: each one readable and naming a target of the paper.

Completeness (``completeness_problems``, ``odyssey validate --complete``): every target has a
recorded result for its current definition that meets its bar, and the README's ``ours`` cell of
its row says what the result records — its mean ± std, and each seed's value where the cell
quotes them as ``(98.0 / 98.0 / 97.5)`` (a table edited by hand to a better number is caught).
Running the targets (``odyssey validate --run``) is ``odyssey.tools.targets``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from odyssey import papers

__all__ = [
    "README_SECTIONS",
    "REQUIRED_FILES",
    "ResultsTable",
    "completeness_problems",
    "config_digest",
    "fast_problems",
    "format_measure",
    "format_per_seed",
    "format_value",
    "meets",
    "paper_folders",
    "per_seed_problem",
    "read_result",
    "results_table",
    "validate_paper",
]

REQUIRED_FILES = ("paper.toml", "model.py", "README.md", "__init__.py")
README_SECTIONS = ("Architecture", "How to run", "Results")
RESULTS_DIR = "results"
# What a recorded result must hold to be compared with its target (odyssey.tools.targets).
RESULT_KEYS = ("target", "variant", "dataset", "metric", "bar", "seeds", "values", "mean", "std")
# The keys of a target that decide what its run is: a result recorded for other values is stale.
DEFINING_KEYS = ("variant", "dataset", "metric", "augment", "epochs", "sets")
# A target key's value when the row leaves it out (as recorded by odyssey.tools.targets).
_DEFAULTS: dict[str, Any] = {"augment": False, "epochs": None, "sets": []}
_EMPTY = {"", "—", "-"}


def structure_problems(folder: Path) -> list[str]:
    """The files and folders a paper needs that `folder` lacks."""
    found = [
        f"{name} is missing (a paper folder needs it)"
        for name in REQUIRED_FILES
        if not (folder / name).is_file()
    ]
    tests = folder / "tests"
    if not tests.is_dir() or not any(tests.glob("test_*.py")):
        found.append("tests/ holds no test_*.py (a paper has its own fast tests)")
    if (folder / RESULTS_DIR).exists() and not (folder / RESULTS_DIR).is_dir():
        found.append(f"{RESULTS_DIR} is not a folder (recorded results go in {RESULTS_DIR}/)")
    return found


def _read_text(path: Path) -> tuple[str | None, list[str]]:
    """A text file's content, or the problem that it cannot be read as UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{path.name}: cannot be read as UTF-8 text ({error})"]


# ---------------------------------------------------------------------------------------------
# README.md


@dataclass
class ResultsTable:
    """The README's results table: each target id's row, as {column header: cell}."""

    rows: dict[str, dict[str, str]]
    ours_column: str


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _sections(text: str) -> dict[str, str]:
    """The README's `## ` sections, heading -> body (fenced code skipped when finding them)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
            continue
        if current is not None:
            current.append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items()}


def results_table(text: str) -> tuple[ResultsTable | None, list[str]]:
    """The results table of a README's source, and what is wrong with the README."""
    found = []
    if not text.lstrip().startswith("# "):
        found.append("README.md: the first line must be the title (`# ...`)")
    sections = _sections(text)
    lowered = {heading.lower(): heading for heading in sections}
    for name in README_SECTIONS:
        if name.lower() not in lowered:
            found.append(f"README.md: no `## {name}` section")
    body = sections.get(lowered.get("results", ""), "")
    for lines in _tables(body):
        header = _cells(lines[0])
        ours = [cell for cell in header if cell.lower().startswith("ours")]
        if "target" not in (cell.lower() for cell in header) or not ours:
            continue
        column = [cell.lower() for cell in header].index("target")
        rows: dict[str, dict[str, str]] = {}
        for line in lines[2:]:
            cells = _cells(line)
            if len(cells) != len(header):
                found.append(
                    f"README.md: a results row has {len(cells)} cells, the header {len(header)}: "
                    f"{line.strip()[:60]}"
                )
                continue
            target = cells[column].strip("`* ")
            if target in rows:
                found.append(f"README.md: the results table has two rows for `{target}`")
            elif target not in _EMPTY:
                rows[target] = dict(zip(header, cells, strict=True))
        return ResultsTable(rows, ours[0]), found
    if body:
        found.append(
            "README.md: the Results section has no table with a `target` column and an "
            "`ours ...` column"
        )
    return None, found


def _tables(body: str) -> list[list[str]]:
    """The Markdown tables of a section: runs of `|` lines with a `---` rule second."""
    tables: list[list[str]] = []
    run: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.strip().startswith("|"):
            run.append(line)
            continue
        if len(run) >= 2 and set(run[1].replace("|", "").strip()) <= set("-: "):
            tables.append(run)
        run = []
    return tables


def readme_problems(folder: Path, paper: papers.Paper | None) -> list[str]:
    """The README's title, sections and results table (a row for every target of `paper`)."""
    path = folder / "README.md"
    if not path.is_file():
        return []
    text, unreadable = _read_text(path)
    if text is None:
        return unreadable
    table, found = results_table(text)
    if table is None or paper is None:
        return found
    ids = [papers.target_id(target) for target in paper.targets]
    found += [
        f"README.md: the results table has no row for target `{target}`"
        for target in ids
        if target not in table.rows
    ]
    found += [
        f"README.md: the results table names `{target}`, which is no target of paper.toml "
        f"(targets: {', '.join(ids) or 'none'})"
        for target in table.rows
        if target not in ids
    ]
    return found


# ---------------------------------------------------------------------------------------------
# The model


def _input_shape(config: Mapping[str, Any]) -> tuple[int, ...]:
    """train.input_shape, else one sample of the dataset's test split as the loader gives it."""
    declared = config["train"].get("input_shape")
    if declared:
        return tuple(declared)
    from odyssey.data.datasets import load_dataset, local_files

    dataset = config["train"]["dataset"]
    if local_files(dataset, "test") is None:
        raise papers.PaperError(
            f"train.input_shape is not declared and {dataset} is not on this machine to read it "
            "from; declare it in [train] (e.g. input_shape = [1, 28, 28])"
        )
    # odyssey's own load_dataset, not Hugging Face's (bandit B615 goes by the name).
    images = load_dataset(dataset, "test", download=False).images  # nosec B615
    return (1, *images.shape[1:]) if images.ndim == 3 else tuple(images.shape[1:])


def model_problems(paper: papers.Paper) -> list[str]:
    """model.py imports; each variant resolves, builds and runs forward on a batch of two. Any
    failure of the paper's own code (an exception, even sys.exit) is a problem, not a crash."""
    import odyssey

    try:
        papers.load_model_module(paper.path)
    except papers.PaperError as error:
        return [str(error)]
    except SystemExit as error:
        return [f"{paper.path / papers.MODEL_FILE}: importing it called sys.exit({error.code})"]
    found = []
    for name in paper.variant_names:
        try:
            config = papers.resolve(paper, name)
            odyssey.manual_seed(0)
            model = papers.build_model(config)
            shape = (2, *_input_shape(config))
        except papers.PaperError as error:
            found.append(f"variant {name}: {error}")
            continue
        except (Exception, SystemExit) as error:
            found.append(
                f"variant {name}: building {config['variant']['model']} failed: "
                f"{type(error).__name__}: {error}"
            )
            continue
        batch = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        try:
            model.eval()
            with odyssey.no_grad():
                output = model(odyssey.tensor(batch))
        except (Exception, SystemExit) as error:
            found.append(
                f"variant {name}: the forward pass on a batch of shape {shape} failed: "
                f"{type(error).__name__}: {error}"
            )
            continue
        if not isinstance(output, (odyssey.Tensor, np.ndarray)):
            found.append(
                f"variant {name}: the forward pass returned {type(output).__name__}; expected "
                "one tensor (N, ...)"
            )
            continue
        output = np.asarray(output)
        if output.ndim == 0 or output.shape[0] != 2:
            found.append(
                f"variant {name}: the forward pass on a batch of 2 gave shape {output.shape}; "
                "expected one row per sample"
            )
        elif not np.isfinite(output).all():
            found.append(f"variant {name}: the forward pass gave non-finite values")
    return found


# ---------------------------------------------------------------------------------------------
# Recorded results


def read_result(path: Path) -> dict[str, Any]:
    """A recorded result (results/<target>.json); ValueError naming the file when it is not one."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name}: not a readable JSON file ({error})") from None
    if not isinstance(result, dict):
        raise ValueError(f"{path.name}: expected a JSON object")
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ValueError(f"{path.name}: missing {', '.join(missing)}")
    values = result["values"]
    if not (isinstance(values, list) and values and all(_is_number(v) for v in values)):
        raise ValueError(f"{path.name}: values must be a non-empty list of numbers")
    if not (_is_number(result["mean"]) and _is_number(result["std"])):
        raise ValueError(f"{path.name}: mean and std must be numbers")
    seeds = result["seeds"]
    if not isinstance(seeds, list) or len(seeds) != len(values):
        raise ValueError(f"{path.name}: seeds must list one seed per value")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    if not (
        math.isclose(result["mean"], statistics.fmean(values), rel_tol=1e-9, abs_tol=1e-12)
        and math.isclose(result["std"], std, rel_tol=1e-9, abs_tol=1e-12)
    ):
        raise ValueError(f"{path.name}: mean and std are not those of its values")
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def results_problems(folder: Path, paper: papers.Paper | None) -> list[str]:
    """Every results/*.json readable and recorded for a target of the paper."""
    directory = folder / RESULTS_DIR
    if not directory.is_dir():
        return []
    ids = [] if paper is None else [papers.target_id(target) for target in paper.targets]
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            result = read_result(path)
        except ValueError as error:
            found.append(f"{RESULTS_DIR}/{error}")
            continue
        if paper is not None and (path.stem not in ids or result["target"] != path.stem):
            found.append(
                f"{RESULTS_DIR}/{path.name}: recorded for target {result['target']!r}, which is "
                f"not this file's target of paper.toml (targets: {', '.join(ids) or 'none'})"
            )
    return found


def format_measure(metric: str, mean: float, std: float) -> str:
    """`mean ± std` as the README shows it: accuracies in percent with two decimals."""
    if metric.endswith("accuracy"):
        return f"{100 * mean:.2f} ± {100 * std:.2f} %"
    return f"{mean:.4f} ± {std:.4f}"


def format_per_seed(metric: str, values: Sequence[float]) -> str:
    """Each seed's value as the README's table shows them: `98.40 / 98.40 / 98.30` (percent for
    an accuracy, as format_measure)."""
    scale = 100 if metric.endswith("accuracy") else 1
    digits = 2 if metric.endswith("accuracy") else 4
    return " / ".join(f"{scale * value:.{digits}f}" for value in values)


# The per-seed values a README cell quotes beside its mean ± std: `(98.0 / 98.0 / 97.5)`.
_PER_SEED = re.compile(r"\(\s*(\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)+)\s*%?\s*\)")


def per_seed_problem(metric: str, cell: str, values: Sequence[float]) -> str | None:
    """What is wrong with the per-seed values a README cell quotes, if it quotes any: each must
    be the recorded seed's value at the precision shown (98.0 for 0.9804 is fine, 98.1 is not)."""
    match = _PER_SEED.search(cell)
    if match is None:
        return None
    shown = [text.strip() for text in match.group(1).split("/")]
    scale = 100 if metric.endswith("accuracy") else 1
    recorded = []
    for text, value in zip(shown, values, strict=False):
        digits = len(text.partition(".")[2])
        recorded.append(f"{scale * value:.{digits}f}")
    if len(shown) != len(values) or shown != recorded:
        expected = format_per_seed(metric, values)
        return f"the README's per-seed values ({' / '.join(shown)}) are not the recorded {expected}"
    return None


def format_value(metric: str, value: float) -> str:
    """One value as the README shows it (`98.40 %` for an accuracy)."""
    return f"{100 * value:.2f} %" if metric.endswith("accuracy") else f"{value:.4f}"


def meets(metric: str, value: float, bar: float) -> bool:
    """An accuracy reaches its bar; a loss stays at or under it."""
    return value <= bar if metric.endswith("loss") else value >= bar


def config_digest(paper: papers.Paper, target: Mapping[str, Any]) -> str:
    """A digest of everything that decides a target's run but the seed: its resolved
    configuration (the variant's model and arguments, the whole recipe), so that a result
    recorded before the paper.toml changed is found stale."""
    flags = {"dataset": target["dataset"], "epochs": target.get("epochs")}
    flags["augment"] = bool(target.get("augment", False))
    config = papers.resolve(paper, target["variant"], flags, target.get("sets", []))
    config["train"].pop("seed", None)
    config["train"].pop("threads", None)
    decisive = {"variant": config["variant"], "train": config["train"]}
    text = json.dumps(decisive, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_MEASURE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*±\s*\d+(?:\.\d+)?(?:\s*%)?(?![\d.])")


def completeness_problems(folder: Path, available_only: bool = False) -> list[str]:
    """Every target recorded for its current configuration, meeting its bar, and the README's row
    quoting exactly the record. `available_only`: only the targets whose data is on this machine
    (what a machine without the others can vouch for)."""
    from odyssey.tools.targets import data_at_hand

    try:
        paper = papers.load_paper(folder)
    except papers.PaperError as error:
        return error.problems
    table = None
    if (folder / "README.md").is_file():
        text, unreadable = _read_text(folder / "README.md")
        if text is None:
            return unreadable
        table, _ = results_table(text)
    found = []
    if paper.info.get("draft"):
        # A draft validates (it builds, runs forward, names its targets) but nobody has yet
        # checked its reading of the paper: it is never complete while it is marked.
        found.append(
            "paper.draft is true: a draft from `odyssey agent research`; check what DRAFT.md "
            "lists, then remove `draft = true` and DRAFT.md"
        )
    for index, target in enumerate(paper.targets):
        if available_only and not data_at_hand(target["dataset"]):
            continue
        name = papers.target_id(target)
        label = f"targets[{index}] `{name}`"
        path = folder / RESULTS_DIR / f"{name}.json"
        if not path.is_file():
            found.append(
                f"{label}: no recorded result ({RESULTS_DIR}/{name}.json); record it with "
                f"`odyssey validate {paper.slug} --run --target {name}`"
            )
            continue
        try:
            result = read_result(path)
        except ValueError as error:
            found.append(f"{label}: {RESULTS_DIR}/{error}")
            continue
        stale = [
            key for key in DEFINING_KEYS if result.get(key) != target.get(key, _DEFAULTS.get(key))
        ]
        if result.get("config_sha256") != config_digest(paper, target):
            stale.append("the configuration it trains (model, arguments, recipe)")
        if stale:
            found.append(
                f"{label}: {RESULTS_DIR}/{name}.json was recorded for another definition of the "
                f"target ({', '.join(stale)} differ); run it again"
            )
            continue
        measure = format_measure(target["metric"], result["mean"], result["std"])
        if not meets(target["metric"], result["mean"], target["bar"]):
            found.append(f"{label}: the recorded {measure} misses the bar {target['bar']}")
        if table is None:
            continue
        row = table.rows.get(name)
        if row is None:
            found.append(f"{label}: the README's results table has no row for it")
            continue
        claimed = [" ".join(m.split()) for m in _MEASURE.findall(row[table.ours_column])]
        if claimed != [measure]:
            said = ", ".join(claimed) or repr(row[table.ours_column])
            found.append(
                f"{label}: the README says {said}, the recorded result "
                f"({RESULTS_DIR}/{name}.json) is {measure}"
            )
        seeds = per_seed_problem(target["metric"], row[table.ours_column], result["values"])
        if seeds is not None:
            found.append(f"{label}: {seeds} ({RESULTS_DIR}/{name}.json)")
    return found


# ---------------------------------------------------------------------------------------------


def _checked_paper(folder: Path) -> tuple[papers.Paper | None, list[str]]:
    """Structure, schema, what papers.load_paper checks beyond it, README and recorded results:
    the paper (None when its paper.toml has a problem) and every problem."""
    found = structure_problems(folder)
    paper = None
    if (folder / papers.PAPER_FILE).is_file():
        try:
            paper = papers.load_paper(folder)
        except papers.PaperError as error:
            found += error.problems
    return paper, found + readme_problems(folder, paper) + results_problems(folder, paper)


def fast_problems(folder: str | Path) -> list[str]:
    """Structure, paper.toml and README: what a pre-commit hook can afford (no model is built
    and nothing runs forward; the paper's train.py is imported for the names it defines)."""
    return _checked_paper(Path(folder).resolve())[1]


def validate_paper(folder: str | Path) -> list[str]:
    """Every problem of the paper in `folder` (empty when it is valid)."""
    folder = Path(folder).resolve()
    paper, found = _checked_paper(folder)
    if paper is not None and (folder / papers.MODEL_FILE).is_file():
        found += model_problems(paper)
    return found


def paper_folders(paths: Sequence[str | Path]) -> list[Path]:
    """The paper folders that hold `paths` (files or folders inside a paper), each once."""
    folders: list[Path] = []
    for path in map(Path, paths):
        path = path.resolve()
        for folder in (path, *path.parents):
            if (folder / papers.PAPER_FILE).is_file():
                if folder not in folders:
                    folders.append(folder)
                break
    return folders
