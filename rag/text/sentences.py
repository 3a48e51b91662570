"""Splitting text into sentences and clauses with exact offsets (Chinese and ASCII punctuation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

SENTENCE_ENDS = "。！？；!?;\n"
"""Characters that end a sentence (kept with it)."""

CLAUSE_BREAKS = ",，;；。:：!！?？"
"""Characters between the clauses of a sentence (kept with neither)."""


@dataclass(frozen=True)
class Span:
    """A piece of the document text with its offsets."""

    text: str
    start: int
    end: int


def trim(text: str, start: int, end: int, offset: int = 0) -> Span | None:
    """text[start:end] without surrounding whitespace, its offsets shifted by offset; None if only whitespace."""
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if right <= left:
        return None
    return Span(piece[left:right], offset + start + left, offset + start + right)


@cache
def _ends_re(ends: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(ends)}]")


def pieces(text: str, ends: str, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of the pieces of text[start:stop] that end at any character of `ends` (kept with the piece),
    stripped of whitespace; pieces that are only whitespace are dropped."""
    stop = len(text) if stop is None else stop
    out: list[tuple[int, int]] = []
    begin = start
    for match in _ends_re(ends).finditer(text, start, stop):
        if (span := trim(text, begin, match.end())) is not None:
            out.append((span.start, span.end))
        begin = match.end()
    if begin < stop and (span := trim(text, begin, stop)) is not None:
        out.append((span.start, span.end))
    return out


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split text at Chinese/ASCII sentence ends (。!?; and forms, newlines), keeping exact offsets."""
    return [Span(text[s:e], offset + s, offset + e) for s, e in pieces(text, SENTENCE_ENDS)]


_CLAUSE_BREAK_RE = re.compile(f"[{re.escape(CLAUSE_BREAKS)}]")


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of comma/semicolon-separated clauses, as written (not stripped)."""
    spans = []
    pos = 0
    for m in _CLAUSE_BREAK_RE.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


_FIRST_SENTENCE_END = re.compile(r"(?<=[。！？!?;；])|(?<=\.)\s")


def first_sentence(text: str) -> str:
    """The text up to its first sentence end (Chinese punctuation, or ". " in English), stripped."""
    return _FIRST_SENTENCE_END.split(text, maxsplit=1)[0].strip()
