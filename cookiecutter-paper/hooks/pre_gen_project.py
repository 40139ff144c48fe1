"""The paper template's pre-generation hook: checks the answers before any file is written.

Cookiecutter runs it in the new paper's folder, which it has just created; on a problem the hook
prints one line per problem and exits 1, and cookiecutter removes that folder again, so a rejected
paper leaves nothing behind. `odyssey new` runs the same checks (`problems`) on the answers
before it calls cookiecutter, and stops there with every problem, one line each.

The slug names the folder, the `odyssey train SLUG` argument and, for a paper of this repository,
the installed package `odyssey_papers.SLUG`: a lowercase Python identifier (ASCII letters, digits
and underscores, starting with a letter) of at most 40 characters that is none of the reserved
names: Python's keywords (soft ones included), the standard library's top-level modules, and
this project's own names (`RESERVED_SLUGS`).
"""

from __future__ import annotations

import datetime
import json
import keyword
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SLUG = re.compile(r"[a-z][a-z0-9_]*\Z")
SLUG_MAX_LENGTH = 40
# The project's packages and folders a paper's name would shadow or be confused with.
RESERVED_SLUGS = frozenset({"odyssey", "odyssey_papers", "papers", "tests", "test", "conftest"})
VARIANT = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# arXiv identifiers: 1512.03385 (since 2007; 4 digits after the dot until 2014, then 5), and
# the older archive/YYMMNNN (cs/9901001, math.GT/0309136); either with an optional version.
ARXIV = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?\Z")
FIRST_YEAR = 1900


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a paper, or None when it can."""
    if not SLUG.match(slug):
        return (
            f"slug: {slug!r} is not a lowercase Python identifier (a letter, then lowercase "
            "letters, digits or underscores)"
        )
    if len(slug) > SLUG_MAX_LENGTH:
        return f"slug: {slug!r} is longer than {SLUG_MAX_LENGTH} characters"
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"slug: {slug!r} is a Python keyword"
    if slug in sys.stdlib_module_names:
        return f"slug: {slug!r} is a module of Python's standard library"
    if slug in RESERVED_SLUGS:
        return f"slug: {slug!r} is reserved ({', '.join(sorted(RESERVED_SLUGS))})"
    return None


def comma_list(text: str) -> list[str]:
    """The items of a comma-separated answer, stripped, empty ones left out."""
    return [item.strip() for item in text.split(",") if item.strip()]


def problems(answers: Mapping[str, Any]) -> list[str]:
    """Every answer the template cannot make a valid paper of, one line each (`key: why`)."""
    found = []
    for key in ("title", "authors", "year", "arxiv", "url", "task", "variants"):
        text = str(answers.get(key, ""))
        if any(ord(character) < 0x20 or ord(character) == 0x7F for character in text):
            found.append(f"{key}: holds a line break or another control character; write one line")
    if not str(answers.get("title", "")).strip():
        found.append("title: empty; the paper needs a title")
    slug = slug_problem(str(answers.get("slug", "")))
    if slug:
        found.append(slug)
    year = str(answers.get("year", ""))
    last_year = datetime.date.today().year + 1
    if not year.isdigit() or not FIRST_YEAR <= int(year) <= last_year:
        found.append(f"year: {year!r} is not a year from {FIRST_YEAR} to {last_year}")
    arxiv = str(answers.get("arxiv", ""))
    if arxiv and not ARXIV.match(arxiv):
        found.append(f"arxiv: {arxiv!r} is not an arXiv id such as 1512.03385 or cs/9901001")
    url = str(answers.get("url", ""))
    if url and (not re.match(r"https?://\S+\Z", url)):
        found.append(f"url: {url!r} is not an http(s) address without spaces")
    datasets = answers.get("_datasets", {})
    dataset = answers.get("dataset")
    if datasets and dataset not in datasets:
        found.append(f"dataset: {dataset!r} is not one of {', '.join(datasets)}")
    if not str(answers.get("task", "")).strip():
        found.append("task: empty; say what the models do, e.g. image classification")
    variants = comma_list(str(answers.get("variants", "")))
    if not variants:
        found.append("variants: none; give at least one name")
    for name in variants:
        if not VARIANT.match(name):
            found.append(
                f"variants: {name!r} is not a variant name (lowercase letters, digits, - and _, "
                "starting with a letter or digit)"
            )
    repeated = sorted({name for name in variants if variants.count(name) > 1})
    if repeated:
        found.append(f"variants: {', '.join(repeated)} given more than once")
    return found


# The answers, as cookiecutter renders this file: a raw string, so that the file is valid Python
# before rendering too (odyssey new imports it for `problems`).
ANSWERS = r"""{{ cookiecutter | tojson }}"""


def main() -> int:
    """Checks the rendered answers and that the new folder was empty; 1 with the problems."""
    found = problems(json.loads(ANSWERS))
    folder = Path.cwd()
    if any(folder.iterdir()):
        found.insert(0, f"slug: the folder {folder} already exists and is not empty")
    for problem in found:
        print(f"cookiecutter-paper: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
