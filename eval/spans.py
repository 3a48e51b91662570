"""Span metrics for reading-comprehension sets: exact match and character F1 (CMRC 2018 style).

Both compare after `normalize_answer` with punctuation and whitespace removed, and take the best over
the gold alternatives; Chinese is compared character by character, runs of ASCII letters/digits as words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from eval.answer_matching import normalize_answer

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?|[^\sa-z0-9]", re.IGNORECASE)


def span_tokens(text: str) -> list[str]:
    """Comparison units: CJK characters one by one, ASCII words and numbers whole, punctuation dropped."""
    norm = normalize_answer(text)
    return [t for t in _TOKEN.findall(norm) if not unicodedata.category(t[0]).startswith(("P", "S", "Z"))]


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the prediction equals some gold answer after normalisation."""
    pred = span_tokens(prediction)
    return float(any(pred == span_tokens(a) for a in answers)) if answers else 0.0


def char_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best character-level F1 of the prediction against the gold answers."""
    pred = span_tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = span_tokens(answer)
        common = sum((Counter(pred) & Counter(gold)).values())
        if not pred or not gold or not common:
            continue
        p, r = common / len(pred), common / len(gold)
        best = max(best, 2 * p * r / (p + r))
    return best
