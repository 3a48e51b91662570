"""A deterministic, model-free embedder for tests: hashed character n-grams."""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray


class HashingEmbedder:
    """Bag of hashed character uni/bi-grams projected to a fixed dimension (blake2b, never Python's hash)."""

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def model_id(self) -> str:
        """Identifier stored in index manifests."""
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        """Vector length."""
        return self._dimension

    def _embed(self, texts: list[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
            for gram in grams:
                digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
                idx = int.from_bytes(digest[:4], "little") % self._dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, idx] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed passages."""
        return self._embed(texts)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions."""
        return self._embed(texts)
