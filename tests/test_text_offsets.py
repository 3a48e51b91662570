"""Tests for rag/text/offsets.py: edits that keep raw offsets, and mapping cleaned offsets back."""

from __future__ import annotations

from rag.cleaning import clean_text
from rag.text.offsets import TrackedText, lines_with_offsets, to_original


def test_to_original_maps_through_deletions() -> None:
    raw = "首页 > 政务公开\n发布日期:2018-02-22\n正文第一句。"
    result = clean_text(raw)
    assert result.text == "正文第一句。"
    start = to_original(result.offset_map, 0)
    assert raw[start : start + 6] == "正文第一句。"
    assert to_original((), 5) == 5


def test_an_edit_keeps_the_raw_offsets_around_it() -> None:
    doc = TrackedText("ab  cd", list(range(6)))
    doc.apply([(2, 4, " ")])
    assert doc.text == "ab cd"
    assert doc.offset_map() == ((0, 0), (3, 4))
    assert to_original(doc.offset_map(), 4) == 5  # "d"


def test_of_overlapping_edits_the_first_wins() -> None:
    doc = TrackedText("abcd", list(range(4)))
    doc.apply([(1, 3, "Y"), (0, 2, "X")])
    assert doc.text == "Xcd"
    assert doc.offset_map() == ((0, 0), (1, 2))
    assert TrackedText("", []).offset_map() == ((0, 0),)


def test_lines_with_offsets() -> None:
    assert lines_with_offsets("a\n\nbc") == [(0, "a"), (2, ""), (3, "bc")]
