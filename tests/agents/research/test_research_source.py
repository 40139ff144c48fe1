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
