"""The paper the research assistant reads: PAPER parsed (an arXiv id, an arxiv.org URL, or a local
PDF or text file), its arXiv metadata fetched through the Atom API, its PDF fetched, and its text
extracted page by page with ``[page N]`` tags so that the model can cite pages.

Everything that can go wrong with the user's PAPER (a malformed id, an id arXiv does not know, a
404, a download that is not a PDF, a PDF with no extractable text) raises ``SourceError`` with one
line naming the command, the argument and what was expected.

The arXiv endpoints are ``https://export.arxiv.org/api/query`` and ``https://arxiv.org/pdf/ID``;
``ODYSSEY_ARXIV_URL`` replaces both hosts (``$ODYSSEY_ARXIV_URL/api/query``,
``$ODYSSEY_ARXIV_URL/pdf/ID``), which is how the tests serve recorded answers from 127.0.0.1.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# B405: expat resolves no entities here
import xml.etree.ElementTree as ElementTree  # nosec B405
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ARXIV_URL_ENV",
    "PaperSource",
    "SourceError",
    "arxiv_id",
    "extract_pdf_text",
    "fetch_arxiv_metadata",
    "load_source",
    "parse_atom",
]

PROG = "odyssey agent research"
ARXIV_URL_ENV = "ODYSSEY_ARXIV_URL"
API_URL = "https://export.arxiv.org"
PDF_URL = "https://arxiv.org"
TIMEOUT = 60.0  # seconds per request: arXiv is slow at times, never minutes
MAX_PDF_BYTES = 64 * 1024 * 1024  # far above any paper; a runaway download stops here
# arXiv answers 503 (or 429) with Retry-After when it rate-limits: one retry after that wait,
# capped so that a long wait becomes an error instead of a stalled job.
RETRY_STATUSES = (429, 503)
RETRY_WAIT = 5.0  # seconds, when Retry-After is absent or a date
MAX_RETRY_WAIT = 60.0
USER_AGENT = "ml-odyssey research assistant (https://github.com/ml-odyssey/ml-odyssey)"

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"

# New-style ids (2007 on): YYMM.NNNN or YYMM.NNNNN, with an optional version.
_NEW_ID = re.compile(r"^\d{4}\.\d{4,5}(?:v\d+)?$")
# Old-style ids: archive[.SUBJECT-CLASS]/YYMMNNN, e.g. cs/0101001, math.GT/0309136v2.
_OLD_ID = re.compile(r"^[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?$")
# The scheme and host are case-insensitive (https://arXiv.org/abs/...); the id is not.
_URL = re.compile(
    r"^(?i:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)(?P<id>.+?)(?:\.pdf)?/?(?:[?#].*)?$"
)


class SourceError(ValueError):
    """PAPER cannot be read: one line saying which argument, what was wrong and what was
    expected."""


@dataclass(frozen=True)
class PaperSource:
    """A paper ready for the model: where it came from, what arXiv says of it (empty for a local
    file) and its text, one ``[page N]`` block per page."""

    origin: str  # the arXiv id, or the local file's path
    kind: str  # "arxiv" | "pdf" | "text"
    text: str
    pages: int
    metadata: dict[str, object] = field(default_factory=dict)


def arxiv_id(paper: str) -> str | None:
    """The arXiv id that PAPER names (an id, ``arXiv:ID`` or an arxiv.org abs/pdf URL), else
    None; SourceError for an arxiv.org URL or ``arXiv:`` prefix around a malformed id."""
    text = paper.strip()
    match = _URL.match(text)
    candidate = match.group("id") if match else None
    if candidate is None and text.lower().startswith("arxiv:"):
        candidate = text[len("arxiv:") :].strip()
    if candidate is None:
        return text if _NEW_ID.match(text) or _OLD_ID.match(text) else None
    if _NEW_ID.match(candidate) or _OLD_ID.match(candidate):
        return candidate
    raise SourceError(
        f"{PROG}: PAPER {paper!r}: {candidate!r} is not an arXiv id; expected e.g. 2101.00001, "
        "2101.00001v2 or cs/0101001"
    )


def _base(default: str) -> str:
    return os.environ.get(ARXIV_URL_ENV, "").strip().rstrip("/") or default


def _retry_wait(error: urllib.error.HTTPError) -> float | None:
    """Seconds to wait before the one retry of a rate-limited request, None when not to retry."""
    if error.code not in RETRY_STATUSES:
        return None
    value = (error.headers.get("Retry-After") if error.headers else None) or ""
    wait = float(value) if value.strip().isdigit() else RETRY_WAIT
    return wait if wait <= MAX_RETRY_WAIT else None


def _get(url: str, what: str) -> tuple[bytes, str]:
    """The body and Content-Type of `url`; SourceError naming `what` on an HTTP error or a
    failed connection. A 503 or 429 (arXiv's rate limit) is retried once after Retry-After."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for attempt in (1, 2):
        try:
            # The URL is arXiv's (or ODYSSEY_ARXIV_URL's), built from a validated id: http(s).
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # nosec B310
                body = response.read(MAX_PDF_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
                length = response.headers.get("Content-Length", "")
            # read(n) returns what came when the connection closes early, without an error.
            if length.isdigit() and len(body) < int(length) <= MAX_PDF_BYTES:
                raise http.client.IncompleteRead(body, int(length) - len(body))
            break
        except urllib.error.HTTPError as error:
            wait = _retry_wait(error) if attempt == 1 else None
            if wait is None:
                raise SourceError(
                    f"{PROG}: {what}: {url} answered HTTP {error.code} ({error.reason})"
                ) from None
            print(
                f"{PROG}: {url} answered HTTP {error.code}; retrying in {wait:g} s",
                file=sys.stderr,
            )
            time.sleep(wait)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            # HTTPException: a connection cut mid-answer (IncompleteRead) is no OSError.
            reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
            raise SourceError(f"{PROG}: {what}: cannot reach {url}: {reason}") from None
    if len(body) > MAX_PDF_BYTES:
        raise SourceError(f"{PROG}: {what}: {url} is larger than {MAX_PDF_BYTES} bytes")
    return body, content_type


def _text(element: ElementTree.Element | None) -> str:
    """An element's text with its runs of whitespace (arXiv wraps titles and abstracts) as one
    space."""
    return " ".join((element.text or "").split()) if element is not None else ""


def parse_atom(document: bytes, wanted: str) -> dict[str, object]:
    """The metadata of arXiv paper `wanted` from an Atom API answer: id, title, authors, year,
    published, abstract, categories, pdf_url. SourceError when the answer is an arXiv error or
    holds no such paper."""
    try:
        # B314: arXiv's Atom: no DTD, no entities
        root = ElementTree.fromstring(document)  # nosec B314
    except ElementTree.ParseError as error:
        raise SourceError(f"{PROG}: arXiv's answer for {wanted} is not Atom XML: {error}") from None
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        entry_id = _text(entry.find(f"{ATOM}id"))
        if "/api/errors" in entry_id:  # arXiv reports a bad query as an entry titled Error
            summary = _text(entry.find(f"{ATOM}summary")) or "error"
            raise SourceError(f"{PROG}: PAPER {wanted!r}: arXiv says: {summary}")
    if not entries or not _text(entries[0].find(f"{ATOM}title")):
        raise SourceError(
            f"{PROG}: PAPER {wanted!r}: arXiv has no paper with this id; check it on "
            f"https://arxiv.org/abs/{wanted}"
        )
    entry = entries[0]
    published = _text(entry.find(f"{ATOM}published"))
    primary = entry.find(f"{ARXIV}primary_category")
    pdf_url = ""
    for link in entry.findall(f"{ATOM}link"):
        if link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = link.get("href", "")
    return {
        "id": wanted,
        "entry": _text(entry.find(f"{ATOM}id")),
        "title": _text(entry.find(f"{ATOM}title")),
        "authors": [_text(author.find(f"{ATOM}name")) for author in entry.findall(f"{ATOM}author")],
        "year": int(published[:4]) if published[:4].isdigit() else None,
        "published": published,
        "abstract": _text(entry.find(f"{ATOM}summary")),
        "categories": [c.get("term", "") for c in entry.findall(f"{ATOM}category")],
        "primary_category": primary.get("term", "") if primary is not None else "",
        "pdf_url": pdf_url,
    }


def fetch_arxiv_metadata(identifier: str) -> dict[str, object]:
    """arXiv's metadata of `identifier` through the Atom API (see parse_atom)."""
    query = urllib.parse.urlencode({"id_list": identifier, "max_results": 1})
    body, _ = _get(f"{_base(API_URL)}/api/query?{query}", f"arXiv metadata of {identifier}")
    return parse_atom(body, identifier)


def extract_pdf_text(data: bytes, origin: str) -> tuple[str, int]:
    """The text of a PDF, each page as ``[page N]`` then its text, and the number of pages.
    SourceError when `data` is not a PDF, pypdf cannot read it, or no page has text."""
    if not data.lstrip()[:5] == b"%PDF-":
        raise SourceError(
            f"{PROG}: {origin} is not a PDF (it does not start with %PDF-); expected a PDF or a "
            "text file"
        )
    try:
        from pypdf import PdfReader
    except ModuleNotFoundError:
        raise SourceError(
            f"{PROG}: reading a PDF needs pypdf: pip install 'ml-odyssey[agents]'"
        ) from None
    # Any exception, not pypdf's own: a malformed PDF surfaces as RecursionError, IndexError,
    # zlib.error, NotImplementedError (an unsupported filter), DependencyError (AES without
    # cryptography) and more; each is a PDF pypdf cannot read, never a traceback.
    try:
        reader = PdfReader(io.BytesIO(data))
        count = len(reader.pages)
    except Exception as error:  # any exception: see above
        raise SourceError(
            f"{PROG}: {origin}: pypdf cannot read this PDF: {type(error).__name__}: {error}"
        ) from None
    pages = []
    for number in range(count):
        try:
            pages.append(reader.pages[number].extract_text() or "")
        except Exception as error:  # one bad page must not lose the paper
            print(
                f"{PROG}: {origin}: page {number + 1} has no readable text "
                f"({type(error).__name__}: {error}); it is left empty",
                file=sys.stderr,
            )
            pages.append("")
    if not any(page.strip() for page in pages):
        raise SourceError(
            f"{PROG}: {origin}: no text could be extracted from its {len(pages)} page(s) (a "
            "scanned PDF has only images); give a text file of the paper instead"
        )
    return _tagged(pages), len(pages)


def _tagged(pages: list[str]) -> str:
    """Pages joined with their ``[page N]`` tags (from 1), trailing spaces trimmed."""
    blocks = []
    for number, page in enumerate(pages, start=1):
        lines = [line.rstrip() for line in page.strip("\n").splitlines()]
        blocks.append(f"[page {number}]\n" + "\n".join(lines).strip("\n"))
    return "\n\n".join(blocks) + "\n"


def _local(path: Path) -> PaperSource:
    """A local PDF (by its first bytes, whatever its name) or UTF-8 text file; a form feed
    separates a text file's pages."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{PROG}: PAPER {str(path)!r}: cannot be read: {error}") from None
    if data.lstrip()[:5] == b"%PDF-" or path.suffix.lower() == ".pdf":
        text, pages = extract_pdf_text(data, str(path))
        return PaperSource(str(path), "pdf", text, pages)
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{PROG}: PAPER {str(path)!r} is neither a PDF nor UTF-8 text") from None
    parts = decoded.split("\f")
    if not decoded.strip():
        raise SourceError(f"{PROG}: PAPER {str(path)!r} is empty; expected the paper's text")
    return PaperSource(str(path), "text", _tagged(parts), len(parts))


def load_source(paper: str) -> PaperSource:
    """PAPER read: a local file when one exists at that path, else an arXiv id or URL whose
    metadata and PDF are fetched. SourceError names what PAPER was expected to be."""
    path = Path(paper).expanduser()
    if path.is_file():
        return _local(path)
    if path.is_dir():
        raise SourceError(f"{PROG}: PAPER {paper!r} is a folder; expected a PDF or text file")
    identifier = arxiv_id(paper)
    if identifier is None:
        raise SourceError(
            f"{PROG}: PAPER {paper!r} is not an arXiv id (e.g. 2101.00001, cs/0101001), an "
            "arxiv.org abs/pdf URL, or an existing PDF or text file"
        )
    metadata = fetch_arxiv_metadata(identifier)
    # The PDF from the same host as the metadata when ODYSSEY_ARXIV_URL is set (tests, mirrors).
    pdf_url = f"{_base(PDF_URL)}/pdf/{identifier}"
    data, content_type = _get(pdf_url, f"the PDF of {identifier}")
    if not data.lstrip()[:5] == b"%PDF-":
        raise SourceError(
            f"{PROG}: {pdf_url} did not give a PDF (Content-Type {content_type or 'none'}); "
            "arXiv may not have a PDF of this paper: download it and give the file as PAPER"
        )
    text, pages = extract_pdf_text(data, pdf_url)
    return PaperSource(identifier, "arxiv", text, pages, metadata)
