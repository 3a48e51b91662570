"""Backends of `rag.vector_store.VectorStore`, one module each."""
