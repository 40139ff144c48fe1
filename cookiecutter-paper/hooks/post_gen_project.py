"""The paper template's post-generation hook: lists the paper in this repository's pyproject.toml
when it was made in the repository's papers/, and prints the next steps.

A paper of the repository ships in the wheel through two lines of pyproject.toml (its entry point
in the `odyssey.papers` group and its folder in scikit-build's wheel packages;
tests/test_papers_entry_points.py checks that none is missing). The hook adds both when the new
folder is papers/<slug> of an ML Odyssey checkout and both tables are where they are expected;
otherwise, or when the edited file would not read back with both entries, it leaves the file as it
was and prints the two lines to add by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

tomllib: ModuleType | None
if sys.version_info >= (3, 11):
    import tomllib
else:  # odyssey installs tomli there; a cookiecutter of its own may not have it
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

SLUG = "{{ cookiecutter.slug }}"
PROJECT_NAME = "ml-odyssey"
ENTRY_POINTS = '[project.entry-points."odyssey.papers"]'
WHEEL_PACKAGES = "[tool.scikit-build.wheel.packages]"


def repository_pyproject(folder: Path) -> Path | None:
    """pyproject.toml of the ML Odyssey checkout whose papers/ holds `folder`, or None."""
    pyproject = folder.parent.parent / "pyproject.toml"
    if folder.parent.name != "papers" or not pyproject.is_file():
        return None
    name = re.search(r'^name = "([^"]*)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
    return pyproject if name and name.group(1) == PROJECT_NAME else None


def with_line_in_table(text: str, header: str, line: str) -> str | None:
    """`text` with `line` after the last key of the table `header`, or None without that table."""
    lines = text.splitlines(keepends=True)
    starts = [index for index, text_line in enumerate(lines) if text_line.strip() == header]
    if len(starts) != 1:
        return None
    last_key = starts[0]
    for index in range(starts[0] + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith("["):
            break
        if stripped and not stripped.startswith("#"):
            last_key = index
    lines.insert(last_key + 1, line + "\n")
    return "".join(lines)


def listed(data: dict, slug: str) -> tuple[bool, bool]:
    """Whether the parsed pyproject lists paper `slug`: (entry point, wheel package)."""
    entry_points = data.get("project", {}).get("entry-points", {}).get("odyssey.papers", {})
    packages = data.get("tool", {}).get("scikit-build", {}).get("wheel", {}).get("packages", {})
    return (
        entry_points.get(slug) == f"odyssey_papers.{slug}",
        packages.get(f"odyssey_papers/{slug}") == f"papers/{slug}",
    )


def add_to_pyproject(pyproject: Path, slug: str) -> bool:
    """Lists paper `slug` in `pyproject` (written atomically); False when it could not."""
    if tomllib is None:
        return False
    text = pyproject.read_text(encoding="utf-8")
    if all(listed(tomllib.loads(text), slug)):
        return True
    edited = with_line_in_table(text, ENTRY_POINTS, f'{slug} = "odyssey_papers.{slug}"')
    if edited is not None:
        line = f'"odyssey_papers/{slug}" = "papers/{slug}"'
        edited = with_line_in_table(edited, WHEEL_PACKAGES, line)
    try:
        if edited is None or not all(listed(tomllib.loads(edited), slug)):
            return False
    except tomllib.TOMLDecodeError:
        return False
    handle, temporary = tempfile.mkstemp(dir=pyproject.parent, prefix=".pyproject.", text=True)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(edited)
        os.replace(temporary, pyproject)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def say(text: str) -> None:
    """Prints `text`; a closed output (`odyssey new ... | head -1`) must not fail the hook, or
    cookiecutter would delete the new folder after pyproject.toml lists it."""
    with contextlib.suppress(OSError):
        print(text, flush=True)


def main() -> int:
    """The next steps, then the paper listed in the repository's pyproject.toml when it belongs
    there (last: nothing after it can fail and leave pyproject.toml naming a deleted folder)."""
    folder = Path.cwd()
    say(f"Created the paper {SLUG} in {folder}.")
    say(
        "Next:\n"
        f"    odyssey validate {folder}\n"
        f"    odyssey train {folder} --epochs 1\n"
        f"    python -m pytest {folder / 'tests'}\n"
        "then make it the paper: README.md's last section lists the steps."
    )
    pyproject = repository_pyproject(folder)
    if pyproject is None:
        return 0
    if add_to_pyproject(pyproject, SLUG):
        say(f"Listed it in {pyproject}: its entry point and its wheel package.")
    else:
        say(
            f"Add it to {pyproject} by hand: under {ENTRY_POINTS}\n"
            f'    {SLUG} = "odyssey_papers.{SLUG}"\n'
            f"and under {WHEEL_PACKAGES}\n"
            f'    "odyssey_papers/{SLUG}" = "papers/{SLUG}"'
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
