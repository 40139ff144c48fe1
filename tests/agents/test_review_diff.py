"""The review agent's diff parsing, line mapping, filtering and merging of findings."""

from __future__ import annotations

import pytest
from agents.review_fixtures import changed, diff_of

from odyssey.agents.review.diff import annotate, parse_diff
from odyssey.agents.review.findings import (
    Finding,
    findings_from_output,
    format_line,
    keep_in_diff,
)

GIT_DIFF = """\
diff --git a/python/odyssey/metrics.py b/python/odyssey/metrics.py
index 1111111..2222222 100644
--- a/python/odyssey/metrics.py
+++ b/python/odyssey/metrics.py
@@ -10,4 +10,5 @@ def accuracy(logits, target):
     correct = 0
-    total = 0
+    total = 1
+    seen = 0
     for row in logits:
         pass
@@ -40,2 +41,3 @@ def top_k():
     return 1
+    # unreachable
\x20
diff --git a/old name.txt b/new name.txt
similarity index 100%
rename from old name.txt
rename to new name.txt
diff --git a/cpp/src/gone.cc b/cpp/src/gone.cc
deleted file mode 100644
index 3333333..0000000
--- a/cpp/src/gone.cc
+++ /dev/null
@@ -1,2 +0,0 @@
-int x;
-int y;
diff --git a/data.bin b/data.bin
new file mode 100644
index 0000000..4444444
Binary files /dev/null and b/data.bin differ
diff --git a/notes.txt b/notes.txt
index 5555555..6666666 100644
--- a/notes.txt
+++ b/notes.txt
@@ -1 +1 @@
-old
\\ No newline at end of file
+new
\\ No newline at end of file
"""


def test_each_file_its_status_and_the_new_numbers_of_its_added_lines() -> None:
    files = {diff.path: diff for diff in parse_diff(GIT_DIFF)}
    assert list(files) == [
        "python/odyssey/metrics.py",
        "new name.txt",
        "cpp/src/gone.cc",
        "data.bin",
        "notes.txt",
    ]
    metrics = files["python/odyssey/metrics.py"]
    assert metrics.status == "modified"
    assert metrics.added == {11, 12, 42}
    assert files["new name.txt"].status == "renamed"
    assert files["new name.txt"].old_path == "old name.txt"
    assert files["new name.txt"].added == set()
    assert files["cpp/src/gone.cc"].status == "deleted"
    assert files["cpp/src/gone.cc"].added == set()
    assert files["data.bin"].binary
    assert files["data.bin"].status == "added"
    assert files["notes.txt"].added == {1}
    assert files["notes.txt"].text.startswith("diff --git a/notes.txt")


def test_context_lines_carry_both_numbers_and_removed_lines_only_the_old() -> None:
    (metrics, *_) = parse_diff(GIT_DIFF)
    kinds = [(line.kind, line.old, line.new) for line in metrics.lines[:4]]
    assert kinds == [(" ", 10, 10), ("-", 11, None), ("+", None, 11), ("+", None, 12)]


def test_annotate_numbers_each_new_line_and_marks_the_gap_between_hunks() -> None:
    (metrics, *_) = parse_diff(GIT_DIFF)
    text = annotate(metrics)
    assert "   11 +     total = 1" in text
    assert "      -     total = 0" in text
    assert "   ...\n   41       return 1" in text


def test_a_new_file_every_line_is_added() -> None:
    (diff,) = parse_diff(changed("a.py", None, "x = 1\ny = 2\n"))
    assert diff.status == "added"
    assert diff.added == {1, 2}


def test_a_hunk_cut_short_is_a_clear_error() -> None:
    broken = GIT_DIFF.replace("@@ -10,4 +10,5 @@", "@@ -10,40 +10,50 @@")
    with pytest.raises(ValueError, match=r"parse_diff: python/odyssey/metrics\.py"):
        parse_diff(broken)


def test_a_preamble_before_the_first_file_is_ignored() -> None:
    text = "From abc Mon Sep 17 00:00:00 2001\nSubject: x\n\n" + changed("a.py", "a\n", "b\n")
    (diff,) = parse_diff(text)
    assert diff.added == {1}


def finding(line: int, rule: str = "bug", severity: str = "warning", message: str = "m") -> Finding:
    return Finding("a.py", line, severity, rule, message, "")


def test_findings_off_the_added_lines_are_dropped_and_counted() -> None:
    added = {"a.py": {3, 4}}
    kept = keep_in_diff([finding(3), finding(5), Finding("b.py", 3, "error", "bug", "x")], added)
    assert [(f.file, f.line) for f in kept.findings] == [("a.py", 3)]
    assert kept.outside_diff == 2


def test_duplicates_merge_to_the_worst_severity_with_both_messages() -> None:
    added = {"a.py": {3}}
    kept = keep_in_diff(
        [
            finding(3, message="off by one"),
            finding(3, severity="error", message="the loop skips the last row"),
            finding(3, message="off by one"),
            finding(3, rule="style"),
        ],
        added,
    )
    assert kept.merged == 2
    first, second = kept.findings
    assert (first.rule, first.severity) == ("bug", "error")
    assert first.message == "off by one\n\nthe loop skips the last row"
    assert second.rule == "style"


def test_one_line_per_finding() -> None:
    line = format_line(Finding("a.py", 3, "error", "bug", "two\nlines", ""))
    assert line == "a.py:3: error bug: two lines"


def test_diff_of_several_files_parses_back() -> None:
    text = diff_of({"a.py": (None, "1\n"), "b.py": ("x\n", "x\ny\n")})
    assert {diff.path: diff.added for diff in parse_diff(text)} == {"a.py": {1}, "b.py": {2}}


def test_paths_written_with_git_prefixes_are_read_as_the_diffs() -> None:
    item = {"line": 1, "severity": "error", "rule": "bug", "message": "m", "suggested_change": ""}
    output = {"findings": [{**item, "file": "./a.py"}, {**item, "file": "b/pkg/b.py"}]}
    assert [f.file for f in findings_from_output(output)] == ["a.py", "pkg/b.py"]


@pytest.mark.parametrize("odd", ["\f", "\u2028", "\v", "\x85", "\r"])
def test_only_a_newline_ends_a_diff_line(tmp_path, odd: str) -> None:
    # A form feed (the research assistant's page break), U+2028 or a lone \r inside a line is
    # part of the line: git ends lines with \n only.
    from agents.review_fixtures import make_repo

    from odyssey.agents.review.repo import local_diff

    base, head = make_repo(
        tmp_path,
        {"a.txt": "one\n"},
        {"a.txt": f"one\npage{odd}two\n", "b.py": f"x = 1  # {odd}\ny = 2\n"},
    )
    diffs = {diff.path: diff for diff in parse_diff(local_diff(tmp_path, base, head))}
    assert diffs["a.txt"].added == {2}
    assert [line.text for line in diffs["a.txt"].lines if line.kind == "+"] == [f"page{odd}two"]
    assert diffs["b.py"].added == {1, 2}


def test_a_crlf_file_parses_with_its_line_ends_removed() -> None:
    text = changed("w.txt", "a\r\nb\r\n", "a\r\nc\r\nb\r\n")
    (diff,) = parse_diff(text)
    assert diff.added == {2}
    assert [line.text for line in diff.lines] == ["a", "c", "b"]


def test_a_users_noprefix_setting_does_not_hide_the_change(tmp_path) -> None:
    from agents.review_fixtures import _git, make_repo

    from odyssey.agents.review.repo import local_diff

    base, head = make_repo(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    _git(tmp_path, "config", "diff.noprefix", "true")
    (diff,) = parse_diff(local_diff(tmp_path, base, head))
    assert (diff.path, diff.added) == ("a.py", {1})
