"""Read report files (txt, md, html, pdf, docx, jsonl) into cleaned Documents; a bad file never stops the rest.

Limits (each refusal is a LoadFailure that says why): a document may have at most MAX_DOCUMENT_CHARS characters
of text; .txt/.md/.html files over MAX_TEXT_FILE_BYTES are refused unread; a DOCX whose parts declare more than
MAX_DOCX_UNPACKED_BYTES uncompressed, or expand suspiciously (MAX_DOCX_RATIO), is refused before unpacking.
Files named as text but holding binary data, PDFs without a text layer, encrypted or corrupt PDF/DOCX and second
copies of an already loaded file are refused too.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from rag.cleaning import clean_text
from rag.errors import DocumentReadError, RagError, UnsupportedFileError
from rag.metadata import extract_metadata
from rag.types import Document

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".jsonl")
MAX_DOCUMENT_CHARS = 2_000_000
"""Longest raw text of one document, ~40 times a long report (cleaning costs ~3 µs and ~60 bytes a character)."""
MAX_TEXT_FILE_BYTES = 32_000_000
"""Largest .txt/.md/.html file read at all (JSONL corpora are not limited; their records are)."""
MAX_DOCX_UNPACKED_BYTES = 200_000_000
"""Most a DOCX may declare uncompressed, over all its parts (python-docx unpacks every part into memory)."""
MAX_DOCX_RATIO = 100
"""Most a DOCX part over 10 MB may expand; real Word XML compresses ~5-20 times, zip bombs ~1000."""

_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF (name it .pdf)"),
    (b"PK\x03\x04", "a ZIP archive, e.g. a DOCX (name it .docx if it is one)"),
    (_OLE_SIGNATURE, "an Office 97-2003 or password-protected Office file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program"),
)

log = logging.getLogger("rag.loading")


@dataclass(frozen=True)
class LoadFailure:
    """An input that could not be read: a file path (or "path:line" for a JSONL record) and why."""

    source: str
    reason: str


LoadedItem: TypeAlias = Document | LoadFailure


def load_documents(paths: Sequence[Path]) -> Iterator[LoadedItem]:
    """Yield a Document per readable report and a LoadFailure per unreadable one; folders are walked recursively.

    A second document with an already loaded doc_id, or a file with the same bytes as one already loaded under
    another name, is a LoadFailure too (the same report indexed twice would crowd the search results). Records
    of a JSONL corpus are never merged this way: their content hash covers the whole record, doc_id included.
    """
    seen: dict[str, str] = {}
    same_content: dict[str, Document] = {}
    for path in paths:
        if not path.exists():
            yield LoadFailure(str(path), "no such file or directory")
            continue
        for file in _walk(path) if path.is_dir() else [path]:
            for item in _load_file(file):
                if isinstance(item, Document):
                    first = same_content.get(item.content_hash)
                    if item.doc_id in seen:
                        item = LoadFailure(
                            item.source,
                            f"duplicate doc_id {item.doc_id} (already loaded from {seen[item.doc_id]})",
                        )
                    elif first is not None:
                        item = LoadFailure(
                            item.source,
                            f"{item.doc_id} has the same content as {first.doc_id} (loaded from {first.source}); "
                            "skipped — keep one copy",
                        )
                    else:
                        seen[item.doc_id] = item.source
                        same_content[item.content_hash] = item
                yield item


def document_from_text(
    doc_id: str,
    raw_text: str,
    *,
    source: str = "",
    title_hint: str | None = None,
    source_meta: Mapping[str, object] | None = None,
    content_hash: str | None = None,
) -> Document:
    """Clean raw text and extract its metadata (the upload path); raises DocumentReadError if nothing is left."""
    if not doc_id.strip():
        raise DocumentReadError("empty doc_id: give the document an id (e.g. its file name)")
    if len(raw_text) > MAX_DOCUMENT_CHARS:
        raise DocumentReadError(
            f"{doc_id}: {len(raw_text):,} characters of text; the limit for one document is {MAX_DOCUMENT_CHARS:,} "
            "— split it into several documents"
        )
    cleaned = clean_text(raw_text)
    if not cleaned.text.strip():
        raise DocumentReadError(f"{doc_id}: no text left after cleaning")
    meta = extract_metadata(
        cleaned.text, title_hint=title_hint, furniture=cleaned.furniture, source_meta=source_meta
    )
    return Document(
        doc_id=doc_id,
        text=cleaned.text,
        meta=meta,
        source=source,
        content_hash=content_hash or hashlib.sha256(raw_text.encode("utf-8")).hexdigest(),
        offset_map=cleaned.offset_map,
    )


def decode_bytes(data: bytes) -> str:
    """Decode report bytes: BOMs, then strict UTF-8, then strict GB18030/Big5, then charset-normalizer."""
    for bom, codec, name in (
        (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
        (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
        (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentReadError(
                    f"starts with a {name} byte-order mark but is not valid {name} ({exc.reason})"
                ) from exc
    decoded = {
        codec: text
        for codec in ("utf-8", "gb18030", "big5")
        if (text := _try_decode(data, codec)) is not None
    }
    if "utf-8" in decoded:
        return decoded["utf-8"]
    if len(decoded) == 2:  # GB18030 accepts most Big5 byte strings: let the language model break the tie
        return _best_guess(data, ["gb18030", "big5"]) or decoded["gb18030"]
    if decoded:
        return next(iter(decoded.values()))
    guess = _best_guess(data, None)
    if guess is None:
        raise DocumentReadError("cannot detect the text encoding (save the file as UTF-8)")
    return guess


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _best_guess(data: bytes, codecs_allowed: list[str] | None) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=codecs_allowed).best()
    return str(best) if best is not None else None


def _refuse_binary(data: bytes) -> None:
    """Raise DocumentReadError for bytes that are not text, whatever the file is called."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)):
        return  # UTF-16/32 text is full of NUL bytes (the UTF-32-LE mark starts with the UTF-16-LE one)
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise DocumentReadError(f"binary file: this is {what}, not text")
    if b"\x00" in data[:65536]:
        raise DocumentReadError("binary file (it contains NUL bytes), not text — save reports as UTF-8 text")


def _refuse_garbled(text: str) -> str:
    """The text, unless control characters show it was binary data that happened to decode."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ch not in "\t\n\r\x0b\x0c\x85" and unicodedata.category(ch) == "Cc")
    if controls > max(8, len(sample) // 200):
        raise DocumentReadError(
            f"binary or garbled file: {controls:,} control characters in its first {len(sample):,} — is it really text?"
        )
    return text


# --- walking and dispatch ---------------------------------------------------------------------------


def _walk(folder: Path) -> list[Path]:
    """Files under a folder, sorted, skipping hidden files and folders."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _load_file(path: Path) -> Iterator[LoadedItem]:
    suffix = path.suffix.lower()
    try:
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedFileError(
                f"unsupported file type {suffix or '(none)'} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
            )
        if not path.is_file():  # a FIFO or device would block or never end
            raise DocumentReadError("not a regular file")
        size = path.stat().st_size
        if suffix in _TEXT_SUFFIXES and size > MAX_TEXT_FILE_BYTES:
            raise DocumentReadError(
                f"file is {size / 1e6:,.1f} MB; the limit for one text document is {MAX_TEXT_FILE_BYTES / 1e6:,.0f} MB "
                "— split it, or make it a JSONL corpus with one record per report"
            )
        data = path.read_bytes()
        if not data.strip():
            raise DocumentReadError("empty file")
        if suffix == ".jsonl":
            yield from _load_jsonl(path, data)
            return
        text, title = _extract(suffix, data)
        digest = hashlib.sha256(data).hexdigest()
        yield document_from_text(path.name, text, source=str(path), title_hint=title, content_hash=digest)
    except (RagError, OSError) as exc:
        yield LoadFailure(str(path), str(exc))
    except Exception as exc:  # a parser's bug on one hostile file must not abort the batch: report it, log it
        log.error("unexpected %s while reading %s", type(exc).__name__, path, exc_info=exc)
        yield LoadFailure(
            str(path), f"unexpected {type(exc).__name__} while reading the file ({exc}); see the log"
        )


def _extract(suffix: str, data: bytes) -> tuple[str, str | None]:
    """Plain text and an optional title hint for one non-JSONL file."""
    if suffix == ".pdf":
        return _pdf_text(data), None
    if suffix == ".docx":
        return _docx_text(data)
    _refuse_binary(data)
    if suffix in (".html", ".htm"):
        return _html_text(_refuse_garbled(_decode_html(data)))
    text = _refuse_garbled(decode_bytes(data))
    if suffix in (".md", ".markdown"):
        return _markdown_text(text)
    return text, None


# --- JSONL -------------------------------------------------------------------------------------------


def _load_jsonl(path: Path, data: bytes) -> Iterator[LoadedItem]:
    """One Document per record {doc_id, title, text, meta}; a broken line fails alone, naming file:line."""
    _refuse_binary(data)
    seen: set[str] = set()
    for lineno, line in enumerate(decode_bytes(data).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LoadFailure(where, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        problem = _record_problem(record)
        if problem is None and record["doc_id"] in seen:
            problem = f"duplicate doc_id {record['doc_id']} in this file"
        if problem is not None:
            yield LoadFailure(where, problem)
            continue
        seen.add(record["doc_id"])
        meta = dict(record.get("meta") or {})
        if isinstance(record.get("lang"), str):
            meta.setdefault("lang", record["lang"])
        canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        try:
            yield document_from_text(
                record["doc_id"],
                record["text"],
                source=str(path),
                title_hint=record.get("title") if isinstance(record.get("title"), str) else None,
                source_meta=meta,
                content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            )
        except RagError as exc:
            yield LoadFailure(where, str(exc))


def _record_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "a JSONL line must be an object {doc_id, title, text, meta}"
    if not isinstance(record.get("doc_id"), str) or not record["doc_id"].strip():
        return "missing doc_id (every record needs a non-empty string doc_id)"
    if not isinstance(record.get("text"), str):
        return f"record {record['doc_id']}: missing text"
    if record.get("meta") is not None and not isinstance(record["meta"], dict):
        return f"record {record['doc_id']}: meta must be an object"
    return None


# --- PDF and DOCX --------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
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


def _docx_text(data: bytes) -> tuple[str, str | None]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table as DocxTable
    from lxml.etree import LxmlError

    if data.startswith(_OLE_SIGNATURE):
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


# --- HTML ----------------------------------------------------------------------------------------------

_SKIP_TAGS = {
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "noscript",
    "template",
    "svg",
    "iframe",
    "form",
    "button",
}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table",
               "ul", "ol", "blockquote", "pre", "hr", "dd", "dt", "dl", "main", "aside", "figure", "caption"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)""", re.I)


class _HtmlText(HTMLParser):
    """Visible text of a page with block structure kept as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title = ""
        self.h1 = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        if tag in ("title", "h1"):
            self._in = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(self.skip_depth - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
            return
        if self.skip_depth:
            return
        if self._in == "h1" and not self.h1:
            self.h1 = data.strip()
        self.parts.append(data)


def _decode_html(data: bytes) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = declared.group(1).decode("ascii").lower()
        codec = "gb18030" if codec in ("gb2312", "gbk") else codec
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong declaration is common: fall back to detection
    return decode_bytes(data)


def _html_text(html: str) -> tuple[str, str | None]:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]*\n[ \t\n]*\n", "\n\n", "".join(parser.parts))
    titles = [t for t in (_tidy_title(parser.title), _tidy_title(parser.h1)) if t]
    return text, next(
        (t for t in titles if re.search(r"报告|工作|计划|总结", t)), titles[0] if titles else None
    )


def _tidy_title(title: str) -> str | None:
    """The part of a page title that names the report (海珠区2018年政府工作报告_广州市海珠区人民政府 → 海珠区2018年政府工作报告)."""
    parts = [p.strip() for p in re.split(r"\s*[_|｜]\s*|\s+-\s+|\s+—\s+", title) if p.strip()]
    if not parts:
        return None
    return next((p for p in parts if re.search(r"报告|工作|计划|总结", p)), parts[0])


# --- Markdown ------------------------------------------------------------------------------------------

_MD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^```.*$|^~~~.*$", re.M), ""),
    (re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M), r"\1"),
    (re.compile(r"^ {0,3}>[ \t]?", re.M), ""),
    (re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M), ""),
    (re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$", re.M), ""),
    (re.compile(r"^([ \t]*)[-*+][ \t]+", re.M), r"\1"),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"`([^`\n]+)`"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>\n]*>"), ""),
)


def _markdown_text(text: str) -> tuple[str, str | None]:
    """Light Markdown stripping: syntax goes, words stay; the first heading is the title hint."""
    front = re.match(r"\A---\n.*?\n---\n", text, re.S)
    if front:
        text = text[front.end() :]
    heading = re.search(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", text, re.M)
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text, heading.group(1) if heading else None
