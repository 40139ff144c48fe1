"""cpu_info, ISA selection and thread settings, in process and through the environment."""

from __future__ import annotations

import json
import os
import platform
import string
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from python_run import run_python

import odyssey
from odyssey import _kernels

ALL_ISAS = ["scalar", "avx2", "avx512", "neon"]


def test_cpu_info_reports_what_was_detected_and_chosen() -> None:
    info = odyssey.cpu_info()
    for key in ("isa_available", "isa_selected", "threads", "version", "compiler", "build_type"):
        assert key in info
    assert info["version"] == odyssey.__version__
    assert info["isa_available"][0] == "scalar"
    assert set(info["isa_available"]) <= set(info["isa_compiled"]) <= set(ALL_ISAS)
    assert info["isa_selected"] in info["isa_available"]
    assert info["threads"] >= 1


def test_default_choice_is_the_fastest_available() -> None:
    result = run_python("import odyssey, json; print(json.dumps(odyssey.cpu_info()))")
    assert result.returncode == 0, result.stderr
    info = __import__("json").loads(result.stdout)
    assert info["isa_selected"] == info["isa_available"][-1]
    if info["features"]["avx512f"]:
        assert info["isa_selected"] == "avx512"
    elif info["features"]["avx2_fma"]:
        assert info["isa_selected"] == "avx2"


@pytest.mark.parametrize("name", odyssey.cpu_info()["isa_available"])
def test_odyssey_isa_forces_a_runnable_variant(name: str) -> None:
    result = run_python(
        "import odyssey; print(odyssey.cpu_info()['isa_selected'])", ODYSSEY_ISA=name
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == name


@pytest.mark.parametrize(
    "name", [n for n in ALL_ISAS if n not in odyssey.cpu_info()["isa_available"]]
)
def test_odyssey_isa_that_cannot_run_is_a_clear_error(name: str) -> None:
    result = run_python("import odyssey", ODYSSEY_ISA=name)
    assert result.returncode == 1
    assert f"ODYSSEY_ISA={name}" in result.stderr
    assert "available here: scalar" in result.stderr


def test_unknown_odyssey_isa_lists_the_known_ones() -> None:
    result = run_python("import odyssey", ODYSSEY_ISA="sse9")
    assert result.returncode == 1
    assert "ODYSSEY_ISA='sse9' is not a known ISA; expected one of: scalar, avx2" in result.stderr


def test_odyssey_num_threads() -> None:
    result = run_python("import odyssey; print(odyssey.get_num_threads())", ODYSSEY_NUM_THREADS="3")
    assert result.stdout.strip() == "3", result.stderr


@pytest.mark.parametrize("bad", ["0", "two", "-1", "2.5", "3 ", "4097", "99999999999999999999"])
def test_bad_odyssey_num_threads_fails_the_import_with_its_value(bad: str) -> None:
    result = run_python("import odyssey", ODYSSEY_NUM_THREADS=bad)
    assert result.returncode == 1
    assert (
        f"ImportError: ODYSSEY_NUM_THREADS='{bad}' is not a thread count; expected an integer "
        "from 1 to 4096, or unset it for one thread per usable core"
    ) in result.stderr


def test_set_isa(isa: str) -> None:
    assert odyssey.cpu_info()["isa_selected"] == isa


def test_set_isa_rejects_unknown_and_unrunnable_names() -> None:
    before = odyssey.cpu_info()["isa_selected"]
    with pytest.raises(ValueError, match=r"^set_isa: unknown ISA 'AVX2'; expected one of"):
        odyssey.set_isa("AVX2")
    for name in ALL_ISAS:
        if name not in odyssey.cpu_info()["isa_available"]:
            with pytest.raises(
                ValueError, match=f"^set_isa: ISA '{name}' .*available here: scalar"
            ):
                odyssey.set_isa(name)
    assert odyssey.cpu_info()["isa_selected"] == before


@pytest.mark.parametrize("name", [5, None, b"avx2", ["scalar"]])
def test_set_isa_names_its_argument_when_not_a_str(name: Any) -> None:
    before = odyssey.cpu_info()["isa_selected"]
    with pytest.raises(
        TypeError,
        match=f"^set_isa: name must be a str naming an ISA \\(available here: scalar.*\\), "
        f"got {type(name).__name__}$",
    ):
        odyssey.set_isa(name)
    assert odyssey.cpu_info()["isa_selected"] == before


def test_set_num_threads(threads: None) -> None:
    odyssey.set_num_threads(5)
    assert odyssey.get_num_threads() == 5
    assert odyssey.cpu_info()["threads"] == 5
    odyssey.set_num_threads(np.int64(2))  # any integral type, as from a computation
    assert odyssey.get_num_threads() == 2


@pytest.mark.parametrize("n", ["2", 1.5, 2.0, True, None, np.float32(2)])
def test_set_num_threads_rejects_what_is_not_an_int(threads: None, n: Any) -> None:
    odyssey.set_num_threads(3)
    with pytest.raises(
        TypeError,
        match=f"^set_num_threads: n must be an int from 1 to 4096, got {type(n).__name__}$",
    ):
        odyssey.set_num_threads(n)
    assert odyssey.get_num_threads() == 3


@pytest.mark.parametrize("n", [0, -1, 4097, 2**31, 2**64])
def test_set_num_threads_rejects_counts_out_of_range(threads: None, n: int) -> None:
    odyssey.set_num_threads(3)
    with pytest.raises(
        ValueError, match=f"^set_num_threads: n must be an int from 1 to 4096, got {n}$"
    ):
        odyssey.set_num_threads(n)
    assert odyssey.get_num_threads() == 3


def test_bindings_keep_their_own_range_check(threads: None) -> None:
    odyssey.set_num_threads(3)
    with pytest.raises(ValueError, match=r"^set_num_threads: n must be from 1 to 4096, got 0$"):
        _kernels.set_num_threads(0)
    assert _kernels.MAX_THREADS == odyssey.runtime.MAX_THREADS == 4096
    assert odyssey.get_num_threads() == 3


# A child that runs $before, caps its own address space a little above what it has mapped (room
# for a few thread stacks of 8 MiB each, not for hundreds), then runs $after. The tests run as
# root, which RLIMIT_NPROC does not bind, so the address space is the limit used. It prints one
# JSON line: what happened, or why the cap could not be applied.
LIMITED_CHILD = string.Template(
    textwrap.dedent(
        """
    import json, mmap, resource
    import numpy as np
    import odyssey
    from odyssey import _kernels
    import odyssey.nn.functional as F

    x = np.random.default_rng(0).standard_normal(1_000_003).astype(np.float32)
    a = np.random.default_rng(1).standard_normal((256, 300)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((200, 300)).astype(np.float32)

    def results():
        return [np.float32(_kernels.sum(x)).tobytes().hex(),
                F.linear(odyssey.tensor(a), odyssey.tensor(w)).numpy().tobytes().hex()]

    def cap_address_space():
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = kib * 1024 + (64 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:  # more than the room left: must fail if the cap binds (qemu-user ignores it)
            mmap.mmap(-1, 128 << 20).close()
        except OSError:
            return
        raise ValueError("RLIMIT_AS is accepted but does not bind here")

    report = {}
    $before
    try:
        cap_address_space()
    except (OSError, ValueError, StopIteration) as error:
        report["skip"] = f"cannot cap the address space: {error!r}"
    else:
        $after
        report["threads"] = odyssey.get_num_threads()
        report["again"] = results()
        odyssey.set_num_threads(1)
        report["one_thread"] = results()
    print(json.dumps(report))
    """
    )
)


def run_limited(before: str, after: str, **env: str) -> dict[str, Any]:
    """Runs LIMITED_CHILD with `before` (uncapped) and `after` (capped) as its two steps."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("ASan reserves terabytes of address space; RLIMIT_AS cannot be capped under it")
    if not sys.platform.startswith("linux"):
        pytest.skip("the address-space cap reads /proc/self/status (Linux)")
    # $before stands at the margin, $after one level in.
    code = LIMITED_CHILD.substitute(before=before, after=textwrap.indent(after, "    ").lstrip())
    try:
        result = run_python(code, **env)
    except subprocess.TimeoutExpired:
        pytest.fail("the child hung: a thread count the system cannot start must not deadlock")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    if "skip" in report:
        pytest.skip(report["skip"])
    assert report["again"] == report["one_thread"], "results depend on the thread count"
    return report


def test_a_thread_count_the_system_cannot_start_is_refused() -> None:
    report = run_limited(
        before="odyssey.set_num_threads(3)\nresults()",
        after=(
            "try:\n"
            "    odyssey.set_num_threads(400)\n"
            "except RuntimeError as error:\n"
            "    report['error'] = str(error)\n"
        ),
    )
    message = report.get("error", "no RuntimeError")
    assert message.startswith("set_num_threads: cannot run 400 threads: only "), message
    assert "of the 399 worker threads that 400 threads need could be started" in message
    assert "(the system refused the next one: " in message
    assert "the thread count stays 3" in message
    assert "ulimit" in message
    assert report["threads"] == 3


def test_odyssey_num_threads_the_system_cannot_start_keeps_the_threads_that_did() -> None:
    report = run_limited(
        before="pass",
        after=(
            "assert odyssey.get_num_threads() == 4096\n"
            "try:\n"
            "    results()\n"
            "except RuntimeError as error:\n"
            "    report['error'] = str(error)\n"
        ),
        ODYSSEY_NUM_THREADS="4096",
    )
    message = report.get("error", "no RuntimeError")
    assert message.startswith("ODYSSEY_NUM_THREADS=4096: only "), message
    assert "This call did not run; the pool keeps the" in message
    assert 1 <= report["threads"] < 4096
    assert f"later calls run on {report['threads']} threads" in message
    assert f"set ODYSSEY_NUM_THREADS to at most {report['threads']}" in message


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_pool_works_in_a_forked_child(threads: None) -> None:
    odyssey.set_num_threads(2)
    x = np.ones(1000003, dtype=np.float32)
    assert _kernels.sum(x) == 1000003.0  # starts the parent's pool
    pid = os.fork()
    if pid == 0:  # the child: the parent's workers are gone; a new pool must start
        code = 0 if _kernels.sum(x) == 1000003.0 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_stub_lists_exactly_the_module_api() -> None:
    stub = Path(_kernels.__file__).with_name("_kernels.pyi").read_text(encoding="utf-8")
    declared = {
        line.split("(")[0].removeprefix("def ").strip()
        for line in stub.splitlines()
        if line.startswith("def ")
    }
    public = {
        name
        for name in dir(_kernels)
        if not name.startswith("_") and callable(getattr(_kernels, name))
    }
    assert declared == public


@pytest.fixture
def no_flush() -> Iterator[None]:
    """Turns flush-to-zero off again after the test."""
    yield
    odyssey.set_flush_denormal(False)


FLUSHING_CPU = platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64")


@pytest.mark.skipif(not FLUSHING_CPU, reason="x86-64 and AArch64 have a flush-to-zero mode")
def test_set_flush_denormal_flushes_subnormal_results(no_flush: None) -> None:
    a = np.full(1000, 1e-20, np.float32)  # a * a = 1e-40 is subnormal
    assert odyssey.set_flush_denormal(True) is True
    assert not _kernels.mul(a, a).any()
    assert odyssey.set_flush_denormal(False) is True
    assert (_kernels.mul(a, a) > 0).all()


@pytest.mark.skipif(not FLUSHING_CPU, reason="x86-64 and AArch64 have a flush-to-zero mode")
def test_flushing_follows_the_caller_onto_every_thread(threads: None, no_flush: None) -> None:
    """The pool's workers run their chunks under the caller's mode, so the bits are the same for
    every thread count (a worker that kept its own mode would leave its chunks subnormal)."""
    a = np.full(4 * (1 << 15) + 3, 1e-20, np.float32)  # several of mul's parallel chunks
    odyssey.set_flush_denormal(True)
    results = []
    for n in (1, 2, 4):
        odyssey.set_num_threads(n)
        results.append(_kernels.mul(a, a).tobytes())
    assert results[0] == results[1] == results[2]
    assert not np.frombuffer(results[2], np.float32).any()


@pytest.mark.parametrize("mode", [1, None, "yes", 0.0])
def test_set_flush_denormal_takes_a_bool(mode: Any) -> None:
    with pytest.raises(
        TypeError, match=f"^set_flush_denormal: mode must be a bool, got {type(mode).__name__}$"
    ):
        odyssey.set_flush_denormal(mode)
