"""Rerankers: an optional last stage that re-orders retrieved passages (a cross-encoder given by path)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from rag.errors import ModelUnavailableError
from rag.types import Hit


class Reranker(Protocol):
    """Re-orders hits for a question; batch-first over the hits."""

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits, best first, with new scores and ranks."""
        ...


class NoopReranker:
    """Keeps the retriever's order (the default: no cross-encoder is packaged offline)."""

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """Return the hits unchanged."""
        return list(hits)


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local directory."""

    def __init__(self, model_path: Path, batch_size: int = 16) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            if not self.model_path.exists():
                raise ModelUnavailableError(f"reranker model not found at {self.model_path}")
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(str(self.model_path), device="cpu", local_files_only=True)
        return self._model

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """Score (question, passage) pairs and sort by the cross-encoder score."""
        if not hits:
            return []
        scores = self._load().predict([(question, h.chunk.text) for h in hits], batch_size=self.batch_size)
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [Hit(hits[i].chunk, hits[i].meta, float(scores[i]), rank) for rank, i in enumerate(order, start=1)]


def load_reranker(name: Literal["none", "cross-encoder"], model_path: Path | None) -> Reranker:
    """The configured reranker (RAG_RERANKER, RAG_RERANKER_MODEL_PATH)."""
    match name:
        case "none":
            return NoopReranker()
        case "cross-encoder":
            if model_path is None:
                raise ModelUnavailableError("RAG_RERANKER=cross-encoder needs RAG_RERANKER_MODEL_PATH (a local model directory)")
            return CrossEncoderReranker(model_path)
