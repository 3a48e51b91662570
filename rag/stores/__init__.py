"""Backends of `rag.vector_store.VectorStore`, one module each, and the factory that picks one."""
