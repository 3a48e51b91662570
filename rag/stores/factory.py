"""The one place the vector store is chosen by name (RAG_VECTOR_STORE)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.vector_store import VectorStore

if TYPE_CHECKING:
    from rag.settings import Settings


def load_vector_store(settings: Settings, index_dir: Path | None = None) -> VectorStore:
    """The configured vector store (RAG_VECTOR_STORE); Milvus connects at once (by default to a Milvus Lite
    file in the index directory, `index_dir` or settings.index_dir)."""
    match settings.vector_store:
        case "faiss":
            from rag.stores.faiss_store import FaissConfig, FaissStore

            return FaissStore(
                FaissConfig(
                    kind=settings.vector_index,
                    flat_max=settings.flat_index_max,
                    hnsw_m=settings.hnsw_m,
                    ef_search=settings.hnsw_ef_search,
                    nprobe=settings.ivf_nprobe,
                )
            )
        case "milvus":
            from rag.stores.milvus_store import MilvusStore

            return MilvusStore(
                uri=settings.milvus_uri or str((index_dir or settings.index_dir) / "milvus.db"),
                token=settings.milvus_token,
                collection=settings.milvus_collection,
            )
    raise ValueError(f"unknown vector store {settings.vector_store!r}; use faiss or milvus")
