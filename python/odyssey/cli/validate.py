"""``odyssey validate``: a paper's claims are data, and this command checks them.

    odyssey validate PAPER... | --all          structure, schema, README, model (exit 0 or 2)
    odyssey validate PAPER --run [--seeds N]   train each target whose data is at hand and
                      [--quick] [--target ID]  check its bar (exit 1 when one is missed);
                      [--backend local|ray]    results/<target>.json recorded (not with --quick);
                      [--parallel N]           the seeds run as an odyssey sweep, here or on a
                      [--threads T]            Ray cluster
                      [--address ADDR]
    odyssey validate --all --complete          every target recorded, meeting its bar, and the
                      [--available]            README's table saying what the record says
                                               (--available: the targets whose data is here)
    odyssey validate --fast FILE...            the papers holding these files: structure, schema
                                               and README only (the pre-commit hook)
    odyssey validate --schema                  print paper.toml's JSON Schema

Exit status: 0 valid (and every target run met), 1 a target missed or a run failed, 2 a paper
invalid or incomplete, or bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

PROG = "odyssey validate"
INVALID = 2
MISSED = 1
INTERRUPTED = 130  # a shell's status for SIGINT


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``validate`` to the ``odyssey`` parser."""
    parser = commands.add_parser(
        "validate",
        help="check papers: structure, paper.toml, README, model; --run trains their targets",
        description="Check papers' folders, paper.toml (against its JSON Schema), README "
        "results table and models; with --run, train each target and check its bar.",
    )
    parser.add_argument("papers", nargs="*", metavar="PAPER", help="slugs or paper folders")
    parser.add_argument("--all", action="store_true", help="every paper found")
    parser.add_argument("--schema", action="store_true", help="print paper.toml's JSON Schema")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="structure, schema and README only; PAPER may be any file inside a paper folder",
    )
    parser.add_argument(
        "--run",
        dest="run_targets",
        action="store_true",
        help="train each target whose data is at hand",
    )
    parser.add_argument("--seeds", type=int, metavar="N", help="seeds per target (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one seed per target (unless --seeds), nothing recorded: a smoke check of the bars",
    )
    parser.add_argument(
        "--target",
        dest="targets",
        action="append",
        default=[],
        metavar="ID",
        help="run only this target (repeatable)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="where --run writes its runs (default runs/validate/...)"
    )
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="with --run: where the seeds train, as odyssey sweep's (default local)",
    )
    parser.add_argument(
        "--address", metavar="ADDR", help="with --backend ray: auto or ray://HOST:PORT"
    )
    parser.add_argument(
        "--parallel", type=int, metavar="N", help="with --run: seeds trained at a time"
    )
    parser.add_argument(
        "--threads", type=int, metavar="T", help="with --run: kernel threads per seed's run"
    )
    parser.add_argument(
        "--complete",
        action="store_true",
        help="every target has a recorded result that meets its bar and the README agrees",
    )
    parser.add_argument(
        "--available",
        action="store_true",
        help="with --complete: only the targets whose data is on this machine",
    )
    parser.set_defaults(run=run)


def _usage(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return INVALID


def run(args: argparse.Namespace) -> int:
    """Validates the papers named (or all), then runs or checks their targets as asked."""
    from odyssey import paper_schema, papers
    from odyssey.tools import validate

    if args.schema:
        if args.papers or args.all or args.fast or args.run_targets or args.complete:
            return _usage("--schema prints the schema; it takes no papers and no other option")
        print(paper_schema.SCHEMA_PATH.read_text(encoding="utf-8"), end="")
        return 0
    if args.seeds is not None and args.seeds < 1:
        return _usage(f"--seeds must be >= 1, got {args.seeds}")
    sweep_options = (args.backend, args.address, args.parallel, args.threads)
    if (args.seeds or args.quick or args.targets or args.out) and not args.run_targets:
        return _usage("--seeds, --quick, --target and --out go with --run")
    if any(option is not None for option in sweep_options) and not args.run_targets:
        return _usage("--backend, --address, --parallel and --threads go with --run")
    if args.address is not None and args.backend != "ray":
        return _usage("--address goes with --backend ray")
    if args.available and not args.complete:
        return _usage("--available goes with --complete")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        return _usage(f"--out: {args.out} is a file; runs go in a folder")
    if args.all == bool(args.papers):
        return _usage("name the papers to validate, or --all (not both)")
    if args.fast:
        if args.run_targets or args.complete:
            return _usage("--fast checks structure, schema and README only: no --run, --complete")
        folders = validate.paper_folders(args.papers) if args.papers else _all_papers()
        if not folders:
            return _usage("no paper folder holds " + (" ".join(args.papers) or "papers/"))
        return _report({folder: validate.fast_problems(folder) for folder in folders})
    try:
        folders = _all_papers() if args.all else [papers.find_paper(p) for p in args.papers]
    except papers.PaperError as error:
        return _usage(str(error))
    if not folders:
        return _usage("no papers found (looked under papers/ and among installed papers)")
    status = _report({folder: validate.validate_paper(folder) for folder in folders})
    if status:
        return status
    if args.run_targets:
        status = _run_targets(args, folders)
    if args.complete:
        complete = {
            folder: validate.completeness_problems(folder, available_only=args.available)
            for folder in folders
        }
        status = max(status, _report(complete, "complete"))
    return status


def _all_papers() -> list[Path]:
    from odyssey import papers

    return list(papers.available_papers().values())


def _report(problems: dict[Path, list[str]], what: str = "valid") -> int:
    """Prints each paper's problems (one per line), or that it is `what`; 2 when any has one."""
    for folder, found in problems.items():
        if found:
            for problem in found:
                print(f"{folder.name}: {problem}")
        else:
            print(f"{folder.name}: {what}")
    invalid = sum(bool(found) for found in problems.values())
    if invalid:
        print(f"{PROG}: {invalid} of {len(problems)} paper(s) not {what}", file=sys.stderr)
        return INVALID
    return 0


def _run_targets(args: argparse.Namespace, folders: list[Path]) -> int:
    """Trains the targets of each paper, prints the table of outcomes, records full runs."""
    from odyssey import papers
    from odyssey.sweep import SweepError
    from odyssey.tools import targets
    from odyssey.train.rundir import RUNS_ROOT

    seeds_per_target = args.seeds or (1 if args.quick else 3)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    status = 0
    loaded = [papers.load_paper(folder) for folder in folders]
    known = [papers.target_id(t) for paper in loaded for t in paper.targets]
    unknown = [name for name in args.targets if name not in known]
    if unknown:
        return _usage(f"--target: no target {unknown[0]!r}; targets: {', '.join(known)}")
    for paper in loaded:
        chosen = [
            t for t in paper.targets if not args.targets or papers.target_id(t) in args.targets
        ]
        if not chosen:
            continue
        runs = Path(args.out or Path(RUNS_ROOT) / "validate") / stamp / paper.slug
        first = paper.train.get("seed", 0)
        seeds = list(range(first, first + seeds_per_target))
        listed = ", ".join(map(str, seeds))
        print(f"{paper.slug}: {len(chosen)} target(s), seeds {listed}, runs in {runs}")
        outcomes = []
        for target in chosen:
            try:
                outcome = targets.run_target(
                    paper,
                    target,
                    seeds,
                    runs,
                    backend=args.backend or "local",
                    parallel=args.parallel,
                    threads=args.threads,
                    address=args.address,
                )
            except (SweepError, ImportError) as error:
                return _usage(str(error))
            except KeyboardInterrupt:
                name = papers.target_id(target)
                print(
                    f"{PROG}: interrupted during {paper.slug} target {name} (its runs: "
                    f"{runs / name}); the targets after it were not run",
                    file=sys.stderr,
                )
                return INTERRUPTED
            if outcome.status in ("met", "missed") and not args.quick:
                try:
                    path = targets.record(paper, outcome)
                    outcome.reason = f"recorded: {path.relative_to(paper.path)}"
                except OSError as error:
                    outcome.status = "failed"
                    outcome.reason = f"not recorded: {error}"
            outcomes.append(outcome)
        _table(paper.slug, outcomes)
        checked = sum(o.status in ("met", "missed") for o in outcomes)
        print(f"{paper.slug}: {checked} of {len(outcomes)} target(s) checked")
        if any(o.status in ("missed", "failed") for o in outcomes):
            status = MISSED
    return status


def _table(slug: str, outcomes: list) -> None:
    """One aligned line per target: its measure beside its bar, the outcome and a note."""
    from odyssey.tools.validate import format_per_seed, format_value

    header = ("target", "metric", "ours (mean ± std)", "per seed", "seeds", "bar", "outcome")
    rows = [(*header, "note")]
    for o in outcomes:
        metric = o.target["metric"]
        bar = ("≤ " if metric.endswith("loss") else "≥ ") + format_value(metric, o.target["bar"])
        per_seed = format_per_seed(metric, o.values) if o.values else "—"
        rows.append(
            (o.id, metric, o.measure, per_seed, str(len(o.values)), bar, o.status, o.reason)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    print(f"{slug}: targets")
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  " + "  ".join([*cells, row[-1]]).rstrip())
