"""Checking an LLM answer against its passages: citations, numbers, quotes with exact document offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rag.citations import citation
from rag.text.numbers import NumberMention, extract_numbers
from rag.text.sentences import SENTENCE_ENDS, pieces
from rag.types import Citation, Hit, ParsedQuery


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

_QUOTE_CLAUSE_ENDS = "，,：:、"
_ANSWER_SENTENCE_ENDS = "。！？!?\n"
_MAX_QUOTE = 200


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", "", text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def best_quote(text: str, claim: str) -> tuple[int, int]:
    """Offsets within text of the sentence that best supports claim: most of its numbers, then word overlap."""
    claims = extract_numbers(strip_citations(claim))
    claim_grams = _bigrams(strip_citations(claim))
    best: tuple[tuple[int, int], tuple[int, int]] | None = None
    for s, e in pieces(text, SENTENCE_ENDS) or [(0, len(text))]:
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
            for cs, ce in pieces(text, _QUOTE_CLAUSE_ENDS, s, e)
            if any(_is_supported(c, extract_numbers(text[cs:ce])) for c in claims)
        ]
        if clauses:
            s, e = clauses[0][0], clauses[-1][1]
    return s, e


def _claim_for(n: int, answer: str) -> str:
    """The answer sentences that cite passage n (the whole answer if none does)."""
    citing = [answer[s:e] for s, e in pieces(answer, _ANSWER_SENTENCE_ENDS) if n in parse_citations(answer[s:e])]
    return " ".join(citing) or answer


def build_citations(
    answer: str, citations: Sequence[int], hits: Sequence[Hit], *, short_answer: str = ""
) -> tuple[Citation, ...]:
    """One Citation per cited passage; quote offsets index the document text (chunk.start + offset in chunk)."""
    out: list[Citation] = []
    for n in citations:
        hit = hits[n - 1]
        claim = _claim_for(n, answer) + " " + short_answer
        s, e = best_quote(hit.chunk.text, claim)
        out.append(citation(n, hit, hit.chunk.text[s:e], hit.chunk.start + s, hit.chunk.start + e, float(hit.score)))
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
