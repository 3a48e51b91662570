"""rag/loading/pdf.py: the text layer of a PDF, and corrupt, blank and encrypted PDFs as failures."""

from __future__ import annotations

from pathlib import Path

from loading_helpers import REPORT, docs_of, failures_of, load_items, only_doc


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF written by hand (Helvetica, ASCII text)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(_minimal_pdf("Haizhu GDP grew 7.6 percent in 2017."))
    doc = only_doc(path)
    assert doc.text == "Haizhu GDP grew 7.6 percent in 2017."
    assert doc.doc_id == "report.pdf"


def test_bad_pdfs_become_failures(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    blank = PdfWriter()
    blank.add_blank_page(width=612, height=792)
    with (tmp_path / "blank.pdf").open("wb") as fh:
        blank.write(fh)
    locked = PdfWriter()
    locked.add_blank_page(width=612, height=792)
    locked.encrypt(user_password="secret", algorithm="RC4-128")
    with (tmp_path / "locked.pdf").open("wb") as fh:
        locked.write(fh)
    (tmp_path / "good.txt").write_text(REPORT, encoding="utf-8")

    items = load_items(tmp_path)
    reasons = {Path(f.source).name: f.reason for f in failures_of(items)}
    assert "unreadable PDF" in reasons["corrupt.pdf"]
    assert "no extractable text" in reasons["blank.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert [d.doc_id for d in docs_of(items)] == ["good.txt"]

