"""Answer and retrieval metrics as pure functions (no I/O, no pipeline)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.text.numbers import cn_decimal
from rag.types import Hit

# --- answer normalisation -------------------------------------------------------------------------------

_CN_NUMERAL = "零〇一二两三四五六七八九十百千"
_CN_RUN = re.compile(rf"[{_CN_NUMERAL}]+(?:点[零〇一二三四五六七八九]+)?")
_PERCENT_CN = re.compile(rf"百分之([{_CN_NUMERAL}]+(?:点[零〇一二三四五六七八九]+)?|\d+(?:\.\d+)?)")
# A Chinese numeral is converted only in front of one of these (or alone), where it cannot be part of a word
# such as 十三五 (a plan name, which rag.text.numbers never reads as a number), 统一 or 四川.
_MEASURE_WORDS = frozenset(
    "个次名条所项张栋件家座种位人户天年月日号元倍岁届批期场台辆只头本部篇周轮级类亩吨米%万亿"
)
_QUOTES = re.compile("[\"'“”‘’「」『』]")
_DIGIT_GROUP_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TRAILING_PUNCT = "。.,，;；:：!！?？、 "
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_cjk(ch: str) -> bool:
    return bool(ch) and ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


def _cn_number(run: str) -> str | None:
    """A Chinese numeral in digits; a bare 零 is a word here (零件, 零部件), not the number 0."""
    return None if run.partition("点")[0] in ("零", "〇") else cn_decimal(run)


def _replace_cn_percent(match: re.Match[str]) -> str:
    body = match.group(1)
    number = body if body[0].isdigit() else _cn_number(body)
    return f"{number}%" if number is not None else match.group(0)


def _convert_cn_numerals(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _CN_RUN.finditer(text):
        start, end = match.span()
        following = text[end] if end < len(text) else ""
        run = match.group(0)
        standalone = start == 0 and end == len(text)
        preceding = text[start - 1] if start > 0 else ""
        # At the end of a string a lone digit after a word is usually part of it (之一, 统一), not a count.
        at_end = following == "" and (len(run) > 1 or not _is_cjk(preceding))
        if standalone or following in _MEASURE_WORDS or at_end:
            number = _cn_number(run)
            if number is not None:
                out.append(text[pos:start])
                out.append(number)
                pos = end
    out.append(text[pos:])
    return "".join(out)


def _squeeze_spaces(text: str) -> str:
    """Drop whitespace except one space between two ASCII letters/digits ("about 7.7%", but "12. 2万" → "12.2万")."""
    parts = text.split()
    if not parts:
        return ""
    out = [parts[0]]
    for part in parts[1:]:
        if _is_ascii_alnum(out[-1][-1]) and _is_ascii_alnum(part[0]):
            out.append(" ")
        out.append(part)
    return "".join(out)


def normalize_answer(text: str) -> str:
    """Canonical form for answer comparison.

    NFKC (full/half width, ``％`` → ``%``), case-folded, quotes removed, ``百分之X`` → ``X%``, well-formed Chinese
    numerals before a measure word or standing alone → Arabic (``十三条`` → ``13条``, ``十三五`` kept), digit-group
    commas dropped, whitespace squeezed, trailing punctuation stripped. Units (亿元, 万) stay as written.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _QUOTES.sub("", text)
    text = _PERCENT_CN.sub(_replace_cn_percent, text)
    text = _convert_cn_numerals(text)
    text = _DIGIT_GROUP_COMMA.sub("", text)
    text = _squeeze_spaces(text)
    return text.strip(_TRAILING_PUNCT)


def numbers_in(text: str) -> tuple[float, ...]:
    """The numbers written in an already normalised string."""
    return tuple(float(m) for m in _NUMBER.findall(text))


def _contains(haystack: str, needle: str) -> bool:
    """Substring test that does not split an ASCII word or number (gold "no" is not in "not")."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before = haystack[start - 1] if start > 0 else ""
        after = haystack[end] if end < len(haystack) else ""
        left_ok = not (before and _is_ascii_alnum(before) and _is_ascii_alnum(needle[0]))
        right_ok = not (after and _is_ascii_alnum(after) and _is_ascii_alnum(needle[-1]))
        if left_ok and right_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


SHORT_ANSWER_SLACK = 12
"""A prediction containing the gold may be this many characters longer ("7.7%左右", "about 7.7%")."""
GROUP_SLACK = 30
"""For group modes, a prediction may exceed the total length of the matched items by this much."""


def _matches_single(pred_norm: str, gold_norm: str) -> bool:
    if not gold_norm:
        return False
    if pred_norm == gold_norm:
        return True
    if len(pred_norm) > len(gold_norm) + SHORT_ANSWER_SLACK or not _contains(pred_norm, gold_norm):
        return False
    # "7.7% and 2%" must not pass for gold "7.7%": every number of the prediction has to be in the gold.
    gold_numbers = set(numbers_in(gold_norm))
    return all(n in gold_numbers for n in numbers_in(pred_norm))


def _matches_all_groups(pred_norm: str, groups: Sequence[Sequence[str]]) -> bool:
    if not groups:
        return False
    budget = GROUP_SLACK
    for group in groups:
        alts = [g for g in (normalize_answer(a) for a in group) if g]
        matched = next((g for g in alts if pred_norm == g or _contains(pred_norm, g)), None)
        if matched is None:
            return False
        budget += len(matched)
    return len(pred_norm) <= budget


def _as_groups(gold_answers: Sequence[str | Sequence[str]]) -> list[tuple[str, ...]]:
    return [(g,) if isinstance(g, str) else tuple(g) for g in gold_answers]


def answer_correct(
    pred: str,
    refused: bool,
    gold_answers: Sequence[str | Sequence[str]],
    check_mode: str = "any_of",
) -> bool:
    """Whether a short answer is right under an ``answer_check`` mode.

    Args:
        gold_answers: ``any_of``: the alternatives (strings; nested lists are flattened). ``all_groups_any_alt``:
            groups of alternatives, every group must match. ``any_variant_all_items``: variants, each a list of
            items that must all match. ``refusal``: ignored.

    A refusal is never a correct answer; under ``refusal`` only a refusal is correct.
    """
    if check_mode == "refusal":
        return refused
    pred_norm = normalize_answer(pred)
    if refused or not pred_norm:
        return False
    groups = _as_groups(gold_answers)
    if check_mode == "any_of":
        return any(_matches_single(pred_norm, normalize_answer(g)) for group in groups for g in group)
    if check_mode == "all_groups_any_alt":
        return _matches_all_groups(pred_norm, groups)
    if check_mode == "any_variant_all_items":
        return any(_matches_all_groups(pred_norm, [(item,) for item in variant]) for variant in groups)
    raise ValueError(f"unknown answer_check mode {check_mode!r}")


# --- retrieval -------------------------------------------------------------------------------------------


def normalize_passage(text: str) -> str:
    """NFKC with all whitespace removed, for evidence containment."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def evidence_rank(hits: Sequence[Hit], evidence: Sequence[str], gold_docs: Sequence[str] = ()) -> int | None:
    """1-based rank by which every evidence string is contained in some hit (None if not within ``hits``).

    When ``gold_docs`` is as long as ``evidence`` the i-th evidence must come from the i-th document; otherwise from
    any gold document; with no gold documents from any document.
    """
    wanted = [normalize_passage(e) for e in evidence]
    if not wanted or not all(wanted):
        return None
    aligned = len(gold_docs) == len(wanted)
    allowed = set(gold_docs)
    texts = [normalize_passage(h.chunk.text) for h in hits]
    worst = 0
    for i, needle in enumerate(wanted):
        found = None
        for rank, (hit, text) in enumerate(zip(hits, texts, strict=True), start=1):
            doc = hit.chunk.doc_id
            if aligned and doc != gold_docs[i]:
                continue
            if not aligned and allowed and doc not in allowed:
                continue
            if needle in text:
                found = rank
                break
        if found is None:
            return None
        worst = max(worst, found)
    return worst


def doc_rank(hits: Sequence[Hit], doc_groups: Sequence[Sequence[str]]) -> int | None:
    """1-based rank by which every group has one of its documents among the hits (None if not within ``hits``)."""
    groups = [set(g) for g in doc_groups if g]
    if not groups:
        return None
    worst = 0
    for group in groups:
        found = next((rank for rank, h in enumerate(hits, start=1) if h.chunk.doc_id in group), None)
        if found is None:
            return None
        worst = max(worst, found)
    return worst


def hit_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of ranks that are at most k (None ranks are misses); None for no ranks."""
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at_10(ranks: Sequence[int | None]) -> float | None:
    """Mean reciprocal rank, counting ranks above 10 and misses as 0; None for no ranks."""
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None and 0 < r <= 10) / len(ranks)


# --- answers ---------------------------------------------------------------------------------------------


def citation_precision(cited: Sequence[tuple[Sequence[str], Sequence[str]]]) -> float | None:
    """Share of all citations whose document is a gold document.

    Args:
        cited: one ``(cited_doc_ids, gold_doc_ids)`` pair per answered question (one id per citation).
    """
    total = sum(len(c) for c, _ in cited)
    if total == 0:
        return None
    good = sum(1 for c, gold in cited for d in c if d in set(gold))
    return good / total


def rejection_rate(refused_unanswerable: Sequence[bool]) -> float | None:
    """Share of unanswerable questions that were refused."""
    return sum(refused_unanswerable) / len(refused_unanswerable) if refused_unanswerable else None


def false_refusal_rate(refused_answerable: Sequence[bool]) -> float | None:
    """Share of answerable questions that were (wrongly) refused."""
    return sum(refused_answerable) / len(refused_answerable) if refused_answerable else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --- per-item results and summaries ----------------------------------------------------------------------


@dataclass(frozen=True)
class CitedQuote:
    """A citation as kept in the report."""

    doc_id: str
    quote: str


@dataclass(frozen=True)
class ItemResult:
    """How the system did on one gold question."""

    id: str
    question: str
    lang: str
    type: str
    difficulty: str
    answerable: bool
    gold: tuple[str, ...]
    gold_docs: tuple[str, ...]
    has_evidence: bool
    correct: bool
    """For unanswerable questions: whether it was refused."""
    refused: bool
    short_answer: str
    answer: str = ""
    evidence_rank: int | None = None
    doc_rank: int | None = None
    retrieved_docs: tuple[str, ...] = ()
    citations: tuple[CitedQuote, ...] = ()
    latency_ms: float = 0.0
    error: str | None = None
    exact_match: float | None = None
    """Span exact match against the gold answers (answerable items; a refusal scores 0)."""
    f1: float | None = None
    """Character F1 against the gold answers (answerable items; a refusal scores 0)."""

    @property
    def cited_docs(self) -> tuple[str, ...]:
        """Cited document ids in citation order, without duplicates."""
        return tuple(dict.fromkeys(c.doc_id for c in self.citations))

    @property
    def retrieval_rank(self) -> int | None:
        """Evidence rank when the question has evidence, else the document rank (used for MRR)."""
        return self.evidence_rank if self.has_evidence else self.doc_rank


SUMMARY_KEYS: tuple[str, ...] = (
    "n",
    "answerable",
    "unanswerable",
    "answer_accuracy",
    "exact_match",
    "f1",
    "rejection_rate",
    "false_refusal_rate",
    "doc_hit@1",
    "doc_hit@5",
    "evidence_hit@1",
    "evidence_hit@5",
    "mrr@10",
    "citation_precision",
    "latency_ms_p50",
    "latency_ms_p95",
)

Summary = dict[str, float | int | None]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarize(results: Sequence[ItemResult]) -> Summary:
    """The contract summary (``SUMMARY_KEYS``) of a set of item results; metrics without data are None."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_docs = [r for r in answerable if r.gold_docs]
    with_evidence = [r for r in answerable if r.has_evidence]
    answered = [r for r in with_docs if not r.refused and r.error is None]
    latencies = [r.latency_ms for r in results if r.error is None]
    doc_ranks = [r.doc_rank for r in with_docs]
    evidence_ranks = [r.evidence_rank for r in with_evidence]
    accuracy = sum(r.correct for r in answerable) / len(answerable) if answerable else None
    em = [r.exact_match for r in answerable if r.exact_match is not None]
    f1 = [r.f1 for r in answerable if r.f1 is not None]
    summary: Summary = {
        "n": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": _round(accuracy),
        "exact_match": _round(sum(em) / len(em)) if em else None,
        "f1": _round(sum(f1) / len(f1)) if f1 else None,
        "rejection_rate": _round(rejection_rate([r.refused for r in unanswerable])),
        "false_refusal_rate": _round(false_refusal_rate([r.refused for r in answerable])),
        "doc_hit@1": _round(hit_at_k(doc_ranks, 1)),
        "doc_hit@5": _round(hit_at_k(doc_ranks, 5)),
        "evidence_hit@1": _round(hit_at_k(evidence_ranks, 1)),
        "evidence_hit@5": _round(hit_at_k(evidence_ranks, 5)),
        "mrr@10": _round(mrr_at_10([r.retrieval_rank for r in with_docs])),
        "citation_precision": _round(citation_precision([(r.cited_docs, r.gold_docs) for r in answered])),
        "latency_ms_p50": _round(percentile(latencies, 50), 1),
        "latency_ms_p95": _round(percentile(latencies, 95), 1),
    }
    return summary


def summarize_by(results: Iterable[ItemResult], key: Callable[[ItemResult], str]) -> dict[str, Summary]:
    """Summaries per group (e.g. by language), groups in first-seen order."""
    groups: dict[str, list[ItemResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return {name: summarize(items) for name, items in groups.items()}
