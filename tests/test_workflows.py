"""The GitHub Actions workflows keep the project's rules (issue 14), checked on the files.

Every workflow: least-privilege `permissions` at the top (read-only; a job widens only what it
needs), a concurrency group, `timeout-minutes` on every job, every `uses:` pinned to a full
40-character commit SHA with the version in a comment, `persist-credentials: false` on every
checkout, nothing allowed to fail silently (`continue-on-error`, `|| true`), no
`pull_request_target`, no `${{ github.event.* }}` pasted into a shell script, and only nox sessions
as the commands CI runs. Then what each workflow must guard, as the issue lists it, and
dependabot.yml. GitHub itself runs none of this here: the schema (check-jsonschema) and the security
audit (zizmor) are `nox -s lint`'s.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.y*ml"))
EXPECTED = {"ci", "papers", "benchmark", "security", "wheels", "docs"}
# The sessions a workflow may run: noxfile.py's, and the two other branches of issue 14 add.
NOX_SESSIONS = {"tests", "lint", "papers", "sanitize", "benchmark", "security", "docs"}
NOX_SESSIONS |= {"agent-docs"}  # issue 15's agents
# owner/repo[/path]@<40 hex> # v1.2.3 (a version tag, or a release branch such as release/v1).
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)"
    r"(?:\s+#\s*(?P<version>\S+))?\s*$"
)
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^(?:v\d+(?:\.\d+)*|release/v\d+)$")
SILENCERS = (
    re.compile(r"\|\|\s*true\b"),
    re.compile(r"\|\|\s*:(?:\s|$)"),
    re.compile(r"\|\|\s*exit\s+0\b"),
)


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    assert isinstance(workflow, dict), f"{path.name}: not a YAML mapping"
    # YAML 1.1 reads the key `on` as True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def run_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for job_name, step in steps(workflow):
        if "run" in step:
            yield job_name, str(step["run"])


@pytest.fixture(params=WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def workflow_file(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_every_workflow_of_the_issue_is_there() -> None:
    assert {path.stem for path in WORKFLOWS} >= EXPECTED


def test_every_uses_is_pinned_to_a_commit_sha_with_its_version(workflow_file: Path) -> None:
    lines = workflow_file.read_text().splitlines()
    uses_lines = [(number, line) for number, line in enumerate(lines, 1) if "uses:" in line]
    assert uses_lines, f"{workflow_file.name} uses no action"
    problems = []
    for number, line in uses_lines:
        if re.match(r"^\s*(?:-\s+)?uses:\s*\./", line):
            continue  # an action of this repository, at this commit
        match = PINNED_USES.match(line)
        if match is None:
            problems.append(f"{number}: not owner/repo@ref: {line.strip()}")
        elif not SHA.match(match["ref"]):
            problems.append(f"{number}: {match['action']} pinned to {match['ref']!r}, not a SHA")
        elif not (match["version"] and VERSION_COMMENT.match(match["version"])):
            problems.append(f"{number}: {match['action']} has no `# vX.Y.Z` version comment")
    assert not problems, f"{workflow_file.name}:\n" + "\n".join(problems)


def test_the_same_action_is_pinned_to_one_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = PINNED_USES.match(line)
            if match:
                repository = "/".join(match["action"].split("/")[:2])
                pins.setdefault(repository, set()).add(f"{match['ref']} {match['version']}")
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


def test_permissions_are_read_only_at_the_top(workflow_file: Path) -> None:
    workflow = load(workflow_file)
    assert "permissions" in workflow, f"{workflow_file.name} sets no top-level permissions"
    permissions = workflow["permissions"]
    assert permissions == {} or (
        isinstance(permissions, dict) and set(permissions.values()) <= {"read", "none"}
    ), f"{workflow_file.name}: top-level permissions {permissions!r} grant a write"
    for job_name, job in workflow["jobs"].items():
        job_permissions = job.get("permissions", {})
        assert job_permissions not in ("write-all", "read-all"), f"{job_name}: {job_permissions}"


def test_job_permissions_grant_writes_only_where_needed(workflow_file: Path) -> None:
    allowed = {
        "security-events": "uploads SARIF to code scanning",
        "id-token": "trusted publishing, Pages, attestations",
        "attestations": "build provenance",
        "pages": "the docs deployment",
        # Issue 15's agent-*.yml, in the jobs that hold no model key.
        "contents": "an agent's pull request: pushing its branch",
        "pull-requests": "an agent's pull request or review",
    }
    for job_name, job in load(workflow_file)["jobs"].items():
        for scope, level in job.get("permissions", {}).items():
            if level == "write":
                assert scope in allowed, f"{workflow_file.name}/{job_name}: {scope}: write"


def test_every_workflow_has_a_concurrency_group(workflow_file: Path) -> None:
    concurrency = load(workflow_file).get("concurrency")
    assert isinstance(concurrency, dict), f"{workflow_file.name} has no concurrency group"
    assert "${{ github.workflow }}" in concurrency["group"]
    assert "${{ github.ref }}" in concurrency["group"]


def test_every_job_has_a_timeout(workflow_file: Path) -> None:
    for job_name, job in load(workflow_file)["jobs"].items():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int), f"{workflow_file.name}/{job_name}: no timeout-minutes"
        assert 0 < timeout <= 180, f"{workflow_file.name}/{job_name}: timeout {timeout}"


def test_nothing_may_fail_silently(workflow_file: Path) -> None:
    workflow = load(workflow_file)
    for job_name, job in workflow["jobs"].items():
        assert "continue-on-error" not in job, f"{workflow_file.name}/{job_name}"
    for job_name, step in steps(workflow):
        assert "continue-on-error" not in step, f"{workflow_file.name}/{job_name}: {step}"
    for job_name, script in run_scripts(workflow):
        for silencer in SILENCERS:
            assert not silencer.search(script), f"{workflow_file.name}/{job_name}: {script!r}"
    text = workflow_file.read_text()
    assert not re.search(r"continue-on-error:\s*true", text)
    assert not re.search(r"\|\|\s*true", text)


def test_no_pull_request_target_nor_workflow_run(workflow_file: Path) -> None:
    on = triggers(load(workflow_file))
    assert "pull_request_target" not in on
    assert "workflow_run" not in on


def test_checkouts_do_not_persist_credentials(workflow_file: Path) -> None:
    checkouts = [
        (job_name, step)
        for job_name, step in steps(load(workflow_file))
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    for job_name, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, (
            f"{workflow_file.name}/{job_name}: checkout without persist-credentials: false"
        )


def test_no_event_data_is_pasted_into_a_script(workflow_file: Path) -> None:
    # Untrusted text (titles, branch names) goes through env:, never into the script itself.
    for job_name, script in run_scripts(load(workflow_file)):
        assert not re.search(r"\$\{\{\s*(github\.event|github\.head_ref|inputs)\b", script), (
            f"{workflow_file.name}/{job_name}: {script!r}"
        )


def test_ci_runs_only_nox_sessions_it_knows(workflow_file: Path) -> None:
    for job_name, script in run_scripts(load(workflow_file)):
        for session in re.findall(r"\bnox\s+-s\s+([\w-]+)", script):
            assert session in NOX_SESSIONS, f"{workflow_file.name}/{job_name}: nox -s {session}"


def test_ci_matrix_covers_the_platforms_and_python_range() -> None:
    workflow = load(WORKFLOW_DIR / "ci.yml")
    jobs = workflow["jobs"]
    matrix = jobs["tests"]["strategy"]["matrix"]
    assert set(matrix["python"]) >= {"3.10", "3.13"}
    runners = {entry["os"]: entry for entry in matrix["include"]}
    assert {"ubuntu-24.04", "ubuntu-24.04-arm"} <= set(runners)
    assert any(runner.startswith("macos-") for runner in runners)
    assert runners["ubuntu-24.04"]["torch"] == "1"
    assert jobs["tests"]["env"]["ODYSSEY_TEST_TORCH"] == "${{ matrix.torch }}"
    sessions = {
        session
        for _, script in run_scripts(workflow)
        for session in re.findall(r"\bnox\s+-s\s+([\w-]+)", script)
    }
    assert sessions == {"tests", "lint", "sanitize"}
    uses = [str(step.get("uses", "")) for _, step in steps(workflow)]
    assert any(action.startswith("actions/cache@") for action in uses)
    assert all(
        step.get("with", {}).get("cache") == "pip"
        for _, step in steps(workflow)
        if str(step.get("uses", "")).startswith("actions/setup-python@")
    )


def test_papers_runs_on_papers_template_and_library_changes() -> None:
    workflow = load(WORKFLOW_DIR / "papers.yml")
    for event in ("push", "pull_request"):
        paths = triggers(workflow)[event]["paths"]
        assert {"papers/**", "cookiecutter-paper/**", "python/**", "cpp/**"} <= set(paths)
    assert any("nox -s papers" in script for _, script in run_scripts(workflow))


def test_benchmark_is_label_gated_weekly_and_fails_on_a_regression() -> None:
    workflow = load(WORKFLOW_DIR / "benchmark.yml")
    on = triggers(workflow)
    assert "pull_request" in on
    assert "schedule" in on
    (job,) = workflow["jobs"].values()
    assert "contains(github.event.pull_request.labels.*.name, 'benchmark')" in job["if"]
    scripts = "\n".join(script for _, script in run_scripts(workflow))
    assert "bench compare results/base results/head" in scripts
    assert "--markdown" in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts
    assert 'exit "$status"' in scripts  # the comparison's exit status is the job's
    uses = [str(step.get("uses", "")) for _, step in steps(workflow)]
    assert any(action.startswith("actions/upload-artifact@") for action in uses)


def test_security_runs_every_scanner_on_push_pr_and_weekly() -> None:
    workflow = load(WORKFLOW_DIR / "security.yml")
    assert {"push", "pull_request", "schedule"} <= set(triggers(workflow))
    codeql = workflow["jobs"]["codeql"]["strategy"]["matrix"]["include"]
    assert {entry["language"] for entry in codeql} == {"c-cpp", "python"}
    text = (WORKFLOW_DIR / "security.yml").read_text()
    for needle in ("nox -s security", "pip-audit", "bandit -r python", "trufflehog", "zizmor"):
        assert needle in text, needle
    assert "cppcheck" in text
    assert text.count("codeql-action/upload-sarif@") >= 2  # bandit and zizmor
    secrets = workflow["jobs"]["secrets"]["steps"][0]
    assert secrets["with"]["fetch-depth"] == 0  # the full history


def test_wheels_cover_the_platforms_and_publish_by_trusted_publishing() -> None:
    workflow = load(WORKFLOW_DIR / "wheels.yml")
    names = {entry["name"] for entry in workflow["jobs"]["wheels"]["strategy"]["matrix"]["include"]}
    assert names == {
        "manylinux x86-64",
        "musllinux x86-64",
        "manylinux aarch64",
        "macOS arm64",
        "macOS x86-64",
    }
    assert "sdist" in workflow["jobs"]
    publish = workflow["jobs"]["publish"]
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"]["id-token"] == "write"
    assert publish["permissions"]["attestations"] == "write"
    uses = [str(step.get("uses", "")) for step in publish["steps"]]
    assert any(action.startswith("pypa/gh-action-pypi-publish@") for action in uses)
    assert any(action.startswith("actions/attest-build-provenance@") for action in uses)
    for step in publish["steps"]:
        assert "password" not in step.get("with", {})  # OIDC, no token
    assert "secrets." not in (WORKFLOW_DIR / "wheels.yml").read_text()
    # No cache in a workflow that publishes (cache poisoning).
    assert "actions/cache@" not in (WORKFLOW_DIR / "wheels.yml").read_text()


def test_cibuildwheel_tests_each_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    command = " && ".join(config["test-command"])
    assert "import odyssey" in command
    assert "odyssey doctor" in command
    assert "pytest" in command
    assert set(config["build"].split()) == {"cp310-*", "cp311-*", "cp312-*", "cp313-*"}


def test_docs_builds_with_nox_and_deploys_from_main() -> None:
    workflow = load(WORKFLOW_DIR / "docs.yml")
    assert any("nox -s docs" in script for _, script in run_scripts(workflow))
    deploy = workflow["jobs"]["deploy"]
    assert "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_dependabot_keeps_actions_and_pip_current() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems >= {"github-actions", "pip"}


def test_agent_review_skips_forks_and_may_only_comment() -> None:
    workflow = load(WORKFLOW_DIR / "agent-review.yml")
    assert set(triggers(workflow)) == {"pull_request"}
    (job,) = workflow["jobs"].values()
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    (checkout,) = [step for _, step in steps(workflow) if "checkout@" in step.get("uses", "")]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    scripts = "\n".join(script for _, script in run_scripts(workflow))
    assert 'odyssey agent review --pr "$PR_NUMBER"' in scripts
    for forbidden in ("git push", "gh pr merge", "APPROVE", "REQUEST_CHANGES"):
        assert forbidden not in scripts


def test_agent_docs_checks_weekly_then_proposes_the_patch() -> None:
    workflow = load(WORKFLOW_DIR / "agent-docs.yml")
    on = triggers(workflow)
    assert "schedule" in on
    assert "workflow_dispatch" in on
    jobs = workflow["jobs"]
    scripts = dict(run_scripts(workflow))
    assert "nox -s agent-docs -- --check --save-drift drift.json" in scripts["check"]
    # The write job runs only on drift (not on a build error), and the pull request only on a patch.
    assert "needs.check.outputs.drift == 'true'" in jobs["write"]["if"]
    assert jobs["pull-request"]["if"] == "needs.write.outputs.patch == 'true'"
    # The key reaches the one step that calls the model, in the one job with no write, under an
    # environment; that step neither builds nor runs the tree's code (no nox, no --write/--apply).
    text = (WORKFLOW_DIR / "agent-docs.yml").read_text()
    assert text.count("secrets.ANTHROPIC_API_KEY") == 1
    assert jobs["write"]["environment"] == "agents"
    assert "permissions" not in jobs["write"]
    (keyed,) = [step for step in jobs["write"]["steps"] if "ANTHROPIC_API_KEY" in str(step)]
    assert "odyssey agent docs --ask" in keyed["run"]
    for forbidden in ("nox -s", "pip", "--write", "--apply", "--check"):
        assert forbidden not in keyed["run"], forbidden
    later = jobs["write"]["steps"][jobs["write"]["steps"].index(keyed) + 1 :]
    assert any("odyssey agent docs --apply" in step.get("run", "") for step in later)
    assert jobs["pull-request"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert "ANTHROPIC_API_KEY" not in str(jobs["pull-request"])
    assert "gh pr create --draft" in scripts["pull-request"]
    assert "@github.com" not in scripts["pull-request"]  # no token in a URL
