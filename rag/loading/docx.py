"""DOCX: paragraphs and table rows in document order and the title of its properties (python-docx), after the
archive's declared sizes are checked for a zip bomb."""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import TYPE_CHECKING

from rag.errors import DocumentReadError
from rag.loading.decoding import OLE_SIGNATURE

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table

MAX_DOCX_UNPACKED_BYTES = 200_000_000
"""Most a DOCX may declare uncompressed, over all its parts (python-docx unpacks every part into memory)."""
MAX_DOCX_RATIO = 100
"""Most a DOCX part over 10 MB may expand; real Word XML compresses ~5-20 times, zip bombs ~1000."""


def docx_text(data: bytes) -> tuple[str, str | None]:
    """The paragraphs and table rows of a DOCX, one a line, and its title."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table as DocxTable
    from lxml.etree import LxmlError

    if data.startswith(OLE_SIGNATURE):
        raise DocumentReadError(
            "password-protected or Word 97-2003 file, not a DOCX: remove the password or save it as .docx"
        )
    try:
        _check_archive(data)
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, DocxTable):
                blocks.extend(_table_rows(block))
            else:
                blocks.append(block.text)
        title = _docx_title(document)
    except (PackageNotFoundError, zipfile.BadZipFile, zlib.error, EOFError, LxmlError, KeyError, ValueError,
            NotImplementedError) as exc:  # fmt: skip
        raise DocumentReadError(
            f"unreadable DOCX, corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    return "\n".join(blocks), title


def _docx_title(document: DocxDocument) -> str | None:
    """The title in the document's properties; None without a properties part (python-docx would say "Word Document")."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    try:
        document.part.package.part_related_by(RELATIONSHIP_TYPE.CORE_PROPERTIES)
    except KeyError:
        return None
    return document.core_properties.title or None


def _check_archive(data: bytes) -> None:
    """Refuse a zip bomb from the sizes its directory declares, before anything is unpacked.

    Declared sizes cannot lie their way past this: zipfile stops reading a member at its declared size.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    if len(members) > 10_000:
        raise DocumentReadError(f"DOCX has {len(members):,} parts; refusing what looks like a zip bomb")
    total = sum(m.file_size for m in members)
    if total > MAX_DOCX_UNPACKED_BYTES:
        raise DocumentReadError(
            f"DOCX would unpack to {total / 1e6:,.0f} MB (limit {MAX_DOCX_UNPACKED_BYTES / 1e6:,.0f} MB); "
            "refusing what looks like a zip bomb"
        )
    for m in members:
        if m.file_size > 10_000_000 and m.file_size > MAX_DOCX_RATIO * max(m.compress_size, 1):
            raise DocumentReadError(
                f"DOCX part {m.filename} would expand {m.file_size / max(m.compress_size, 1):,.0f} times, to "
                f"{m.file_size / 1e6:,.0f} MB; refusing what looks like a zip bomb"
            )


def _table_rows(table: Table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or cells[-1] != text:  # merged cells repeat
                cells.append(text)
        rows.append(" | ".join(cells))
    return rows
