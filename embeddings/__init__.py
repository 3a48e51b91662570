"""Text embedders behind one batch-first protocol."""

from __future__ import annotations

from embeddings.base import Embedder
from embeddings.factory import load_embedder

__all__ = ["Embedder", "load_embedder"]
