"""Fixtures shared by the suites: run a test under every ISA the machine can run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import odyssey

AVAILABLE_ISAS: list[str] = odyssey.cpu_info()["isa_available"]


@pytest.fixture(params=AVAILABLE_ISAS)
def isa(request: pytest.FixtureRequest) -> Iterator[str]:
    """Selects each runnable kernel variant in turn and restores the previous one."""
    previous = odyssey.cpu_info()["isa_selected"]
    odyssey.set_isa(request.param)
    yield request.param
    odyssey.set_isa(previous)


@pytest.fixture
def threads() -> Iterator[None]:
    """Lets a test change the thread count; restores it afterwards."""
    previous = odyssey.get_num_threads()
    yield
    odyssey.set_num_threads(previous)
