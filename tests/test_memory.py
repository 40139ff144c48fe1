"""The malloc settings applied at import: on glibc unless the user chose their own."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from odyssey._memory import retain_freed_memory


def _malloc_replaced_by_asan() -> bool:
    """Under the sanitize session ASan's allocator (preloaded) serves malloc, not glibc's."""
    maps = Path("/proc/self/maps")
    return maps.exists() and "libasan" in maps.read_text()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
@pytest.mark.skipif(_malloc_replaced_by_asan(), reason="ASan replaces glibc's malloc")
def test_applied_on_glibc():
    assert retain_freed_memory()


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not retain_freed_memory()
