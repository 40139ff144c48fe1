"""The research assistant's reading of PAPER (odyssey.agents.research.source): arXiv ids and
URLs parsed, arXiv's Atom answer read, the PDF fetched from a server on 127.0.0.1 and its text
extracted page by page, local PDF and text files, and a clear one-line error for each way PAPER
can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from agents.research.research_pdf import make_pdf

from odyssey.agents.research import source
from odyssey.agents.research.source import SourceError, arxiv_id, load_source, parse_atom

pytest.importorskip("pypdf")  # the agents extra

HERE = Path(__file__).resolve().parent
PAGES = (HERE / "synthetic_paper.txt").read_text(encoding="utf-8").split("\f")
ATOM = (HERE / "arxiv_2101.00001.atom.xml").read_bytes()
QUERY = "/api/query?id_list={}&max_results=1"


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        ("2101.00001", "2101.00001"),
        ("2101.00001v3", "2101.00001v3"),
        ("0704.0001", "0704.0001"),
        ("cs/0101001", "cs/0101001"),
        ("math.GT/0309136v2", "math.GT/0309136v2"),
        ("arXiv:2101.00001", "2101.00001"),
        ("https://arxiv.org/abs/2101.00001", "2101.00001"),
        ("http://arxiv.org/abs/cs/0101001v1", "cs/0101001v1"),
        ("https://arxiv.org/pdf/2101.00001v2.pdf", "2101.00001v2"),
        ("https://arxiv.org/pdf/2101.00001", "2101.00001"),
        ("https://export.arxiv.org/abs/2101.00001?context=cs", "2101.00001"),
        ("attention is all you need", None),
        ("paper.pdf", None),
        ("https://example.org/abs/2101.00001", None),
    ],
)
def test_arxiv_ids_and_urls_are_recognised(paper: str, expected: str | None) -> None:
    assert arxiv_id(paper) == expected


@pytest.mark.parametrize("paper", ["https://arxiv.org/abs/21.001", "arXiv:hello", "arxiv:1/2"])
def test_a_malformed_id_in_an_arxiv_url_is_an_error_naming_it(paper: str) -> None:
    with pytest.raises(SourceError, match=r"is not an arXiv id; expected e\.g\. 2101\.00001"):
        arxiv_id(paper)


def test_the_atom_answer_gives_the_metadata() -> None:
    metadata = parse_atom(ATOM, "2101.00001")
    assert metadata["title"] == (
        "TinyDigitNet: A Small Convolutional Network for Handwritten Digits"
    )
    assert metadata["authors"] == ["Ada Example", "Ben Sample"]
    assert metadata["year"] == 2021
    assert str(metadata["abstract"]).startswith("We describe TinyDigitNet, a four-layer")
    assert "\n" not in str(metadata["abstract"])
    assert metadata["categories"] == ["cs.LG", "cs.CV"]
    assert metadata["primary_category"] == "cs.LG"
    assert metadata["pdf_url"] == "http://arxiv.org/pdf/2101.00001v2"


def test_arxivs_error_entry_and_an_empty_feed_are_clear_errors() -> None:
    with pytest.raises(SourceError, match=r"arXiv says: incorrect id format for 2101.0000x"):
        parse_atom((HERE / "arxiv_error.atom.xml").read_bytes(), "2101.0000x")
    with pytest.raises(SourceError, match=r"'2101.99999': arXiv has no paper with this id"):
        parse_atom((HERE / "arxiv_empty.atom.xml").read_bytes(), "2101.99999")
    with pytest.raises(SourceError, match="is not Atom XML"):
        parse_atom(b"<html><body>Service unavailable", "2101.00001")


@pytest.fixture
def arxiv(mirror, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The mirror of conftest.py as arXiv: ODYSSEY_ARXIV_URL points both endpoints at it."""
    monkeypatch.setenv(source.ARXIV_URL_ENV, mirror.url)
    return mirror


def test_an_arxiv_id_fetches_the_metadata_and_the_pdf_from_the_server(arxiv) -> None:  # type: ignore[no-untyped-def]
    arxiv.files[QUERY.format("2101.00001")] = ATOM
    arxiv.files["/pdf/2101.00001"] = make_pdf(PAGES)
    paper = load_source("https://arxiv.org/abs/2101.00001")
    assert arxiv.requests == [QUERY.format("2101.00001"), "/pdf/2101.00001"]
    assert (paper.origin, paper.kind, paper.pages) == ("2101.00001", "arxiv", 3)
    assert paper.metadata["authors"] == ["Ada Example", "Ben Sample"]
    # Page-tagged, so that the model can cite pages: each tag opens its page's text.
    assert paper.text.startswith("[page 1]\nTinyDigitNet: A Small Convolutional Network")
    page2 = paper.text.index("[page 2]\n2 Architecture")
    page3 = paper.text.index("[page 3]\n3 Training")
    assert page2 < paper.text.index("conv1   convolution 5x5, 8 maps, ReLU") < page3
    assert "test error" in paper.text[page3:]


def test_an_old_style_id_is_queried_escaped(arxiv) -> None:  # type: ignore[no-untyped-def]
    arxiv.files["/api/query?id_list=cs%2F0101001&max_results=1"] = ATOM.replace(
        b"2101.00001", b"cs/0101001"
    )
    arxiv.files["/pdf/cs/0101001"] = make_pdf(PAGES)
    assert load_source("cs/0101001").metadata["title"].startswith("TinyDigitNet")  # type: ignore[union-attr]


def test_a_missing_pdf_is_an_error_naming_the_url_and_status(arxiv) -> None:  # type: ignore[no-untyped-def]
    arxiv.files[QUERY.format("2101.00001")] = ATOM
    with pytest.raises(SourceError, match=r"/pdf/2101.00001 answered HTTP 404"):
        load_source("2101.00001")


def test_an_unknown_id_is_an_error_before_any_pdf_is_asked_for(arxiv) -> None:  # type: ignore[no-untyped-def]
    arxiv.files[QUERY.format("2101.99999")] = (HERE / "arxiv_empty.atom.xml").read_bytes()
    with pytest.raises(SourceError, match="arXiv has no paper with this id"):
        load_source("2101.99999")
    assert arxiv.requests == [QUERY.format("2101.99999")]


def test_a_download_that_is_not_a_pdf_is_an_error(arxiv) -> None:  # type: ignore[no-untyped-def]
    arxiv.files[QUERY.format("2101.00001")] = ATOM
    arxiv.files["/pdf/2101.00001"] = b"<!DOCTYPE html><html>PDF unavailable</html>"
    with pytest.raises(SourceError, match="did not give a PDF"):
        load_source("2101.00001")


def test_an_unreachable_arxiv_is_an_error_naming_the_url(monkeypatch, dead_url) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(source.ARXIV_URL_ENV, dead_url)
    with pytest.raises(SourceError, match=f"cannot reach {dead_url}/api/query"):
        load_source("2101.00001")


def test_a_local_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pdf"
    path.write_bytes(make_pdf(PAGES))
    paper = load_source(str(path))
    assert (paper.kind, paper.pages, paper.metadata) == ("pdf", 3, {})
    assert "[page 3]\n3 Training\nWe train with stochastic gradient descent" in paper.text


def test_a_local_text_file_splits_pages_at_form_feeds(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("\f".join(PAGES), encoding="utf-8")
    paper = load_source(str(path))
    assert (paper.kind, paper.pages) == ("text", 3)
    assert paper.text.count("[page ") == 3
    assert "[page 2]\n2 Architecture" in paper.text


def test_a_pdf_without_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "scanned.pdf"
    path.write_bytes(make_pdf(["", ""]))
    with pytest.raises(SourceError, match=r"no text could be extracted from its 2 page\(s\)"):
        load_source(str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.4\nthis is no PDF at all", "pypdf cannot read this PDF"),
        (b"\xff\xfe\x00binary", "is neither a PDF nor UTF-8 text"),
        (b"  \n", "is empty"),
    ],
)
def test_unreadable_local_files_are_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "paper.bin"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        load_source(str(path))


def test_a_paper_that_is_neither_file_nor_id_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"is not an arXiv id \(e.g. 2101.00001, cs/0101001\)"):
        load_source(str(tmp_path / "missing.pdf"))
    with pytest.raises(SourceError, match="is a folder"):
        load_source(str(tmp_path))


def test_a_page_pypdf_fails_on_is_left_empty_and_the_rest_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import zlib

    from pypdf import PageObject

    original = PageObject.extract_text
    calls = []

    def extract(page: PageObject, *args: object, **kwargs: object) -> str:
        calls.append(page)
        if len(calls) == 2:
            raise zlib.error("Error -3 while decompressing data: invalid stored block lengths")
        return original(page, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", extract)
    text, pages = source.extract_pdf_text(make_pdf(PAGES), "paper.pdf")
    assert pages == 3
    assert "[page 2]\n\n\n[page 3]\n3 Training" in text
    assert text.startswith("[page 1]\nTinyDigitNet")
    assert "paper.pdf: page 2 has no readable text (error: Error -3" in capsys.readouterr().err


@pytest.mark.parametrize("error", [RecursionError("deep"), NotImplementedError("/JBIG2Decode")])
def test_any_failure_of_pypdf_on_the_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    import pypdf

    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(pypdf, "PdfReader", refuse)
    with pytest.raises(
        SourceError, match=f"paper.pdf: pypdf cannot read this PDF: {type(error).__name__}"
    ):
        source.extract_pdf_text(make_pdf(PAGES), "paper.pdf")


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        ("https://arXiv.org/abs/2101.00001", "2101.00001"),
        ("arXiv: 2101.00001", "2101.00001"),
        ("HTTPS://ARXIV.ORG/pdf/cs/0101001v1.pdf", "cs/0101001v1"),
    ],
)
def test_arxiv_urls_in_any_case_and_a_spaced_prefix(paper: str, expected: str) -> None:
    assert arxiv_id(paper) == expected


def test_arxivs_rate_limit_is_retried_once_after_retry_after(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import http.server
    import threading

    answers = [(503, b"slow down"), (200, ATOM), (503, b"slow down"), (503, b"still slow")]
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status, body = answers.pop(0)
            self.send_response(status)
            if status != 200:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(source.ARXIV_URL_ENV, f"http://127.0.0.1:{server.server_address[1]}")
        assert source.fetch_arxiv_metadata("2101.00001")["year"] == 2021
        with pytest.raises(SourceError, match=r"answered HTTP 503"):
            source.fetch_arxiv_metadata("2101.00001")
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 4  # each call: the first answer and one retry
    assert "answered HTTP 503; retrying in 0 s" in capsys.readouterr().err


def test_an_answer_cut_short_is_an_error_not_a_traceback(arxiv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    arxiv.files[QUERY.format("2101.00001")] = ATOM
    monkeypatch.setenv(source.ARXIV_URL_ENV, f"{arxiv.url}/cut")
    with pytest.raises(SourceError, match=r"cannot reach .*IncompleteRead"):
        load_source("2101.00001")
