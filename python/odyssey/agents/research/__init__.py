"""``odyssey agent research PAPER``: the research assistant (issue 15, part 1).

PAPER is an arXiv id (``2101.00001``, ``2101.00001v2``, ``cs/0101001``), an arxiv.org abs or
pdf URL, or a local PDF or text file. The assistant reads it (arXiv's metadata through the Atom
API, the PDF's text by pypdf, page-tagged), asks the model for the architecture, the training
recipe, the datasets and every quantitative claim, each with its source and a confidence
(``output.schema.json``), then writes a draft paper folder through the repository's paper
template (``draft.py``) and runs ``odyssey validate`` on it, reporting what passes.

It writes only inside the folder it creates (``--out``, default ``papers/<slug>``; an existing
non-empty folder is refused unless ``--force``) and never commits: a person checks the draft
(its DRAFT.md) and removes ``draft = true``.

The report lists each check of ``odyssey validate`` on the draft (structure, paper.toml, the
README, results/, a forward pass of the model) and completeness (``--complete``), which a draft
fails by design: it is marked, and no target has a recorded result yet.

Exit status: 0 the draft is written and passes every check but completeness; 1 the model failed,
or the draft was written but a check found problems (listed); 2 a bad PAPER or destination, or
no API key.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from odyssey.agents.research.source import PaperSource, SourceError, load_source

__all__ = [
    "add_arguments",
    "context",
    "given_answer",
    "merge_metadata",
    "run",
    "validate_draft",
]

PROG = "odyssey agent research"
PAPER_FILE = "paper.txt"  # the path the paper's text is shown to the model under
# Characters per token for the budget cut of the paper's text: English prose runs ~4, and a
# paper's tables and numbers less; 3 keeps the estimate on the safe side.
CHARS_PER_TOKEN = 3
PROMPT_TOKENS = 8000  # the system prompt, the few-shot example and the schema, with room
# The validated answer is saved here (in --save-raw DIR, else agent-raw/) before the draft is
# written, so a draft that fails can be retried with --answer without paying for the model again.
ANSWER_FILE = "research-answer.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The research assistant's own options (core adds --dry-run, --model and the raw-answer
    folder)."""
    parser.add_argument(
        "paper",
        metavar="PAPER",
        help="an arXiv id (2101.00001, cs/0101001), an arxiv.org abs/pdf URL, or a local PDF or "
        "text file",
    )
    parser.add_argument(
        "--out",
        dest="folder",
        metavar="DIR",
        help="the draft paper folder to create (default: papers/<slug>, the slug made from the "
        "title)",
    )
    parser.add_argument(
        "--slug", help="the paper's slug (default: the folder's name, else made from the title)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing non-empty folder")
    parser.add_argument(
        "--answer",
        metavar="FILE",
        help="render the draft from this answer (JSON valid against output.schema.json, or a "
        "draft's research.json) instead of asking the model: for Claude Code, and to redraw a "
        "corrected reading",
    )
    parser.add_argument(
        "--save-answer",
        metavar="FILE",
        help="ask the model, save its validated answer to FILE and stop (no draft written, no "
        "code run): the step that holds the key; `--answer FILE` then drafts without it",
    )


def context(source: PaperSource, budget_tokens: int) -> tuple[dict[str, Any], list[Any]]:
    """The prompt's variables and files for `source`: the paper's text as one file, cut at a
    page boundary to fit `budget_tokens` (the last pages go first: references and appendices),
    the pages left out named in the variables."""
    from odyssey.agents.core import ContextFile

    limit = max(budget_tokens - PROMPT_TOKENS, 1000) * CHARS_PER_TOKEN
    blocks = source.text.split("\n\n[page ")
    kept = [blocks[0]]
    for block in blocks[1:]:
        candidate = "\n\n[page ".join([*kept, block])
        if len(candidate) > limit:
            break
        kept.append(block)
    text = "\n\n[page ".join(kept)
    if len(text) > limit:  # one page alone over the budget: cut inside it, said in the text
        text = text[:limit] + "\n[... cut to fit the context budget]\n"
    dropped = f"{len(kept) + 1}-{source.pages}" if len(kept) < source.pages else ""
    variables = {
        "origin": source.origin,
        "kind": source.kind,
        "pages": source.pages,
        "dropped_pages": dropped,
        "metadata": dict(source.metadata),
    }
    return variables, [ContextFile(path=PAPER_FILE, text=text, kind="file")]


def merge_metadata(output: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The answer with arXiv's title, authors, year and abstract where arXiv gave them: the
    metadata is authoritative, the model's reading of the first page is not."""
    merged = dict(output)
    for key in ("title", "authors", "year", "abstract"):
        if metadata.get(key):
            merged[key] = metadata[key]
    return merged


def validate_draft(folder: Path) -> list[tuple[str, list[str]]]:
    """`odyssey validate` on the draft, check by check: (what is checked, its problems) for the
    structure, paper.toml, the README, the model's forward pass, and completeness (which the
    draft mark fails by design)."""
    from odyssey import papers
    from odyssey.tools import validate

    folder = folder.resolve()
    report = [("structure", validate.structure_problems(folder))]
    paper = None
    try:
        paper = papers.load_paper(folder)
        report.append(("paper.toml", []))
    except papers.PaperError as error:
        report.append(("paper.toml", list(error.problems)))
    report.append(("README.md", validate.readme_problems(folder, paper)))
    report.append(("results/", validate.results_problems(folder, paper)))
    if paper is not None:
        report.append(("model (a forward pass of every variant)", validate.model_problems(paper)))
    report.append(("complete (--complete)", validate.completeness_problems(folder)))
    return report


def run(args: argparse.Namespace) -> int:
    """Reads PAPER, asks the model, writes and validates the draft folder."""
    from odyssey.agents.core import AgentError, load_agent, run_agent
    from odyssey.agents.research.draft import DraftError, check_destination, check_slug

    try:
        # Before any spending: the destination, and the slug when the options fix it.
        if args.slug is not None:
            check_slug(args.slug, "--slug")
        if args.folder is not None:
            check_destination(Path(args.folder).resolve(), args.force)
            if args.slug is None:
                check_slug(Path(args.folder).resolve().name, "--out (the folder's name)")
        source = load_source(args.paper)
    except (SourceError, DraftError) as error:
        print(error, file=sys.stderr)
        return 2
    spec = load_agent("research")
    if getattr(args, "answer", None):
        if getattr(args, "save_answer", None):
            print(
                f"{PROG}: --answer asks no model: --save-answer has nothing to save",
                file=sys.stderr,
            )
            return 2
        if getattr(args, "dry_run", False):
            print(
                f"{PROG}: --answer asks no model: --dry-run has no request to show", file=sys.stderr
            )
            return 2
        try:
            output = given_answer(Path(args.answer), spec.output_schema)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        return _draft(args, source, output)
    variables, files = context(source, spec.context_budget)
    if variables["dropped_pages"]:
        print(
            f"{PROG}: pages {variables['dropped_pages']} of {source.origin} left out to fit the "
            f"context budget ({spec.context_budget} tokens)",
            file=sys.stderr,
        )
    try:
        result = run_agent(
            spec,
            variables,
            files,
            dry_run=getattr(args, "dry_run", False),
            model=getattr(args, "model", None),
            raw_dir=getattr(args, "save_raw", None),
        )
    except AgentError as error:
        print(error, file=sys.stderr)
        return error.exit_status
    if result is None:  # --dry-run: the request is printed, nothing is written
        return 0
    if getattr(args, "save_answer", None):
        from odyssey._atomic import write_text_atomic

        text = json.dumps(result.output, indent=1, ensure_ascii=False) + "\n"
        write_text_atomic(Path(args.save_answer), text)
        print(f"{PROG}: the answer is in {args.save_answer}; `--answer` drafts from it")
        return 0
    try:
        saved = _save_answer(args, source, result.output)
    except (OSError, ValueError) as error:
        print(f"{PROG}: could not save the answer: {error}", file=sys.stderr)
        return 1
    status = _draft(args, source, result.output, saved)
    if status != 2:  # the folder was written; its research.json holds the answer now
        saved.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            saved.parent.rmdir()  # only when empty: the raw answers of a repair round stay
    return status


def _save_answer(args: argparse.Namespace, source: PaperSource, output: dict[str, Any]) -> Path:
    """The validated answer written to --save-raw DIR (else agent-raw/) as a draft's
    research.json is, which ``--answer`` reads back."""
    from odyssey.agents.core import safe_write

    folder = Path(getattr(args, "save_raw", None) or "agent-raw")
    record = {"origin": source.origin, "metadata": dict(source.metadata), "answer": output}
    text = json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"
    return safe_write(folder, ANSWER_FILE, text)


def given_answer(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """The answer in `path` (bare, or a draft's research.json holding it under "answer"),
    checked against the output schema; ValueError naming the file and the first problem."""
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{PROG}: --answer {path}: cannot be read as JSON: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("answer"), dict) and "origin" in data:
        data = data["answer"]
    # "integer" refuses 5.0 here as in the model's own validation (odyssey.agents.core).
    strict = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=strict)
    errors = sorted(validator(schema).iter_errors(data), key=str)
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path) or "(top level)"
        raise ValueError(
            f"{PROG}: --answer {path}: {where}: {errors[0].message} ({len(errors)} problem(s) "
            "against output.schema.json)"
        )
    return data


def _draft(
    args: argparse.Namespace,
    source: PaperSource,
    output: dict[str, Any],
    saved: Path | None = None,
) -> int:
    """Writes the draft from a validated answer and reports `odyssey validate` on it; when the
    folder cannot be written, says how to retry from the `saved` answer."""
    from odyssey.agents.research.draft import DraftError, write_draft

    answer = merge_metadata(output, dict(source.metadata))
    try:
        draft = write_draft(
            answer,
            dict(source.metadata),
            source.origin,
            out=Path(args.folder) if args.folder else None,
            slug=args.slug,
            force=args.force,
        )
    except (DraftError, ValueError, TypeError, KeyError, OSError) as error:
        message = str(error) if isinstance(error, DraftError) else f"{PROG}: {error!r}"
        print(message, file=sys.stderr)
        if saved is not None:
            print(
                f"{PROG}: the model's answer is saved in {saved}; retry without asking the model "
                f"again: {PROG} {args.paper} --answer {saved} [--out DIR] [--slug SLUG]",
                file=sys.stderr,
            )
        return 2
    print(f"{PROG}: wrote the draft {draft.folder} ({len(draft.todos)} TODO(s), in DRAFT.md)")
    report = validate_draft(draft.folder)
    print(f"odyssey validate {draft.folder}:")
    for check, problems in report:
        print(f"  {check}: {'passes' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"    {problem}")
    # Completeness fails by design (the draft mark, no recorded results): it is reported, and
    # only the checks before it decide the exit status.
    return 1 if any(problems for _, problems in report[:-1]) else 0
