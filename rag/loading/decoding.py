"""Report bytes to text: byte-order marks, strict UTF-8, strict GB18030/Big5, then detection; and the refusal of
binary data named as text."""

from __future__ import annotations

import codecs
import unicodedata

from rag.errors import DocumentReadError

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF (name it .pdf)"),
    (b"PK\x03\x04", "a ZIP archive, e.g. a DOCX (name it .docx if it is one)"),
    (OLE_SIGNATURE, "an Office 97-2003 or password-protected Office file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program"),
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


def refuse_binary(data: bytes) -> None:
    """Raise DocumentReadError for bytes that are not text, whatever the file is called."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)):
        return  # UTF-16/32 text is full of NUL bytes (the UTF-32-LE mark starts with the UTF-16-LE one)
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise DocumentReadError(f"binary file: this is {what}, not text")
    if b"\x00" in data[:65536]:
        raise DocumentReadError("binary file (it contains NUL bytes), not text — save reports as UTF-8 text")


def refuse_garbled(text: str) -> str:
    """The text, unless control characters show it was binary data that happened to decode."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ch not in "\t\n\r\x0b\x0c\x85" and unicodedata.category(ch) == "Cc")
    if controls > max(8, len(sample) // 200):
        raise DocumentReadError(
            f"binary or garbled file: {controls:,} control characters in its first {len(sample):,} — is it really text?"
        )
    return text
