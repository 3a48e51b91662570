"""The question as the reader should read it: in the reports' own vocabulary, and asked as a question.

The reader was trained on Chinese reading-comprehension questions, so it reads report vocabulary and a
question word far better than abbreviations, English or keyword queries (a keyword query with "gdp"
gives a low, unsure score where the same words with 地区生产总值 and a question word give a sure one). Through the
glossary (general report vocabulary) a Chinese question's Latin terms become the report's terms, and an
English question that names report vocabulary is rendered as a Chinese question from its parsed parts
(years, regions, glossary terms). Other English questions are read with the Chinese dictionary word after
each English phrase that has one (`rag.knowledge.bilingual`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.knowledge.bilingual import Lexicon, load_lexicon, with_chinese
from rag.knowledge.vocabulary import GlossaryEntry, match_glossary
from rag.types import Language, ParsedQuery

_ZH_QUESTION_WORD = re.compile(r"什么|多少|哪|几|谁|何|吗|怎|是否|有没有|如何|为什么|多大|多高|多长|多快")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_LATIN = re.compile(r"[A-Za-z][A-Za-z&\- ]*[A-Za-z]|[A-Za-z]")


def _ask(text: str, figure: bool) -> str:
    text = text.rstrip("?？。 ")
    return text + ("是多少?" if figure else "是什么?")


@dataclass(frozen=True)
class ReaderQuestion:
    """What the reader reads for a question, and in which language (which calibrator scores its spans)."""

    text: str
    language: Language


def reader_question(query: ParsedQuery, lexicon: Callable[[], Lexicon | None] = load_lexicon) -> ReaderQuestion:
    """The question as the reader should read it (`lexicon` is asked only for an English question)."""
    entries = match_glossary(query.text, "en")
    if query.language == "zh" or entries:
        return ReaderQuestion(_in_report_vocabulary(query, entries), "zh")
    return ReaderQuestion(english_reader_text(query.text, lexicon), "en")


def english_reader_text(question: str, lexicon: Callable[[], Lexicon | None] = load_lexicon) -> str:
    """An English question outside the glossary as the reader reads it (also used by the calibration fit
    and the reader evaluation, so they measure what is served)."""
    return with_chinese(question, lexicon())


def _in_report_vocabulary(query: ParsedQuery, entries: Sequence[GlossaryEntry]) -> str:
    """The question in the reports' words, given the glossary entries its English terms matched."""
    figure = query.qtype == "numeric" or bool(query.metrics)
    if query.language == "zh":
        text = query.text
        for entry in entries:
            zh = entry.zh[0]
            for phrase in sorted(entry.en, key=len, reverse=True):
                text = re.sub(rf"(?<![A-Za-z]){re.escape(phrase)}(?![A-Za-z])", zh, text, flags=re.IGNORECASE)
        return text if _ZH_QUESTION_WORD.search(text) else _ask(text, figure)
    lower = query.text.lower()

    def position(entry: object) -> int:
        found = [lower.find(p.lower()) for p in getattr(entry, "en", ()) if p.lower() in lower]
        return min(found) if found else len(lower)

    parts = [f"{y}年" for y in query.years] + list(query.regions)
    parts += [e.zh[0] for e in sorted(entries, key=position) if e.zh and not _LATIN.fullmatch(e.zh[0])]
    parts += [run for run in _CJK_RUN.findall(query.text) if run not in parts]  # report words quoted as written
    parts += {"target": ["目标"], "achieved": ["实际"]}.get(query.intent, [])
    return _ask("".join(parts), figure)
