"""cpu_info, ISA selection and thread settings, in process and through the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import odyssey
from odyssey import _kernels

ALL_ISAS = ["scalar", "avx2", "avx512", "neon"]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ODYSSEY_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )


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
    for bad in ("0", "two", "-1", "2.5"):
        result = run_python("import odyssey", ODYSSEY_NUM_THREADS=bad)
        assert result.returncode == 1
        assert f"ODYSSEY_NUM_THREADS='{bad}' is not a thread count" in result.stderr


def test_set_isa(isa: str) -> None:
    assert odyssey.cpu_info()["isa_selected"] == isa


def test_set_isa_rejects_unknown_and_unrunnable_names() -> None:
    before = odyssey.cpu_info()["isa_selected"]
    with pytest.raises(ValueError, match="unknown ISA 'AVX2'; expected one of"):
        odyssey.set_isa("AVX2")
    for name in ALL_ISAS:
        if name not in odyssey.cpu_info()["isa_available"]:
            with pytest.raises(ValueError, match="available here: scalar"):
                odyssey.set_isa(name)
    assert odyssey.cpu_info()["isa_selected"] == before


def test_set_num_threads(threads: None) -> None:
    odyssey.set_num_threads(5)
    assert odyssey.get_num_threads() == 5
    assert odyssey.cpu_info()["threads"] == 5
    with pytest.raises(ValueError, match="num_threads must be from 1 to 4096, got 0"):
        odyssey.set_num_threads(0)
    with pytest.raises(TypeError):
        odyssey.set_num_threads("2")  # type: ignore[arg-type]
    assert odyssey.get_num_threads() == 5


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
