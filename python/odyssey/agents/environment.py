"""The environment of the code an agent runs (Markdown code blocks, the CLI's parser, ruff,
``odyssey validate``): this process's, without the credentials.

A documentation block or a check runs code from the repository and from PyPI; it must not be able
to read the model's key or a GitHub token from its environment. Dropped: every variable whose name
(in any case) ends in ``_TOKEN``, ``_KEY`` or ``_PAT``, or contains ``SECRET``, ``PASSWORD``,
``CREDENTIAL``, ``TOKEN`` or ``API_KEY``, every ``ANTHROPIC_*`` one, and the ``ACTIONS_*`` ones that
let a step talk to the runner (``ACTIONS_RUNTIME_TOKEN``, ``ACTIONS_ID_TOKEN_REQUEST_URL``, ...).

This only covers the environment a child is given: a child can still read the environment its
ancestors started with (``/proc/PID/environ``), so a key must also stay out of the process tree
that runs such code (the agents' workflows hold it only in a step that runs no repository code).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["is_credential_name", "without_credentials"]

_SUFFIXES = ("_TOKEN", "_KEY", "_PAT")
_PARTS = ("SECRET", "PASSWORD", "CREDENTIAL", "TOKEN", "API_KEY")
_PREFIXES = (
    "ANTHROPIC_",
    "ACTIONS_RUNTIME",
    "ACTIONS_ID_TOKEN",
    "ACTIONS_CACHE",
    "ACTIONS_RESULTS",
)


def is_credential_name(name: str) -> bool:
    """Whether an environment variable of this name may hold a credential (see the module)."""
    upper = name.upper()
    return (
        upper.endswith(_SUFFIXES)
        or any(part in upper for part in _PARTS)
        or upper.startswith(_PREFIXES)
    )


def without_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `environ` (default: this process's) without the variables that may hold a
    credential; what a child process running repository or PyPI code is given."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if not is_credential_name(name)}
