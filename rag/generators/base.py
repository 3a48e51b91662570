"""The Generator protocol: turn a parsed question and ranked passages into a cited Answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.types import Answer, Hit, ParsedQuery


class Generator(Protocol):
    """Answers from retrieved passages only; never from general knowledge."""

    name: str

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """Return a complete Answer (refused when the passages do not contain it)."""
        ...

    def stream(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Yield answer text pieces as they are produced, then the final Answer as the last item."""
        ...
