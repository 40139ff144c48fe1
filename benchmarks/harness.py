"""What every benchmark shares: timing side by side in alternating rounds, and the JSON report."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import odyssey
from odyssey import _kernels

# Pause before each timed round. PyTorch's OpenMP workers (and OpenBLAS's) spin for milliseconds
# after each parallel region; without a pause they hold a core through the start of the next
# contender's round (LeNet conv2 forward, batch 1000, 2 threads: 0.93x without, 1.2x with).
SETTLE_SECONDS = 0.03


def calls_per_round(function: Callable[[], object], target_seconds: float) -> int:
    """How many calls make one timed round last about target_seconds."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function()
        elapsed = time.perf_counter() - start
        if elapsed >= target_seconds / 4 or calls >= 1 << 20:
            return max(1, int(calls * target_seconds / max(elapsed, 1e-9)))
        calls *= 4


def side_by_side(
    functions: Sequence[Callable[[], object]],
    rounds: int,
    target_seconds: float,
    setups: Sequence[Callable[[], object]] | None = None,
) -> list[float]:
    """Median seconds per call of each function, timed in alternating rounds, so that a change in
    the machine's load during the run hits every contender alike. `setups` (one per function, run
    untimed before each of its rounds) let contenders differ in settings such as the thread
    count: a shared machine's speed drifts by tens of percent within minutes, so a ratio of two
    settings is only meaningful from rounds that alternate. Each round starts with one untimed call
    after its setup (a setup may have restarted a thread pool)."""
    setups = setups or [lambda: None] * len(functions)
    for function, setup in zip(functions, setups, strict=True):
        setup()
        function()  # warm caches, pages and thread pools
    counts = []
    for function, setup in zip(functions, setups, strict=True):
        setup()
        counts.append(calls_per_round(function, target_seconds))
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, setup, count, sink in zip(functions, setups, counts, times, strict=True):
            setup()
            function()
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            for _ in range(count):
                function()
            sink.append((time.perf_counter() - start) / count)
    return [statistics.median(sink) for sink in times]


def write_report(path: Path, benchmark: str, results: list[dict[str, Any]], **extra: Any) -> None:
    """Writes the results with the machine's description; never leaves a half-written file."""
    report = {
        "benchmark": benchmark,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            **odyssey.cpu_info(),
        },
        **extra,
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    print(f"wrote {path}")


def kernel_profile(step: Callable[[], Any], steps: int) -> tuple[float, list[dict[str, Any]]]:
    """Every _kernels call of a training step timed by (kernel, first input's shape); the step's
    microseconds and the rows, largest first. The remainder is Python and NumPy glue."""
    timings: dict[tuple[str, str], list[float]] = {}
    originals = {
        name: getattr(_kernels, name)
        for name in dir(_kernels)
        if not name.startswith("_") and callable(getattr(_kernels, name))
    }

    def timed(name: str, kernel: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = kernel(*args, **kwargs)
            elapsed = time.perf_counter() - start
            shape = str(getattr(args[0], "shape", "")) if args else ""
            timings.setdefault((name, shape), []).append(elapsed)
            return result

        return call

    step()
    for name, kernel in originals.items():
        setattr(_kernels, name, timed(name, kernel))
    try:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        step_us = 1e6 * (time.perf_counter() - start) / steps
    finally:
        for name, kernel in originals.items():
            setattr(_kernels, name, kernel)
    rows = [
        {
            "kernel": name,
            "input_shape": shape,
            "calls": len(t) // steps,
            "us_per_step": 1e6 * sum(t) / steps,
        }
        for (name, shape), t in timings.items()
    ]
    rows.sort(key=lambda row: -row["us_per_step"])
    return step_us, rows
