"""Turn scraped report text into clean prose while tracking where every character came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.furniture import furniture_edits, repetition_edits
from rag.text.offsets import Edit, OffsetMap, TrackedText, lines_with_offsets, regex_edits


@dataclass(frozen=True)
class CleanResult:
    """Cleaned text, anchors back into the raw text, and the furniture lines that were removed."""

    text: str
    offset_map: OffsetMap
    """Anchors (clean_offset, original_offset), as documented on Document.offset_map."""
    furniture: tuple[str, ...] = ()
    """Removed page furniture (breadcrumbs, 发布日期 lines, portal metadata as "label: value"), in order."""


def clean_text(raw: str) -> CleanResult:
    """Normalise, repair numbers, strip web furniture and collapse whitespace, keeping every report sentence."""
    doc = TrackedText(raw, list(range(len(raw))))
    doc.apply(regex_edits(doc.text, _NEWLINES, lambda m: "\n"))
    doc.apply(regex_edits(doc.text, _INVISIBLE, lambda m: ""))
    doc.text = doc.text.translate(_SAME_LENGTH_FOLD)
    doc.apply(regex_edits(doc.text, _BROKEN_INLINE, lambda m: ""))
    doc.apply(_number_edits(doc.text))
    doc.apply(_long_line_split_edits(doc.text))
    furniture: list[str] = []
    doc.apply(furniture_edits(doc.text, furniture))
    doc.apply(repetition_edits(doc.text, furniture))
    doc.apply(regex_edits(doc.text, _EDGE_SPACES, lambda m: ""))
    doc.apply(regex_edits(doc.text, _INNER_SPACES, lambda m: " "))
    doc.apply(regex_edits(doc.text, _BLANK_RUNS, lambda m: "\n\n"))
    doc.apply(regex_edits(doc.text, _DOC_EDGES, lambda m: ""))
    return CleanResult(text=doc.text, offset_map=doc.offset_map(), furniture=tuple(furniture))


# --- character normalisation -------------------------------------------------------------------

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_BROKEN_INLINE = re.compile(
    r"(?<=[《“（(「『])[ \n]*\n[ \n]*|[ \n]*\n[ \n]*(?=[》”）)」』。，、；！？])|(?<=[、，])[ ]*\n[ ]*(?=[^\s\n])"
)
"""Newlines inside 《…》 or before closing punctuation: inline links that a scraper put on their own lines."""
_SPACE_LIKE = (
    "\t\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
_SAME_LENGTH_FOLD = str.maketrans(
    {
        **{ch: " " for ch in _SPACE_LIKE},
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
    }
)
"""Same-length folds only (offsets stay aligned): odd spaces → " ", full-width digits and Latin letters → ASCII.
Chinese punctuation (，。；：) is kept; ％ and ． are folded only inside numbers (see _number_edits)."""

_DECIMAL = re.compile(r"(\d+)( *)([.．])( *)(?=\d)")
_PERCENT = re.compile(r"(?<=\d)( *)([％%‰])")
_SPACED_DIGITS = re.compile(r"(?<![\d.])\d(?: \d){1,3}(?= ?[年月日])")
_DIGIT_UNIT_SPACE = re.compile(r"(?<=\d) +(?=[年月日万亿元])")


def _number_edits(text: str) -> list[Edit]:
    """Repair numbers split by stray spaces (`12. 2万` → `12.2万`, `8 ．8 ％` → `8.8%`, `1 9 9 3 年` → `1993年`)."""

    def decimal(m: re.Match[str]) -> str:
        at_line_start = m.start() == 0 or text[m.start() - 1] == "\n"
        if at_line_start and m.group(4):  # "1. 2万人" at a line start is a list item, not 1.2
            return m.group()
        return m.group(1) + "."

    edits = regex_edits(text, _DECIMAL, decimal)
    edits += regex_edits(text, _PERCENT, lambda m: "%" if m.group(2) in "％%" else m.group(2))
    edits += regex_edits(text, _SPACED_DIGITS, lambda m: m.group().replace(" ", ""))
    edits += regex_edits(text, _DIGIT_UNIT_SPACE, lambda m: "")
    return edits


# --- very long lines (pages that lost their paragraph breaks) -----------------------------------

_LONG_LINE = 1500
_PARAGRAPH_SPACE = re.compile(r"(?<=[\u4e00-\u9fff。！？；：:;!?”」』）)]) +(?=[\u4e00-\u9fff“「『（(《])")


def _long_line_split_edits(text: str) -> list[Edit]:
    """In lines over 1,500 characters, a space between Chinese sentences is a lost paragraph break."""
    edits: list[Edit] = []
    for start, line in lines_with_offsets(text):
        if len(line) > _LONG_LINE:
            edits += [
                (start + s, start + e, "\n") for s, e in (m.span() for m in _PARAGRAPH_SPACE.finditer(line))
            ]
    return edits


# --- whitespace ---------------------------------------------------------------------------------

_EDGE_SPACES = re.compile(r"(?m)^ +| +$")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")
_BLANK_RUNS = re.compile(r"\n{3,}")
_DOC_EDGES = re.compile(r"^\n+|\n+$")
