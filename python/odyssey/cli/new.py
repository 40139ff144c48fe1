"""``odyssey new [SLUG]``: a new paper folder from the template ``cookiecutter-paper`` (the same
questions as ``cookiecutter cookiecutter-paper``, through cookiecutter's Python API).

The answers are asked (or, with ``--no-input``, taken from the defaults and ``--set``), then
checked by the template's own pre-generation checks before anything is written. A bad answer (a
slug that is not a lowercase identifier, is reserved or names an existing folder, a bad ``--set``,
standard input ending before the last question) stops the command with status 2 and one line per
problem, and no folder is left behind; Ctrl-C during the questions, with 130. The folder goes to
``--output-dir``, else to ``papers/`` of the current directory or of the repository around it
(the first that exists), else to a new ``./papers``: the places ``odyssey train SLUG`` looks in.

The template ships inside the package (``odyssey/templates/cookiecutter-paper`` of an installed
wheel); run from a source checkout, it is the repository's ``cookiecutter-paper/``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

PROG = "odyssey new"
INTERRUPTED = 130  # a shell's status for SIGINT
TEMPLATE = "cookiecutter-paper"
CHECKS_FILE = Path("hooks") / "pre_gen_project.py"


class NewPaperError(ValueError):
    """An answer or an option the template cannot make a paper of; one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``new`` to the ``odyssey`` parser."""
    new = commands.add_parser(
        "new",
        help="create a paper folder from the template (cookiecutter-paper)",
        description="Create a paper folder that validates, trains and passes its tests as it "
        "is: README, paper.toml, a small model for the chosen dataset, tests. Asks the "
        "template's questions (title, slug, authors, year, arxiv, url, dataset, task, variants) "
        "unless --no-input.",
    )
    new.add_argument(
        "slug", nargs="?", metavar="SLUG", help="the paper's slug (the same as --set slug=SLUG)"
    )
    new.add_argument(
        "--no-input",
        action="store_true",
        help="ask nothing: the template's defaults, with --set answers",
    )
    new.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a question, e.g. title='Deep Residual Learning' or dataset=fashion-mnist "
        "(repeatable)",
    )
    new.add_argument(
        "--output-dir",
        "-o",
        metavar="DIR",
        help="the folder the paper's folder goes in (default: papers/ of the current directory "
        "or of the repository)",
    )
    new.set_defaults(run=run)


def template_dir(package_dir: Path | None = None) -> Path:
    """The paper template: inside the package (where the wheel installs it), else at the root of
    the source checkout the package runs from."""
    if package_dir is None:
        import odyssey

        package_dir = Path(odyssey.__file__).resolve().parent
    candidates = [package_dir / "templates" / TEMPLATE, package_dir.parents[1] / TEMPLATE]
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise NewPaperError(
        [f"the paper template is missing: no {TEMPLATE} in {' or '.join(map(str, candidates))}"]
    )


def default_output_dir(cwd: Path | None = None) -> Path:
    """Where papers go: the first existing of papers/ of `cwd` and of its repository, else
    `cwd`/papers."""
    from odyssey.papers import _search_roots

    cwd = Path.cwd() if cwd is None else cwd
    roots = _search_roots(cwd)
    return next((root for root in roots if root.is_dir()), roots[0])


def template_checks(template: Path) -> ModuleType:
    """The template's pre-generation hook as a module: its `problems(answers)` and rules."""
    spec = importlib.util.spec_from_file_location(
        "_odyssey_paper_template_checks", template / CHECKS_FILE
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _template_context(template: Path) -> dict[str, Any]:
    """The template's cookiecutter.json: each question's default (a list: its choices)."""
    return json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))


def questions(template: Path) -> list[str]:
    """The template's questions: the keys of its cookiecutter.json not marked private by `_`."""
    return [key for key in _template_context(template) if not key.startswith("_")]


def parse_sets(sets: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """`--set KEY=VALUE` answers by question; NewPaperError names a malformed or unknown one."""
    answers = {}
    for assignment in sets:
        key, equals, value = assignment.partition("=")
        key = key.strip()
        if not equals or not key:
            raise NewPaperError([f"--set: expected KEY=VALUE, got {assignment!r}"])
        if key not in known:
            raise NewPaperError([f"--set {key}: unknown question; questions: {', '.join(known)}"])
        answers[key] = value
    return answers


@contextlib.contextmanager
def _extensions_importable(template: Path) -> Iterator[None]:
    """The template folder on sys.path while its Jinja extensions (local_extensions) load, as
    cookiecutter arranges for its own run."""
    sys.path.insert(0, str(template))
    try:
        yield
    finally:
        sys.path.remove(str(template))


def create_paper(
    answers: Mapping[str, str] | None = None,
    *,
    no_input: bool = True,
    output_dir: str | Path | None = None,
    template: Path | None = None,
    post_hook: bool = True,
) -> Path:
    """Renders the paper template with `answers` (the rest asked, or defaults with `no_input`)
    into `output_dir` (default: `default_output_dir()`); returns the new paper's folder.
    NewPaperError lists every answer the template's checks reject, before anything is written.
    `post_hook=False` skips the template's post-generation hook (its next steps, and listing the
    paper in the repository's pyproject.toml): for callers that write only inside the folder,
    such as ``odyssey agent research``. The pre-generation checks run either way, here."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_context
    from cookiecutter.main import cookiecutter
    from cookiecutter.prompt import prompt_for_config

    template = template_dir() if template is None else template
    known = questions(template)
    given = dict(answers or {})
    unknown = [key for key in given if key not in known]
    if unknown:
        raise NewPaperError(
            [f"{key}: unknown question; questions: {', '.join(known)}" for key in unknown]
        )
    choices = {
        key: value
        for key, value in _template_context(template).items()
        if key in given and isinstance(value, list)
    }
    wrong = [key for key, values in choices.items() if given[key] not in values]
    if wrong:
        raise NewPaperError(
            [f"{key}: {given[key]!r} is not one of {', '.join(choices[key])}" for key in wrong]
        )
    output = default_output_dir() if output_dir is None else Path(output_dir)
    with _extensions_importable(template):
        try:
            context = generate_context(str(template / "cookiecutter.json"), extra_context=given)
            final = prompt_for_config(context, no_input=no_input)
        except (ValueError, CookiecutterException) as error:  # defaults that do not render
            raise NewPaperError([f"{TEMPLATE}: {error}"]) from None
        except EOFError:
            raise NewPaperError(
                [
                    "standard input ended before every question had an answer; answer them, or "
                    "give --no-input with --set KEY=VALUE"
                ]
            ) from None
    problems = template_checks(template).problems(final)
    folder = output / str(final["slug"])
    if not problems and folder.exists():
        problems.append(f"slug: {folder} already exists")
    if problems:
        raise NewPaperError(problems)
    try:
        created = cookiecutter(
            str(template),
            no_input=True,
            extra_context={key: final[key] for key in known},
            output_dir=str(output),
            default_config=True,
            # The checks of the pre-generation hook have run above; only the post hook may go.
            accept_hooks=post_hook,
        )
    except BaseException as error:  # Ctrl-C included: no half-written paper is left behind
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, (CookiecutterException, OSError)):
            raise NewPaperError([f"{TEMPLATE}: {error}"]) from None
        raise
    return Path(created)


def run(args: argparse.Namespace) -> int:
    """Runs ``odyssey new``: 0 with the folder made, 2 with every problem on its own line."""
    try:
        template = template_dir()
        answers = parse_sets(args.sets, questions(template))
        if args.slug is not None:
            if answers.get("slug", args.slug) != args.slug:
                raise NewPaperError(
                    [f"SLUG {args.slug!r} and --set slug={answers['slug']!r} disagree"]
                )
            answers["slug"] = args.slug
        create_paper(answers, no_input=args.no_input, output_dir=args.output_dir, template=template)
    except NewPaperError as error:
        for problem in error.problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; no paper written", file=sys.stderr)
        return INTERRUPTED
    return 0
