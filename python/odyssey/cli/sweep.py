"""``odyssey sweep PAPER``: many `odyssey train` runs of one paper — seeds, a grid, random draws —
on this machine or a Ray cluster, with their records, summary and plots in one directory.

    odyssey sweep lenet5 --variant modern --seeds 0-2 --grid train.lr=0.01,0.05,0.1
    odyssey sweep lenet5 --random 'train.lr=loguniform(1e-3,1e-1)' --trials 20 --seeds 0-4
    odyssey sweep lenet5 --seeds 0-4 --backend ray --address auto

Exit status: 0 every trial finished; 1 a trial failed (its error is in sweep.json); 2 a usage
mistake (one line naming the option); 130 interrupted (the same command resumes the sweep).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odyssey.sweep.run import Sweep

PROG = "odyssey sweep"


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``sweep`` to the ``odyssey`` parser."""
    parser = commands.add_parser(
        "sweep",
        help="many training runs of a paper (seeds, grid or random search), locally or on Ray",
        description="Run a paper once per seed and configuration (--grid, --random), each trial "
        "one `odyssey train` run, and write sweep.json/sweep.csv, a summary per configuration "
        "(mean ± std over seeds, the best) and plots. The same command resumes an interrupted "
        "sweep.",
    )
    parser.add_argument("paper", metavar="PAPER", help="a paper's slug or a path to its folder")
    parser.add_argument("--variant", help="a variant of paper.toml (default: the first)")
    parser.add_argument(
        "--seeds", metavar="SEEDS", help="0-4, 0,2,5 or a mix (default: the paper's train.seed)"
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="sweep a configuration key over these values, e.g. train.lr=0.01,0.05,0.1 "
        "(repeatable: the grid is every combination; keys as --set of odyssey train)",
    )
    parser.add_argument(
        "--random",
        action="append",
        default=[],
        metavar="KEY=DIST",
        help="draw a key from loguniform(a,b), uniform(a,b), randint(a,b) or choice(a,b,...) "
        "(repeatable; with --trials)",
    )
    parser.add_argument("--trials", type=int, metavar="N", help="how many random configurations")
    parser.add_argument(
        "--sample-seed",
        type=int,
        default=0,
        metavar="S",
        help="the seed of the random draws (default 0: the same command draws the same trials)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fixed override for every trial, as odyssey train's --set (repeatable)",
    )
    parser.add_argument(
        "--metric", default="test_accuracy", help="what ranks configurations (summary.json)"
    )
    parser.add_argument(
        "--mode", choices=("max", "min"), help="max or min (default: min for a loss, else max)"
    )
    parser.add_argument("--parallel", type=int, metavar="N", help="trials at a time")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="T",
        help="kernel threads per trial (default: the cores / --parallel; results are the same "
        "bits for any T)",
    )
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="with --backend ray: auto (join the cluster running here) or ray://HOST:PORT; "
        "default: start a Ray instance on this machine",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=2,
        metavar="N",
        help="with --backend ray: reruns of a trial whose worker died (default 2)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="the sweep directory (default runs/sweeps/<paper>-<variant>/<time>); an existing "
        "sweep's directory resumes it",
    )
    parser.set_defaults(run=run)


def _usage(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Parses and checks the sweep, runs it, prints the summary; see the module docstring."""
    from odyssey import papers
    from odyssey.sweep.run import Sweep
    from odyssey.sweep.spec import SweepError, build_spec

    if args.address is not None and args.backend != "ray":
        return _usage("--address goes with --backend ray")
    if args.max_retries < 0:
        return _usage(f"--max-retries must be >= 0, got {args.max_retries}")
    try:
        spec, _ = build_spec(
            args.paper,
            args.variant,
            args.seeds,
            args.grid,
            args.random,
            args.trials,
            args.metric,
            args.mode,
            args.sets,
            args.sample_seed,
        )
        out = Path(args.out) if args.out else _default_out(spec.slug, spec.variant)
        sweep = Sweep(spec, out)
        outcome = sweep.run(
            args.backend, args.parallel, args.threads, args.address, args.max_retries
        )
    except (SweepError, papers.PaperError) as error:
        return _usage(str(error))
    except ImportError as error:  # the ray extra is not installed
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    print_summary(sweep)
    print(
        f"{outcome.finished} of {outcome.total} trial(s) finished"
        + (f", {outcome.failed} failed (errors in {out / 'sweep.json'})" if outcome.failed else "")
        + (f", {outcome.interrupted} not run" if outcome.interrupted else "")
    )
    return outcome.status


def _default_out(slug: str, variant: str) -> Path:
    from odyssey.train.rundir import RUNS_ROOT

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(RUNS_ROOT) / "sweeps" / f"{slug}-{variant}" / stamp


def print_summary(sweep: Sweep) -> None:
    """One line per configuration: mean ± std, min, max over its finished seeds; the best."""
    from odyssey.sweep import report
    from odyssey.tools.validate import format_measure, format_value

    records = [sweep.records[t.name] for t in sweep.trials]
    spec = sweep.spec
    summary = report.summarise(records, spec.metric)
    best = report.best_configuration(summary, spec.mode)
    rows = [("configuration", f"{spec.metric} (mean ± std)", "min", "max", "seeds")]
    for entry in summary:
        if entry["mean"] is None:
            rows.append((sweep.describe(entry["config"]), "—", "—", "—", "0"))
            continue
        rows.append(
            (
                sweep.describe(entry["config"]),
                format_measure(spec.metric, entry["mean"], entry["std"]),
                format_value(spec.metric, entry["min"]),
                format_value(spec.metric, entry["max"]),
                str(len(entry["values"])),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if best is not None:
        print(
            f"best ({spec.mode} {spec.metric}): {sweep.describe(best['config'])}"
            f" — {format_measure(spec.metric, best['mean'], best['std'])}"
        )
    print(f"sweep: {sweep.out}")
