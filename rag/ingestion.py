"""Ingest batching: which documents need indexing, their passages embedded in groups, and how often a long
ingest saves a checkpoint and publishes a snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from rag.chunking import chunk_document
from rag.index.store import IndexStore
from rag.types import Chunk, Document

EMBED_GROUP_PASSAGES = 256
"""Passages of consecutive documents embedded in one call: short documents no longer pay a call each."""


def passage_text(document: Document, chunk: Chunk) -> str:
    """What is embedded and indexed for a chunk: the report title and section give it context."""
    return f"{document.meta.title} | {chunk.section}\n{chunk.text}"


def pending_documents(
    docs: Iterable[Document], store: IndexStore, *, chunk_size: int, overlap: int
) -> tuple[list[tuple[Document, list[Chunk]]], list[str]]:
    """The documents to index (new or changed), chunked, and the ids of unchanged ones; the first copy of an id wins."""
    todo: list[tuple[Document, list[Chunk]]] = []
    unchanged: list[str] = []
    seen: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen:
            continue
        seen.add(doc.doc_id)
        if store.content_hash(doc.doc_id) == doc.content_hash and doc.doc_id in store.documents:
            unchanged.append(doc.doc_id)
            continue
        todo.append((doc, chunk_document(doc, chunk_size=chunk_size, overlap=overlap)))
    return todo, unchanged


def embedding_groups(
    todo: Sequence[tuple[Document, list[Chunk]]], passages: int
) -> Iterator[list[tuple[Document, list[Chunk]]]]:
    """Consecutive documents with about `passages` passages between them (a longer document alone)."""
    group: list[tuple[Document, list[Chunk]]] = []
    size = 0
    for item in todo:
        group.append(item)
        size += len(item[1])
        if size >= passages:
            yield group
            group, size = [], 0
    if group:
        yield group


class Pacing:
    """When a long ingest saves a checkpoint generation and publishes a new snapshot to readers."""

    def __init__(self, checkpoint_seconds: float, publish_seconds: float) -> None:
        self.checkpoint_seconds = checkpoint_seconds
        self.publish_seconds = publish_seconds
        self.last_save = self.last_publish = time.monotonic()
        self.publish_cost = 0.0

    def step(
        self, save: Callable[[], None], publish: Callable[[], object], wanted: Callable[[], bool] = lambda: True
    ) -> None:
        """After a group: save every `checkpoint_seconds`; publish at most every `publish_seconds`, and only when
        `wanted()` says a reader looked at the index since the last snapshot (nobody reads during a command-line
        ingest, and the final snapshot is published anyway)."""
        if time.monotonic() - self.last_save > self.checkpoint_seconds:
            save()
            self.last_save = time.monotonic()
        # Publishing rebuilds the readers' snapshot, which grows with the index: keep it under
        # about a tenth of the ingest time however large the index gets.
        due = time.monotonic() - self.last_publish > max(self.publish_seconds, 10 * self.publish_cost)
        if due and wanted():
            started = time.monotonic()
            publish()
            self.last_publish = time.monotonic()
            self.publish_cost = self.last_publish - started


class _NullBar:
    def update(self, n: int) -> None:
        """Ignore progress."""


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[_NullBar]:
    """A progress bar over `total` chunks when enabled, else one that ignores updates."""
    if not enabled:
        yield _NullBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="chunk", desc="embedding", dynamic_ncols=True) as bar:
        yield bar
