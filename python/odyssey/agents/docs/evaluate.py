"""The docs agent's evaluation: trees with planted drift (tests/agents/eval/docs/<case>/), the
agent's answer applied to a copy of the tree and the checks run again.

A case folder holds ``case.json`` (``expected``: the ids of the planted drift) and ``tree/``,
a small repository with its own ``[tool.odyssey.docs-agent]`` settings. Scores:
``found`` (the share of the planted drift the checks find: 1 unless the checks regressed),
``applied`` (the edits apply and change no code), ``fixed`` (the share of the planted drift gone
after the patch), ``clean`` (1 when no drift at all is left or added).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from odyssey.agents.core import ContextFile
from odyssey.agents.docs import _drift_variables, context_for
from odyssey.agents.docs.drift import find_drift, load_config
from odyssey.agents.docs.patch import PatchError, apply_edits, copy_tree

__all__ = ["prepare", "score"]


def _tree(case: dict[str, Any]) -> Path:
    return Path(case["_directory"]) / "tree"


def prepare(case: dict[str, Any]) -> tuple[dict[str, Any], list[ContextFile]]:
    """The request the agent gets for the case's tree: its drift and the files concerned."""
    root = _tree(case)
    drift = find_drift(root, load_config(root))
    return _drift_variables(drift), context_for(root, drift)


def score(case: dict[str, Any], output: dict[str, Any]) -> dict[str, float]:
    """Scores an answer on the case (see the module's docstring)."""
    root = _tree(case)
    config = load_config(root)
    before = find_drift(root, config)
    expected = set(case["expected"])
    found = len(expected & {d.id for d in before}) / max(1, len(expected))
    shown = {d.path for d in before}
    with tempfile.TemporaryDirectory(prefix="docs-eval-") as scratch:
        copy = Path(scratch)
        copy_tree(root, [p.relative_to(root).as_posix() for p in root.iterdir()], copy)
        try:
            apply_edits(copy, output.get("files", []), shown)
        except PatchError:
            return {"found": found, "applied": 0.0, "fixed": 0.0, "clean": 0.0}
        after = {d.id for d in find_drift(copy, config)}
    fixed = len(expected - after) / max(1, len(expected))
    return {"found": found, "applied": 1.0, "fixed": fixed, "clean": float(not after)}
