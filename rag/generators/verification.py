"""Checking an LLM answer against its passages: citations, numbers, quotes with exact document offsets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from rag.types import Citation, Hit, ParsedQuery

NumberKind = Literal["plain", "percent", "permille"]


@dataclass(frozen=True)
class NumberMention:
    """A number as written in text, with its value after unit scaling (1740.31亿 → 174031000000)."""

    text: str
    value: Decimal
    kind: NumberKind
    mantissa: Decimal
    """The digits as written, before scaling (1740.31 in "1740.31亿")."""
    scale: Decimal
    start: int
    end: int

    @property
    def decimals(self) -> int:
        """Decimal places written in the mantissa."""
        exponent = self.mantissa.as_tuple().exponent
        return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True)
class VerificationResult:
    """Whether every number in an answer is backed by the passages, and which citations point at passages."""

    ok: bool
    unsupported_numbers: tuple[str, ...]
    citations_kept: tuple[int, ...]
    """1-based passage numbers cited in the answer, in order of first appearance."""


# ---------------------------------------------------------------------------------------------- citations

_CITATION_RE = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*(?:[,，、;；]|-|–|~)\s*\d{1,3})*)\s*[\]】］]")


def _citation_numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", group):
        bounds = re.split(r"\s*[-–~]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            numbers.extend(range(lo, hi + 1) if 0 < hi - lo < 20 else (lo, hi))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def parse_citations(text: str) -> tuple[int, ...]:
    """All [n] markers in order of first appearance: [1], [1][2], [1, 2], [1-3], 【1】."""
    seen: dict[int, None] = {}
    for match in _CITATION_RE.finditer(text):
        for n in _citation_numbers(match.group(1)):
            seen.setdefault(n, None)
    return tuple(seen)


def clean_citations(text: str, n_passages: int) -> str:
    """Rewrite markers as [n][m] keeping only numbers 1..n_passages; markers citing nothing valid vanish."""

    def repl(match: re.Match[str]) -> str:
        valid = [n for n in _citation_numbers(match.group(1)) if 1 <= n <= n_passages]
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    cleaned = _CITATION_RE.sub(repl, text)
    return re.sub(r"[ \t]+([。.,，;；!?！？])", r"\1", cleaned).strip()


def strip_citations(text: str) -> str:
    """Text without any [n] markers."""
    return re.sub(r"[ \t]{2,}", " ", _CITATION_RE.sub("", text)).strip()


# ------------------------------------------------------------------------------------------------ numbers

_FULLWIDTH = str.maketrans("０１２３４５６７８９．％，", "0123456789.%,")

# Longest alternatives first; English units need a word boundary after them.
_UNITS: tuple[tuple[str, Decimal, NumberKind], ...] = (
    ("percentage points", Decimal(1), "percent"),
    ("percentage point", Decimal(1), "percent"),
    ("个百分点", Decimal(1), "percent"),
    ("百分点", Decimal(1), "percent"),
    ("per cent", Decimal(1), "percent"),
    ("percent", Decimal(1), "percent"),
    ("pct", Decimal(1), "percent"),
    ("%", Decimal(1), "percent"),
    ("‰", Decimal(1), "permille"),
    ("hundred million", Decimal(10) ** 8, "plain"),
    ("ten thousand", Decimal(10) ** 4, "plain"),
    ("trillion", Decimal(10) ** 12, "plain"),
    ("billion", Decimal(10) ** 9, "plain"),
    ("million", Decimal(10) ** 6, "plain"),
    ("thousand", Decimal(10) ** 3, "plain"),
    ("bn", Decimal(10) ** 9, "plain"),
    ("mn", Decimal(10) ** 6, "plain"),
    ("万亿", Decimal(10) ** 12, "plain"),
    ("千亿", Decimal(10) ** 11, "plain"),
    ("百亿", Decimal(10) ** 10, "plain"),
    ("亿", Decimal(10) ** 8, "plain"),
    ("千万", Decimal(10) ** 7, "plain"),
    ("百万", Decimal(10) ** 6, "plain"),
    ("万", Decimal(10) ** 4, "plain"),
)
_UNIT_LOOKUP = {name: (scale, kind) for name, scale, kind in _UNITS}
_UNIT_PATTERN = "|".join(
    re.escape(name) + (r"(?![A-Za-z])" if name[0].isascii() and name[0].isalpha() else "")
    for name, _, _ in _UNITS
)
_ARABIC_RE = re.compile(
    r"(?<![\d.])(?P<num>\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?P<frac>\.\d+)?(?:\s?(?P<unit>"
    + _UNIT_PATTERN
    + r"))?",
    re.IGNORECASE,
)

_CN_DIGITS = {"零": 0, "〇": 0, "两": 2} | {ch: i for i, ch in enumerate("一二三四五六七八九", start=1)}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10**4, "亿": 10**8}
_CN_RE = re.compile(
    r"(?P<prefix>百分之|千分之)?(?P<int>[零〇一二两三四五六七八九十百千万亿]+)"
    r"(?:点(?P<frac>[零〇一二三四五六七八九]+))?(?P<suffix>个百分点)?"
)


_FIVE_YEAR_PLAN_RE = re.compile(r"十[一二三四五六七八九]五")


def _parse_cn_section(text: str) -> int | None:
    """A numeral below 万 written with 十/百/千 (一百零五, 三十五, 十二); None if not well-formed."""
    value, digit, last_unit, after_zero = 0, None, 10**5, False
    for i, ch in enumerate(text):
        if ch in ("零", "〇"):
            if digit is not None or i == 0:
                return None
            after_zero = True
        elif ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_SMALL[ch]
            if unit >= last_unit:
                return None
            if digit is None:
                if ch != "十" or i != 0:
                    return None
                digit = 1
            value += digit * unit
            digit, last_unit, after_zero = None, unit, False
    if digit is not None:
        # "一百五" is colloquially 150, not 105: only accept a trailing digit after 十, 零 or on its own.
        if last_unit not in (10, 10**5) and not after_zero:
            return None
        value += digit
    return value


def _parse_cn_integer(text: str) -> int | None:
    """A Chinese integer with 万/亿 sections (三万五千 → 35000); None if ambiguous or malformed."""
    if all(ch in _CN_DIGITS for ch in text):
        if len(text) >= 2 and any(ch in "零〇" for ch in text):
            return int("".join(str(_CN_DIGITS[ch]) for ch in text))  # 二〇一八
        return _CN_DIGITS[text] if len(text) == 1 else None
    total, rest = 0, text
    for big_char, big in sorted(_CN_BIG.items(), key=lambda kv: -kv[1]):
        if big_char in rest:
            head, _, rest = rest.partition(big_char)
            if big_char in rest or not head:
                return None
            head_value = _parse_cn_integer(head) if big_char == "亿" else _parse_cn_section(head)
            if not head_value:
                return None
            total += head_value * big
    if rest:
        section = _parse_cn_section(rest.lstrip("零〇") if total else rest)
        if section is None:
            return None
        total += section
    return total


def _cn_mentions(text: str) -> Iterable[NumberMention]:
    for match in _CN_RE.finditer(text):
        integer, frac = match.group("int"), match.group("frac")
        prefix, suffix = match.group("prefix"), match.group("suffix")
        # A lone numeral character (一般, 统一, 两会, 十分) is a word, not a number, unless a % form or 点 anchors it.
        if len(integer) == 1 and not (prefix or suffix or frac):
            continue
        value = _parse_cn_integer(integer)
        if value is None and _FIVE_YEAR_PLAN_RE.fullmatch(integer):
            value = _parse_cn_integer(integer[:-1])  # 十四五 is the 14th Five-Year Plan
        if value is None:
            continue
        mantissa = Decimal(value)
        if frac:
            mantissa = Decimal(f"{value}." + "".join(str(_CN_DIGITS[ch]) for ch in frac))
        kind: NumberKind = "permille" if prefix == "千分之" else "percent" if prefix or suffix else "plain"
        yield NumberMention(match.group(0), mantissa, kind, mantissa, Decimal(1), match.start(), match.end())


_LIST_MARKER_RE = re.compile(r"^(\s*)\d{1,2}([.)、]\s)", re.MULTILINE)


def extract_numbers(text: str) -> tuple[NumberMention, ...]:
    """Every number in text: Arabic (decimals, thousands commas, %, ‰, 亿/万, billion/million) and Chinese numerals.

    List markers at line starts ("1. ", "2) ") are not numbers.
    """
    norm = _LIST_MARKER_RE.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)
    norm = norm.translate(_FULLWIDTH)
    mentions: list[NumberMention] = []
    for match in _ARABIC_RE.finditer(norm):
        digits = match.group("num").replace(",", "") + (match.group("frac") or "")
        try:
            mantissa = Decimal(digits)
        except InvalidOperation:
            continue
        unit = match.group("unit")
        scale, kind = _UNIT_LOOKUP[unit.lower()] if unit else (Decimal(1), "plain")
        mentions.append(
            NumberMention(match.group(0), mantissa * scale, kind, mantissa, scale, match.start(), match.end())
        )
    mentions.extend(_cn_mentions(norm))
    return tuple(sorted(mentions, key=lambda m: m.start))


def _matches(claim: NumberMention, source: NumberMention) -> bool:
    """Same kind and the same value after unit scaling, or the source rounded to the claim's precision."""
    if claim.scale == 1 and claim.kind == "plain" and claim.mantissa == source.mantissa:
        return True  # a figure written without its unit: "1740.31" for 1740.31亿, "7.7" for 7.7%
    if claim.kind != source.kind:
        return False
    if claim.value == source.value:
        return True
    significant = len(claim.mantissa.normalize().as_tuple().digits)
    if significant < 2 or source.value == 0:
        return False
    rounded = (source.value / claim.scale).quantize(
        Decimal(1).scaleb(-claim.decimals), rounding=ROUND_HALF_UP
    )
    return rounded == claim.mantissa


_INJECTION_RE = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+)?(the\s+)?(previous|prior|above|earlier|preceding)\s+(instructions|prompts?|rules)"
    r"|(忽略|无视|忘记|不要理会)(掉)?(以上|之前|上述|前面|上面|先前)(的)?(所有|全部|一切)?(的)?(指令|指示|规则|要求|提示)"
    r"|you\s+are\s+now\b|new\s+instructions\s*:|system\s+prompt|<\|im_start\|>|你现在是",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    """Whether passage text addresses the model ("ignore previous instructions", 忽略以上所有指令…).

    Government reports never do; such a passage is planted, and its figures support nothing.
    """
    return _INJECTION_RE.search(text) is not None


def passage_numbers(hit: Hit) -> tuple[NumberMention, ...]:
    """Numbers a passage shows the model: its text, title, section and the report's years."""
    meta = hit.meta
    years = [y for y in (meta.year, meta.plan_year, *meta.review_years) if y is not None]
    label = " ".join([meta.title, hit.chunk.section, *map(str, years)])
    text = "" if looks_like_injection(hit.chunk.text) else hit.chunk.text
    return extract_numbers(text) + extract_numbers(label)


def _is_supported(claim: NumberMention, sources: Sequence[NumberMention]) -> bool:
    return any(_matches(claim, source) for source in sources)


def verify_answer(
    answer: str, query: ParsedQuery, hits: Sequence[Hit], *, short_answer: str = ""
) -> VerificationResult:
    """Check every number of the answer (and short answer) against the cited passages, or all if none is cited.

    Numbers that occur in the question (its years, a figure the user asks about) are never unsupported.
    """
    cited = parse_citations(answer) + parse_citations(short_answer)
    kept = tuple(dict.fromkeys(n for n in cited if 1 <= n <= len(hits)))
    scope = [hits[n - 1] for n in kept] if kept else list(hits)
    sources = [m for hit in scope for m in passage_numbers(hit)]
    allowed = list(extract_numbers(query.text)) + [
        NumberMention(str(y), Decimal(y), "plain", Decimal(y), Decimal(1), 0, 0) for y in query.years
    ]
    unsupported: dict[str, None] = {}
    for text in (short_answer, answer):
        for claim in extract_numbers(strip_citations(text)):
            if not _is_supported(claim, sources) and not _is_supported(claim, allowed):
                unsupported.setdefault(claim.text.strip(), None)
    return VerificationResult(ok=not unsupported, unsupported_numbers=tuple(unsupported), citations_kept=kept)


# ------------------------------------------------------------------------------------------------- quotes

_SENTENCE_END = "。！？；!?;\n"
_CLAUSE_END = "，,：:、"
_MAX_QUOTE = 200


def _spans(text: str, ends: str, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of the pieces of text[start:stop] ending at any of `ends`, stripped of whitespace."""
    stop = len(text) if stop is None else stop
    spans, begin = [], start
    for i in range(start, stop):
        if text[i] in ends or i == stop - 1:
            s, e = begin, i + 1
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                spans.append((s, e))
            begin = i + 1
    return spans


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", "", text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def best_quote(text: str, claim: str) -> tuple[int, int]:
    """Offsets within text of the sentence that best supports claim: most of its numbers, then word overlap."""
    claims = extract_numbers(strip_citations(claim))
    claim_grams = _bigrams(strip_citations(claim))
    best: tuple[tuple[int, int], tuple[int, int]] | None = None
    for s, e in _spans(text, _SENTENCE_END) or [(0, len(text))]:
        sentence = text[s:e]
        numbers = extract_numbers(sentence)
        supported = sum(1 for c in claims if _is_supported(c, numbers))
        key = (supported, len(claim_grams & _bigrams(sentence)))
        if best is None or key > best[0]:
            best = (key, (s, e))
    assert best is not None
    s, e = best[1]
    if e - s > _MAX_QUOTE and claims:
        # Long report sentences run on for a paragraph: keep the clauses that carry the cited figures.
        clauses = [
            (cs, ce)
            for cs, ce in _spans(text, _CLAUSE_END, s, e)
            if any(_is_supported(c, extract_numbers(text[cs:ce])) for c in claims)
        ]
        if clauses:
            s, e = clauses[0][0], clauses[-1][1]
    return s, e


def _claim_for(n: int, answer: str) -> str:
    """The answer sentences that cite passage n (the whole answer if none does)."""
    pieces = [answer[s:e] for s, e in _spans(answer, "。！？!?\n") if n in parse_citations(answer[s:e])]
    return " ".join(pieces) or answer


def build_citations(
    answer: str, citations: Sequence[int], hits: Sequence[Hit], *, short_answer: str = ""
) -> tuple[Citation, ...]:
    """One Citation per cited passage; quote offsets index the document text (chunk.start + offset in chunk)."""
    out: list[Citation] = []
    for n in citations:
        hit = hits[n - 1]
        claim = _claim_for(n, answer) + " " + short_answer
        s, e = best_quote(hit.chunk.text, claim)
        out.append(
            Citation(
                n=n,
                doc_id=hit.chunk.doc_id,
                title=hit.meta.title,
                region=hit.meta.region,
                year=hit.meta.year,
                section=hit.chunk.section,
                quote=hit.chunk.text[s:e],
                start=hit.chunk.start + s,
                end=hit.chunk.start + e,
                score=float(hit.score),
            )
        )
    return tuple(out)


def best_supporting_passage(answer: str, hits: Sequence[Hit]) -> int:
    """1-based number of the passage backing most of the answer's numbers (then most word overlap)."""
    claims = extract_numbers(strip_citations(answer))
    grams = _bigrams(strip_citations(answer))

    def key(i: int) -> tuple[int, int, int]:
        hit = hits[i - 1]
        supported = sum(1 for c in claims if _is_supported(c, passage_numbers(hit)))
        return supported, len(grams & _bigrams(hit.chunk.text)), -i

    return max(range(1, len(hits) + 1), key=key)
