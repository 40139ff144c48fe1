"""``odyssey doctor``: the report, the data and run folders, --json, and the kernel self-test (which
passes here, restores the ISA and thread count, and fails when a kernel returns wrong values)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey import _kernels
from odyssey.cli import main
from odyssey.tools import selftest

SIMD_ISAS = [isa for isa in odyssey.cpu_info()["isa_available"] if isa != "scalar"]
needs_simd = pytest.mark.skipif(not SIMD_ISAS, reason="this CPU runs only the scalar kernels")


class MisbehavingKernels:
    """``_kernels`` with one function that returns wrong values while `wrong()` is true: 1 is
    added to the first element of its (first) array result, or of an in-place kernel's first
    argument."""

    def __init__(self, name: str, wrong: Callable[[], bool]) -> None:
        self.name, self.wrong = name, wrong

    def __getattr__(self, attribute: str) -> Any:
        real = getattr(_kernels, attribute)
        if attribute != self.name:
            return real

        def misbehaving(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if self.wrong():
                changed = result[0] if isinstance(result, tuple) else result
                changed = changed if isinstance(changed, np.ndarray) else args[0]
                changed.reshape(-1)[0] += 1.0
            return result

        return misbehaving


def off_scalar() -> bool:
    return odyssey.cpu_info()["isa_selected"] != "scalar"


def on_many_threads() -> bool:
    return odyssey.get_num_threads() > 1


@pytest.fixture
def isa_restored() -> Iterator[None]:
    """Lets a test select an ISA; restores the previous one afterwards."""
    previous = odyssey.cpu_info()["isa_selected"]
    yield
    odyssey.set_isa(previous)


def test_report_prints_version_isa_threads_build_and_folders(capsys) -> None:
    assert main(["doctor", "--no-self-test"]) == 0
    text = capsys.readouterr().out
    info = odyssey.cpu_info()
    assert f"ML Odyssey     {info['version']}" in text
    assert f"ISA selected   {info['isa_selected']}" in text
    assert f"ISA available  {', '.join(info['isa_available'])}" in text
    assert f"threads        {info['threads']}" in text
    assert info["compiler"] in text
    assert info["build_type"] in text
    assert f"data cache     {odyssey.data.cache_dir()}" in text
    assert "mnist-sample: " in text  # bundled with the package, so always present
    assert f"runs           {Path('runs').resolve()}/<name>/<time>" in text


def test_json_keeps_cpu_info_and_adds_paths(capsys) -> None:
    assert main(["doctor", "--json", "--no-self-test"]) == 0
    report = json.loads(capsys.readouterr().out)
    info = odyssey.cpu_info()
    assert {key: report[key] for key in info} == info
    assert set(report) == {*info, "self_test", "paths"}
    assert report["self_test"] is None
    assert set(report["paths"]) == {"data_cache", "datasets", "runs"}
    assert set(report["paths"]["datasets"]) == set(odyssey.data.DATASETS)


def test_no_self_test_calls_no_kernel(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the self-test called {name}")

    monkeypatch.setattr(selftest, "KERNELS", Untouchable())
    assert main(["doctor", "--no-self-test"]) == 0
    assert "self-test" not in capsys.readouterr().out


def test_paths_name_the_cache_the_datasets_found_and_the_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odyssey.cli.doctor import paths

    monkeypatch.setenv("ODYSSEY_DATA", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    kmnist = tmp_path / "cache" / "kmnist"
    kmnist.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (kmnist / f"{stem}.gz").write_bytes(b"")
    found = paths()
    assert found["data_cache"] == str(tmp_path / "cache")
    assert found["datasets"]["kmnist"] == {
        "directory": str(kmnist),
        "source": "cache",
        "splits": ["train"],
    }
    assert found["datasets"]["mnist"] is None
    assert found["datasets"]["mnist-sample"]["source"] == "bundled"
    assert found["runs"] == str(tmp_path / "runs")


def test_every_kernel_function_is_in_exactly_one_family() -> None:
    functions = {
        name
        for name in dir(_kernels)
        if not name.startswith("_") and callable(getattr(_kernels, name))
    }
    declared = [name for family in selftest.FAMILIES for name in family.kernels]
    assert len(declared) == len(set(declared)), "a kernel is in two families"
    assert set(declared) == functions - selftest.RUNTIME_FUNCTIONS
    assert functions >= selftest.RUNTIME_FUNCTIONS


@pytest.mark.parametrize("family", selftest.FAMILIES, ids=lambda family: family.name)
def test_each_family_calls_every_kernel_it_declares(family: selftest.Family) -> None:
    called = set()

    def recording(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            called.add(name)
            return getattr(_kernels, name)(*args, **kwargs)

        return call

    kernels = type(
        "Recording", (), {name: staticmethod(recording(name)) for name in family.kernels}
    )
    outputs = family.run(kernels)
    assert called == set(family.kernels)
    assert outputs


def test_self_test_passes_and_restores_the_isa_and_thread_count(
    capsys, isa_restored: None, threads: None
) -> None:
    chosen = odyssey.cpu_info()["isa_available"][0]
    odyssey.set_isa(chosen)
    odyssey.set_num_threads(1)
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert odyssey.cpu_info()["isa_selected"] == chosen
    assert odyssey.get_num_threads() == 1
    for family in selftest.FAMILIES:
        row = next(line for line in text.splitlines() if line.startswith(f"{family.name}  "))
        assert "FAIL" not in row
        assert row.split()[-1] == "pass"
    assert "self-test passed" in text


def test_json_self_test_covers_every_family_isa_and_thread_count(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["self_test"]
    isas = odyssey.cpu_info()["isa_available"]
    assert report["passed"] is True
    assert report["isas"] == isas
    assert report["threads"] == [1, selftest.machine_threads()]
    assert report["threads"][1] >= 2
    assert [family["name"] for family in report["families"]] == [
        family.name for family in selftest.FAMILIES
    ]
    for family in report["families"]:
        assert family["passed"] is True
        assert list(family["isas"]) == isas
        for result in family["isas"].values():
            assert result == {
                "passed": True,
                "max_error": result["max_error"],
                "error": None,
                "thread_error": None,
            }


@needs_simd
def test_a_kernel_returning_wrong_values_fails_naming_family_and_isa(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selftest, "KERNELS", MisbehavingKernels("sgemm", off_scalar))
    assert main(["doctor"]) == 1
    text = capsys.readouterr().out
    gemm = next(line for line in text.splitlines() if line.startswith("gemm  ")).split()
    assert gemm[1] == "ref"
    assert gemm[2] == "FAIL"
    assert float(gemm[3]) == pytest.approx(1.0, rel=1e-3)
    for isa in SIMD_ISAS:
        assert f"FAIL gemm on {isa}: plain[0, 0]: want " in text
    assert "FAIL conv" not in text  # the other families still pass
    assert "self-test FAILED" in text


@needs_simd
def test_an_in_place_kernel_writing_wrong_values_fails(
    monkeypatch: pytest.MonkeyPatch, isa_restored: None, threads: None
) -> None:
    monkeypatch.setattr(selftest, "KERNELS", MisbehavingKernels("adam_step", off_scalar))
    optimizers = [family for family in selftest.FAMILIES if family.name == "optimizers"]
    report = selftest.run_self_test(optimizers)
    assert not report.passed
    results = report.families[0].isas
    assert results["scalar"].passed
    for isa in SIMD_ISAS:
        assert str(results[isa].error).startswith("adam[0]: want ")
        assert results[isa].thread_error is None


def test_a_kernel_that_depends_on_the_thread_count_fails(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selftest, "KERNELS", MisbehavingKernels("softmax", on_many_threads))
    softmax = [family for family in selftest.FAMILIES if family.name == "softmax"]
    report = selftest.run_self_test(softmax)
    assert not report.passed
    for result in report.families[0].isas.values():
        assert result.error is None
        assert result.thread_error == "softmax differs between thread counts"
    assert report.failures()[0] == "softmax on scalar: softmax differs between thread counts"


def test_a_reference_kernel_that_raises_fails_every_isa_and_restores_isa_and_threads(
    monkeypatch: pytest.MonkeyPatch, isa_restored: None, threads: None
) -> None:
    def relu_failing_on_scalar(*args: Any, **kwargs: Any) -> Any:
        if not off_scalar():
            raise RuntimeError("out of cheese")
        return _kernels.relu(*args, **kwargs)

    class Raising:
        def __getattr__(self, name: str) -> Any:
            return relu_failing_on_scalar if name == "relu" else getattr(_kernels, name)

    odyssey.set_num_threads(1)
    before = odyssey.cpu_info()["isa_selected"]
    monkeypatch.setattr(selftest, "KERNELS", Raising())
    eltwise = [family for family in selftest.FAMILIES if family.name == "eltwise"]
    report = selftest.run_self_test(eltwise)
    assert not report.passed
    assert report.families[0].isas["scalar"].error == "RuntimeError: out of cheese"
    for isa in SIMD_ISAS:
        assert report.families[0].isas[isa].error == "no scalar reference to compare with"
    assert report.to_json()["families"][0]["isas"]["scalar"]["max_error"] is None
    assert odyssey.cpu_info()["isa_selected"] == before
    assert odyssey.get_num_threads() == 1


def test_an_interrupted_self_test_restores_the_isa_and_threads(
    isa_restored: None, threads: None
) -> None:
    def interrupted(kernels: Any) -> dict[str, selftest.Output]:
        raise KeyboardInterrupt

    odyssey.set_num_threads(1)
    before = odyssey.cpu_info()["isa_selected"]
    with pytest.raises(KeyboardInterrupt):
        selftest.run_self_test([selftest.Family("interrupted", (), interrupted)])
    assert odyssey.cpu_info()["isa_selected"] == before
    assert odyssey.get_num_threads() == 1
