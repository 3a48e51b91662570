"""`load_pipeline(settings)`: the embedder, the vector store, the index and the answering backends as configured."""

from __future__ import annotations

from pathlib import Path

from embeddings.factory import load_embedder
from rag.generators.base import Generator
from rag.index.generations import index_exists, load_index
from rag.index.store import IndexStore
from rag.pipeline import Pipeline
from rag.reranking import load_reranker
from rag.retrieval import RetrievalWeights
from rag.settings import Settings
from rag.stores.factory import load_vector_store


def load_pipeline(settings: Settings, *, index_dir: Path | None = None, answering: bool = True) -> Pipeline:
    """Load the embedder and the index (or start an empty one) as configured.

    `answering=False` skips loading the reader and any LLM backend (ingest, listing, removal).
    """
    embedder = load_embedder(
        settings.embedder,
        model_path=settings.embedding_model_path,
        cache_dir=settings.cache_dir,
        batch_size=settings.embed_batch_size,
        backend=settings.embedding_backend,
    )
    directory = index_dir or settings.index_dir
    vector_store = load_vector_store(settings, directory)
    if vector_store.holds_documents:
        from rag.index.store import Manifest
        from rag.stores.milvus_store import MilvusStore

        assert isinstance(vector_store, MilvusStore)
        wanted = Manifest(embedder.model_id, embedder.dimension, settings.chunk_size, settings.chunk_overlap)
        store = vector_store.load_store(wanted)
        store.check_compatible(embedder.model_id, embedder.dimension)
    elif index_exists(directory):
        store = load_index(directory)
        store.check_compatible(embedder.model_id, embedder.dimension)
    else:
        store = IndexStore.empty(embedder.model_id, embedder.dimension, settings.chunk_size, settings.chunk_overlap)
    pipeline = Pipeline(
        embedder=embedder,
        index_dir=directory,
        store=store,
        chunk_size=store.manifest.chunk_size,
        chunk_overlap=store.manifest.chunk_overlap,
        top_k=settings.top_k,
        weights=RetrievalWeights.from_overrides(settings.retrieval_weights),
        reranker=load_reranker(settings.reranker, settings.reranker_model_path),
        vector_store=vector_store,
        exhaustive_max=settings.flat_index_max,
        dense_depth=settings.dense_depth,
        refresh_seconds=settings.store_refresh_s,
        max_question_chars=settings.max_question_chars,
    )
    if not answering:
        return pipeline
    fallback: Generator = pipeline.extractive
    if settings.reader != "none":
        from rag.answering.reading import load_answerer

        fallback = load_answerer(
            cache_dir=settings.cache_dir,
            weights_dir=settings.reader_weights_dir,
            precision=settings.reader_precision,
            max_passages=settings.reader_passages,
            threshold=settings.answer_threshold,
            comparisons=pipeline.extractive,
            fallback=pipeline.extractive if settings.reader_fallback == "rules" else None,
        )
        pipeline.generator = fallback
    if settings.generator != "extractive":
        from rag.generators.factory import load_generator

        pipeline.generator = load_generator(
            settings.generator,
            extractive=fallback,
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_tokens=settings.llm_max_tokens,
            model_path=settings.llm_model_path,
        )
    return pipeline
