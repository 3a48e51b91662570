"""Question understanding: language, region(s), year(s), target vs achieved, metric and search terms."""

from __future__ import annotations

import re
import unicodedata

from rag.knowledge.regions import RegionCatalog, unknown_places
from rag.knowledge.vocabulary import intent_words, match_glossary
from rag.lexical import Tokenizer
from rag.text.dates import YEAR, expand_short_years, question_years
from rag.types import Intent, Language, ParsedQuery, QuestionType

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ZH_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def detect_language(text: str) -> Language:
    """zh when the question is mostly Chinese characters, else en."""
    cjk = len(_CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk >= max(2, latin) else "en"


def _en_has(lower: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", lower) is not None


_EXPLICIT_INTENT = re.compile(
    r"目标|预期|计划|实际|(?<![a-z])(?:target|targets|targeted|goal|goals|planned|actual|actually)(?![a-z])", re.IGNORECASE
)


def detect_intent(text: str, language: Language) -> Intent:
    """target (plan, 预期, 目标) vs achieved (实际, 实现, 完成) vs any."""
    words = intent_words()
    lower = text.lower()
    if language == "en":
        if any(_en_has(lower, w) for w in words["target"]["en"] if w != "will"):
            return "target"
        if any(_en_has(lower, w) for w in ("actual", "actually", "achieved", "reached", "realized", "realised")):
            return "achieved"
        return "any"
    if any(w in text for w in words["target"]["zh"]):
        # A question that says 实际, or negates the plan word (不是计划数, 并非目标), names the plan only to exclude it.
        if re.search(r"实际|(?:不是|并非|而非)[^,，。;；]{0,6}(?:计划|目标|预期)", text):
            return "achieved"
        return "target"
    if any(w in text for w in words["achieved"]["zh"]):
        return "achieved"
    return "any"


_ZH_QUANTITY_WORD = r"多少|几[个项所名条家张栋次倍年]"
"""Chinese words that ask for a quantity (also the first of `detect_qtype`'s numeric cues)."""
_QUANTITY_WORD = re.compile(rf"{_ZH_QUANTITY_WORD}|how many|how much", re.IGNORECASE)


def asks_several_quantities(text: str) -> bool:
    """Whether a question asks for more than one figure: two quantity words ("从多少家增加到多少家"), or
    分别/respectively."""
    return len(_QUANTITY_WORD.findall(text)) >= 2 or bool(re.search(r"分别|respectively", text, re.IGNORECASE))


def detect_qtype(text: str, language: Language, n_regions: int) -> QuestionType:
    """Coarse answer type: numeric, entity, list, yes_no, date, comparison, definition, other."""
    if language == "zh":
        if re.search(r"哪个更|哪一个更|谁更|更大|更高|更多|更快", text) and ("与" in text or "和" in text or "还是" in text):
            return "comparison"
        if re.search(r"什么时候|何时|哪一天|哪天|日期|哪一年|哪年|起施行|何日", text):
            return "date"
        if re.search(r"是否|有没有|吗[?？]?$|是不是", text):
            return "yes_no"
        if re.search(rf"{_ZH_QUANTITY_WORD}|增速|增长率|比例|比重|百分之|多高|多大", text):
            return "numeric"
        if re.search(r"哪些|有哪|哪[几两三四五六七八九十]|分别是|包括什么|包括哪", text):
            return "list"
        if re.search(r"指什么|是指|什么意思|含义|是什么$|是什么[?？]", text):
            return "definition"
        if re.search(r"哪个|哪|什么|谁", text):
            return "entity"
        return "other"
    lower = text.lower().strip()
    if re.search(r"\bwhich\b.*\b(higher|larger|more|greater|bigger|faster|lower|smaller|less)\b", lower) or (
        n_regions >= 2 and re.search(r"\b(higher|larger|more|greater|bigger|faster)\b", lower)
    ):
        return "comparison"
    if re.search(r"(?:^|[,;:] )(did|does|do|is|was|were|are|has|have|had|can|will) ", lower):
        return "yes_no"
    if re.search(r"\bwhen\b|what date|which date|what year|which year|since when", lower):
        return "date"
    if re.search(r"how many|how much|what (?:was|is|were|are)\b.*\b(rate|target|growth|amount|number|volume|total|gdp|revenue|income|investment|standard|ratio|share|output|sales)|\brate\b|\btarget\b|percent|growth", lower):
        return "numeric"
    if re.search(r"what does .* (refer|mean|stand)|what is meant|refer to|stand for|definition", lower):
        return "definition"
    if re.search(r"what are|\blist\b", lower):
        return "list"
    if re.search(r"\bwhich\b|\bwhat\b|\bwho\b", lower):
        return "entity"
    return "other"


_REPORT_YEAR = re.compile(
    rf"({YEAR})\s*年?(?:的)?(?:区|市|省)?(?:政府)?(?:工作报告|政府工作报告|报告)|({YEAR})\s+(?:government\s+)?(?:work\s+)?report",
    re.IGNORECASE,
)


def _fact_years_first(text: str) -> tuple[int, ...]:
    """Years in the question, the years facts are asked about before the year naming the report."""
    years = question_years(text)
    report = {int(a or b) for a, b in _REPORT_YEAR.findall(text)}
    facts = [y for y in years if y not in report]
    return tuple(dict.fromkeys(facts + [y for y in years if y in report]))


def parse_question(question: str, catalog: RegionCatalog, tokenizer: Tokenizer) -> ParsedQuery:
    """Understand a question well enough to route and score passages."""
    text = expand_short_years(unicodedata.normalize("NFKC", question).strip())
    language = detect_language(text)
    regions = catalog.find(text)
    years = _fact_years_first(text)
    entries = match_glossary(text, language)
    metrics = tuple(dict.fromkeys(z for e in entries if e.kind == "metric" for z in e.zh))
    glossary_terms = [z for e in entries for z in e.zh]
    if language == "zh":
        terms = list(tokenizer.tokenize(text))
    else:
        terms = [t for run in _ZH_RUN.findall(text) for t in tokenizer.tokenize(run)]
        terms += [t for z in glossary_terms for t in tokenizer.tokenize(z)]
        for name in regions:
            region = next((r for r in catalog.regions if r.name == name), None)
            if region:
                terms += [z for z in region.zh]
        terms += [str(y) for y in years]
        terms += [a.lower() for a in re.findall(r"(?<![A-Za-z])[A-Z][A-Z0-9&]{1,7}(?![A-Za-z])", text)]
    return ParsedQuery(
        text=text,
        language=language,
        regions=regions,
        unknown_places=unknown_places(text, catalog, regions),
        years=years,
        intent=detect_intent(text, language),
        intent_explicit=bool(_EXPLICIT_INTENT.search(text)),
        metrics=metrics,
        terms=tuple(dict.fromkeys(terms)),
        qtype=detect_qtype(text, language, len(regions)),
    )
