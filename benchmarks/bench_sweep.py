"""How a sweep uses this machine's cores: a 10-trial LeNet-5 sweep (the modern variant on
mnist-sample, seeds 0-9, `--epochs` epochs each) run as 2 trials at a time x 1 thread against 1
trial at a time x 2 threads, on the local backend and on Ray, in one run; and what Ray costs per
trial.

Each sweep is `odyssey sweep`'s own machinery (odyssey.sweep.Sweep) into a fresh directory; its
wall time is the whole sweep's, from the first trial's start to the report written. The local
sweeps run first, before Ray's instance is started (its daemons would run beside them), then the
Ray ones; each backend's two plans alternate in order over `--rounds` rounds, so a change in the
machine's load hits each alike; medians are reported. Ray's per-trial overhead is the Ray
sweep's wall time minus the local one's at the same plan, over the number of trials, beside the
round trip of an empty Ray task and the time `ray.init` takes to start an instance here. Every
trial of every sweep gives the same weights (checked): the plans differ in speed only.

Not in the default `nox -s benchmark` run (it takes minutes): `nox -s benchmark -- sweep`, or
`python benchmarks/bench_sweep.py`. Results are printed and written as JSON to
benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import SETTLE_SECONDS, write_report

from odyssey.sweep import Sweep, available_cores, build_spec

RESULTS = Path(__file__).parent / "results"
PLANS = ((2, 1), (1, 2))  # (trials at a time, threads per trial)


def one_sweep(root: Path, backend: str, parallel: int, threads: int, epochs: int, trials: int):
    """Runs the sweep into a new directory under `root`: (wall seconds, the trials' weights)."""
    spec, _ = build_spec(
        "lenet5",
        "modern",
        f"0-{trials - 1}",
        [],
        [],
        None,
        "test_accuracy",
        None,
        ["train.dataset=mnist-sample", f"train.epochs={epochs}"],
    )
    out = Path(tempfile.mkdtemp(dir=root, prefix=f"{backend}-{parallel}x{threads}-"))
    sweep = Sweep(spec, out / "sweep", say=lambda line: None)
    started = time.perf_counter()
    outcome = sweep.run(backend, parallel, threads)
    wall = time.perf_counter() - started
    if outcome.status != 0:
        raise SystemExit(f"bench_sweep: the {backend} sweep failed; see {out}/sweep/sweep.json")
    weights = [sweep.records[t.name]["metrics"]["weights_sha256"] for t in sweep.trials]
    return wall, weights


def ray_costs(cores: int, samples: int = 20) -> tuple[float, float]:
    """(seconds `ray.init` takes to start an instance, median round trip of an empty task)."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    startup = time.perf_counter() - started

    @ray.remote(num_cpus=1)
    def empty() -> None:
        return None

    ray.get(empty.remote())  # a worker started
    trips = []
    for _ in range(samples):
        begin = time.perf_counter()
        ray.get(empty.remote())
        trips.append(time.perf_counter() - begin)
    return startup, statistics.median(trips)


def main() -> None:
    """Runs the four sweeps over the rounds, prints the table and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="seeds in the sweep")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds")
    parser.add_argument("--no-ray", action="store_true", help="the local backend only")
    parser.add_argument("--output", type=Path, default=RESULTS / "sweep.json")
    args = parser.parse_args()
    cores = available_cores()
    backends = ["local"] if args.no_ray else ["local", "ray"]
    if "ray" in backends and importlib.util.find_spec("ray") is None:
        print("bench_sweep: Ray is not installed (pip install 'ml-odyssey[ray]'): local only")
        backends = ["local"]
    startup = trip = None
    walls: dict[tuple[str, int, int], list[float]] = {}
    reference: list[str] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as scratch:
        # The local sweeps first, before Ray's daemons run beside them; within a backend the
        # plans alternate in order from round to round.
        for backend in backends:
            if backend == "ray":
                startup, trip = ray_costs(cores)
            for round_ in range(args.rounds):
                for parallel, threads in PLANS if round_ % 2 == 0 else PLANS[::-1]:
                    if parallel * threads > cores:
                        continue
                    time.sleep(SETTLE_SECONDS)
                    wall, weights = one_sweep(
                        Path(scratch), backend, parallel, threads, args.epochs, args.trials
                    )
                    reference = reference or weights
                    if weights != reference:
                        raise SystemExit(f"bench_sweep: {backend} {parallel}x{threads} differs")
                    walls.setdefault((backend, parallel, threads), []).append(wall)
                    print(f"{backend:5} {parallel} x {threads}: {wall:6.1f} s")
    median = {key: statistics.median(values) for key, values in walls.items()}
    results: list[dict[str, Any]] = []
    for backend in backends:
        wide, deep = median.get((backend, 2, 1)), median.get((backend, 1, 2))
        row: dict[str, Any] = {"backend": backend, "trials": args.trials, "epochs": args.epochs}
        row["two_by_one_s"] = wide
        row["one_by_two_s"] = deep
        # Higher is better for 2 x 1: how much faster independent trials are than threads.
        row["ratio"] = deep / wide if wide and deep else None
        if backend == "ray":
            local = median.get(("local", 2, 1))
            row["vs_local"] = local / wide if local and wide else None
            row["overhead_per_trial_s"] = (wide - local) / args.trials if local and wide else None
            row["init_s"] = startup
            row["empty_task_round_trip_s"] = trip
        results.append(row)
        print(
            f"{backend}: 2 x 1 {wide:.1f} s, 1 x 2 {deep:.1f} s: 2 x 1 is {row['ratio']:.2f}x "
            "as fast"
            + (
                f"; Ray {row['overhead_per_trial_s']:+.2f} s per trial over local (init "
                f"{startup:.1f} s, empty task {1000 * trip:.1f} ms)"
                if backend == "ray"
                else ""
            )
        )
    write_report(
        args.output,
        "sweep",
        results,
        cores=cores,
        rounds=args.rounds,
        sweep="odyssey sweep lenet5 --variant modern --set train.dataset=mnist-sample "
        f"--set train.epochs={args.epochs} --seeds 0-{args.trials - 1}",
    )


if __name__ == "__main__":
    main()
