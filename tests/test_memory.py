"""The malloc settings applied at import: on glibc unless the user chose their own."""

from __future__ import annotations

import platform

import pytest

from odyssey._memory import retain_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_applied_on_glibc():
    assert retain_freed_memory()


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not retain_freed_memory()
