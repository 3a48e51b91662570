"""Editing text while keeping, for every character, its offset in the raw text it came from."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable

OffsetMap = tuple[tuple[int, int], ...]
"""Anchors (clean_offset, original_offset), as documented on Document.offset_map."""
Edit = tuple[int, int, str]
"""Replace current_text[start:end] with the string."""


def to_original(offset_map: OffsetMap, clean_offset: int) -> int:
    """Map an offset in the cleaned text back to the raw text."""
    if not offset_map:
        return clean_offset
    i = bisect.bisect_right(offset_map, clean_offset, key=lambda anchor: anchor[0]) - 1
    clean_anchor, original_anchor = offset_map[max(i, 0)]
    return original_anchor + (clean_offset - clean_anchor)


class TrackedText:
    """Text plus, for each character, its offset in the raw input."""

    def __init__(self, text: str, idx: list[int]) -> None:
        self.text = text
        self.idx = idx

    def apply(self, edits: Iterable[Edit]) -> None:
        """Make the edits (offsets into the current text); of overlapping edits the first wins."""
        text, idx = self.text, self.idx
        out: list[str] = []
        out_idx: list[int] = []
        pos = 0
        for start, end, repl in sorted(edits):
            if start < pos:  # overlapping edits: keep the first
                continue
            out.append(text[pos:start])
            out_idx.extend(idx[pos:start])
            out.append(repl)
            at = idx[start] if start < len(idx) else (idx[-1] + 1 if idx else 0)
            out_idx.extend(_align(text[start:end], idx[start:end], repl, at))
            pos = end
        out.append(text[pos:])
        out_idx.extend(idx[pos:])
        self.text, self.idx = "".join(out), out_idx

    def offset_map(self) -> OffsetMap:
        """Anchors where the current text stops following the raw text one character at a time."""
        anchors: list[tuple[int, int]] = []
        prev = -2
        for i, o in enumerate(self.idx):
            if o != prev + 1:
                anchors.append((i, o))
            prev = o
        return tuple(anchors) if anchors else ((0, 0),)


def _align(seg: str, seg_idx: list[int], repl: str, at: int) -> list[int]:
    """Raw offsets for a replacement: positional if same length, else by subsequence match."""
    if len(repl) == len(seg):
        return list(seg_idx)
    out: list[int] = []
    j = 0
    for ch in repl:
        while j < len(seg) and seg[j] != ch and unicodedata.normalize("NFKC", seg[j]) != ch:
            j += 1
        if j == len(seg):
            base = seg_idx[0] if seg_idx else at
            return [base + min(i, max(len(seg) - 1, 0)) for i in range(len(repl))]
        out.append(seg_idx[j])
        j += 1
    return out


def regex_edits(text: str, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> list[Edit]:
    """Edits replacing each match by `repl(match)` (matches it leaves unchanged make no edit)."""
    edits = []
    for m in pattern.finditer(text):
        new = repl(m)
        if new != m.group():
            edits.append((m.start(), m.end(), new))
    return edits


def lines_with_offsets(text: str) -> list[tuple[int, str]]:
    """Each line of the text (without its newline) with the offset it starts at."""
    out = []
    pos = 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out
