"""odyssey.agents.core against the fake Messages API: the request, the secret filter, the budget,
the retries, validation and repair, the dry run and the missing key."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("detect_secrets")

from agents.fake_api import Delay, FakeMessagesAPI, Hang, tool_answer

from odyssey.agents.core import (
    AgentError,
    ContextFile,
    build_request,
    load_agent,
    run_agent,
    safe_write,
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["summary", "score"],
    "additionalProperties": False,
    "properties": {"summary": {"type": "string"}, "score": {"type": "integer", "minimum": 0}},
}
GOOD = {"summary": "fine", "score": 3}
BAD = {"summary": "fine", "score": "three"}
TOOL = "echo_answer"
# Secret-looking values planted in the context, assembled at run time so that this file holds
# none whole (nox -s security's detect-secrets scan of the repository must not flag them).
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "x1Y2" * 9
WORD = "hunter2" * 2
KEY_BLOCK = "-----BEGIN RSA PRIVATE" + " KEY-----\nMIIEabc\n"


@pytest.fixture
def spec(tmp_path: Path):
    root = tmp_path / "agents"
    folder = root / "echo"
    folder.mkdir(parents=True)
    (folder / "agent.toml").write_text(
        'name = "echo"\ndescription = "Echoes."\nmax_tokens = 512\ntemperature = 0.0\n'
        'context_budget = 4000\ntools = ["Read"]\nclaude_name = "echo-agent"\n'
    )
    (folder / "output.schema.json").write_text(json.dumps(SCHEMA))
    (folder / "system.md.j2").write_text("You echo. Topic: {{ variables.topic }}.\n")
    (folder / "user.md.j2").write_text('Files:\n{% include "files.md.j2" %}\n')
    return load_agent("echo", root)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short backoff: the retry tests take milliseconds. The timeout is long enough that a
    loaded machine never times out a scripted answer (the timeout tests shorten it)."""
    monkeypatch.setenv("ODYSSEY_AGENT_TIMEOUT", "5")
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "2")
    monkeypatch.setenv("ODYSSEY_AGENT_BACKOFF", "0.01")


def serve(monkeypatch: pytest.MonkeyPatch, api: FakeMessagesAPI) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")


FILES = [ContextFile("a.py", "print('a')\n")]


def test_success_sends_the_forced_tool_and_reports_usage(spec, quick, monkeypatch, tmp_path):
    out = io.StringIO()
    with FakeMessagesAPI([tool_answer(GOOD, TOOL, input_tokens=1200, output_tokens=300)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=out, raw_dir=tmp_path / "raw")
    assert result is not None
    assert result.output == GOOD
    assert (result.input_tokens, result.output_tokens) == (1200, 300)
    assert result.cost_usd == pytest.approx((1200 * 3 + 300 * 15) / 1e6)
    (body,) = api.requests
    assert body["tool_choice"] == {"type": "tool", "name": TOOL}
    assert body["tools"][0]["input_schema"] == SCHEMA
    assert body["system"] == "You echo. Topic: t.\n"
    assert '<file path="a.py" kind="file">\nprint(\'a\')\n</file>' in body["messages"][0]["content"]
    assert body["model"] == "claude-sonnet-4-6"
    assert "1200 input + 300 output tokens, $0.0081" in out.getvalue()


def test_invalid_answer_is_repaired_with_the_errors(spec, quick, monkeypatch, tmp_path):
    with FakeMessagesAPI([tool_answer(BAD, TOOL), tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO(), raw_dir=tmp_path)
    assert result is not None
    assert result.output == GOOD
    assert result.input_tokens == 2000  # both rounds counted
    first, second = api.requests
    assert second["messages"][:1] == first["messages"]
    assistant, feedback = second["messages"][1:]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["input"] == BAD
    (reply,) = feedback["content"]
    assert reply["type"] == "tool_result"
    assert reply["is_error"] is True
    assert reply["tool_use_id"] == assistant["content"][0]["id"]
    assert "at /score: 'three' is not of type 'integer'" in reply["content"]
    assert not list(tmp_path.glob("*.json"))  # nothing saved when the repair worked


def test_invalid_twice_fails_with_the_raw_answers_saved(spec, quick, monkeypatch, tmp_path):
    with FakeMessagesAPI([tool_answer(BAD, TOOL), tool_answer({"score": -1}, TOOL)]) as api:
        serve(monkeypatch, api)
        with pytest.raises(AgentError) as failure:
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO(), raw_dir=tmp_path / "raw")
    assert failure.value.exit_status == 1
    assert "failed its schema twice" in str(failure.value)
    (saved,) = (tmp_path / "raw").glob("echo-answer-*.json")
    assert str(saved) in str(failure.value)
    record = json.loads(saved.read_text())
    assert [attempt["answer"] for attempt in record["attempts"]] == [BAD, {"score": -1}]
    assert any("'summary' is a required property" in e for e in record["attempts"][1]["errors"])


def test_429_then_success_is_retried_and_reported(spec, quick, monkeypatch):
    out = io.StringIO()
    with FakeMessagesAPI([429, 529, tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=out)
    assert result is not None
    assert result.output == GOOD
    assert len(api.requests) == 3
    assert "HTTP 429" in out.getvalue()
    assert "retry 1 of 2" in out.getvalue()
    assert "HTTP 529" in out.getvalue()
    assert "retry 2 of 2" in out.getvalue()


def test_5xx_until_the_retries_run_out_fails_with_the_reason(spec, quick, monkeypatch):
    with FakeMessagesAPI([500, 503, 500]) as api:
        serve(monkeypatch, api)
        with pytest.raises(AgentError) as failure:
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert failure.value.exit_status == 1
    assert "failed 3 times, the last with HTTP 500" in str(failure.value)
    assert len(api.requests) == 3  # the first attempt and two retries, no more


def test_a_request_error_is_not_retried(spec, quick, monkeypatch):
    with FakeMessagesAPI([400]) as api:
        serve(monkeypatch, api)
        with pytest.raises(AgentError, match="refused the request: HTTP 400"):
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert len(api.requests) == 1


def test_a_timeout_is_retried_then_answered(spec, quick, monkeypatch):
    monkeypatch.setenv("ODYSSEY_AGENT_TIMEOUT", "1")
    out = io.StringIO()
    with FakeMessagesAPI([Delay(30.0, tool_answer(BAD, TOOL)), tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=out)
    assert result is not None
    assert result.output == GOOD
    assert "no answer before the timeout; retry 1 of 2" in out.getvalue()


def test_timeouts_until_the_retries_run_out(spec, quick, monkeypatch):
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "1")
    monkeypatch.setenv("ODYSSEY_AGENT_TIMEOUT", "1")
    with FakeMessagesAPI([Hang(), Hang()]) as api:
        serve(monkeypatch, api)
        with pytest.raises(
            AgentError,
            match=r"failed 2 times, the last with no answer before the timeout \(timeout 1 s\)",
        ):
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())


def test_a_timeout_is_retried_once_only(spec, quick, monkeypatch):
    # The server keeps writing (and billing) an answer the client gave up on: a second timeout
    # ends the call even with retries left.
    monkeypatch.setenv("ODYSSEY_AGENT_RETRIES", "4")
    monkeypatch.setenv("ODYSSEY_AGENT_TIMEOUT", "1")
    with FakeMessagesAPI([Hang(), Hang(), tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        with pytest.raises(AgentError, match=r"failed 2 times.*retried once only"):
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert len(api.requests) == 2


def test_the_default_timeout_lets_a_long_answer_be_written(spec, monkeypatch):
    # Not streamed: nothing arrives before the whole answer, so 16k tokens at ~40 tokens a
    # second need far more than 120 s; a timeout set in the environment is used as it is.
    import anthropic

    monkeypatch.delenv("ODYSSEY_AGENT_TIMEOUT", raising=False)
    monkeypatch.setenv("ODYSSEY_AGENT_BACKOFF", "0.01")
    timeouts: list[float] = []

    class Recording(anthropic.Anthropic):
        def __init__(self, **kwargs):
            timeouts.append(kwargs["timeout"])
            super().__init__(**kwargs)

    monkeypatch.setattr(anthropic, "Anthropic", Recording)
    with FakeMessagesAPI([tool_answer(GOOD, TOOL), tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        run_agent(replace(spec, max_tokens=16000), {"topic": "t"}, FILES, stream=io.StringIO())
        monkeypatch.setenv("ODYSSEY_AGENT_TIMEOUT", "7")
        run_agent(replace(spec, max_tokens=16000), {"topic": "t"}, FILES, stream=io.StringIO())
    assert timeouts[0] >= 16000 / 40
    assert timeouts[1] == 7


def test_secret_files_never_reach_a_request(spec, quick, monkeypatch, tmp_path):
    files = [
        ContextFile(".env", f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"),
        ContextFile("deploy/server.pem", KEY_BLOCK),
        ContextFile("config/settings.py", f'password = "{WORD}"\n'),
        ContextFile("change.diff", f"+TOKEN = '{GITHUB_TOKEN}'\n+x = 1\n", kind="diff"),
        ContextFile("ok.py", "x = 1\n"),
    ]
    out = io.StringIO()
    with FakeMessagesAPI(
        [tool_answer(GOOD, TOOL)], forbidden=[AWS_KEY, "MIIEabc", WORD, GITHUB_TOKEN]
    ) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, files, stream=out)
    assert result is not None
    withheld = " ".join(result.request.withheld)
    assert ".env" in withheld
    assert "server.pem" in withheld
    assert "config/settings.py (detect-secrets: Secret Keyword)" in withheld
    content = api.requests[0]["messages"][0]["content"]
    assert "+TOKEN = '[REDACTED]'" in content  # the diff is kept, its token scrubbed
    assert "ok.py" in content
    assert "withheld as secrets" in out.getvalue()


def test_the_budget_drops_the_largest_diff_then_the_largest_file(spec):
    files = [
        ContextFile("small.py", "a = 1\n" * 20),
        ContextFile("large.py", "b = 2\n" * 2000),
        ContextFile("big.diff", "+c = 3\n" * 1200, kind="diff"),
        ContextFile("small.diff", "+d = 4\n" * 20, kind="diff"),
        ContextFile("ruff", "E501 line too long\n" * 200, kind="check"),
    ]
    request = build_request(spec, {"topic": "t"}, files)
    # Diffs first, the largest first; then files: small.py, next in line, is not needed.
    assert [entry.split(" ")[0] for entry in request.dropped] == [
        "big.diff",
        "small.diff",
        "large.py",
    ]
    assert request.estimated_input_tokens <= spec.context_budget
    content = request.messages[0]["content"]
    assert '<file path="ruff" kind="check">' in content
    assert '<file path="small.py" kind="file">' in content
    assert "big.diff (diff, ~" in content  # the model is told what it does not see


def test_over_budget_with_only_checks_is_an_error(spec):
    with pytest.raises(AgentError, match="budget is 4000"):
        build_request(spec, {"topic": "t"}, [ContextFile("c", "x" * 40000, kind="check")])


def test_a_missing_template_variable_is_an_error(spec):
    with pytest.raises(AgentError, match="'dict object' has no attribute 'topic'"):
        build_request(spec, {}, FILES)


def test_dry_run_prints_the_request_and_calls_nothing(spec, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = io.StringIO()
    with FakeMessagesAPI([]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        assert run_agent(spec, {"topic": "t"}, FILES, dry_run=True, stream=out) is None
    assert api.requests == []
    text = out.getvalue()
    first, rest = text.split("\n", 1)
    assert "dry run, nothing sent" in first
    assert "input tokens (budget 4000" in first
    body = json.loads(rest)
    assert body["tool_choice"]["name"] == TOOL
    assert body["system"] == "You echo. Topic: t.\n"


def test_no_key_exits_2_in_one_line(spec, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with FakeMessagesAPI([]) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        with pytest.raises(AgentError) as failure:
            run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert failure.value.exit_status == 2
    assert str(failure.value).startswith("odyssey agent echo: ANTHROPIC_API_KEY is not set")
    assert "\n" not in str(failure.value)


def test_safe_write_stays_inside_its_root(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    assert safe_write(root, "a/b.txt", "x").read_text() == "x"
    for bad in ("../escape.txt", "/etc/passwd", "a/../../escape.txt", ""):
        with pytest.raises(ValueError, match="safe_write"):
            safe_write(root, bad, "x")
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="leaves"):
        safe_write(root, "link/escape.txt", "x")
    assert not (tmp_path / "escape.txt").exists()


def test_a_broken_definition_is_named(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "agent.toml").write_text('name = "bad"\ndescription = "x"\n')
    with pytest.raises(
        AgentError, match=r"agent.toml: \(top level\): '\w+' is a required property"
    ):
        load_agent("bad", tmp_path)
    with pytest.raises(AgentError, match="no agent named 'nope'") as failure:
        load_agent("nope", tmp_path)
    assert failure.value.exit_status == 2


def test_an_answer_cut_at_max_tokens_or_without_the_tool_is_repaired(spec, quick, monkeypatch):
    text_only = tool_answer(GOOD, TOOL)
    text_only["content"] = [{"type": "text", "text": "Here is my answer: fine, 3"}]
    text_only["stop_reason"] = "end_turn"
    cut = tool_answer({"summary": "fi"}, TOOL, stop_reason="max_tokens")
    with FakeMessagesAPI([text_only, tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert result is not None
    assert result.output == GOOD
    feedback = api.requests[1]["messages"][2]["content"][0]
    assert feedback["type"] == "text"
    assert f"did not call the tool {TOOL}" in feedback["text"]
    with FakeMessagesAPI([cut, tool_answer(GOOD, TOOL)]) as api:
        serve(monkeypatch, api)
        result = run_agent(spec, {"topic": "t"}, FILES, stream=io.StringIO())
    assert result is not None
    assert result.output == GOOD
    feedback = api.requests[1]["messages"][2]["content"][0]
    assert "cut at max_tokens" in feedback["content"]


@pytest.mark.parametrize(
    "path",
    [".env", "config/.env.production", "certs/server.pem", "tls.key", "home/.ssh/id_rsa",
     "id_ed25519.pub", ".netrc", ".pypirc", "deploy/credentials.json"],
)  # fmt: skip
def test_secret_paths_are_recognised(path):
    from odyssey.agents.secret_filter import is_secret_path

    assert is_secret_path(path)


@pytest.mark.parametrize(
    "path", ["README.md", "python/odyssey/agents/secret_filter.py", "keys.py", "environment.yml"]
)
def test_ordinary_paths_are_not_secret(path):
    from odyssey.agents.secret_filter import is_secret_path

    assert not is_secret_path(path)


def test_token_shapes_are_scrubbed():
    from odyssey.agents.secret_filter import REDACTED, scrub_tokens

    tokens = [
        GITHUB_TOKEN,
        "github_pat_" + "11AAAAAAA0abcdefghijKLMNOPQRSTUV",
        "sk-ant-" + "api03-" + "ab12" * 8,
        AWS_KEY,
        "xoxb-" + "123456789012-abcdefghijkl",
        "-----BEGIN OPENSSH PRIVATE" + " KEY-----\nb3Bl\n-----END OPENSSH PRIVATE" + " KEY-----",
    ]
    text = "\n".join(f"value {i}: {token} end" for i, token in enumerate(tokens))
    scrubbed, count = scrub_tokens(text)
    assert count == len(tokens)
    for token in tokens:
        assert token not in scrubbed
    assert scrubbed.count(REDACTED) == len(tokens)
    assert "value 0: [REDACTED] end" in scrubbed
    assert scrub_tokens("nothing secret here: sha256 and skeleton-key")[1] == 0


def test_template_variables_are_scrubbed(spec):
    request = build_request(spec, {"topic": f"see {GITHUB_TOKEN} here"}, FILES)
    assert GITHUB_TOKEN not in request.system
    assert "Topic: see [REDACTED] here." in request.system
    assert any(entry.startswith("template variables (1 value") for entry in request.scrubbed)


def test_a_combined_diff_loses_the_sections_of_secret_files_only(spec):
    token = "q8w7e6r5" + "t4y3u2i1o0p9"
    diff = (
        "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -0,0 +1 @@\n"
        f"+API_TOKEN={token}\n"
        "diff --git a/src/app.py b/src/app.py\n--- a/src/app.py\n+++ b/src/app.py\n"
        "@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )
    request = build_request(spec, {"topic": "t"}, [ContextFile("change.diff", diff, "diff")])
    content = request.messages[0]["content"]
    assert token not in content
    assert "+x = 2" in content
    assert "change.diff: the section of .env (its name marks a secret)" in request.withheld


def test_a_config_diff_is_scanned_without_its_prefixes(spec):
    token = "q8w7e6r5" + "t4y3u2i1o0p9"
    diff = (
        "diff --git a/app.ini b/app.ini\n--- a/app.ini\n+++ b/app.ini\n@@ -1 +1,2 @@\n"
        f" [server]\n+api_token = {token}\n+retries = 3\n"
    )
    annotated = f"app.ini (modified)\n    1   [server]\n    2 + api_token = {token}\n"
    files = [
        ContextFile("change.diff", diff, "diff"),
        ContextFile("app.ini", annotated, "diff"),
    ]
    request = build_request(spec, {"topic": "t"}, files)
    content = request.messages[0]["content"]
    assert token not in content
    assert "+retries = 3" in content
    assert "+api_token = [REDACTED]" in content
    assert "    2 + api_token = [REDACTED]" in content


def test_an_allowlist_pragma_does_not_let_a_secret_through(spec):
    line = f'password = "{WORD}"  # pragma: allowlist secret\n'
    request = build_request(spec, {"topic": "t"}, [ContextFile("settings.py", line)])
    assert WORD not in request.messages[0]["content"]
    assert any("settings.py (detect-secrets" in entry for entry in request.withheld)


@pytest.mark.parametrize(
    "path",
    [".envrc", "deploy/secrets.yaml", "secrets.toml", "client.p12", "release.keystore",
     "credentials.yml", "aws/credentials", "terraform.tfstate", ".htpasswd"],
)  # fmt: skip
def test_more_secret_paths_are_recognised(path):
    from odyssey.agents.secret_filter import is_secret_path

    assert is_secret_path(path)
    assert not is_secret_path("docs/secrets.md")


def test_json_bearer_and_more_token_shapes_are_scrubbed():
    from odyssey.agents.secret_filter import scrub_tokens

    bearer = "eyJhbGciOi" + "JIUzI1NiJ9abc"
    stripe = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    hugging = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456"
    text = f'{{"Authorization": "Bearer {bearer}"}}\n{stripe}\n{hugging}\n'
    scrubbed, count = scrub_tokens(text)
    assert count == 3
    for token in (bearer, stripe, hugging):
        assert token not in scrubbed


def test_without_the_agents_extra_the_error_is_one_line_with_status_2(spec, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "detect_secrets", None)  # import fails as if missing
    monkeypatch.setitem(sys.modules, "detect_secrets.core.scan", None)
    with pytest.raises(AgentError, match=r"pip install 'ml-odyssey\[agents\]'") as raised:
        build_request(spec, {"topic": "t"}, FILES)
    assert raised.value.exit_status == 2


def test_prices_match_a_model_and_its_dated_ids_only():
    import math

    from odyssey.agents.core import price_usd

    assert price_usd("claude-sonnet-4-6", 1_000_000, 0) == 3.0
    assert price_usd("claude-opus-4-20250514", 0, 1_000_000) == 75.0
    assert price_usd("claude-opus-4-5-20251101", 0, 1_000_000) == 25.0
    # A later version is not charged at its family's first price: unknown until listed.
    assert math.isnan(price_usd("claude-opus-4-7", 1, 1))
