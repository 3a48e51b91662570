"""Embedders backed by a local sentence-transformers model directory (the converted e5-small or a user's model)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.lazy_model import LazyModel

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEmbedder:
    """An `Embedder` over a local sentence-transformers model on CPU; loads on first use or on `load()`."""

    def __init__(
        self,
        model_dir: Path,
        *,
        model_id: str,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 16,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_dir = Path(model_dir)
        self._model_id = model_id
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self._model = LazyModel(self._load_model)  # (model, dimension)

    @property
    def model_id(self) -> str:
        """Identifier stored in index manifests."""
        return self._model_id

    @property
    def dimension(self) -> int:
        """Vector length (loads the model if needed)."""
        return self._model.get()[1]

    def load(self) -> None:
        """Load the model now; later calls do nothing. Raises ModelUnavailableError if it cannot be loaded."""
        self._model.get()

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed passages with the passage prefix; texts beyond the model's max_seq_length are truncated."""
        return self._embed(texts, self._passage_prefix)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions with the query prefix."""
        return self._embed(texts, self._query_prefix)

    def _embed(self, texts: list[str], prefix: str) -> NDArray[np.float32]:
        model, dimension = self._model.get()
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            prompt=prefix or None,
            batch_size=self._batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _load_model(self) -> tuple[SentenceTransformer, int]:
        directory = self._model_dir
        if not directory.is_dir():
            raise ModelUnavailableError(
                f"no embedding model at {directory} (expected a sentence-transformers directory)"
            )
        if not (directory / "modules.json").is_file() and not (directory / "config.json").is_file():
            raise ModelUnavailableError(
                f"{directory} is not a sentence-transformers or transformers model directory"
            )
        model = load_sentence_transformer(directory)
        model.eval()
        get_dimension = (
            getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if not dimension:
            raise ModelUnavailableError(
                f"the embedding model at {directory} does not report its output dimension"
            )
        return model, int(dimension)


def load_sentence_transformer(directory: Path, what: str = "the embedding model") -> SentenceTransformer:
    """The sentence-transformers model in `directory`, on CPU, from local files only.

    Raises ModelUnavailableError (naming `what`) when sentence-transformers is missing or the model does not load.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelUnavailableError(
            f"loading {directory} needs sentence-transformers — pip install sentence-transformers ({exc})"
        ) from exc
    try:
        return SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelUnavailableError(f"cannot load {what} at {directory}: {exc}") from exc
