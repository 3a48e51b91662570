"""The pipeline: ingest reports into an index, search it, answer with citations."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.base import Embedder, load_embedder
from rag.chunking import chunk_document
from rag.conversation import resolve_follow_up
from rag.errors import InvalidQuestionError
from rag.evidence import content_terms, rescore_hits
from rag.generators.base import Generator
from rag.generators.extractive import ExtractiveGenerator, desired_periods, refusal
from rag.glossary import RegionCatalog, domain_words, static_regions
from rag.index import IndexStore, index_exists, load_index, save_index
from rag.lexical import Tokenizer
from rag.query import parse_question
from rag.reranking import NoopReranker, Reranker, load_reranker
from rag.retrieval import RetrievalWeights, Retriever, Routing
from rag.settings import Settings
from rag.types import (
    Answer,
    Chunk,
    Document,
    DocumentInfo,
    Hit,
    IngestReport,
    ParsedQuery,
    QueryFilters,
    SearchResult,
    Turn,
)

MAX_QUESTION_CHARS = 2000


def passage_text(document: Document, chunk: Chunk) -> str:
    """What is embedded and indexed for a chunk: the report title and section give it context."""
    return f"{document.meta.title} | {chunk.section}\n{chunk.text}"


@dataclass
class Pipeline:
    """Plain holder of the collaborators; one instance serves the CLI, the API and the eval harness."""

    embedder: Embedder
    index_dir: Path
    store: IndexStore
    chunk_size: int = 240
    chunk_overlap: int = 1
    top_k: int = 8
    checkpoint_seconds: float = 30.0
    weights: RetrievalWeights = field(default_factory=RetrievalWeights)
    generator: Generator | None = None
    reranker: Reranker = field(default_factory=NoopReranker)
    tokenizer: Tokenizer = field(init=False)
    retriever: Retriever = field(init=False)
    extractive: ExtractiveGenerator = field(init=False)
    _catalog_version: int = field(default=-1, init=False)

    def __post_init__(self) -> None:
        words = domain_words() + sorted({z for r in static_regions() for z in r.zh if len(z) >= 2})
        self.tokenizer = Tokenizer(words)
        catalog = RegionCatalog([d.meta for d in self.store.documents.values()])
        self.retriever = Retriever(self.store, self.embedder, self.tokenizer, catalog, self.weights)
        self.extractive = ExtractiveGenerator(
            self.tokenizer,
            self._term_weight,
            lambda: self.retriever.catalog.words(),
            describe=self._describe_unnamed,
        )
        if self.generator is None:
            self.generator = self.extractive

    # ------------------------------------------------------------------ documents

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Add files, folders and JSONL corpora; unchanged documents are skipped, changed ones replaced."""
        from rag.loading import LoadFailure, load_documents

        docs: list[Document] = []
        failed: list[tuple[str, str]] = []
        for item in load_documents(list(paths)):
            if isinstance(item, LoadFailure):
                failed.append((item.source, item.reason))
            else:
                docs.append(item)
        report = self.ingest_documents(docs, progress=progress)
        return IngestReport(report.added, report.updated, report.unchanged, tuple(failed) + report.failed, report.chunks_embedded)

    def ingest_documents(self, docs: Iterable[Document], *, progress: bool = False) -> IngestReport:
        """Index already-loaded documents, saving a checkpoint generation every `checkpoint_seconds`."""
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        todo: list[tuple[Document, list[Chunk]]] = []
        seen: set[str] = set()
        for doc in docs:
            if doc.doc_id in seen:
                continue
            seen.add(doc.doc_id)
            if self.store.content_hash(doc.doc_id) == doc.content_hash and doc.doc_id in self.store.documents:
                unchanged.append(doc.doc_id)
                continue
            todo.append((doc, chunk_document(doc, chunk_size=self.chunk_size, overlap=self.chunk_overlap)))
        total = sum(len(c) for _, c in todo)
        embedded = 0
        if todo:
            with _writer_lock(self.index_dir), _progress(total, progress) as bar:
                last_save = time.monotonic()
                for doc, chunks in todo:
                    texts = [passage_text(doc, c) for c in chunks]
                    tokens = [self.tokenizer.tokenize(t) for t in texts]
                    vectors = self.embedder.embed_documents(texts) if texts else self.store.vectors[:0]
                    (updated if doc.doc_id in self.store.documents else added).append(doc.doc_id)
                    self.store.upsert(doc, chunks, tokens, vectors)
                    embedded += len(chunks)
                    bar.update(len(chunks))
                    if time.monotonic() - last_save > self.checkpoint_seconds:
                        save_index(self.store, self.index_dir)
                        last_save = time.monotonic()
                save_index(self.store, self.index_dir)
            self._refresh_catalog()
        elif not index_exists(self.index_dir):
            with _writer_lock(self.index_dir):
                save_index(self.store, self.index_dir)
        return IngestReport(tuple(added), tuple(updated), tuple(unchanged), (), embedded)

    def remove(self, doc_id: str) -> None:
        """Delete a document from the index (raises DocumentNotFoundError)."""
        with _writer_lock(self.index_dir):
            self.store.remove(doc_id)
            save_index(self.store, self.index_dir)
        self._refresh_catalog()

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document."""
        return self.store.infos()

    def document(self, doc_id: str) -> Document:
        """One indexed document with its cleaned text (raises DocumentNotFoundError)."""
        from rag.errors import DocumentNotFoundError

        try:
            return self.store.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None

    # ------------------------------------------------------------------ questions

    def parse(self, question: str) -> ParsedQuery:
        """Validate and understand a question."""
        text = question.strip()
        if not text:
            raise InvalidQuestionError("the question is empty")
        if len(text) > MAX_QUESTION_CHARS:
            raise InvalidQuestionError(f"the question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}")
        self._refresh_catalog()
        return parse_question(text, self.retriever.catalog, self.tokenizer)

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        """Ranked passages plus the parsed question and routing."""
        t0 = time.perf_counter()
        query = self.parse(question)
        return self._search(query, k, filters, t0)

    def _search(self, query: ParsedQuery, k: int, filters: QueryFilters | None, t0: float) -> SearchResult:
        allowed = self.retriever.allowed_docs(filters)
        routing = self.retriever.route(query, allowed)
        hits: list[Hit] = []
        if routing.doc_ids is None or routing.doc_ids:
            depth = max(k, self.weights.rescoring_depth if self.weights.sentence_rescoring else k)
            hits = self.retriever.search(query, depth * (3 if query.qtype == "comparison" else 1), routing)
            if self.weights.sentence_rescoring:
                groups = content_terms(query, self.tokenizer, self.retriever.catalog.words())
                hits = rescore_hits(
                    query, hits, groups, self._term_weight, desired_periods(query, hits),
                    weight=self.weights.sentence_rescoring,
                )
            hits = self.reranker.rerank(query.text, hits)
            hits = _diversify(hits, k) if query.qtype == "comparison" else hits[:k]
        routed = tuple(sorted(routing.doc_ids)) if routing.doc_ids is not None else ()
        elapsed = (time.perf_counter() - t0) * 1000
        return SearchResult(query, tuple(hits), {"retrieve": elapsed}, routed, routing.reason)

    def ask(self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer with citations, or refuse honestly."""
        answer: Answer | None = None
        for item in self.ask_stream(question, filters=filters, history=history):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(
        self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()
    ) -> Iterator[str | Answer]:
        """Answer text pieces as they are produced, then the final Answer."""
        t0 = time.perf_counter()
        query = self.parse(question)
        if history:
            resolved = resolve_follow_up(question, query, history)
            if resolved != question:
                query = self.parse(resolved)
        result = self._search(query, self.top_k, filters, t0)
        t1 = time.perf_counter()
        answer: Answer | None = None
        if result.reason or not result.hits:
            answer = refusal(query, result.reason or "no passages", result.hits)
            yield answer.answer
        else:
            assert self.generator is not None
            for item in self.generator.stream(query, result.hits):
                if isinstance(item, Answer):
                    answer = item
                else:
                    yield item
        if answer is None:
            raise RuntimeError("the generator ended its stream without an Answer")
        t2 = time.perf_counter()
        timings = {"retrieve": (t1 - t0) * 1000, "generate": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        yield Answer(
            question=question,
            short_answer=answer.short_answer,
            answer=answer.answer,
            refused=answer.refused,
            language=query.language,
            citations=answer.citations,
            timings_ms=timings,
            hits=result.hits,
            backend=answer.backend,
            fallback_reason=answer.fallback_reason,
        )

    # ------------------------------------------------------------------ internals

    def _describe_unnamed(self, doc_id: str, query: ParsedQuery) -> str | None:
        """Name an anonymised report by the words the question used to single it out (木渎/太湖)."""
        terms = self.retriever.distinctive_terms(query, doc_id)
        if not terms:
            return None
        return f"提及{'和'.join(terms[:3])}的区" if query.language == "zh" else f"the {'/'.join(terms[:3])} district"

    def _term_weight(self, token: str) -> float:
        self.retriever.refresh()
        bm25 = self.retriever._bm25
        return bm25.idf(token) if bm25 is not None else 1.0

    def _refresh_catalog(self) -> None:
        if self._catalog_version != self.store.version:
            self.retriever.catalog = RegionCatalog([d.meta for d in self.store.documents.values()])
            self._catalog_version = self.store.version


def _diversify(hits: list[Hit], k: int) -> list[Hit]:
    """For comparisons: the best hit of each of the top documents first, then the rest by score."""
    firsts: list[Hit] = []
    seen: set[str] = set()
    for h in hits:
        if h.chunk.doc_id not in seen:
            seen.add(h.chunk.doc_id)
            firsts.append(h)
    lead = firsts[:3]
    rest = [h for h in hits if h not in lead]
    ordered = sorted(lead, key=lambda h: -h.score) + rest
    return [Hit(h.chunk, h.meta, h.score, i) for i, h in enumerate(ordered[:k], start=1)]


@contextmanager
def _writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index directory, across processes (readers never block).

    A second writer waits up to `rag.index.WRITER_LOCK_TIMEOUT_S`, then raises IndexLockedError naming the directory.
    """
    from rag.index import writer_lock

    with writer_lock(index_dir):
        yield


class _NullBar:
    def update(self, n: int) -> None:
        """Ignore progress."""


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[_NullBar]:
    if not enabled:
        yield _NullBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="chunk", desc="embedding", dynamic_ncols=True) as bar:
        yield bar


def load_pipeline(settings: Settings, *, index_dir: Path | None = None, answering: bool = True) -> Pipeline:
    """Load the embedder and the index (or start an empty one) as configured.

    `answering=False` skips loading the reader and any LLM backend (ingest, listing, removal).
    """
    embedder = load_embedder(
        settings.embedder,
        model_path=settings.embedding_model_path,
        cache_dir=settings.cache_dir,
        batch_size=settings.embed_batch_size,
    )
    directory = index_dir or settings.index_dir
    if index_exists(directory):
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
    )
    if not answering:
        return pipeline
    fallback: Generator = pipeline.extractive
    if settings.reader != "none":
        from rag.answering.reading import load_answerer

        fallback = load_answerer(
            cache_dir=settings.cache_dir,
            weights_dir=settings.reader_weights_dir,
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


__all__ = ["Pipeline", "Routing", "load_pipeline", "passage_text"]
