"""What routes depend on: the pipeline (once loaded), the settings, JSON bodies, question validation."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from api.problems import ProblemError
from rag.settings import Settings
from rag.types import (
    Answer,
    Document,
    DocumentInfo,
    IngestReport,
    QueryFilters,
    SearchResult,
    Turn,
)


class PipelineLike(Protocol):
    """The slice of `rag.pipeline.Pipeline` the API uses (tests pass a fake)."""

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Add files or folders to the index."""
        ...

    def ingest_documents(self, docs: Iterable[Document], *, progress: bool = False) -> IngestReport:
        """Add already-loaded documents."""
        ...

    def remove(self, doc_id: str) -> None:
        """Delete a document (DocumentNotFoundError if absent)."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Indexed documents."""
        ...

    def document(self, doc_id: str) -> Document:
        """One document with its cleaned text (DocumentNotFoundError if absent)."""
        ...

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        """Ranked passages."""
        ...

    def ask(
        self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        """An answer with citations."""
        ...

    def ask_stream(
        self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()
    ) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final Answer."""
        ...


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_pipeline(request: Request) -> PipelineLike:
    """The loaded pipeline, or 503 while it is still loading (or failed to load)."""
    pipeline: PipelineLike | None = request.app.state.pipeline
    if pipeline is None:
        error: str | None = request.app.state.load_error
        if error:
            raise ProblemError(503, f"The index could not be loaded: {error}", slug="not-ready")
        raise ProblemError(
            503,
            "The index is still loading; retry shortly (GET /readyz turns 200 when ready).",
            slug="not-ready",
            headers={"Retry-After": "5"},
        )
    return pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[PipelineLike, Depends(get_pipeline)]


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (`application/json` or a `+json` type)."""
    declared = request.headers.get("content-type", "")
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise ProblemError(
            415,
            f"Send the body as JSON with `Content-Type: application/json` (got {declared or 'no Content-Type'!r}).",
            slug="unsupported-media-type",
        )


JsonBody = Depends(require_json)

_CONTROL_RANGES = ((0x00, 0x08), (0x0E, 0x1F), (0x7F, 0x84), (0x86, 0x9F))
"""C0/C1 control characters other than tab, newlines and form feed (terminal escapes, NUL…)."""
_CONTROL = re.compile("[" + "".join(f"\\x{a:02x}-\\x{b:02x}" for a, b in _CONTROL_RANGES) + "]")


def _is_blank(ch: str) -> bool:
    """Whitespace or an invisible format character (zero-width space, BOM…): a question of only these is empty."""
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def check_question(text: str, settings: Settings, *, field: str = "question") -> str:
    """The stripped question, or a 422 problem saying what is wrong with it (the rules `question_schema` documents)."""
    if all(_is_blank(ch) for ch in text):
        raise ProblemError(422, f"`{field}` is empty — send a non-empty question.", slug="empty-question")
    if len(text) > settings.max_question_chars:
        raise ProblemError(
            422,
            f"`{field}` is {len(text):,} characters long; the limit is {settings.max_question_chars:,}. "
            "Shorten it.",
            slug="question-too-long",
        )
    control = _CONTROL.search(text)
    if control:
        raise ProblemError(
            422,
            f"`{field}` contains the control character U+{ord(control.group()):04X} at position {control.start()}; "
            "send plain text.",
            slug="invalid-question",
        )
    return text.strip()


def _char_class(codes: Iterable[int]) -> str:
    """A regex character class body for these code points, as ranges (valid in Python and ECMA-262 regexes)."""

    def char(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)  # astral: the character itself

    ordered = sorted(set(codes))
    out: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(char(ordered[i]) if i == j else f"{char(ordered[i])}-{char(ordered[j])}")
        i = j + 1
    return "".join(out)


@functools.cache
def _question_pattern() -> str:
    control = [c for a, b in _CONTROL_RANGES for c in range(a, b + 1)]
    blank = [c for c in range(sys.maxunicode + 1) if _is_blank(chr(c))]
    allowed = f"[^{_char_class(control)}]*"
    return f"^{allowed}[^{_char_class(control + blank)}]{allowed}$"


def question_schema(max_chars: int) -> dict[str, Any]:
    """JSON Schema keywords for what `check_question` accepts: some visible text, no control characters."""
    return {"minLength": 1, "maxLength": max_chars, "pattern": _question_pattern()}
