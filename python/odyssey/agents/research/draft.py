"""The draft paper folder the research assistant writes: the repository's paper template
(``cookiecutter-paper``, through ``odyssey new``'s code path) rendered with the paper's title,
authors, year, arXiv id and dataset, then its paper.toml, README.md, model.py and tests written
from the answer, and DRAFT.md listing what a person must check before the folder is a paper.

The folder is built in a hidden staging folder next to the destination and moved into place in
one rename, so a failure leaves no half-written paper; files are written only inside it. An
existing folder is refused unless it is empty, or ``force`` (then it is replaced whole).
paper.toml carries ``draft = true``: ``odyssey validate`` checks the draft like any paper, and
``odyssey validate --complete`` refuses it until a person removes the mark.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odyssey.agents.research.modelgen import GeneratedModel, generate_model, one_line
from odyssey.agents.research.recipe import (
    VARIANT,
    Recipe,
    Target,
    claim_target,
    map_recipe,
    map_targets,
)

__all__ = [
    "Draft",
    "DraftError",
    "check_destination",
    "check_slug",
    "render_files",
    "title_slug",
    "write_draft",
]

PROG = "odyssey agent research"
LOW_CONFIDENCE = 0.7  # items under it are listed in DRAFT.md for a person to check first


class DraftError(ValueError):
    """The draft cannot be written where asked; one line saying why."""


@dataclass
class Draft:
    """A written draft: its folder, its model, and every TODO (model, recipe and targets)."""

    folder: Path
    model: GeneratedModel
    todos: list[str]


# ---------------------------------------------------------------------------------------------
# Text helpers: the answer's strings are untrusted; each lands escaped for where it goes.

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml(value: object) -> str:
    """A value of [train], a target row or [paper] as TOML (strings escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for char in value:
            if char in _TOML_ESCAPES:
                out.append(_TOML_ESCAPES[char])
            elif ord(char) < 0x20 or ord(char) == 0x7F:
                out.append(f"\\u{ord(char):04X}")
            else:
                out.append(char)
        return '"' + "".join(out) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _inline(text: object, limit: int = 300) -> str:
    """The answer's (or the paper's) text as one inert line of Markdown: `<` cannot open HTML or
    an HTML comment (which would swallow the sections after it), `@` cannot mention anyone when
    the file reaches a pull request's body."""
    return one_line(text, limit).replace("<", "\\<").replace("@", "@\u200b")


# A line starting with one of these could open a block that swallows or fakes a section: a
# heading, a code fence (``` or ~~~), a setext underline (=== or ---), a quote, a table, a list.
_BLOCK_START = re.compile(r"[#`~=\-+*>|_]")


def _no_block(line: str) -> str:
    """`line` (already inert inline) that cannot start a block: a leading marker escaped."""
    return "\\" + line if _BLOCK_START.match(line) else line


def _line(text: object, limit: int = 2000) -> str:
    """`_inline` that also cannot start a block."""
    return _no_block(_inline(text, limit))


def _cell(text: object, limit: int = 120) -> str:
    """One Markdown table cell: one inert line, pipes escaped."""
    return _inline(text, limit).replace("|", "\\|") or "—"


def _paragraphs(text: str) -> str:
    """Free text from the answer as Markdown paragraphs that cannot open a section: no line
    starts a heading, a code fence, a setext underline or HTML (the validator reads the
    sections, and a fence or comment would hide them)."""
    lines = [_line(line) if line.strip() else "" for line in str(text).split("\n")]
    return "\n".join(lines).strip()


def _cite(item: Mapping[str, Any]) -> str:
    return _cell(item.get("source", "not stated"), 60)


def _confidence(item: Mapping[str, Any]) -> str:
    return f"{float(item.get('confidence', 0)):.2f}"


# ---------------------------------------------------------------------------------------------
# The files


def paper_toml(
    answer: Mapping[str, Any],
    metadata: Mapping[str, Any],
    origin: str,
    model: GeneratedModel,
    recipe: Recipe,
    targets: Sequence[Target],
) -> str:
    """paper.toml: [paper] with `draft = true`, [train] from the recipe (each key's source as a
    comment), one variant with the generated model, the targets from the claims."""
    lines = [
        f"# {one_line(answer['title'], 95)}",
        f"# DRAFT written by `odyssey agent research` from {one_line(origin, 60)}: the recipe and",
        "# targets as the assistant read them, each with where the paper gives it. DRAFT.md lists",
        "# what a person must check before removing `draft = true`.",
        "[paper]",
        f"title = {_toml(one_line(answer['title'], 300))}",
        f"authors = {_toml([one_line(a, 100) for a in answer.get('authors', [])])}",
    ]
    if answer.get("year"):
        lines.append(f"year = {int(answer['year'])}")
    if metadata.get("id"):
        lines.append(f"url = {_toml('https://arxiv.org/abs/' + str(metadata['id']))}")
        lines.append(f"arxiv = {_toml(str(metadata['id']))}")
    if answer.get("task"):
        lines.append(f"task = {_toml(one_line(answer['task'], 100))}")
    lines += ["draft = true  # remove once DRAFT.md's checks are done", "", "[train]"]
    for key, value in recipe.train.items():
        comment = recipe.comments.get(key)
        text = f"{key} = {_toml(value)}"
        if comment and len(text) + len(one_line(comment)) + 4 > 100:
            lines.append(f"# {key}: {one_line(comment)}")  # too long to follow the value
            lines.append(text)
        else:
            lines.append(f"{text}  # {one_line(comment)}" if comment else text)
    lines += [
        "",
        "[[variants]]",
        f"name = {_toml(VARIANT)}",
        f"model = {_toml(model.class_name)}",
        "model_args = {}",
        'description = "the architecture as the research assistant read it (model.py)"',
    ]
    for target in targets:
        lines += ["", "[[targets]]", f"# {one_line(target.comment, 400)}"]
        lines += [f"{key} = {_toml(value)}" for key, value in target.row.items()]
    return "\n".join(lines) + "\n"


def _layers_table(answer: Mapping[str, Any], model: GeneratedModel) -> list[str]:
    rows = [
        "| layer | type | output (paper) | output (model.py) | parameters (model.py) | "
        "paper's count | source | confidence |",
        "| --- | --- | --- | --- | ---: | ---: | --- | --- |",
    ]
    plans = [plan for plan in model.layers if not plan.comment.startswith("(inserted")]
    for layer, plan in zip(answer["architecture"]["layers"], plans, strict=False):
        stated = "x".join(map(str, layer.get("output_shape") or [])) or "—"
        counted = layer.get("parameters")
        rows.append(
            f"| {_cell(layer.get('name') or '—', 30)} | {layer['type']} | {stated} | "
            f"{'x'.join(map(str, plan.shape))} | {plan.parameters:,} | "
            f"{f'{counted:,}' if counted is not None else '—'} | {_cite(layer)} | "
            f"{_confidence(layer)} |"
        )
    stated_total = answer["architecture"].get("total_parameters")
    rows.append(
        f"| total | | | {'x'.join(map(str, model.output_shape))} | {model.parameters:,} | "
        f"{f'{stated_total:,}' if stated_total is not None else '—'} | | |"
    )
    return rows


def _recipe_table(answer: Mapping[str, Any], recipe: Recipe) -> list[str]:
    training = answer["training"]
    train = recipe.train
    optimizer = training["optimizer"]
    schedule = training["lr_schedule"]
    scheduler = train.get("scheduler", "constant")
    if "scheduler_args" in train:
        scheduler += " " + _toml(train["scheduler_args"])
    entries = [
        ("optimizer", f"{optimizer.get('name', '')}", train["optimizer"], optimizer),
        ("learning rate", str(optimizer.get("lr")), str(train["lr"]), optimizer),
        ("schedule", schedule.get("description", ""), scheduler, schedule),
        (
            "batch size",
            str(training["batch_size"].get("value")),
            str(train["batch_size"]),
            training["batch_size"],
        ),
        ("epochs", str(training["epochs"].get("value")), str(train["epochs"]), training["epochs"]),
        (
            "initialisation",
            training["initialisation"].get("description", ""),
            "odyssey's default",
            training["initialisation"],
        ),
        (
            "augmentation",
            training["augmentation"].get("description", ""),
            "targets' augment" if training["augmentation"].get("used") else "none",
            training["augmentation"],
        ),
        ("loss", training["loss"].get("description", ""), train["loss"], training["loss"]),
    ]
    rows = [
        "| item | the paper | paper.toml | source | confidence |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, said, ours, item in entries:
        rows.append(
            f"| {name} | {_cell(said, 100)} | {_cell(ours, 60)} | {_cite(item)} | "
            f"{_confidence(item)} |"
        )
    return rows


def readme(
    answer: Mapping[str, Any],
    metadata: Mapping[str, Any],
    origin: str,
    slug: str,
    model: GeneratedModel,
    recipe: Recipe,
    targets: Sequence[Target],
    todos: Sequence[str],
) -> str:
    """README.md: the sections `odyssey validate` reads (Architecture, How to run, Results with
    one row per target), the summary, the recipe, the datasets, every claim, and the TODOs."""
    from odyssey.papers import target_id

    title = _inline(answer["title"], 200)
    authors = ", ".join(_inline(a, 80) for a in answer.get("authors", []))
    cite = f"{authors}, " if authors else ""
    cite += f"{answer['year']}: " if answer.get("year") else ""
    cite += f"{title}."
    if metadata.get("id"):
        cite += f" arXiv:{metadata['id']} <https://arxiv.org/abs/{metadata['id']}>"
    lines = [
        f"# {title}",
        "",
        f"> **Draft.** Written by `odyssey agent research` from {_inline(origin, 80)}; nothing",
        "> here has been checked by a person yet. [DRAFT.md](DRAFT.md) lists what to check;",
        "> `odyssey validate --complete` refuses the paper until `draft = true` leaves paper.toml.",
        "",
        _no_block(cite),
        f"Task: {_inline(answer.get('task') or 'not stated', 100)}.",
        "",
        "## Summary",
        "",
        _paragraphs(answer.get("summary", "")),
        "",
    ]
    if answer.get("abstract"):
        lines += ["Abstract:", "", "> " + _line(answer["abstract"], 4000), ""]
    lines += [
        "## Architecture",
        "",
        f"`{model.class_name}` (`model.py`), input "
        f"{'x'.join(map(str, model.input_shape))}, layer by layer as the assistant read it; "
        "the shapes and parameter counts of model.py are computed, the paper's are quoted.",
        "",
        *_layers_table(answer, model),
        "",
        "## Training recipe",
        "",
        *_recipe_table(answer, recipe),
        "",
        "## Datasets",
        "",
    ]
    for dataset in answer.get("datasets", []):
        sizes = ", ".join(
            f"{key.split('_')[0]} {dataset[key]:,}"
            for key in ("train_size", "test_size")
            if dataset.get(key) is not None
        )
        catalogue = (
            f"`{dataset['odyssey_name']}` in odyssey's catalogue"
            if dataset.get("odyssey_name")
            else "not in odyssey's catalogue"
        )
        lines.append(
            f"- {_cell(dataset['name'], 80)}{f' ({sizes})' if sizes else ''}: {catalogue}; "
            f"{_cite(dataset)}, confidence {_confidence(dataset)}"
        )
    if not answer.get("datasets"):
        lines.append("- none stated")
    lines += [
        "",
        "## How to run",
        "",
        "```",
        f"odyssey validate papers/{slug}  # structure, paper.toml, README, a forward pass",
        f"odyssey train papers/{slug} --epochs 1  # once the TODOs below are done",
        f"odyssey validate papers/{slug} --run  # train each target and check its bar",
        "```",
        "",
        "## Results",
        "",
        "The targets of `paper.toml`, from the paper's claims; the bars are the paper's values "
        "rounded down to 0.1 % until a person sets them.",
        "",
        "| target | variant | dataset | metric | paper | bar | ours (mean ± std over seeds) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for target in targets:
        row = target.row
        paper = f"{100 * row['paper']:.2f} %" if "paper" in row else "—"
        lines.append(
            f"| `{target_id(row)}` | {row['variant']} | {row['dataset']}"
            f"{' (augmented)' if row.get('augment') else ''} | test accuracy | {paper} | "
            f"≥ {100 * row['bar']:.2f} % | — |"
        )
    made = claim_target(answer, targets)
    lines += [
        "",
        "## Claims of the paper",
        "",
        "| # | metric | value | dataset | split | conditions | source | confidence | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for index, claim in enumerate(answer.get("claims", [])):
        lines.append(
            f"| {index} | {_cell(claim['metric'], 40)} | {claim['value']} "
            f"{_cell(claim['unit'], 10)} | {_cell(claim['dataset'], 40)} | "
            f"{_cell(claim['split'], 20)} | {_cell(claim['conditions'], 100)} | {_cite(claim)} | "
            f"{_confidence(claim)} | {f'`{made[index]}`' if index in made else '—'} |"
        )
    lines += ["", "## TODO before this is a paper", ""]
    lines += [f"- [ ] {_inline(todo, 400)}" for todo in todos] or ["- [ ] (none found)"]
    return "\n".join(lines) + "\n"


def _low_confidence(answer: Mapping[str, Any]) -> list[str]:
    """`where: source (confidence)` of every item under LOW_CONFIDENCE."""
    found = []

    def visit(item: Any, where: str) -> None:
        if isinstance(item, Mapping):
            if "confidence" in item and float(item["confidence"]) < LOW_CONFIDENCE:
                found.append(f"{where}: {_cite(item)} (confidence {_confidence(item)})")
            for key, value in item.items():
                visit(value, f"{where}.{key}" if where else key)
        elif isinstance(item, list):
            for index, value in enumerate(item):
                visit(value, f"{where}[{index}]")

    visit({key: answer[key] for key in ("architecture", "training", "datasets", "claims")}, "")
    return found


def draft_md(origin: str, slug: str, todos: Sequence[str], answer: Mapping[str, Any]) -> str:
    """DRAFT.md: why the folder is a draft and what a person must check to make it a paper."""
    low = _low_confidence(answer)
    lines = [
        f"# DRAFT: {_inline(answer['title'], 200)}",
        "",
        f"`odyssey agent research` wrote this folder from {_inline(origin, 80)}. A language "
        "model read the paper; its reading can be wrong in ways no check here catches. Until a "
        "person has done what this file lists, paper.toml keeps `draft = true`, and `odyssey "
        "validate --complete` (CI's papers session) refuses the paper.",
        "",
        "## What a person must check",
        "",
        "1. The architecture, layer by layer, against the paper: README.md's table gives each "
        "layer's source; model.py's comments give its shape and parameters.",
        "2. Every TODO below (they are also in README.md and as `TODO(draft)` comments).",
        "3. The targets: each claim's value, unit, dataset, split and conditions against the "
        "page it cites; then set each bar (the draft's is the paper's value rounded down).",
        "4. The recipe in paper.toml's [train]: each key's comment names its source.",
        f"5. `odyssey validate papers/{slug}` and `pytest papers/{slug}/tests`; then "
        f"`odyssey validate papers/{slug} --run` and the README's `ours` column from results/.",
        "6. List the paper in pyproject.toml (its entry point and wheel package; "
        "tests/test_papers_entry_points.py names the two lines), which the assistant does not "
        "do: it writes only inside this folder.",
        "7. Remove `draft = true` from paper.toml and delete this file.",
        "",
        "## TODO",
        "",
    ]
    lines += [f"- [ ] {_inline(todo, 400)}" for todo in todos] or ["- [ ] (none found)"]
    lines += ["", f"## Items read with confidence under {LOW_CONFIDENCE}", ""]
    lines += [f"- {item}" for item in low] or ["- none"]
    return "\n".join(lines) + "\n"


def tests_py(slug: str, model: GeneratedModel) -> str:
    """The draft's own tests: the model maps a batch to the computed output shape with the
    computed parameter count, and every target resolves."""
    shape = tuple(model.input_shape)
    return f'''"""Fast tests of the draft paper {slug} (written by `odyssey agent research`).

They pin model.py as the assistant wrote it: when a person corrects the model against the paper,
these numbers change with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import odyssey
from odyssey.papers import build_model, load_model_module, load_paper, resolve

FOLDER = Path(__file__).resolve().parents[1]
PAPER = load_paper(FOLDER)
M = load_model_module(FOLDER)


def test_the_model_maps_a_batch_to_its_output_shape() -> None:
    odyssey.manual_seed(0)
    model = build_model(resolve(PAPER))
    x = np.random.default_rng(0).random((2, *{shape!r}), dtype=np.float32)
    output = model(odyssey.tensor(x))
    assert output.shape == (2, *{tuple(model.output_shape)!r})
    assert np.all(np.isfinite(output.detach().numpy()))


def test_the_model_has_the_parameters_model_py_declares() -> None:
    model = M.{model.class_name}()
    assert sum(parameter.numel() for parameter in model.parameters()) == {model.parameters}


def test_every_target_resolves() -> None:
    for target in PAPER.targets:
        flags = {{"dataset": target["dataset"], "epochs": target.get("epochs")}}
        config = resolve(PAPER, target["variant"], flags, target.get("sets", []))
        assert config["train"]["dataset"] == target["dataset"]
'''


# ---------------------------------------------------------------------------------------------
# Writing


def _is_draft(folder: Path) -> bool:
    """Whether `folder` holds a draft paper (paper.toml with ``[paper] draft = true``)."""
    import tomllib

    try:
        with (folder / "paper.toml").open("rb") as stream:
            data = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    paper = data.get("paper")
    return isinstance(paper, dict) and paper.get("draft") is True


def check_destination(out: Path, force: bool) -> None:
    """DraftError unless `out` is absent or an empty folder, or `force` and `out` holds an
    earlier draft (``draft = true``): --force replaces a draft, never any other folder (``.``,
    papers/, a finished paper)."""
    if out.is_file() or out.is_symlink():
        raise DraftError(f"{PROG}: --out {out} is a file; a draft is a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise DraftError(
            f"{PROG}: --out {out} exists and is not empty; choose another folder or give --force "
            "to replace it"
        )
    if not _is_draft(out):
        raise DraftError(
            f"{PROG}: --out {out} is not an earlier draft (no paper.toml with draft = true); "
            "--force replaces only a draft: choose another folder"
        )


def _slug_problem(slug: str) -> str | None:
    from odyssey.cli.new import template_checks, template_dir

    return template_checks(template_dir()).slug_problem(slug)


def check_slug(slug: str, where: str) -> None:
    """DraftError (naming `where`, the option it came from) when the paper template would refuse
    `slug`: checked before the model is paid for."""
    problem = _slug_problem(slug)
    if problem:
        raise DraftError(f"{PROG}: {where}: {problem}")


def title_slug(title: str, arxiv_id: str | None = None) -> str:
    """A slug the template accepts, made from `title` as the template would make it; when that
    one is refused (it starts with a digit, names a module of the standard library, is a keyword,
    or is empty), ``paper_<title>``, then ``arxiv_<id>``, then ``paper``."""
    from slugify import slugify

    def made(text: str) -> str:
        return slugify(text, separator="_", max_length=40, word_boundary=True)

    candidates = [made(title), made(f"paper {title}")]
    if arxiv_id:
        candidates.append("arxiv_" + re.sub(r"[^a-z0-9]+", "_", arxiv_id.lower()).strip("_"))
    candidates.append("paper")
    return next(slug for slug in candidates if slug and _slug_problem(slug) is None)


def _safe_write(root: Path, relative: str, text: str) -> Path:
    """A file inside `root` only (odyssey.agents.core.safe_write), written atomically."""
    from odyssey.agents.core import safe_write

    try:
        return safe_write(root, relative, text)
    except ValueError as error:
        raise DraftError(f"{PROG}: {error}") from None


def render_files(
    answer: Mapping[str, Any], metadata: Mapping[str, Any], origin: str, slug: str
) -> tuple[dict[str, str], GeneratedModel, list[str]]:
    """The draft's files (relative path -> text), its model and its TODOs, from the answer."""
    model = generate_model(answer["architecture"], answer["title"])
    recipe = map_recipe(answer)
    targets, target_todos = map_targets(answer, recipe.train["dataset"])
    todos = [*model.todos, *recipe.todos, *target_todos]
    files = {
        "paper.toml": paper_toml(answer, metadata, origin, model, recipe, targets),
        "README.md": readme(answer, metadata, origin, slug, model, recipe, targets, todos),
        "model.py": model.source,
        "DRAFT.md": draft_md(origin, slug, todos, answer),
        f"tests/test_{slug}.py": tests_py(slug, model),
        "research.json": json.dumps(
            {"origin": origin, "metadata": dict(metadata), "answer": dict(answer)},
            indent=2,
            ensure_ascii=False,
            default=str,
        )
        + "\n",
    }
    return files, model, todos


def _template_answers(
    answer: Mapping[str, Any], metadata: Mapping[str, Any], dataset: str, slug: str | None
) -> dict[str, str]:
    """The paper template's answers: its pre-generation checks vet them (the slug above all)."""
    answers = {
        "title": one_line(answer["title"], 300),
        # The template splits authors on commas; a comma inside a name would split it.
        "authors": ", ".join(one_line(a, 100).replace(",", " ") for a in answer.get("authors", [])),
        "dataset": dataset,
        "task": one_line(answer.get("task") or "image classification", 100),
        "variants": VARIANT,
    }
    if answer.get("year"):
        answers["year"] = str(answer["year"])
    if metadata.get("id"):
        answers["arxiv"] = str(metadata["id"])
    if slug:
        answers["slug"] = slug
    return answers


def write_draft(
    answer: Mapping[str, Any],
    metadata: Mapping[str, Any],
    origin: str,
    *,
    out: Path | None = None,
    slug: str | None = None,
    force: bool = False,
) -> Draft:
    """Renders the template and the answer's files into `out` (default: papers/<slug>, the slug
    the template makes of the title unless given; with `out` and no slug, the folder's name).
    DraftError when the destination is taken or the template refuses an answer."""
    from odyssey.cli.new import NewPaperError, create_paper, default_output_dir

    if out is not None:
        out = Path(out).resolve()
        check_destination(out, force)
        slug = slug or out.name
    elif not slug:
        slug = title_slug(str(answer["title"]), metadata.get("id"))
    dataset = map_recipe(answer).train["dataset"]
    answers = _template_answers(answer, metadata, dataset, slug)
    parent = out.parent if out is not None else default_output_dir().resolve()
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".research-", dir=parent))
    try:
        try:
            rendered = create_paper(answers, output_dir=stage, post_hook=False)
        except NewPaperError as error:
            raise DraftError(
                f"{PROG}: the paper template refused: {'; '.join(error.problems)}"
            ) from None
        slug = rendered.name
        if out is None:
            out = parent / slug
            check_destination(out, force)
        files, model, todos = render_files(answer, metadata, origin, slug)
        for relative, text in files.items():
            _safe_write(rendered, relative, text)
        _move_into_place(rendered, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Draft(out, model, todos)


def _move_into_place(built: Path, out: Path) -> None:
    """`built` becomes `out` in one rename; a forced replacement moves the old folder aside
    first and deletes it only once the new one is in place."""
    old = None
    if out.exists():
        if any(out.iterdir()):
            old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
            os.replace(out, old)
        else:
            out.rmdir()
    try:
        os.replace(built, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
