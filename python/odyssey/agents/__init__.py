"""LLM-assisted agents for the people who add papers and review code (the optional extra
``agents``: ``pip install 'ml-odyssey[agents]'``); nothing else in odyssey imports them.

Each agent is a subpackage holding its definition (``agent.toml``, ``output.schema.json``, the
Jinja2 prompts) and a little code that gathers its context deterministically and acts on the
validated answer; `odyssey.agents.core` is the common ground (request, secret filter, budget,
call, validation). Run them with ``odyssey agent <name>``; ``--dry-run`` shows the request.
Agents write files only inside the folder they are asked to write to, and never commit, push or
merge: a human does.
"""

from __future__ import annotations

from odyssey.agents.core import (
    AgentError,
    AgentRequest,
    AgentResult,
    AgentSpec,
    ContextFile,
    agent_names,
    build_request,
    load_agent,
    run_agent,
    safe_write,
)

__all__ = [
    "AgentError",
    "AgentRequest",
    "AgentResult",
    "AgentSpec",
    "ContextFile",
    "agent_names",
    "build_request",
    "load_agent",
    "run_agent",
    "safe_write",
]
