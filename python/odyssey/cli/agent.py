"""``odyssey agent NAME``: the LLM-assisted agents (the optional extra ``agents``).

    odyssey agent NAME [options]          run an agent: research (a draft paper folder from a
                                          paper), review (a review of a change), docs (list
                                          documentation drift, or draft a patch fixing it)
    odyssey agent claude-sync [--check]   .claude/agents/*.md from the agents' definitions

Every agent takes ``--dry-run`` (print the exact request and its token estimate, send nothing),
``--model`` and ``--save-raw DIR`` (where an answer that fails its schema twice is saved).
Exit status: 0 done, 1 a failure (the call, the answer, or the agent's own check), 2 a usage
error or no ``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from types import ModuleType

# The agents the command knows, in the order of its help; one not installed is left out.
AGENTS = ("research", "review", "docs")


def _agent_module(name: str) -> ModuleType | ImportError | None:
    """The agent's module; None when it is not installed; the ImportError when a dependency of
    it is missing or broken (the agent is then listed as unavailable, and every other command
    of ``odyssey`` still works)."""
    module_name = f"odyssey.agents.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        return error
    except ImportError as error:
        return error


def _unavailable(name: str, error: ImportError) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(
            f"odyssey agent {name}: unavailable ({error}); pip install 'ml-odyssey[agents]'",
            file=sys.stderr,
        )
        return 2

    return run


def _runner(name: str, module: ModuleType) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from odyssey.agents.core import AgentError

        try:
            return int(module.run(args))
        except AgentError as error:
            print(error, file=sys.stderr)
            return error.exit_status

    return run


def _claude_sync(args: argparse.Namespace) -> int:
    from odyssey.agents.claude import sync
    from odyssey.agents.core import AgentError

    try:
        return sync(check=args.check)
    except AgentError as error:
        print(error, file=sys.stderr)
        return error.exit_status


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``agent`` and one subcommand per installed agent to the ``odyssey`` parser."""
    from odyssey.agents.core import AgentError, load_agent

    parser = commands.add_parser(
        "agent",
        help="LLM-assisted agents: research, review, docs (needs the agents extra)",
        description="Run an agent. Each takes --dry-run (print the exact request, send "
        "nothing); a run that asks the model needs ANTHROPIC_API_KEY.",
    )
    agents = parser.add_subparsers(dest="agent", metavar="AGENT")
    parser.set_defaults(run=lambda args: (parser.print_help(), 2)[1])
    for name in AGENTS:
        module = _agent_module(name)
        if module is None:
            continue
        if isinstance(module, ImportError):
            # Whatever follows is taken (its options are unknown): the run says why it cannot.
            sub = agents.add_parser(
                name, help=f"(unavailable: {module})", prefix_chars="\0", add_help=False
            )
            sub.add_argument("ignored", nargs="*")
            sub.set_defaults(run=_unavailable(name, module))
            continue
        try:
            spec = load_agent(name)
        except AgentError as error:  # a broken definition shows when it is used, not here
            help_text = f"(broken definition: {error})"
        else:
            help_text = spec.description
        sub = agents.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        common = sub.add_argument_group("every agent")
        common.add_argument(
            "--dry-run",
            action="store_true",
            help="print the exact request and its token estimate; send nothing",
        )
        common.add_argument("--model", help="the model to ask (default: the agent's)")
        common.add_argument(
            "--save-raw",
            metavar="DIR",
            default="agent-raw",
            help="where an answer failing its schema twice is saved (default: agent-raw)",
        )
        sub.set_defaults(run=_runner(name, module))
    sync = agents.add_parser(
        "claude-sync",
        help="write .claude/agents/*.md from the agents' definitions",
        description="Write .claude/agents/<claude_name>.md (Claude Code subagents) from each "
        "agent's agent.toml and system prompt; --check only reports a drifted file (exit 1).",
    )
    sync.add_argument("--check", action="store_true", help="report drift, write nothing")
    sync.set_defaults(run=_claude_sync)
