"""The Embedder protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


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
