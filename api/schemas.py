"""Pydantic models of the HTTP edge (requests validated here, responses documented in OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rag.types import QueryFilters, Turn

# ---------------------------------------------------------------- requests


def find_surrogate(value: object) -> str | None:
    """The first unpaired surrogate in the strings (and keys) of a JSON value, or None.

    JSON may escape one ("\\ud800"), but it is not Unicode text: it cannot be encoded as UTF-8 to log, store or send
    back. Walked with a stack, so deeply nested input cannot exhaust the recursion limit.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            for ch in item:
                if "\ud800" <= ch <= "\udfff":
                    return ch
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


_STRICT = ConfigDict(strict=True)
"""Request values must have the documented JSON type: `"stream": 0` or `"k": "8"` is a 422, not coerced."""


def json_integer(value: Any) -> Any:
    """8.0 as 8: JSON Schema counts it an integer, which strict mode alone would refuse ("8" and true stay 422s)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class _Body(BaseModel):
    """A request body: every string in it must be valid Unicode."""

    model_config = _STRICT

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        ch = find_surrogate(data)
        if ch is not None:
            raise ValueError(
                f"the body contains an unpaired surrogate (\\u{ord(ch):04x}), which is not valid Unicode text; "
                "send UTF-8 text"
            )
        return data


class Filters(BaseModel):
    """Restrict retrieval to a region, a report year or documents."""

    model_config = ConfigDict(extra="forbid", strict=True)

    region: str | None = Field(default=None, max_length=100, examples=["海珠区"])
    year: int | None = Field(default=None, ge=1900, le=2200, examples=[2018])
    doc_id: str | None = Field(default=None, max_length=300)
    doc_ids: list[str] | None = Field(default=None, max_length=1000)

    _year = field_validator("year", mode="before")(json_integer)

    def to_query_filters(self) -> QueryFilters | None:
        """The pipeline's filters, or None when nothing is constrained."""
        if self.region is None and self.year is None and self.doc_id is None and self.doc_ids is None:
            return None
        return QueryFilters(
            region=self.region or None,
            year=self.year,
            doc_id=self.doc_id or None,
            doc_ids=tuple(self.doc_ids) if self.doc_ids is not None else None,
        )


class HistoryTurn(BaseModel):
    """An earlier exchange, so follow-ups like "and in 2017?" can be resolved."""

    model_config = _STRICT

    question: str = Field(max_length=10_000)
    answer: str = Field(default="", max_length=20_000)


def to_turns(history: list[HistoryTurn]) -> tuple[Turn, ...]:
    """Pipeline turns from request history."""
    return tuple(Turn(question=t.question, answer=t.answer) for t in history)


class AskRequest(_Body):
    """POST /v1/ask."""

    question: str = Field(examples=["what was Haizhu's 2018 GDP target"])
    filters: Filters | None = None
    history: list[HistoryTurn] = Field(default_factory=list, max_length=50)
    stream: bool = Field(
        default=False, description="Server-Sent Events: `token` events, then one `answer` event."
    )


class SearchRequest(_Body):
    """POST /v1/search."""

    query: str = Field(examples=["海珠区 2018 地区生产总值 预期目标"])
    k: int = Field(default=8, ge=1, le=100)
    filters: Filters | None = None

    _k = field_validator("k", mode="before")(json_integer)


class ChatMessage(BaseModel):
    """An OpenAI chat message; content may be a string or a list of `{type: "text", text}` parts."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text content."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text")
        )


class ChatCompletionRequest(_Body):
    """POST /v1/chat/completions (OpenAI-compatible; sampling parameters are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    filters: Filters | None = Field(default=None, description="Extension: retrieval filters as in /v1/ask.")


# ---------------------------------------------------------------- responses


class _Open(BaseModel):
    # Responses keep fields added to the serialisers later instead of silently dropping them.
    model_config = ConfigDict(extra="allow")


class CitationOut(_Open):
    """A quoted sentence; `text[start:end] == quote` in the document's cleaned text."""

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


class AnswerOut(_Open):
    """The Answer contract (CONTRACT.md)."""

    question: str
    short_answer: str
    answer: str
    refused: bool
    language: Literal["zh", "en"]
    citations: list[CitationOut]
    timings_ms: dict[str, float]
    backend: str = "extractive"
    fallback_reason: str | None = None


class SearchHitOut(_Open):
    """A ranked passage."""

    doc_id: str
    chunk_id: str
    title: str
    region: str | None
    year: int | None
    section: str
    text: str
    start: int
    end: int
    score: float


class SearchOut(_Open):
    """Search results, best first, plus how the query was understood."""

    query: dict[str, Any]
    routed_doc_ids: list[str] = Field(default_factory=list)
    hits: list[SearchHitOut]
    timings_ms: dict[str, float] = Field(default_factory=dict)


class DocumentInfoOut(_Open):
    """A listed document."""

    doc_id: str
    title: str
    region: str | None
    year: int | None
    meta: dict[str, Any]
    n_chunks: int
    n_chars: int
    source: str
    content_hash: str


class DocumentListOut(BaseModel):
    """GET /v1/documents."""

    count: int
    documents: list[DocumentInfoOut]


class DocumentOut(_Open):
    """A document's metadata and cleaned text (citation offsets index into `text`)."""

    doc_id: str
    title: str
    region: str | None
    year: int | None
    meta: dict[str, Any]
    source: str
    content_hash: str
    n_chars: int
    text: str


class IngestReportOut(BaseModel):
    """What an ingest run did."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    failed: list[dict[str, str]]
    chunks_embedded: int


class JobOut(BaseModel):
    """An upload's indexing job."""

    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    filename: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None
    doc_ids: list[str] = Field(default_factory=list)
    report: IngestReportOut | None = None
    status_url: str


class HealthOut(BaseModel):
    """Liveness / readiness."""

    status: str
    documents: int | None = None


class ModelOut(BaseModel):
    """An OpenAI model entry."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "govreport-rag"


class ModelListOut(BaseModel):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelOut]


class Problem(BaseModel):
    """An error (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
