"""The pipeline: ingest reports into an index, search it, answer with citations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from embeddings.base import Embedder
from rag.conversation import resolve_follow_up
from rag.errors import InvalidQuestionError
from rag.evidence import content_terms, desired_periods, rescore_hits
from rag.generators.base import Generator
from rag.generators.extractive import ExtractiveGenerator
from rag.hit_selection import diversify, vector_filter
from rag.index.generations import index_exists, save_index
from rag.index.lock import writer_lock
from rag.index.store import IndexStore
from rag.ingestion import (
    EMBED_GROUP_PASSAGES,
    Pacing,
    embedding_groups,
    passage_text,
    pending_documents,
    progress_bar,
)
from rag.knowledge.regions import static_regions
from rag.knowledge.vocabulary import domain_words
from rag.lexical import Tokenizer
from rag.query import parse_question
from rag.refusal import NO_PASSAGES, refusal
from rag.reranking import NoopReranker, Reranker
from rag.retrieval import RetrievalWeights, Retriever
from rag.snapshot import Snapshot
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
from rag.vector_store import VectorStore


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
    vector_store: VectorStore | None = None
    """Where dense search runs (default: FAISS in process)."""
    exhaustive_max: int = 50_000
    dense_depth: int = 1000
    publish_seconds: float = 1.0
    """During a long ingest, readers get a new snapshot at most this often (and always at the end)."""
    refresh_seconds: float = 5.0
    """With a store other processes write to (Milvus): how often to pick up their documents."""
    max_question_chars: int = 1000
    """Longer questions are refused as invalid (`Settings.max_question_chars`; the API checks the same limit)."""
    tokenizer: Tokenizer = field(init=False)
    retriever: Retriever = field(init=False)
    extractive: ExtractiveGenerator = field(init=False)
    _write: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _next_sync: float = field(default=0.0, init=False, repr=False)
    _read_since_publish: bool = field(default=False, init=False, repr=False)
    """Set by every reader, cleared by `publish`: an ingest publishes intermediate snapshots only for readers."""

    def __post_init__(self) -> None:
        words = domain_words() + sorted({z for r in static_regions() for z in r.zh if len(z) >= 2})
        self.tokenizer = Tokenizer(words)
        if self.vector_store is None:
            from rag.stores.faiss_store import FaissConfig, FaissStore

            self.vector_store = FaissStore(FaissConfig(flat_max=self.exhaustive_max))
        snapshot = Snapshot.build(self.store, self.vector_store)
        self.retriever = Retriever(
            snapshot, self.embedder, self.tokenizer, self.weights,
            exhaustive_max=self.exhaustive_max, dense_depth=self.dense_depth,
        )
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
        self.sync(wait=True)  # a shared store: skip what another process already indexed
        todo, unchanged = pending_documents(docs, self.store, chunk_size=self.chunk_size, overlap=self.chunk_overlap)
        added: list[str] = []
        updated: list[str] = []
        total = sum(len(c) for _, c in todo)
        embedded = 0
        if todo:
            with (
                self._write,
                writer_lock(self.index_dir),
                progress_bar(total, progress) as bar,
                ThreadPoolExecutor(1, thread_name_prefix="bm25-tokens") as tokenizing,
            ):
                pacing = Pacing(self.checkpoint_seconds, self.publish_seconds)
                for group in embedding_groups(todo, EMBED_GROUP_PASSAGES):
                    texts = [passage_text(doc, c) for doc, chunks in group for c in chunks]
                    # The BM25 tokens (jieba, Python) are cut in a thread while the encoder, which releases
                    # the GIL, embeds the same passages: the core jieba would leave idle is used.
                    cut = tokenizing.submit(self._bm25_tokens, texts)
                    vectors = self.embedder.embed_documents(texts) if texts else self.store.vectors[:0]
                    group_tokens = cut.result()
                    at = 0
                    for doc, chunks in group:
                        mine = slice(at, at + len(chunks))
                        at += len(chunks)
                        tokens = group_tokens[mine]
                        (updated if doc.doc_id in self.store.documents else added).append(doc.doc_id)
                        self._upsert(doc, chunks, tokens, vectors[mine])
                        embedded += len(chunks)
                        bar.update(len(chunks))
                    pacing.step(self._save, self.publish, lambda: self._read_since_publish)
                self._save()
                self.publish()
        elif not index_exists(self.index_dir) and not self._shared():
            with writer_lock(self.index_dir):
                save_index(self.store, self.index_dir)
        return IngestReport(tuple(added), tuple(updated), tuple(unchanged), (), embedded)

    def _bm25_tokens(self, texts: list[str]) -> list[tuple[str, ...]]:
        return [self.tokenizer.tokenize(t) for t in texts]

    def remove(self, doc_id: str) -> None:
        """Delete a document from the index (raises DocumentNotFoundError)."""
        with self._write, writer_lock(self.index_dir):
            self.store.remove(doc_id)
            assert self.vector_store is not None
            self.vector_store.delete([doc_id])
            self._save()
            self.publish()

    def _upsert(
        self, doc: Document, chunks: list[Chunk], tokens: list[tuple[str, ...]], vectors: NDArray[np.float32]
    ) -> None:
        assert self.vector_store is not None
        # A store holding the vectors itself (Milvus) leaves zero-width rows in the local IndexStore.
        if self._shared():
            from rag.stores.milvus_store import content_keys

            self.store.upsert(doc, chunks, tokens, vectors[:, :0], keys=content_keys(doc, chunks))
        else:
            self.store.upsert(doc, chunks, tokens, vectors)
        self.vector_store.add(doc, chunks, tokens, self.store.keys[len(self.store.keys) - len(chunks) :], vectors)

    def _shared(self) -> bool:
        """True when the vector store also holds documents and passages (other processes may write to it)."""
        return self.vector_store is not None and self.vector_store.holds_documents

    def _save(self) -> None:
        if not self._shared():  # a shared store committed every document as it was written
            save_index(self.store, self.index_dir)

    def sync(self, *, wait: bool = False) -> bool:
        """Pick up documents other processes added to or removed from a shared store; True if anything changed.

        Without `wait`, returns at once when this process is writing (its own changes are published anyway).
        """
        from rag.stores.milvus_store import MilvusStore

        store = self.vector_store
        if not isinstance(store, MilvusStore) or not self._write.acquire(blocking=wait):
            return False
        try:
            self._next_sync = time.monotonic() + self.refresh_seconds
            heads = store.committed()
            mine = self.store.manifest.documents
            gone = [d for d in mine if d not in heads]
            todo = {d: h for d, h in heads.items() if mine.get(d) != h}
            for d in gone:
                self.store.remove(d)
            for doc, chunks, tokens, keys in store.fetch(todo):
                self.store.upsert(doc, chunks, tokens, np.zeros((len(chunks), 0), dtype=np.float32), keys=keys)
            self.store.changed.clear()
            if gone or todo:
                self.publish()
            return bool(gone or todo)
        finally:
            self._write.release()

    @property
    def snapshot(self) -> Snapshot:
        """What readers see now (immutable; a change publishes a new one)."""
        if self._shared() and time.monotonic() >= self._next_sync:
            self.sync()
        self._read_since_publish = True
        return self.retriever.snapshot

    def publish(self) -> Snapshot:
        """Make the writer's current state visible to readers, in one reference swap."""
        assert self.vector_store is not None
        self._read_since_publish = False
        snapshot = Snapshot.build(self.store, self.vector_store, self.retriever.snapshot)
        self.retriever.snapshot = snapshot
        return snapshot

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document."""
        return self.snapshot.infos()

    def document(self, doc_id: str) -> Document:
        """One indexed document with its cleaned text (raises DocumentNotFoundError)."""
        from rag.errors import DocumentNotFoundError

        try:
            return self.snapshot.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None

    # ------------------------------------------------------------------ questions

    def parse(self, question: str, snapshot: Snapshot | None = None) -> ParsedQuery:
        """Validate and understand a question."""
        text = question.strip()
        if not text:
            raise InvalidQuestionError("the question is empty")
        if len(text) > self.max_question_chars:
            raise InvalidQuestionError(
                f"the question is {len(text)} characters long; the limit is {self.max_question_chars}"
            )
        return parse_question(text, (snapshot or self.snapshot).catalog, self.tokenizer)

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        """Ranked passages plus the parsed question and routing."""
        t0 = time.perf_counter()
        snap = self.snapshot
        query = self.parse(question, snap)
        return self._search(query, k, filters, t0, snap)

    def _search(
        self, query: ParsedQuery, k: int, filters: QueryFilters | None, t0: float, snap: Snapshot
    ) -> SearchResult:
        allowed = self.retriever.allowed_docs(filters, snap)
        routing = self.retriever.route(query, allowed, snap)
        hits: list[Hit] = []
        if routing.doc_ids is None or routing.doc_ids:
            depth = max(k, self.weights.rescoring_depth if self.weights.sentence_rescoring else k)
            where = vector_filter(filters, snap)
            hits = self.retriever.search(
                query, depth * (3 if query.qtype == "comparison" else 1), routing, snap, where
            )
            if self.weights.sentence_rescoring:
                groups = content_terms(query, self.tokenizer, snap.catalog.words())
                hits = rescore_hits(
                    query, hits, groups, self._term_weight, desired_periods(query, hits),
                    weight=self.weights.sentence_rescoring,
                )
            hits = self.reranker.rerank(query.text, hits)
            hits = diversify(hits, k) if query.qtype == "comparison" else hits[:k]
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
        snap = self.snapshot  # one snapshot for the whole answer, whatever the writer publishes meanwhile
        query = self.parse(question, snap)
        if history:
            resolved = resolve_follow_up(question, query, history)
            if resolved != question:
                query = self.parse(resolved, snap)
        result = self._search(query, self.top_k, filters, t0, snap)
        t1 = time.perf_counter()
        answer: Answer | None = None
        if result.reason or not result.hits:
            answer = refusal(query, result.reason or NO_PASSAGES, result.hits)
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
        yield replace(answer, question=question, language=query.language, timings_ms=timings, hits=result.hits)

    # ------------------------------------------------------------------ internals

    def _describe_unnamed(self, doc_id: str, query: ParsedQuery) -> str | None:
        """Name an anonymised report by the words the question used to single it out (木渎/太湖)."""
        terms = self.retriever.distinctive_terms(query, doc_id)
        if not terms:
            return None
        return f"提及{'和'.join(terms[:3])}的区" if query.language == "zh" else f"the {'/'.join(terms[:3])} district"

    def _term_weight(self, token: str) -> float:
        return self.snapshot.lexical.idf(token)
