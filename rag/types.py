"""Frozen dataclasses passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Language = Literal["zh", "en"]
Intent = Literal["target", "achieved", "any"]
QuestionType = Literal["numeric", "entity", "list", "yes_no", "date", "comparison", "definition", "other"]
"""The coarse type of answer a question wants (how the answerers extract it)."""


@dataclass(frozen=True)
class DocumentMeta:
    """What a report is: whose, which year, what it reviews and plans."""

    title: str
    region: str | None = None
    """Normalised region name as written in the report (海珠区, 广州市, 广东省, 全国); None if anonymised/unknown."""
    level: str | None = None
    """national | provincial | city | district | None."""
    year: int | None = None
    """The report's own year (the year it is delivered for: "2018年政府工作报告" → 2018)."""
    review_years: tuple[int, ...] = ()
    """Years whose results the report reviews (achieved figures)."""
    plan_year: int | None = None
    """The year whose targets the report sets."""
    delivered: str | None = None
    """ISO date the report was delivered, from the text ("——2018年2月7日在…会议上")."""
    published: str | None = None
    """ISO publication date from page furniture (less trustworthy)."""
    anonymised: bool = False
    source_meta: tuple[tuple[str, str], ...] = ()
    """Extra metadata carried from a JSONL record, as sorted (key, value) string pairs."""


@dataclass(frozen=True)
class Document:
    """A cleaned report ready for chunking."""

    doc_id: str
    text: str
    """Cleaned text; citation offsets index into this string."""
    meta: DocumentMeta
    source: str = ""
    """Where it came from (file path or JSONL path)."""
    content_hash: str = ""
    """sha256 of the raw content, used to skip unchanged documents."""
    offset_map: tuple[tuple[int, int], ...] = ()
    """Anchors (clean_offset, original_offset): from each anchor on, offsets advance together until the next."""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of a document."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    section: str = ""
    """Heading path, e.g. "二、2018年工作安排 > (一)全力打造琶洲创新特区"."""
    ordinal: int = 0
    period: str = ""
    """"review" (results of past years), "plan" (targets for the plan year) or "" (unknown)."""


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score and the document's metadata."""

    chunk: Chunk
    meta: DocumentMeta
    score: float
    rank: int = 0


@dataclass(frozen=True)
class QueryFilters:
    """Explicit filters; None means "no constraint"."""

    region: str | None = None
    year: int | None = None
    doc_id: str | None = None
    doc_ids: tuple[str, ...] | None = None
    """Restrict to this pool of documents (e.g. RGB's per-question pools); an empty tuple matches nothing."""
    level: str | None = None
    """national | provincial | city | district."""


@dataclass(frozen=True)
class ParsedQuery:
    """What the question asks about, as understood before retrieval."""

    text: str
    language: Language
    regions: tuple[str, ...] = ()
    unknown_places: tuple[str, ...] = ()
    """Places the question names that no indexed report is about (天河区, "Tianhe District")."""
    years: tuple[int, ...] = ()
    intent: Intent = "any"
    intent_explicit: bool = False
    """The question says target/actual in so many words (目标, 实际, "target", "actual"), not just by a verb."""
    metrics: tuple[str, ...] = ()
    """Chinese report vocabulary the question asks about (地区生产总值, 一般公共预算收入, …)."""
    terms: tuple[str, ...] = ()
    """Chinese search terms (question words translated through the glossary, plus Chinese words in the question)."""
    qtype: QuestionType = "other"


RefusalKind = Literal[
    "no_passages",
    "metric_not_named",
    "figure_not_stated",
    "low_confidence",
    "places_not_indexed",
    "years_not_indexed",
    "period_not_indexed",
    "other",
]
Period = Literal["plan", "review"]


@dataclass(frozen=True)
class RefusalReason:
    """Why no answer is given, with what it is about; `rag.refusal.render_reason` words it in zh or en."""

    kind: RefusalKind
    places: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    period: Period | None = None
    """period_not_indexed: the part of the reports asked for (plan: targets, review: results)."""
    detail: str = ""
    """other: a reason worded by its producer, shown as written in either language."""


@dataclass(frozen=True)
class Citation:
    """A quoted sentence backing an answer; text[start:end] == quote in the cleaned document."""

    n: int
    doc_id: str
    title: str
    region: str | None
    year: int | None
    section: str
    quote: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer:
    """The answer contract of CONTRACT.md."""

    question: str
    short_answer: str
    answer: str
    refused: bool
    language: Language
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    hits: tuple[Hit, ...] = ()
    """Passages the answer was drawn from (not serialised in the contract; used by eval and the API)."""
    backend: str = "extractive"
    fallback_reason: str | None = None
    """Set when an LLM answer was replaced by the extractive one (e.g. an unsupported number)."""


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus how the question was understood."""

    query: ParsedQuery
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    routed_doc_ids: tuple[str, ...] = ()
    """Documents automatic routing restricted the search to (empty: no routing)."""
    reason: RefusalReason | None = None
    """Why no indexed report can answer, when routing found none (e.g. no report of 海珠区 covers 2019)."""


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, for resolving follow-ups ("and in 2017?")."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class DocumentInfo:
    """A document as listed by `rag docs` and GET /v1/documents."""

    doc_id: str
    meta: DocumentMeta
    n_chunks: int
    n_chars: int
    source: str
    content_hash: str


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    """(path or doc_id, reason) for inputs that could not be read; the rest is still indexed."""
    chunks_embedded: int = 0
