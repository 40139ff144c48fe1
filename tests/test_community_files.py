"""The contributor files hold what issue 14 asks of them: issue forms, PR template, CONTRIBUTING,
Code of Conduct, SECURITY, CODEOWNERS, CHANGELOG, CITATION.cff, the audited secrets baseline and the
`security` nox session run by .ci/run. Their schemas are checked by `nox -s lint`
(check-jsonschema); this checks their content."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML, which cookiecutter depends on

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / ".github" / "ISSUE_TEMPLATE"
FORM_NAMES = ("bug_report", "paper_request", "performance_regression", "feature_request")
COMMUNITY_FILES = (
    *(f".github/ISSUE_TEMPLATE/{name}.yml" for name in (*FORM_NAMES, "config")),
    ".github/PULL_REQUEST_TEMPLATE.md",
    ".github/CODEOWNERS",
    "CONTRIBUTING.md",
    "CODE_OF_CONDUCT.md",
    "SECURITY.md",
    "CHANGELOG.md",
    "CITATION.cff",
    ".secrets.baseline",
)


def text(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def form(name: str) -> dict:
    return yaml.safe_load((FORMS / f"{name}.yml").read_text(encoding="utf-8"))


def fields(name: str) -> dict[str, dict]:
    """The form's input elements by id (markdown elements have none)."""
    return {element["id"]: element for element in form(name)["body"] if "id" in element}


def required(element: dict) -> bool:
    return element.get("validations", {}).get("required", False) is True


def nox_sessions() -> list[str]:
    """The sessions of noxfile.py in file order (functions decorated with nox.session, named
    by the decorator's `name=` when it has one, as `nox -s agents-eval`)."""
    tree = ast.parse(text("noxfile.py"))
    names = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if "nox.session" not in ast.unparse(decorator):
                continue
            keywords = decorator.keywords if isinstance(decorator, ast.Call) else []
            named = [k.value.value for k in keywords if k.arg == "name"]
            names.append(named[0] if named else node.name)
    return names


@pytest.mark.parametrize("relative", COMMUNITY_FILES)
def test_file_exists_and_is_not_empty(relative):
    assert (ROOT / relative).is_file(), f"{relative} is missing"
    assert text(relative).strip(), f"{relative} is empty"


@pytest.mark.parametrize("name", FORM_NAMES)
def test_issue_forms_have_name_description_and_inputs(name):
    document = form(name)
    assert document["name"].strip()
    assert document["description"].strip()
    ids = [element["id"] for element in document["body"] if "id" in element]
    assert ids, f"{name}: no input element"
    assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
    assert any(required(element) for element in document["body"]), f"{name}: nothing required"


def test_bug_report_asks_for_doctor_json():
    doctor = fields("bug_report")["doctor"]
    assert doctor["type"] == "textarea"
    assert "odyssey doctor --json" in doctor["attributes"]["label"]
    assert "odyssey doctor --json" in doctor["attributes"]["description"]
    assert required(doctor)


def test_paper_request_asks_for_the_paper_and_its_numbers():
    elements = fields("paper_request")
    wanted = ("title", "authors", "year", "link", "dataset", "claimed-numbers")
    for key in wanted:
        assert key in elements, f"paper request: no {key!r} field"
        assert required(elements[key]), f"paper request: {key!r} is optional"
    assert "claimed numbers" in elements["claimed-numbers"]["attributes"]["label"]


def test_performance_regression_asks_for_the_bench_compare_table():
    table = fields("performance_regression")["compare-table"]
    assert "odyssey bench compare" in table["attributes"]["label"]
    assert "--markdown" in table["attributes"]["description"]
    assert required(table)


def test_config_turns_blank_issues_off_and_points_to_discussions():
    config = yaml.safe_load((FORMS / "config.yml").read_text(encoding="utf-8"))
    assert config["blank_issues_enabled"] is False
    urls = [link["url"] for link in config["contact_links"]]
    assert any(url.startswith("https://") and url.endswith("/discussions") for url in urls)


def test_pull_request_template_sections_and_paper_checklist():
    template = text(".github/PULL_REQUEST_TEMPLATE.md")
    headings = re.findall(r"^## (.+)$", template, flags=re.MULTILINE)
    for heading in ("What changed", "How it was tested", "Benchmark impact", "Paper checklist"):
        assert heading in headings, f"PR template: no '## {heading}'"
    checklist = template.split("## Paper checklist", 1)[1].split("\n## ", 1)[0]
    boxes = re.findall(r"^- \[ \] (.+(?:\n  .+)*)", checklist, flags=re.MULTILINE)
    joined = " ".join(boxes)
    assert "odyssey validate" in joined
    assert "--run" in joined  # targets recorded ...
    assert "results/" in joined
    assert "README" in joined  # ... and the README's table checked
    assert "--complete" in joined
    assert "odyssey bench compare" in template


def test_contributing_set_up_uses_the_readme_commands():
    readme = text("README.md")
    contributing = text("CONTRIBUTING.md")
    commands = ("pip install . && odyssey train lenet5", "pip install nox && nox -s tests")
    for command in commands:
        assert command in readme, f"the README no longer says {command!r}: update this test"
        assert command in contributing, f"CONTRIBUTING.md does not give {command!r}"
    assert "nox -s dev" in contributing


def test_contributing_describes_every_nox_session():
    contributing = text("CONTRIBUTING.md")
    sessions = nox_sessions()
    assert "security" in sessions
    missing = [name for name in sessions if f"`nox -s {name}`" not in contributing]
    assert not missing, f"CONTRIBUTING.md does not describe the sessions {missing}"


def test_contributing_kernel_and_paper_guides():
    contributing = text("CONTRIBUTING.md")
    kernel = contributing.split("## Adding a kernel", 1)[1].split("\n## ", 1)[0]
    scalar = kernel.index("scalar reference first")
    variants = kernel.index("ISA variants")
    tests = kernel.index("Their tests")
    assert scalar < variants < tests, "the kernel guide's order: scalar, ISA variants, their tests"
    for isa in ("avx2", "avx512", "neon"):
        assert f"_{isa}.cc" in kernel
    paper = contributing.split("## Adding a paper", 1)[1].split("\n## ", 1)[0]
    assert "odyssey new" in paper
    assert "odyssey validate" in paper


def test_code_of_conduct_adopts_the_contributor_covenant_by_link():
    conduct = text("CODE_OF_CONDUCT.md")
    assert "Contributor Covenant" in conduct
    assert "https://www.contributor-covenant.org/version/2/1/code_of_conduct/" in conduct


def test_security_policy_says_how_to_report_and_what_counts():
    policy = text("SECURITY.md")
    assert "## How to report" in policy
    assert "security/advisories/new" in policy
    assert "not** open a public issue" in policy
    scope = policy.split("## What the project treats as a vulnerability", 1)[1]
    for topic in ("Memory safety of the kernels from Python", "Untrusted checkpoints", "Downloads"):
        assert topic in scope, f"SECURITY.md: {topic!r} is not in scope"


def test_codeowners_lines_name_owners_and_existing_paths():
    lines = [
        line.split()
        for line in text(".github/CODEOWNERS").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert any(pattern == "*" for pattern, *_ in lines), "CODEOWNERS: no default owner"
    for pattern, *owners in lines:
        assert owners, f"CODEOWNERS: {pattern} has no owner"
        assert all(re.fullmatch(r"@[\w.-]+(/[\w.-]+)?", owner) for owner in owners), owners
        if pattern.startswith("/"):
            assert (ROOT / pattern.strip("/")).exists(), f"CODEOWNERS: {pattern} does not exist"


def test_changelog_follows_keep_a_changelog():
    changelog = text("CHANGELOG.md")
    assert changelog.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in changelog
    releases = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert releases
    assert releases[0] == "Unreleased"
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    kinds = re.findall(r"^### (.+)$", changelog, flags=re.MULTILINE)
    assert kinds
    assert set(kinds) <= allowed, f"change types outside Keep a Changelog's: {kinds}"
    for release in releases:
        assert re.search(rf"^\[{re.escape(release)}\]: https://", changelog, re.MULTILINE)


def test_citation_cff_matches_the_project():
    citation = yaml.safe_load(text("CITATION.cff"))
    project = tomllib.loads(text("pyproject.toml"))["project"]
    assert citation["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert citation[key], f"CITATION.cff: {key} is empty"
    assert str(citation["version"]) == project["version"]
    assert citation["license"] == project["license"]
    assert citation["type"] == "software"


def test_secrets_baseline_is_audited():
    baseline = json.loads(text(".secrets.baseline"))
    assert baseline["version"], "not a detect-secrets baseline"
    unaudited = [
        f"{path}:{finding['line_number']}"
        for path, findings in baseline["results"].items()
        for finding in findings
        if finding.get("is_secret") is not False
    ]
    assert not unaudited, f"findings not audited as false positives: {unaudited}"


def test_security_session_follows_lint_and_runs_in_ci():
    sessions = nox_sessions()
    assert sessions.index("security") == sessions.index("lint") + 1
    lines = [line.strip() for line in text(".ci/run").splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    lint = commands.index("python3 -m nox -s lint")
    assert commands[lint + 1] == "python3 -m nox -s security"
    extra = tomllib.loads(text("pyproject.toml"))["project"]["optional-dependencies"]["security"]
    names = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in extra}
    assert {"bandit", "detect-secrets", "pip-audit"} <= names
