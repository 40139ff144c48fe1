"""Runs papers/lenet5/tests/test_model.py in the default `pytest` run (testpaths is tests/): the
paper's test module is imported by file path and its tests are collected from here, with this
folder's conftest fixtures (gradcheck)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "papers" / "lenet5" / "tests" / "test_model.py"
_spec = importlib.util.spec_from_file_location("_odyssey_paper_lenet5_test_model", _PATH)
assert _spec is not None
assert _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

globals().update(
    {name: getattr(_module, name) for name in dir(_module) if name.startswith("test_")}
)
