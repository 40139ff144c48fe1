"""A minimal PDF writer for the research assistant's tests: pages of plain text in Helvetica (a
standard Type 1 font every PDF reader has), so that a test makes its own PDF fixture offline and
pypdf's extraction can be checked on it. Not a general PDF library: ASCII text, one font."""

from __future__ import annotations


def _escape(line: str) -> str:
    """A line as a PDF literal string: backslash and parentheses escaped, ASCII only."""
    line.encode("ascii")  # the standard font's encoding; the fixtures are ASCII
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one page per string (an empty string: a page without text), 10 pt lines."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled once the page tree's number is known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for text in pages:
        lines = [f"({_escape(line)}) Tj T*" for line in text.splitlines()]
        stream = ("BT /F1 10 Tf 12 TL 50 780 Td " + " ".join(lines) + " ET").encode("ascii")
        if not text:
            stream = b"0 0 1 rg 50 700 100 50 re f"  # a blue box: a page with no text at all
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, content, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)
