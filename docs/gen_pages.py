"""The site's generated pages, written at build time by mkdocs-gen-files so that none can drift.

- papers/<slug>/: each papers/<slug>/README.md as it is, with the files it links to (figures);
- benchmarks.md: every benchmarks/results/*.json, a plot of its ratios and a table of its rows;
- cli.md: the help of every `odyssey` subcommand, read from the argument parser itself;
- reference/: one API page per public module of odyssey, each object documented on one page
  (where it is defined, else the first public module exporting it) and linked from the others.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import textwrap
from pathlib import Path
from types import ModuleType

import matplotlib
import mkdocs_gen_files

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
# A relative link or image in Markdown: [text](target) or ![alt](target), up to a title or #anchor.
LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s#]+)")


def write(path: str, text: str) -> None:
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(text)


def paper_pages() -> list[tuple[str, str]]:
    """Each paper's README as papers/<slug>/index.md, and the files it links to beside it."""
    papers = []
    for readme in sorted((ROOT / "papers").glob("*/README.md")):
        slug = readme.parent.name
        text = readme.read_text(encoding="utf-8")
        for target in sorted(set(LINK.findall(text))):
            source = (readme.parent / target).resolve()
            if source.is_file() and source.is_relative_to(readme.parent):
                with mkdocs_gen_files.open(f"papers/{slug}/{target}", "wb") as copy:
                    copy.write(source.read_bytes())
            # Anything else stays as written: a broken link then fails `mkdocs build --strict`.
        title = next(
            (line[2:].strip() for line in text.splitlines() if line.startswith("# ")), slug
        )
        write(f"papers/{slug}/index.md", text)
        papers.append((slug, title))
    lines = [
        "# Papers",
        "",
        "One page per paper, rendered at build time from `papers/<slug>/README.md`: the paper in",
        "brief, the architecture, how to run it and the results table that `odyssey validate",
        "--complete` checks against the recorded results.",
        "",
        "| paper | slug |",
        "| --- | --- |",
        *(f"| [{title}]({slug}/index.md) | `{slug}` |" for slug, title in papers),
        "",
    ]
    write("papers/index.md", "\n".join(lines))
    return papers


def ratio_rows(results: list[dict]) -> tuple[list[tuple[str, str, float]], dict[str, object]]:
    """(label, ratio field, value) per measured ratio, labelled by the identity fields (as
    `odyssey bench compare` tells rows apart) that differ between rows; and those all share."""
    from odyssey.tools.bench_compare import is_measurement, is_ratio

    identities = [
        {f: v for f, v in row.items() if not is_ratio(f) and not is_measurement(f, v)}
        for row in results
    ]
    fields = list(dict.fromkeys(field for identity in identities for field in identity))
    shared = {
        field: identities[0].get(field)
        for field in fields
        if len({json.dumps(identity.get(field)) for identity in identities}) == 1
    }
    rows = []
    for row, identity in zip(results, identities, strict=True):
        label = ", ".join(
            f"{field}={value if isinstance(value, str) else json.dumps(value)}"
            for field, value in identity.items()
            if field not in shared
        )
        label = "\n".join(textwrap.wrap(label, 70))
        rows += [
            (label, field, value)
            for field, value in row.items()
            if is_ratio(field) and isinstance(value, (int, float)) and value > 0
        ]
    return rows, shared


def ratio_plot(name: str, rows: list[tuple[str, str, float]]) -> str:
    """A horizontal bar per (row, ratio) on a log axis, 1 marked: right of it is faster."""
    height = 1.2 + sum(0.28 + 0.12 * label.count("\n") for label, _, _ in rows)
    figure, axes = plt.subplots(figsize=(9, height))
    labels = [
        label if field == "ratio" else f"{label} [{field}]" if label else field
        for label, field, _ in rows
    ]
    values = [value for _, _, value in rows]
    colours = ["#2e7d32" if value >= 1 else "#c62828" for value in values]
    positions = range(len(rows))
    # Bars grow from 1 (as fast as the other side): right of it we are faster, left slower.
    axes.barh(positions, [value - 1.0 for value in values], left=1.0, color=colours)
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            f"{value:.2f}x",
            (value, position),
            xytext=(3 if value >= 1 else -3, 0),
            textcoords="offset points",
            ha="left" if value >= 1 else "right",
            va="center",
            fontsize=7,
        )
    low, high = min([*values, 1.0]), max([*values, 1.0])
    axes.set_xlim(low / 1.6, high * 1.6)
    axes.set_yticks(list(positions), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_xlabel("ratio (higher is better for odyssey; 1 = as fast as the other side)")
    axes.set_title(name)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    path = f"benchmarks/{name}.svg"
    with mkdocs_gen_files.open(path, "wb") as image:
        image.write(buffer.getvalue())
    return path


def cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text.replace("|", "\\|") if len(text) <= 60 else "…"  # a profile: see the JSON
    return str(value).replace("|", "\\|")


def benchmark_page() -> None:
    """benchmarks/results/*.json as read by `odyssey bench compare`: ratios plotted, rows listed."""
    from odyssey.tools.bench_compare import load_reports

    reports = load_reports(ROOT / "benchmarks" / "results")
    lines = [
        "# Benchmark results",
        "",
        "The committed baselines in `benchmarks/results/`, plotted at build time. Each benchmark",
        "runs side by side with NumPy, PyTorch or SciPy in one process, so what is compared is a",
        "**ratio** (the other library's time over ours, or our throughput over theirs: above 1 we",
        "are faster), never a time: the machine's speed cancels out. `nox -s benchmark` measures",
        "them again and fails on a ratio 10 % or more below its baseline; `odyssey bench compare",
        "BASE NEW --markdown` prints the comparison (see the [CLI reference](../cli.md)).",
        "",
    ]
    for name, report in sorted(reports.items()):
        data = json.loads(report.path.read_text(encoding="utf-8"))
        machine = data.get("machine", {})
        rows, shared = ratio_rows(data.get("results", []))
        lines += [f"## {name}", ""]
        lines.append(
            f"`benchmarks/results/{report.path.name}`, measured {data.get('created', '?')} on "
            f"{machine.get('cpu', '?')} ({machine.get('arch', '?')}, "
            f"{machine.get('cpu_count', '?')} cores, ISA {machine.get('isa_selected', '?')}, "
            f"{machine.get('compiler', '?')})."
        )
        lines.append("")
        if rows:
            plot = ratio_plot(name, rows)
            lines += [f"![{name}: ratios]({Path(plot).name})", ""]
            if shared:
                common = ", ".join(f"{field}={value}" for field, value in shared.items())
                lines += [f"Every row: {cell(common)}.", ""]
        results = data.get("results", [])
        fields = list(dict.fromkeys(field for row in results for field in row))
        if results:
            lines += [
                '??? note "All rows"',
                "",
                "    | " + " | ".join(fields) + " |",
                "    | " + " | ".join("---" for _ in fields) + " |",
                *(
                    "    | " + " | ".join(cell(row.get(field, "")) for field in fields) + " |"
                    for row in results
                ),
                "",
            ]
    write("benchmarks/index.md", "\n".join(lines))


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def cli_page() -> None:
    """`odyssey --help` and every subcommand's, nested ones included, from build_parser()."""
    from odyssey.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the same page everywhere
    lines = [
        "# CLI reference",
        "",
        "Generated at build time from the argument parser (`odyssey.cli.build_parser`), so it is",
        "the help the installed command prints. Exit status: 0 done, 1 a failure (a missed bar, a",
        "regression, a failed check), 2 a mistake in the command, 130 interrupted.",
        "",
    ]

    def document(parser: argparse.ArgumentParser, level: int) -> None:
        lines.extend([f"{'#' * level} `{parser.prog}`", "", "```text"])
        lines.extend(parser.format_help().rstrip().splitlines())
        lines.extend(["```", ""])
        for _, child in subcommands(parser):
            document(child, min(level + 1, 4))

    document(build_parser(), 2)
    write("cli.md", "\n".join(lines))


def public_modules() -> list[ModuleType]:
    import odyssey

    modules = [odyssey]
    for info in pkgutil.walk_packages(odyssey.__path__, prefix="odyssey."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def exported(module: ModuleType) -> list[tuple[str, object]]:
    """The classes and functions of odyssey in the module's __all__, else those it defines."""
    names = getattr(module, "__all__", None)
    own_only = names is None  # without __all__, its imports are not what it offers
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    return [
        (name, obj)
        for name in names
        if (inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj))
        and (getattr(obj, "__module__", "") or "").startswith("odyssey")
        and (not own_only or obj.__module__ == module.__name__)
    ]


def reference_pages() -> None:
    modules = public_modules()
    home: dict[int, tuple[str, str]] = {}  # id(object) -> (module page, name)
    for module in modules:  # where it is defined, when that module exports it
        for name, obj in exported(module):
            if obj.__module__ == module.__name__:
                home[id(obj)] = (module.__name__, name)
    for module in modules:  # else the first public module that exports it
        for name, obj in exported(module):
            home.setdefault(id(obj), (module.__name__, name))
    index = [
        "# API reference",
        "",
        "Generated at build time from the docstrings of the public modules (mkdocstrings). Each",
        "class and function is documented once, in the module that defines it; the packages that",
        "re-export it link there.",
        "",
        "| module | summary |",
        "| --- | --- |",
    ]
    for module in modules:
        name = module.__name__
        page = f"reference/{name}.md"
        summary = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")
        index.append(f"| [`{name}`]({name}.md) | {summary.replace('|', chr(92) + '|')} |")
        here = [
            (member, obj) for member, obj in exported(module) if home.get(id(obj)) == (name, member)
        ]
        elsewhere = [
            (member, obj)
            for member, obj in exported(module)
            if home.get(id(obj)) != (name, member) and id(obj) in home
        ]
        text = [f"# `{name}`", "", f"::: {name}", "    options:"]
        if here:
            text.append("      members:")
            text.extend(f"        - {member}" for member, _ in here)
        else:
            text.append("      members: false")
        text.append("")
        if elsewhere:
            text += ["## Re-exported", "", "| name | documented in |", "| --- | --- |"]
            for member, obj in elsewhere:
                where, canonical = home[id(obj)]
                text.append(
                    f"| [`{name}.{member}`][{where}.{canonical}] | [`{where}`]({where}.md) |"
                )
            text.append("")
        write(page, "\n".join(text))
    write("reference/index.md", "\n".join([*index, ""]))


paper_pages()
benchmark_page()
cli_page()
reference_pages()
