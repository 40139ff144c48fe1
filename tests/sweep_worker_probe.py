"""A forkserver worker's body for tests/test_sweep_local.py, in a module of its own: a worker
unpickles its target by module name, and pytest's importlib mode names test files in ways a
worker cannot import (`tests.test_sweep_local`), while tests/ is on every worker's path."""

from __future__ import annotations

import os


def report_blas_threads(connection) -> None:
    """Sends this worker's OPENBLAS_NUM_THREADS and the size of the BLAS thread pool numpy loaded
    with (when threadpoolctl can tell)."""
    try:
        from threadpoolctl import threadpool_info

        pools = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    except ImportError:
        pools = []
    connection.send((os.environ.get("OPENBLAS_NUM_THREADS"), pools))
