"""The common ground of the agents: their definitions, the request, the call and the answer.

An agent is a folder ``odyssey/agents/<name>/`` holding ``agent.toml`` (model, limits, budget),
``output.schema.json`` (its answer's JSON Schema), ``system.md.j2`` and ``user.md.j2`` (Jinja2,
StrictUndefined: a missing variable is an error, not an empty string). `build_request` turns the
agent's variables and context files into the request: the secret filter first
(`odyssey.agents.secret_filter`), then the input-token budget, then the templates and the answer
tool. `run_agent` sends it (or prints it, for a dry run), validates the answer against the schema,
asks once for a repair with the validation errors, and reports tokens and cost.

The budget rule: the input is estimated at one token per 3.5 characters (the request's text and
the tool's schema, plus the tool-use preamble); while it is over ``context_budget``, whole files
are dropped, the largest diff first, then the largest file; deterministic check output
(kind ``"check"``) is never dropped. What was dropped is reported in the request and shown to the
model through the ``omitted`` template variable.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import json
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from odyssey._atomic import write_text_atomic

__all__ = [
    "AGENTS_DIRECTORY",
    "AgentError",
    "AgentRequest",
    "AgentResult",
    "AgentSpec",
    "ContextFile",
    "agent_names",
    "build_request",
    "estimate_tokens",
    "load_agent",
    "price_usd",
    "render_prompts",
    "request_body",
    "run_agent",
    "safe_write",
]

AGENTS_DIRECTORY = Path(__file__).resolve().parent
_TEMPLATES = AGENTS_DIRECTORY / "templates"
# claude-sonnet-4-5 reached its end of life on 2026-11-30 (the SDK's deprecation table).
DEFAULT_MODEL = "claude-sonnet-4-6"
CHARACTERS_PER_TOKEN = 3.5
# What the API adds to the input when a tool is forced (its tool-use system prompt), roughly.
TOOL_OVERHEAD_TOKENS = 350
# US dollars per million input and output tokens, by model id prefix (Anthropic's price list).
# US dollars per million input and output tokens, by model (an id may add a -YYYYMMDD date or
# -latest). An unlisted version is unknown, not the price of its family's first version.
PRICES = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
}
_AGENT_TOML_SCHEMA = {
    "type": "object",
    "required": ["name", "description", "max_tokens", "context_budget", "tools", "claude_name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "description": {"type": "string", "minLength": 1, "pattern": "^[^\\n]+$"},
        "model": {"type": "string", "minLength": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "context_budget": {"type": "integer", "minimum": 1000},
        "tools": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "claude_name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
    },
}


class AgentError(Exception):
    """A run that cannot go on: `exit_status` 1 (a failure) or 2 (usage, no key), one line."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        if isinstance(message, int) and isinstance(exit_status, str):  # AgentError(2, "...")
            message, exit_status = exit_status, message
        if exit_status not in (1, 2):
            raise ValueError(f"AgentError: exit_status must be 1 or 2, got {exit_status!r}")
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True)
class ContextFile:
    """A file shown to the model: its repository-relative path, its text and its kind
    (``"file"``, ``"diff"``, or ``"check"``: deterministic check output, never dropped)."""

    path: str
    text: str
    kind: str = "file"

    def __post_init__(self) -> None:
        if self.kind not in ("file", "diff", "check"):
            raise ValueError(
                f"ContextFile: kind must be 'file', 'diff' or 'check', got {self.kind!r}"
            )


@dataclass(frozen=True)
class AgentSpec:
    """An agent's definition, read from its folder by `load_agent`."""

    name: str
    description: str
    model: str
    max_tokens: int
    temperature: float
    context_budget: int
    tools: tuple[str, ...]
    claude_name: str
    output_schema: dict[str, Any]
    directory: Path

    @property
    def tool_name(self) -> str:
        """The name of the tool through which the model answers."""
        return f"{self.name}_answer"


@dataclass(frozen=True)
class AgentRequest:
    """A rendered request: prompts, the answer tool, its estimated input tokens, and the files
    the budget cut (`dropped`), the secret filter withheld (`withheld`) or scrubbed (`scrubbed`)."""

    system: str
    messages: list[dict[str, Any]]
    tool: dict[str, Any]
    estimated_input_tokens: int
    dropped: list[str]
    withheld: list[str] = field(default_factory=list)
    scrubbed: list[str] = field(default_factory=list)
    files: list[ContextFile] = field(default_factory=list)


@dataclass(frozen=True)
class AgentResult:
    """A validated answer, the request it answers, the tokens used over all rounds and their
    cost in US dollars (NaN for a model without a known price)."""

    output: dict[str, Any]
    request: AgentRequest
    input_tokens: int
    output_tokens: int
    cost_usd: float


def agent_names(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The agents present in this installation: the subpackages holding an ``agent.toml``."""
    base = Path(root) if root is not None else AGENTS_DIRECTORY
    return sorted(p.parent.name for p in base.glob("*/agent.toml"))


def _toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AgentError(f"odyssey agent: {path} is not valid TOML: {error}") from None


def load_agent(name: str, root: str | os.PathLike[str] | None = None) -> AgentSpec:
    """The agent `name` (``research``, ``review``, ``docs`` ...), its definition checked; `root`
    is the folder holding the agents' folders (default: this package's, `AGENTS_DIRECTORY`)."""
    import jsonschema

    base = Path(root) if root is not None else AGENTS_DIRECTORY
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise AgentError(f"odyssey agent: no agent named {name!r}", 2)
    directory = base / name
    definition = directory / "agent.toml"
    if not definition.is_file():
        known = ", ".join(agent_names(base)) or "none"
        raise AgentError(f"odyssey agent: no agent named {name!r} (known: {known})", 2)
    data = _toml(definition)
    errors = sorted(jsonschema.Draft202012Validator(_AGENT_TOML_SCHEMA).iter_errors(data), key=str)
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path) or "(top level)"
        raise AgentError(f"odyssey agent: {definition}: {where}: {errors[0].message}")
    if data["name"] != name:
        raise AgentError(f"odyssey agent: {definition}: name is {data['name']!r}, not {name!r}")
    schema_path = directory / "output.schema.json"
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, json.JSONDecodeError, jsonschema.SchemaError) as error:
        message = str(error).splitlines()[0]
        raise AgentError(
            f"odyssey agent: {schema_path}: not a valid JSON Schema: {message}"
        ) from None
    if schema.get("type") != "object":
        raise AgentError(f"odyssey agent: {schema_path}: the answer must be an object")
    for template in ("system.md.j2", "user.md.j2"):
        if not (directory / template).is_file():
            raise AgentError(f"odyssey agent: {directory / template} is missing")
    return AgentSpec(
        name=name,
        description=data["description"],
        model=data.get("model", DEFAULT_MODEL),
        max_tokens=data["max_tokens"],
        temperature=float(data.get("temperature", 0.0)),
        context_budget=data["context_budget"],
        tools=tuple(data["tools"]),
        claude_name=data["claude_name"],
        output_schema=schema,
        directory=directory,
    )


def estimate_tokens(text: str) -> int:
    """Input tokens of `text`, estimated at `CHARACTERS_PER_TOKEN` characters a token (no call:
    a dry run and the budget cut must work offline; code tokenizes denser than prose)."""
    return math.ceil(len(text) / CHARACTERS_PER_TOKEN)


def _environment(spec: AgentSpec) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(spec.directory), str(_TEMPLATES)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # B701: Markdown for a model, never HTML
        autoescape=False,  # nosec B701
    )


def render_prompts(
    spec: AgentSpec,
    variables: dict[str, Any],
    files: list[ContextFile],
    omitted: list[str],
    *,
    claude_code: bool = False,
) -> tuple[str, str]:
    """The system and user prompts of `spec` on these variables and files. The templates also
    get `omitted` (what the filter and the budget left out), `agent` (the spec) and
    `claude_code` (True when the system prompt is rendered for ``.claude/agents/``)."""
    import jinja2

    environment = _environment(spec)
    context = {
        "variables": variables,
        "files": files,
        "omitted": omitted,
        "agent": spec,
        "claude_code": claude_code,
    }
    try:
        return tuple(  # type: ignore[return-value]
            environment.get_template(name).render(**context)
            for name in ("system.md.j2", "user.md.j2")
        )
    except jinja2.TemplateError as error:
        raise AgentError(f"odyssey agent {spec.name}: its prompt templates: {error}") from None


def _tool(spec: AgentSpec) -> dict[str, Any]:
    return {
        "name": spec.tool_name,
        "description": f"Submit the answer of the {spec.name} agent. Call it exactly once, "
        "with the whole answer, following the input schema exactly.",
        "input_schema": spec.output_schema,
    }


def _estimate(system: str, user: str, tool: dict[str, Any]) -> int:
    return (
        estimate_tokens(system)
        + estimate_tokens(user)
        + estimate_tokens(json.dumps(tool))
        + TOOL_OVERHEAD_TOKENS
    )


def build_request(
    spec: AgentSpec, variables: dict[str, Any], files: list[ContextFile]
) -> AgentRequest:
    """The request for `spec`: secret filter, budget cut and templates (see the module's
    docstring); raises AgentError when even the files that cannot be dropped exceed the budget."""
    from odyssey.agents.secret_filter import filter_context, scrub_value

    try:
        filtered = filter_context(list(files))
    except ImportError as error:  # detect-secrets, without the agents extra
        raise AgentError(
            f"odyssey agent {spec.name}: {error.name or error} is missing: "
            "pip install 'ml-odyssey[agents]'",
            2,
        ) from None
    # The variables carry text from outside too (a pull request's title, a paper's abstract).
    variables, replaced = scrub_value(dict(variables))
    scrubbed = list(filtered.scrubbed)
    if replaced:
        scrubbed.append(f"template variables ({replaced} value{'s' if replaced != 1 else ''})")
    kept = list(filtered.files)
    # Drop order: diffs before files, the largest first; a tie keeps the given order.
    candidates = sorted(
        (file for file in kept if file.kind != "check"),
        key=lambda file: (file.kind != "diff", -len(file.text)),
    )
    tool = _tool(spec)
    dropped: list[str] = []
    while True:
        omitted = [*dropped, *filtered.withheld]
        system, user = render_prompts(spec, variables, kept, omitted)
        estimate = _estimate(system, user, tool)
        if estimate <= spec.context_budget:
            break
        if not candidates:
            raise AgentError(
                f"odyssey agent {spec.name}: the request needs about {estimate} input tokens "
                f"with every file that may be dropped cut; the budget is {spec.context_budget}"
            )
        victim = candidates.pop(0)
        kept.remove(victim)
        dropped.append(f"{victim.path} ({victim.kind}, ~{estimate_tokens(victim.text)} tokens)")
    return AgentRequest(
        system=system,
        messages=[{"role": "user", "content": user}],
        tool=tool,
        estimated_input_tokens=estimate,
        dropped=dropped,
        withheld=list(filtered.withheld),
        scrubbed=scrubbed,
        files=kept,
    )


@functools.cache
def _sdk_parameters() -> frozenset[str] | None:
    """The parameters the installed SDK's ``messages.create`` takes (None without the SDK)."""
    try:
        from anthropic.resources.messages import Messages
    except ImportError:
        return None
    return frozenset(inspect.signature(Messages.create).parameters)


def request_body(spec: AgentSpec, request: AgentRequest, model: str | None = None) -> dict:
    """The JSON body of ``POST /v1/messages`` for `request`: the answer tool forced.

    ``temperature`` is sent only where the installed SDK still takes it (releases from 2.x on
    dropped the sampling parameters from the Messages API)."""
    body = {
        "model": model or spec.model,
        "max_tokens": spec.max_tokens,
        "temperature": spec.temperature,
        "system": request.system,
        "messages": request.messages,
        "tools": [request.tool],
        "tool_choice": {"type": "tool", "name": request.tool["name"]},
    }
    accepted = _sdk_parameters()
    if accepted is not None and "temperature" not in accepted:
        del body["temperature"]
    return body


def price_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """The cost of these tokens on `model` in US dollars; NaN when its price is not known."""
    for name, (per_input, per_output) in PRICES.items():
        if re.fullmatch(re.escape(name) + r"(?:-\d{8}|-latest)?", model):
            return (input_tokens * per_input + output_tokens * per_output) / 1e6
    return math.nan


def _print_request_report(spec: AgentSpec, request: AgentRequest, say: Callable) -> None:
    for label, paths in (
        ("withheld as secrets", request.withheld),
        ("scrubbed", request.scrubbed),
        (f"dropped to fit the budget of {spec.context_budget} input tokens", request.dropped),
    ):
        if paths:
            say(f"{label}: {'; '.join(paths)}")


def _validation_errors(schema: dict[str, Any], answer: Any) -> list[str]:
    import jsonschema

    # JSON Schema's "integer" accepts 5.0; an answer's sizes and counts become code, TOML and
    # shapes, where 5.0 is not 5, so a float gets the repair round like any other error.
    strict = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=strict)(
        schema
    )
    errors = sorted(validator.iter_errors(answer), key=lambda e: list(map(str, e.absolute_path)))
    messages = [
        f"at /{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in errors[:20]
    ]
    if len(errors) > 20:
        messages.append(f"... and {len(errors) - 20} more")
    return messages


def _answer_of(message: Any, tool_name: str) -> tuple[Any, list[str], Any]:
    """(the tool input or the text, the problems before schema validation, the tool_use block)."""
    blocks = [block for block in message.content if block.type == "tool_use"]
    problems = []
    if message.stop_reason == "max_tokens":
        problems.append("the answer was cut at max_tokens before it was complete")
    block = next((b for b in blocks if b.name == tool_name), None)
    if block is None:
        text = "".join(getattr(b, "text", "") for b in message.content)
        return text, [*problems, f"the answer did not call the tool {tool_name}"], None
    return block.input, problems, block


def _replayed(content: list[Any]) -> list[dict[str, Any]]:
    """The answer's blocks as the next request repeats them: only the fields a request takes
    (an SDK's response model may carry more, which the API would refuse on input)."""
    blocks: list[dict[str, Any]] = []
    for block in content:
        if block.type == "tool_use":
            blocks.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
            )
        elif block.type == "text" and block.text:
            blocks.append({"type": "text", "text": block.text})
    return blocks or [{"type": "text", "text": "(no answer)"}]


def _save_raw(spec: AgentSpec, raw_dir: Path, attempts: list[dict[str, Any]]) -> Path:
    # Microseconds and the process: two failures in one second must not overwrite each other.
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = f"{now:%Y%m%dT%H%M%S.%f}Z-{os.getpid()}"
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / f"{spec.name}-answer-{stamp}.json"
    record = {"agent": spec.name, "attempts": attempts}
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def run_agent(
    spec: AgentSpec,
    variables: dict[str, Any],
    files: list[ContextFile],
    *,
    dry_run: bool = False,
    model: str | None = None,
    raw_dir: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
) -> AgentResult | None:
    """Builds the request and sends it; returns the validated answer (None for a dry run).

    Dry run: prints the exact request body and its token estimate, calls nothing. Otherwise
    needs ``ANTHROPIC_API_KEY`` (AgentError with exit status 2 without it); an answer failing the
    schema gets one repair round with the errors, then AgentError (1) with every raw answer
    saved under `raw_dir` (default ``./agent-raw``). Tokens and cost are printed at the end.
    """
    from odyssey.agents.client import CallFailed, RetryPolicy, create_message

    out = stream if stream is not None else sys.stdout
    prog = f"odyssey agent {spec.name}"

    def say(line: str) -> None:
        print(f"{prog}: {line}", file=out, flush=True)

    request = build_request(spec, variables, files)
    body = request_body(spec, request, model)
    if dry_run:
        say(
            f"dry run, nothing sent: model {body['model']}, about "
            f"{request.estimated_input_tokens} input tokens (budget {spec.context_budget}, "
            f"{CHARACTERS_PER_TOKEN:g} characters a token), max_tokens {spec.max_tokens}"
        )
        _print_request_report(spec, request, say)
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out, flush=True)
        return None
    api_key = os.environ.get("ANTHROPIC_API_KEY", "")
    if not api_key:
        raise AgentError(
            f"{prog}: ANTHROPIC_API_KEY is not set (use --dry-run to see the request without "
            "sending it)",
            2,
        )
    try:
        policy = RetryPolicy.from_environment()
    except CallFailed as error:
        raise AgentError(f"{prog}: {error}", 2) from None
    _print_request_report(spec, request, say)
    say(f"asking {body['model']} (about {request.estimated_input_tokens} input tokens)")
    input_tokens = output_tokens = 0
    attempts: list[dict[str, Any]] = []
    messages = list(body["messages"])
    for round_ in (1, 2):
        try:
            message = create_message(
                {**body, "messages": messages}, api_key=api_key, policy=policy, report=say
            )
        except CallFailed as error:
            if attempts:
                path = _save_raw(spec, Path(raw_dir or "agent-raw"), attempts)
                raise AgentError(f"{prog}: {error}; the first answer is in {path}") from None
            raise AgentError(f"{prog}: {error}") from None
        usage = getattr(message, "usage", None)
        input_tokens += getattr(usage, "input_tokens", 0) or 0
        output_tokens += getattr(usage, "output_tokens", 0) or 0
        answer, problems, block = _answer_of(message, spec.tool_name)
        errors = problems + (
            _validation_errors(spec.output_schema, answer) if block is not None else []
        )
        attempts.append({"round": round_, "answer": answer, "errors": errors})
        if not errors:
            cost = price_usd(body["model"], input_tokens, output_tokens)
            price = f"${cost:.4f}" if not math.isnan(cost) else "cost unknown for this model"
            say(f"{input_tokens} input + {output_tokens} output tokens, {price}")
            return AgentResult(answer, request, input_tokens, output_tokens, cost)
        if round_ == 1:
            say(f"the answer does not match the schema ({len(errors)} errors); one repair round")
            feedback = (
                "Your answer does not match the output schema:\n"
                + "\n".join(f"- {error}" for error in errors)
                + f"\nCall {spec.tool_name} again with the whole corrected answer."
            )
            assistant = _replayed(message.content)
            if block is not None:
                reply = [
                    {
                        "type": "tool_result",
                        "tool_use_id": block.id,
                        "is_error": True,
                        "content": feedback,
                    }
                ]
            else:
                reply = [{"type": "text", "text": feedback}]
            messages = [
                *messages,
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": reply},
            ]
    cost = price_usd(body["model"], input_tokens, output_tokens)
    path = _save_raw(spec, Path(raw_dir or "agent-raw"), attempts)
    say(
        f"{input_tokens} input + {output_tokens} output tokens"
        + (f", ${cost:.4f}" if not math.isnan(cost) else "")
    )
    raise AgentError(
        f"{prog}: the answer failed its schema twice ({attempts[-1]['errors'][0]}); "
        f"the raw answers are in {path}"
    )


def safe_write(root: Path, relative: str, text: str) -> Path:
    """Writes `text` to `root`/`relative` atomically, refusing any path that leaves `root`
    (absolute, ``..``, or through a symbolic link); returns the file's path."""
    root = Path(root).resolve()
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise ValueError(f"safe_write: relative must be a path inside {root}, got {relative!r}")
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"safe_write: {relative!r} leaves {root}; refused")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The parent may have been created through a link made meanwhile: check again.
    if not target.parent.resolve().is_relative_to(root):
        raise ValueError(f"safe_write: {relative!r} leaves {root}; refused")
    write_text_atomic(target, text)
    return target
