"""SGEMM side by side with NumPy (OpenBLAS) in one run: square sizes and LeNet-5's shapes.

For every shape and thread count (1 and the machine's cores), odyssey's sgemm and numpy.matmul are
timed in alternating rounds (median seconds per call) and reported as GFLOP/s, as a ratio
(NumPy time / odyssey time: above 1 means odyssey is faster) and as a fraction of the fp32 peak of
the cores in use. NumPy's BLAS threads are set with threadpoolctl to the same count.

The peak is cores x FMA units x 16 lanes x 2 flops x clock: the clock is /proc/cpuinfo's "cpu MHz"
(the base clock; turbo can exceed it, so a fraction above 1 is possible), and this Xeon is assumed
to have 2 AVX-512 FMA units per core, as Xeon Gold/Platinum (Skylake-SP and later) do. The
one-thread figures check the assumption: a rate above one unit's peak needs the second unit.
Results are printed and written as JSON to benchmarks/results/gemm.json.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from harness import side_by_side, write_report
from threadpoolctl import threadpool_limits

import odyssey
from odyssey import _kernels

RESULTS = Path(__file__).parent / "results"
FMA_UNITS = 2  # per core, assumed: see the module docstring
LANES = 16  # fp32 lanes of a 512-bit FMA
HEADER = (
    f"{'shape':<22} {'op':<3} {'thr':>3} {'odyssey GF/s':>12} {'NumPy GF/s':>10} "
    f"{'ratio':>5} {'peak':>5}"
)
ROW = (
    "{name:<22} {op:<3} {threads:>3} {odyssey_gflops:>12.1f} {numpy_gflops:>10.1f} "
    "{ratio:>5.2f} {peak_fraction:>5.0%}"
)

# (label, m, n, k, trans_b): C (m x n) = A (m x k) @ op(B)
SHAPES = [
    *[(f"square {s}", s, s, s, False) for s in (64, 128, 256, 512, 1024)],
    ("lenet f5 b64", 64, 120, 400, True),  # Linear: x @ W.T, W stored (out, in)
    ("lenet f6 b64", 64, 84, 120, True),
    ("lenet out b64", 64, 10, 84, True),
    ("lenet f5 b1000", 1000, 120, 400, True),
    ("lenet conv1 b64", 6, 784 * 64, 25, False),  # conv as GEMM: weight (6, 25) @ columns
    ("lenet conv2 b64", 16, 100 * 64, 150, False),
]


def clock_ghz() -> float:
    """The clock /proc/cpuinfo reports (base clock on this VM), else lscpu's; 0 if unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1000.0
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=RESULTS / "gemm.json")
    args = parser.parse_args()

    info = odyssey.cpu_info()
    cores = os.cpu_count() or 1
    ghz = clock_ghz()
    core_peak = FMA_UNITS * LANES * 2 * ghz
    isa = info["isa_selected"]
    print(f"odyssey {info['version']} ({isa}) on {info['cpu']}, NumPy {np.__version__}")
    print(
        f"peak = {cores} cores x {FMA_UNITS} FMA units x {LANES} lanes x 2 x {ghz:.2f} GHz "
        f"= {cores * core_peak:.0f} GFLOP/s ({core_peak:.0f} per core)"
    )
    print(HEADER)
    rows = []
    previous_threads = odyssey.get_num_threads()
    rng = np.random.default_rng(0)
    try:
        for name, m, n, k, trans_b in SHAPES:
            a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
            b = rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(np.float32)
            out = np.empty((m, n), dtype=np.float32)
            numpy_b = b.T if trans_b else b

            def ours(a=a, b=b, out=out, trans_b=trans_b) -> object:
                return _kernels.sgemm(a, b, trans_b=trans_b, out=out)

            def numpy(a=a, numpy_b=numpy_b, out=out) -> object:
                return np.matmul(a, numpy_b, out=out)

            for threads in sorted({1, cores}):
                odyssey.set_num_threads(threads)
                with threadpool_limits(limits=threads):
                    t_ours, t_numpy = side_by_side([ours, numpy], args.rounds, args.round_seconds)
                flops = 2.0 * m * n * k
                row = {
                    "name": name,
                    "m": m,
                    "n": n,
                    "k": k,
                    "op": "NT" if trans_b else "NN",
                    "threads": threads,
                    "odyssey_seconds": t_ours,
                    "numpy_seconds": t_numpy,
                    "odyssey_gflops": flops / t_ours / 1e9,
                    "numpy_gflops": flops / t_numpy / 1e9,
                    "ratio": t_numpy / t_ours,
                    "peak_fraction": flops / t_ours / 1e9 / (threads * core_peak),
                }
                rows.append(row)
                print(ROW.format(**row))
    finally:
        odyssey.set_num_threads(previous_threads)

    best_single = max(
        max(r["odyssey_gflops"], r["numpy_gflops"]) for r in rows if r["threads"] == 1
    )
    units_needed = best_single / (LANES * 2 * ghz)
    print(f"best one-thread rate {best_single:.0f} GFLOP/s: {units_needed:.2f} FMA units' worth")

    write_report(
        args.output,
        "gemm",
        rows,
        numpy=np.__version__,
        numpy_threads="threadpoolctl.threadpool_limits, same count as odyssey",
        peak={
            "clock_ghz": ghz,
            "fma_units_per_core": FMA_UNITS,
            "lanes": LANES,
            "gflops_per_core": core_peak,
            "gflops_machine": cores * core_peak,
            "best_one_thread_gflops": best_single,
        },
    )


if __name__ == "__main__":
    main()
