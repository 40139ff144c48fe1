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
    functions: Sequence[Callable[[], object]], rounds: int, target_seconds: float
) -> list[float]:
    """Median seconds per call of each function, timed in alternating rounds, so that a change in
    the machine's load during the run hits every contender alike."""
    for function in functions:
        function()  # warm caches, pages and thread pools
    counts = [calls_per_round(function, target_seconds) for function in functions]
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, count, sink in zip(functions, counts, times, strict=True):
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
