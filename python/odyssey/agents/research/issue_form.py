"""The paper's link from a paper-request issue (``.github/ISSUE_TEMPLATE/paper_request.yml``, the
field with id ``link``), for the agent-research workflow:

    ISSUE_BODY=... python -m odyssey.agents.research.issue_form >> "$GITHUB_OUTPUT"

GitHub writes a submitted issue form as Markdown, one ``### <label>`` heading per field followed
by the answer (``_No response_`` for an empty optional one). The body is untrusted text from
whoever filed the issue, so it is read from the environment (never pasted into a script), and
only an arXiv id that ``source.arxiv_id`` accepts leaves this module, printed as ``paper=<id>``:
letters, digits, dots, slashes and dashes, nothing a shell or GITHUB_OUTPUT could misread. Any
other link (a DOI, a publisher's page) is refused with one line: the assistant fetches arXiv
papers; for others, run it locally on the PDF.
"""

from __future__ import annotations

import os
import re
import sys

from odyssey.agents.research.source import SourceError, arxiv_id

__all__ = ["BODY_ENV", "LINK_LABEL", "link", "main", "paper_id"]

BODY_ENV = "ISSUE_BODY"
LINK_LABEL = "Link"  # the label of the form's `link` field (tests/agents check they agree)
PROG = "odyssey agent research (issue form)"
_HEADING = re.compile(r"^###\s+(.+?)\s*$")
_NO_RESPONSE = "_No response_"


def link(body: str) -> str:
    """The answer under the form's Link heading (its first non-empty line); ValueError when the
    body has no such field or it is empty."""
    lines = body.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        heading = _HEADING.match(line)
        if heading is None or heading.group(1) != LINK_LABEL:
            continue
        for answer in lines[index + 1 :]:
            if _HEADING.match(answer):
                break
            if answer.strip() and answer.strip() != _NO_RESPONSE:
                return answer.strip().strip("<>")
        raise ValueError(f"{PROG}: the issue's {LINK_LABEL} field is empty")
    raise ValueError(
        f"{PROG}: the issue has no '### {LINK_LABEL}' field; was it filed with the paper-request "
        "form?"
    )


def paper_id(body: str) -> str:
    """The arXiv id the form's Link names; ValueError for any other link."""
    given = link(body)
    try:
        identifier = arxiv_id(given)
    except SourceError as error:
        raise ValueError(str(error)) from None
    if identifier is None:
        raise ValueError(
            f"{PROG}: the Link {given[:200]!r} is not an arXiv id or arxiv.org URL; the research "
            "assistant fetches arXiv papers (for another, run `odyssey agent research FILE.pdf` "
            "locally)"
        )
    return identifier


def main() -> int:
    """Prints ``paper=<arXiv id>`` for $ISSUE_BODY; 2 with one line on stderr when it has none."""
    try:
        print(f"paper={paper_id(os.environ.get(BODY_ENV, ''))}")
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
