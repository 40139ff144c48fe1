"""Elementwise kernels and the sum reduction, side by side with NumPy in one run.

For every size, runnable ISA and thread count, the odyssey kernel and its NumPy counterpart are
timed in alternating rounds (so both see the same machine state) and reported as GB/s of memory
traffic and as a speed ratio (NumPy time / odyssey time: above 1 means odyssey is faster).
Results are printed and written as JSON to benchmarks/results/kernels.json.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from harness import side_by_side, write_report

import odyssey
from odyssey import _kernels

RESULTS = Path(__file__).parent / "results"
HEADER = f"{'op':<5} {'n':>9} {'isa':<7} {'thr':>3} {'odyssey GB/s':>12} {'NumPy GB/s':>10} ratio"
ROW = "{op:<5} {n:>9} {isa:<7} {threads:>3} {odyssey_gbps:>12.1f} {numpy_gbps:>10.1f} {ratio:>5.2f}"


def operations(n: int) -> dict[str, tuple[int, Callable[[], object], Callable[[], object]]]:
    """name -> (bytes moved per call, odyssey call, NumPy call), on fresh float32 arrays of n."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    out = np.empty_like(a)
    zero = np.float32(0)
    return {
        "add": (12 * n, lambda: _kernels.add(a, b, out=out), lambda: np.add(a, b, out=out)),
        "mul": (12 * n, lambda: _kernels.mul(a, b, out=out), lambda: np.multiply(a, b, out=out)),
        "relu": (8 * n, lambda: _kernels.relu(a, out=out), lambda: np.maximum(a, zero, out=out)),
        "sum": (4 * n, lambda: _kernels.sum(a), lambda: np.sum(a)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 65536, 1 << 20, 1 << 24])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS / "kernels.json")
    args = parser.parse_args()

    info = odyssey.cpu_info()
    thread_counts = sorted({1, os.cpu_count() or 1})
    print(f"odyssey {info['version']} on {info['cpu']} ({info['arch']}), NumPy {np.__version__}")
    print(HEADER)
    rows = []
    previous_isa, previous_threads = info["isa_selected"], odyssey.get_num_threads()
    try:
        for n in args.sizes:
            for name, (nbytes, ours, numpy) in operations(n).items():
                for isa in info["isa_available"]:
                    for threads in thread_counts:
                        odyssey.set_isa(isa)
                        odyssey.set_num_threads(threads)
                        t_ours, t_numpy = side_by_side(
                            [ours, numpy], args.rounds, args.round_seconds
                        )
                        row = {
                            "op": name,
                            "n": n,
                            "isa": isa,
                            "threads": threads,
                            "odyssey_seconds": t_ours,
                            "numpy_seconds": t_numpy,
                            "odyssey_gbps": nbytes / t_ours / 1e9,
                            "numpy_gbps": nbytes / t_numpy / 1e9,
                            "ratio": t_numpy / t_ours,
                        }
                        rows.append(row)
                        print(ROW.format(**row))
    finally:
        odyssey.set_isa(previous_isa)
        odyssey.set_num_threads(previous_threads)

    write_report(
        args.output,
        "kernels",
        rows,
        numpy=np.__version__,
    )


if __name__ == "__main__":
    main()
