"""The review agent's deterministic half on a real git repository in a temporary folder: the
change gathered from `git diff BASE...HEAD`, and each check's output (ruff, odyssey validate,
odyssey bench compare, the kernel rules), with the located problems on the right lines."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
from agents.review_fixtures import make_repo

from odyssey.agents.environment import without_credentials
from odyssey.agents.review import gather, review
from odyssey.agents.review.checks import run_checks, touched_papers

REPORT = {
    "benchmark": "gemm",
    "machine": {"cpu": "test"},
    "results": [
        {"name": "square 64", "threads": 1, "ratio": 1.00, "odyssey_seconds": 1e-6},
        {"name": "square 128", "threads": 1, "ratio": 2.00, "odyssey_seconds": 2e-6},
    ],
}


def local(root: Path, base: str = "main") -> argparse.Namespace:
    return argparse.Namespace(repo=str(root), base=base, pr=None)


def test_the_local_change_and_ruff_on_its_added_lines(tmp_path: Path) -> None:
    before = {"pkg/mod.py": '"""A module."""\n\nVALUE = 1\n'}
    after = {"pkg/mod.py": '"""A module."""\n\nimport os\n\nVALUE = 1\n'}
    make_repo(tmp_path, before, after)
    change = gather(local(tmp_path))
    assert [(d.path, d.added) for d in change.diffs] == [("pkg/mod.py", {3, 4})]
    (ruff, kernel) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert ruff.name == "ruff"
    assert "pkg/mod.py:3:8: F401" in ruff.text
    assert [(f.file, f.line, f.rule) for f in ruff.findings] == [("pkg/mod.py", 3, "ruff/F401")]
    assert kernel.text.startswith("no kernel-rule violation")


def test_the_working_tree_does_not_move_the_lines(tmp_path: Path) -> None:
    make_repo(tmp_path, {"m.py": "A = 1\n"}, {"m.py": "A = 1\nimport os\n"})
    (tmp_path / "m.py").write_text("\n\n\nA = 1\nimport os\n")  # uncommitted
    change = gather(local(tmp_path))
    (ruff, _) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert [(f.line, f.rule) for f in ruff.findings] == [(2, "ruff/F401")]


def test_a_bad_base_is_a_usage_error(tmp_path: Path) -> None:
    make_repo(tmp_path, {"m.py": "A = 1\n"}, {"m.py": "A = 2\n"})
    with pytest.raises(ValueError, match=r"--base: 'nope' names no commit"):
        gather(local(tmp_path, base="nope"))


def test_benchmark_results_are_compared_with_their_version_before(tmp_path: Path) -> None:
    slower = json.loads(json.dumps(REPORT))
    slower["results"][1]["ratio"] = 1.4  # 30 % slower relative to NumPy: a severe regression
    make_repo(
        tmp_path,
        {"benchmarks/results/gemm.json": json.dumps(REPORT)},
        {"benchmarks/results/gemm.json": json.dumps(slower)},
    )
    change = gather(local(tmp_path))
    (_, bench, _) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert bench.name == "bench compare"
    assert bench.text.startswith("odyssey bench compare BEFORE AFTER --changed: REGRESSION")
    assert "square 128" in bench.text
    assert "square 64" not in bench.text  # --changed: only the ratios that moved


def test_a_touched_paper_is_validated(tmp_path: Path) -> None:
    paper = {"papers/toy/paper.toml": "[paper]\ntitle = 'Toy'\n", "papers/toy/README.md": "# Toy\n"}
    make_repo(tmp_path, {"README.md": "x\n"}, paper)
    change = gather(local(tmp_path))
    assert touched_papers(change.diffs, change.tree) == ["papers/toy"]
    (_, validate, _) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert validate.name == "validate papers/toy"
    assert validate.text.startswith("odyssey validate papers/toy: fails (exit status")
    assert "model.py is missing" in validate.text


def test_a_paper_is_validated_as_committed_without_the_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper = {"papers/toy/paper.toml": "[paper]\ntitle = 'Toy'\n", "papers/toy/README.md": "# Toy\n"}
    make_repo(tmp_path, {"README.md": "x\n"}, paper)
    # Uncommitted: a model.py the commit does not have. The check reads the commit.
    (tmp_path / "papers/toy/model.py").write_text("import os\n")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    change = gather(local(tmp_path))
    (_, validate, _) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert validate.text.startswith("odyssey validate papers/toy: fails (exit status")
    assert "model.py is missing" in validate.text
    assert "odyssey-review-validate" not in validate.text  # shown under its repository path
    environment = without_credentials()
    assert "GITHUB_TOKEN" not in environment
    assert "ANTHROPIC_API_KEY" not in environment
    assert environment["PATH"] == os.environ["PATH"]


def test_results_with_one_name_in_two_folders_are_each_compared(tmp_path: Path) -> None:
    slower = json.loads(json.dumps(REPORT))
    slower["results"][1]["ratio"] = 1.4
    make_repo(
        tmp_path,
        {
            "benchmarks/results/a/gemm.json": json.dumps(REPORT),
            "benchmarks/results/b/gemm.json": json.dumps(REPORT),
        },
        {
            "benchmarks/results/a/gemm.json": json.dumps(slower),
            "benchmarks/results/b/gemm.json": json.dumps({**REPORT, "machine": {"cpu": "b"}}),
        },
    )
    change = gather(local(tmp_path))
    (_, bench, _) = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    assert bench.text.startswith("odyssey bench compare BEFORE AFTER --changed: REGRESSION")
    assert "benchmarks/results/a/gemm.json: REGRESSION" in bench.text
    assert "benchmarks/results/b/gemm.json: no regression" in bench.text


def test_review_keeps_findings_on_added_lines_and_says_what_it_dropped(tmp_path: Path) -> None:
    make_repo(tmp_path, {"m.py": "A = 1\n"}, {"m.py": "A = 1\nimport os\nB = 1 / 0\n"})
    change = gather(local(tmp_path))
    checks = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    output = {
        "summary": "Adds B.",
        "findings": [
            {
                "file": "m.py",
                "line": 3,
                "severity": "error",
                "rule": "bug",
                "message": "1 / 0 raises ZeroDivisionError on import",
                "suggested_change": "B = 1",
            },
            {
                "file": "m.py",
                "line": 1,
                "severity": "warning",
                "rule": "docs",
                "message": "no module docstring",
                "suggested_change": "",
            },
            {
                "file": "m.py",
                "line": 2,
                "severity": "warning",
                "rule": "ruff/F401",
                "message": "`os` imported but unused",
                "suggested_change": "",
            },
        ],
    }
    result = review(output, checks, change.diffs, model="test-model")
    kept = [(f.line, f.severity, f.rule) for f in result.findings]
    assert (2, "warning", "ruff/F401") in kept  # once: the model's copy merged into ruff's
    assert kept.count((2, "warning", "ruff/F401")) == 1
    assert (3, "error", "bug") in kept
    assert all(line in (2, 3) for line, _, _ in kept)
    assert result.outside_diff == 1
    assert result.merged == 1
    assert "1 finding(s) on lines outside the diff's added lines were dropped" in result.summary
    assert "1 duplicate(s) merged" in result.summary
    assert result.summary.startswith("Adds B.")


def test_whole_files_give_way_to_the_diffs_under_a_small_budget(tmp_path: Path) -> None:
    pytest.importorskip("detect_secrets")
    from odyssey.agents.review import context_files

    big = "".join(f"VALUE_{i} = {i}\n" for i in range(400))
    make_repo(
        tmp_path,
        {"big.py": big, "small.py": "A = 1\n"},
        {"big.py": big + "B = 2\n", "small.py": "A = 1\nB = 2\n"},
    )
    change = gather(local(tmp_path))
    checks = run_checks(tmp_path, change.diffs, change.tree, change.base_tree)
    everything = context_files(checks, change.diffs, change.tree)
    assert [(f.kind, f.path) for f in everything if f.kind != "check"] == [
        ("diff", "big.py"),
        ("diff", "small.py"),
        ("file", "big.py"),
        ("file", "small.py"),
    ]
    squeezed = context_files(checks, change.diffs, change.tree, budget_tokens=1000)
    assert [(f.kind, f.path) for f in squeezed if f.kind != "check"] == [
        ("diff", "big.py"),
        ("diff", "small.py"),
        ("file", "small.py"),
    ]
