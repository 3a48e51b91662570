"""PDF: the text layer of every page (pypdf); encrypted, corrupt and scanned PDFs are refused with the reason."""

from __future__ import annotations

import io
import zlib

from rag.errors import DocumentReadError


def pdf_text(data: bytes) -> str:
    """The text of a PDF's pages, separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentReadError("encrypted PDF (password-protected): remove the password and try again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DependencyError as exc:  # AES encryption needs an optional package
        raise DocumentReadError(f"encrypted PDF: {exc} to decrypt it (pip install cryptography)") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError,
            zlib.error, RecursionError) as exc:  # fmt: skip
        raise DocumentReadError(
            f"unreadable PDF, corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    if not pages:
        raise DocumentReadError("unreadable PDF, corrupt or truncated: no pages found")
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentReadError(
            f"no text layer; OCR needed — the PDF has no extractable text on its {len(pages)} page(s) "
            "(a scan?): run OCR on it and ingest the result"
        )
    return text
