"""How well the clause that holds a span matches the question's own words.

A report sentence lists many indicators ("地区生产总值增长5.5%左右，……，单位地区生产总值能耗下降2%左右"): the
reader may pick the right kind of figure in the wrong clause. The words of the question that stand next to the
answer are a classic, language-independent signal for that (sliding-window overlap in reading comprehension).
Units are Chinese character bigrams and Latin/number words, so no segmenter is needed; an English question is
compared through the Chinese words the answerer inlines into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.sentences import CLAUSE_BREAKS

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[0-9a-z]{2,}")


@dataclass(frozen=True)
class Alignment:
    """Question units found in the span's clause(s), and their share of those found in the whole passage."""

    terms: int = 0
    share: float = 0.0


def question_units(question: str) -> frozenset[str]:
    """Distinct character bigrams of the question's Chinese runs and its Latin/number words (case-folded)."""
    units: set[str] = set()
    for run in _CJK_RUN.findall(question):
        units.update(run[i : i + 2] for i in range(len(run) - 1))
    units.update(_WORD.findall(question.casefold()))
    return frozenset(units)


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to the clause breaks (，;。：!? and their ASCII forms) before and after it."""
    left = max((text.rfind(ch, 0, start) for ch in CLAUSE_BREAKS), default=-1) + 1
    rights = [i for i in (text.find(ch, end) for ch in CLAUSE_BREAKS) if i >= 0]
    return left, min(rights, default=len(text))


def clause_alignment(units: frozenset[str], passage: str, start: int, end: int) -> Alignment:
    """Alignment of the span passage[start:end] with the question units."""
    if not units:
        return Alignment()
    folded = passage.casefold()
    in_passage = {u for u in units if u in folded}
    if not in_passage:
        return Alignment()
    left, right = clause_bounds(folded, start, end)
    clause = folded[left:right]
    found = sum(1 for u in in_passage if u in clause)
    return Alignment(found, found / len(in_passage))
