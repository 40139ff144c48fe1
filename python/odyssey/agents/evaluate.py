"""The agents' evaluation harness (``nox -s agents-eval``): each agent on a fixed set of cases,
each answer scored, a table printed and the scores written as JSON, so that a prompt change can
be judged by numbers.

    python -m odyssey.agents.evaluate --cases tests/agents/eval [--agent NAME]... [--json PATH]
                                      [--model MODEL] [--limit N]

Cases: ``<cases>/<name>/<case>.json``, or ``<cases>/<name>/<case>/case.json`` when a case needs
files beside it. An agent takes part when it has cases and a module
``odyssey.agents.<name>.evaluate`` with ``score(case, output) -> dict[str, float]`` (each score
in [0, 1] where higher is better, unless its name says otherwise, e.g. ``false_findings``). The
request comes from the module's ``prepare(case) -> (variables, files)`` when it has one, else
from the case's own ``variables`` and ``files`` (a list of ContextFile fields). A case's JSON is
given ``_directory`` (its folder) before either is called.

It calls the model: without ``ANTHROPIC_API_KEY`` it prints one line and exits 0. Exit status 1
when a case could not be run (its error is in the table and the JSON).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from odyssey._atomic import write_text_atomic
from odyssey.agents.core import AgentError, ContextFile, agent_names, load_agent, run_agent

__all__ = ["evaluate_agent", "load_cases", "main"]

PROG = "odyssey.agents.evaluate"


def load_cases(folder: Path) -> list[dict[str, Any]]:
    """The cases of one agent's folder, sorted by name, each with ``name`` and ``_directory``."""
    cases = []
    paths = sorted([*folder.glob("*.json"), *folder.glob("*/case.json")])
    for path in paths:
        case = json.loads(path.read_text(encoding="utf-8"))
        case.setdefault("name", path.parent.name if path.name == "case.json" else path.stem)
        case["_directory"] = str(path.parent)
        cases.append(case)
    return cases


def _request(module: Any, case: dict[str, Any]) -> tuple[dict[str, Any], list[ContextFile]]:
    if hasattr(module, "prepare"):
        return module.prepare(case)
    files = [ContextFile(**file) for file in case.get("files", [])]
    return case.get("variables", {}), files


def evaluate_agent(
    name: str,
    cases: list[dict[str, Any]],
    model: str | None = None,
    raw_dir: str | Path = "build/agents-eval-raw",
) -> list[dict[str, Any]]:
    """Runs agent `name` on each case and scores its answer; one record per case (a case that
    fails, however, is recorded with its error and the others still run). Answers failing
    their schema are saved under `raw_dir`."""
    spec = load_agent(name)
    module = importlib.import_module(f"odyssey.agents.{name}.evaluate")
    records = []
    for case in cases:
        record: dict[str, Any] = {"case": case["name"], "scores": {}, "error": None}
        log = io.StringIO()  # the run's own lines stay out of the table
        try:
            variables, files = _request(module, case)
            result = run_agent(
                spec, variables, files, model=model, raw_dir=Path(raw_dir), stream=log
            )
            assert result is not None  # not a dry run
            record["scores"] = {k: float(v) for k, v in module.score(case, result.output).items()}
            record.update(
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                cost_usd=None if math.isnan(result.cost_usd) else result.cost_usd,
            )
        except AgentError as error:
            record["error"] = str(error)
        except Exception as error:  # a case's own prepare/score bug: one case, not the run
            record["error"] = f"{type(error).__name__}: {error}"
        records.append(record)
    return records


def _means(records: list[dict[str, Any]]) -> dict[str, float]:
    names = sorted({key for record in records for key in record["scores"]})
    return {
        key: sum(r["scores"][key] for r in records if key in r["scores"])
        / max(1, sum(key in r["scores"] for r in records))
        for key in names
    }


def _table(results: dict[str, list[dict[str, Any]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="agents-eval")
    metrics = sorted({k for records in results.values() for r in records for k in r["scores"]})
    for column in ("agent", "case", *metrics, "tokens in/out", "cost $", "error"):
        table.add_column(column)
    for name, records in results.items():
        for record in records:
            table.add_row(
                name,
                record["case"],
                *(f"{record['scores'][m]:.2f}" if m in record["scores"] else "" for m in metrics),
                f"{record.get('input_tokens', 0)}/{record.get('output_tokens', 0)}",
                f"{record['cost_usd']:.4f}" if record.get("cost_usd") is not None else "",
                (record["error"] or "")[:60],
            )
        means = _means(records)
        table.add_row(
            name, "mean", *(f"{means[m]:.2f}" if m in means else "" for m in metrics), "", "", ""
        )
    console = Console()
    if not console.is_terminal:  # a CI log or a file: as wide as the table needs
        console = Console(width=200)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """``python -m odyssey.agents.evaluate``; see the module's docstring."""
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="tests/agents/eval", help="the cases' folder")
    parser.add_argument("--agent", action="append", help="only this agent (repeatable)")
    parser.add_argument("--json", default="build/agents-eval.json", help="where the scores go")
    parser.add_argument("--model", help="the model to ask (default: each agent's)")
    parser.add_argument("--limit", type=int, help="at most N cases per agent")
    args = parser.parse_args(argv)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print(f"{PROG}: ANTHROPIC_API_KEY is not set; no agent evaluated (skipped)")
        return 0
    root = Path(args.cases)
    if not root.is_dir():
        print(f"{PROG}: --cases {root} is not a directory", file=sys.stderr)
        return 2
    chosen = args.agent or agent_names()
    unknown = sorted(set(chosen) - set(agent_names()))
    if unknown:
        print(f"{PROG}: --agent {', '.join(unknown)}: no such agent", file=sys.stderr)
        return 2
    results: dict[str, list[dict[str, Any]]] = {}
    for name in chosen:
        cases = load_cases(root / name) if (root / name).is_dir() else []
        try:
            importlib.import_module(f"odyssey.agents.{name}.evaluate")
        except ModuleNotFoundError:
            print(f"{PROG}: {name} has no evaluate module; skipped")
            continue
        if not cases:
            print(f"{PROG}: {name} has no cases under {root / name}; skipped")
            continue
        results[name] = evaluate_agent(name, cases[: args.limit], model=args.model)
    _table(results)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": args.model,
        "agents": {
            name: {"cases": records, "mean": _means(records)} for name, records in results.items()
        },
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    print(f"{PROG}: scores written to {args.json}")
    failed = [r for records in results.values() for r in records if r["error"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
