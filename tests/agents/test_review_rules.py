"""review/rules.md (the rules the model is given) against the code that enforces them: every rule
the deterministic checks report is described there, under an id the answer schema accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from odyssey.agents.review import kernel_rules

REVIEW = Path(kernel_rules.__file__).resolve().parent
LISTED = re.compile(r"^- `(?P<id>[^`]+)`:", re.MULTILINE)


def listed_rules() -> list[str]:
    return LISTED.findall((REVIEW / "rules.md").read_text(encoding="utf-8"))


def test_every_kernel_rule_is_described_for_the_model() -> None:
    assert set(kernel_rules.RULES) <= set(listed_rules())


def test_every_rule_the_kernel_checks_report_is_a_known_rule() -> None:
    # The ids the checks write into their findings, read from their source.
    source = Path(kernel_rules.__file__).read_text(encoding="utf-8")
    reported = set(re.findall(r'"(kernel/[a-z-]+)"', source))
    assert reported
    assert reported <= set(kernel_rules.RULES)


def test_every_listed_rule_id_fits_the_answer_schema() -> None:
    schema = json.loads((REVIEW / "output.schema.json").read_text(encoding="utf-8"))
    pattern = schema["properties"]["findings"]["items"]["properties"]["rule"]["pattern"]
    rules = listed_rules()
    assert len(rules) == len(set(rules)), "a rule id listed twice"
    for rule in rules:
        assert re.match(pattern, rule.replace("<CODE>", "E501")), rule
