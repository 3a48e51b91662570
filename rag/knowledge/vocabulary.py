"""Report vocabulary as data: English phrases ↔ the Chinese terms reports use, and target/achieved cue words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from rag.knowledge import load_data
from rag.types import Language

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class GlossaryEntry:
    """One concept: English phrasings and the Chinese terms reports use for it."""

    en: tuple[str, ...]
    zh: tuple[str, ...]
    kind: str
    """metric (a quantity reports give figures for) | term | unit."""


@cache
def glossary_entries() -> tuple[GlossaryEntry, ...]:
    """The packaged glossary (rag/data/glossary.json)."""
    raw = load_data("glossary.json")
    return tuple(GlossaryEntry(tuple(e["en"]), tuple(e["zh"]), e["kind"]) for e in raw["entries"])


@cache
def intent_words() -> dict[str, dict[str, tuple[str, ...]]]:
    """Cue words for target vs achieved questions, by language."""
    raw = load_data("glossary.json")["intent"]
    return {k: {lang: tuple(v) for lang, v in langs.items()} for k, langs in raw.items()}


def domain_words() -> list[str]:
    """Chinese report vocabulary, for the tokenizer's dictionary."""
    return sorted({z for e in glossary_entries() for z in e.zh if len(z) >= 2 and _CJK.search(z)})


def match_glossary(text: str, language: Language) -> list[GlossaryEntry]:
    """Glossary entries a question mentions (longest phrases first, overlaps dropped)."""
    lower = unicodedata.normalize("NFKC", text).lower()
    spans: list[tuple[int, int, GlossaryEntry]] = []
    for entry in glossary_entries():
        phrases = [(p, True) for p in entry.en] + [(z, False) for z in entry.zh]
        for phrase, is_en in phrases:
            if is_en:
                for m in re.finditer(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", lower):
                    spans.append((m.start(), m.end(), entry))
            elif _CJK.search(phrase) and len(phrase) >= 2:
                start = lower.find(phrase)
                if start >= 0:
                    spans.append((start, start + len(phrase), entry))
    spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    taken: list[tuple[int, int]] = []
    out: list[GlossaryEntry] = []
    for a, b, entry in spans:
        if any(a < y and x < b for x, y in taken):
            continue
        taken.append((a, b))
        if entry not in out:
            out.append(entry)
    return out
