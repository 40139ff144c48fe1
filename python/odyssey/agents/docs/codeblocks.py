"""Python code blocks in Markdown that no longer run.

Every fenced block tagged ``python`` (or ``py``) of a Markdown file runs, in order, in one fresh
interpreter per file (so a block may use what an earlier one defined, as a reader's session
would), in an empty temporary directory, each block within a time limit. The first failing block
of a file is reported with its error; the blocks after it are not run.

A block that must not run (it trains for an hour, downloads a data set, or is a fragment) is
marked on the line above its fence, with the reason::

    <!-- no-run: trains LeNet-5 for 20 epochs -->

or by a first line ``# no-run: REASON`` inside the block. A block written as an interactive
session (``>>>`` prompts) runs what follows the prompts.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from odyssey.agents.environment import without_credentials

__all__ = ["BlockFailure", "CodeBlock", "python_blocks", "run_blocks"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_NO_RUN_COMMENT = re.compile(r"^\s*<!--\s*no-run:\s*(?P<reason>.+?)\s*-->\s*$")
_NO_RUN_LINE = re.compile(r"^\s*#\s*no-run:\s*(?P<reason>.+?)\s*$")
PYTHON_TAGS = frozenset({"python", "py", "python3"})

# The child: runs each block in one namespace under an alarm; reports to a file, not stdout
# (stdout is the blocks').
_RUNNER = r"""
import json, signal, sys, time, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
report = open(sys.argv[2], "w", encoding="utf-8")
limit = float(sys.argv[3])
# A BaseException, so that a block's `except Exception` cannot swallow the alarm; the elapsed time
# is checked as well, for a block that catches even that.
class BlockTimeout(BaseException):
    pass
def alarm(signum, frame):
    raise BlockTimeout(f"did not finish within {limit:g} s")
def one_line(error):
    if isinstance(error, SyntaxError):
        return f"{type(error).__name__}: {error.msg} (line {error.lineno})"
    text = "".join(traceback.format_exception_only(type(error), error))
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
signal.signal(signal.SIGALRM, alarm)
namespace = {"__name__": "__main__"}
for block in blocks:
    started = time.monotonic()
    try:
        code = compile(block["code"], block["name"], "exec")
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            exec(code, namespace)
        except SystemExit as error:
            # sys.exit(0) or sys.exit(): the block ended as its script would, successfully.
            if error.code not in (None, 0):
                raise
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.monotonic() - started
        if elapsed > limit:
            raise BlockTimeout(f"ran {elapsed:.1f} s, over the limit of {limit:g} s")
    except BaseException as error:
        frames = traceback.extract_tb(error.__traceback__)
        frames = [f for f in frames if f.filename == block["name"]]
        line = frames[-1].lineno if frames else getattr(error, "lineno", None)
        record = {"index": block["index"], "error": one_line(error), "line": line}
        report.write(json.dumps(record) + "\n")
        report.flush()
        sys.exit(1)
    report.write(json.dumps({"index": block["index"], "ok": True}) + "\n")
    report.flush()
"""


@dataclass(frozen=True)
class CodeBlock:
    """A Python block: its number among the file's Python blocks (from 1), the fence's line,
    its code, and the reason it is not run (None: it runs)."""

    index: int
    line: int
    code: str
    no_run: str | None


@dataclass(frozen=True)
class BlockFailure:
    """A block that failed: which, where (the fence's line; the line inside the block) and why."""

    index: int
    line: int
    block_line: int | None
    message: str


def _session_source(code: str) -> str:
    """A block written as an interactive session (``>>>`` prompts and their output) as the
    code a reader types; any other block as it is. The output shown is not compared."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    if not first.lstrip().startswith(">>>"):
        return code
    examples = doctest.DocTestParser().get_examples(textwrap.dedent(code))
    return "".join(example.source for example in examples)


def python_blocks(text: str) -> list[CodeBlock]:
    """The Python code blocks of a Markdown text, in order."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    position = 0
    while position < len(lines):
        opening = _FENCE.match(lines[position])
        if opening is None:
            position += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        tag = (opening["info"].split() or [""])[0].lower()
        end = position + 1
        while end < len(lines) and not re.match(
            rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[end]
        ):
            end += 1
        if tag in PYTHON_TAGS:
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[position + 1 : end]
            ]
            previous = next((lines[i] for i in range(position - 1, -1, -1) if lines[i].strip()), "")
            marker = _NO_RUN_COMMENT.match(previous)
            first = next((line for line in body if line.strip()), "")
            inner = _NO_RUN_LINE.match(first)
            reason = (marker or inner)["reason"] if (marker or inner) else None
            code = "\n".join(body) + "\n"
            blocks.append(CodeBlock(len(blocks) + 1, position + 1, _session_source(code), reason))
        position = end + 1
    return blocks


def run_blocks(
    path: str,
    blocks: list[CodeBlock],
    *,
    timeout: float,
    python_path: list[Path] = (),
) -> BlockFailure | None:
    """Runs the blocks not marked no-run, in order, in a fresh interpreter in an empty temporary
    directory (`python_path` in front of ``PYTHONPATH``); the first failure, or None."""
    runnable = [block for block in blocks if block.no_run is None]
    if not runnable:
        return None
    # The blocks are the repository's code: they get no credential (see odyssey.agents.environment).
    environment = without_credentials()
    environment["MPLBACKEND"] = "Agg"  # a block that plots must not need a display
    # Absolute: the blocks run elsewhere, and a relative entry would point into nothing there.
    paths = [str(Path(p).resolve()) for p in python_path]
    paths += [
        os.path.abspath(entry)
        for entry in environment.get("PYTHONPATH", "").split(os.pathsep)
        if entry
    ]
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    with tempfile.TemporaryDirectory(prefix="docs-agent-blocks-") as scratch:
        work = Path(scratch) / "work"
        work.mkdir()
        source = Path(scratch) / "blocks.json"
        report = Path(scratch) / "report.jsonl"
        runner = Path(scratch) / "runner.py"
        runner.write_text(_RUNNER, encoding="utf-8")
        source.write_text(
            json.dumps(
                [
                    {"index": b.index, "name": f"{path} block {b.index}", "code": b.code}
                    for b in runnable
                ]
            ),
            encoding="utf-8",
        )
        try:
            # B603: this interpreter and our runner, no shell
            completed = subprocess.run(  # nosec B603
                [sys.executable, str(runner), str(source), str(report), str(timeout)],
                cwd=work,
                env=environment,
                stdin=subprocess.DEVNULL,  # a block calling input() must fail, not wait
                capture_output=True,
                text=True,
                timeout=timeout * len(runnable) + 30,
            )
        except subprocess.TimeoutExpired:
            completed = None
        records = [
            json.loads(line)
            for line in (report.read_text(encoding="utf-8").splitlines() if report.exists() else [])
        ]
    by_index = {block.index: block for block in runnable}
    for record in records:
        if "error" in record:
            block = by_index[record["index"]]
            return BlockFailure(block.index, block.line, record.get("line"), record["error"])
    done = {record["index"] for record in records}
    pending = [block for block in runnable if block.index not in done]
    if pending:  # the interpreter died or hung outside Python's reach
        block = pending[0]
        why = (
            "the interpreter did not finish in time"
            if completed is None
            else f"the interpreter exited with status {completed.returncode}: "
            + (completed.stderr.strip().splitlines() or ["no output"])[-1]
        )
        return BlockFailure(block.index, block.line, None, why)
    return None
