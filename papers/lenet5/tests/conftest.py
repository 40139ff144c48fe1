"""The repository's test fixtures (tests/conftest.py: gradcheck ...) for this paper's tests when
pytest runs them from here (`pytest papers/lenet5/tests`); the default run collects them through
tests/test_paper_lenet5.py, where those fixtures are already in scope."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_odyssey_repository_conftest", _PATH)
assert _spec is not None
assert _spec.loader is not None
_repository = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_repository)

gradcheck = _repository.gradcheck
