"""Vectors, passages and documents in Milvus, shared by every API process that points at the same URI.

Collections (named after RAG_MILVUS_COLLECTION, default govreport):

    <name>_chunks      a row per chunk: its key, vector, text/offsets/section/period, BM25 tokens, and the report's
                       region, parent region, level, year, plan year and review years for filter expressions
    <name>_documents   a document's JSON record (cleaned text, metadata, offset map) in parts of 16,000 characters
    <name>_heads       doc_id → committed content hash, plus one `~manifest` row (model and chunking)

A document is written as new chunk rows and document parts under its new content hash, then its head row (the
commit), and only then are the rows it supersedes deleted. A process loads the heads and the rows of the
committed hashes only, so it never sees half a document; dense hits on rows it has not loaded are dropped by
the snapshot. Locally the URI is a milvus-lite file; in production a cluster URI plus RAG_MILVUS_TOKEN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.errors import RagError
from rag.index.records import document_from_json, document_to_json
from rag.index.store import IndexStore, Manifest
from rag.knowledge.regions import region_from_meta
from rag.types import Chunk, Document
from rag.vector_store import DenseHits, VectorFilter, VectorIndex

MAX_LIMIT = 16_384
"""Milvus caps one search at this many hits."""
PART_CHARS = 16_000
"""Characters of a document record per row (a VARCHAR holds 65,535 bytes; CJK is 3 bytes in UTF-8)."""
_SEP = "\x1f"
_MANIFEST = "~manifest"
_BATCH = 1000


class _NoLiteTimestampWarning(logging.Filter):
    """milvus-lite cannot give query iterators a server timestamp; pymilvus warns on every iterator."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


class MilvusUnavailableError(RagError):
    """pymilvus is missing or the Milvus server cannot be reached."""


def filter_expression(where: VectorFilter | None) -> str:
    """The Milvus boolean expression for a filter ("" when it does not constrain)."""
    if where is None:
        return ""
    parts = []
    if where.doc_ids is not None:
        parts.append(f"doc_id in {_strings(sorted(where.doc_ids))}")
    if where.regions:
        names = _strings(where.regions)
        parts.append(f"(region in {names} or parent_region in {names})")
    if where.year is not None:
        y = int(where.year)
        parts.append(f"(year == {y} or plan_year == {y} or array_contains(review_years, {y}))")
    if where.level is not None:
        parts.append(f"level == {_strings([where.level])[1:-1]}")
    return " and ".join(parts)


def _strings(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def content_keys(document: Document, chunks: Sequence[Chunk]) -> NDArray[np.int64]:
    """Row keys derived from the document's id, content hash and chunk ids: two processes that write the same
    version of a document write the same rows (upserts of one key), never duplicates."""
    out = np.empty(len(chunks), dtype=np.int64)
    for i, c in enumerate(chunks):
        digest = hashlib.blake2b(f"{document.doc_id}\0{document.content_hash}\0{c.chunk_id}".encode(), digest_size=8)
        out[i] = (int.from_bytes(digest.digest(), "little") >> 2) | 1
    return out


class MilvusVectors:
    """Dense search in the shared collection (what every snapshot of a Milvus-backed pipeline searches)."""

    kind = "milvus"

    def __init__(self, client: Any, collection: str) -> None:
        self.client = client
        self.collection = collection

    def search(self, queries: NDArray[np.float32], k: int, where: VectorFilter | None = None) -> list[DenseHits]:
        """The k best chunks per query (at most 16,384), with the filter pushed down as an expression."""
        empty = DenseHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if (where is not None and where.matches_nothing()) or k <= 0:
            return [empty for _ in range(len(queries))]
        results = self.client.search(
            self.collection,
            data=[np.asarray(q, dtype=np.float32).tolist() for q in queries],
            limit=min(k, MAX_LIMIT),
            filter=filter_expression(where),
            output_fields=["pk"],
            search_params={"metric_type": "IP"},
            consistency_level="Strong",
        )
        out = []
        for hits in results:
            keys = np.array([int(h["pk"] if "pk" in h else h["id"]) for h in hits], dtype=np.int64)
            scores = np.array([float(h["distance"]) for h in hits], dtype=np.float32)
            out.append(DenseHits(keys, scores))
        return out


class MilvusStore:
    """The vector store in Milvus; it also holds the documents and passages (`holds_documents`)."""

    name = "milvus"
    holds_documents = True

    def __init__(self, uri: str, token: str | None = None, collection: str = "govreport") -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise MilvusUnavailableError(
                'RAG_VECTOR_STORE=milvus needs pymilvus (and milvus-lite for a local file): pip install -e ".[milvus]"'
            ) from exc
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client: Any = MilvusClient(uri=uri, token=token or "")
        except Exception as exc:  # pymilvus raises its own MilvusException or a grpc error: both mean "unreachable"
            raise MilvusUnavailableError(f"cannot open Milvus at {uri}: {exc}; check RAG_MILVUS_URI") from exc
        for handler in logging.getLogger("pymilvus").handlers:
            if not any(isinstance(f, _NoLiteTimestampWarning) for f in handler.filters):
                handler.addFilter(_NoLiteTimestampWarning())
        self.uri = uri
        self.chunks = f"{collection}_chunks"
        self.documents = f"{collection}_documents"
        self.heads = f"{collection}_heads"

    # ------------------------------------------------------------------ schema

    def ensure_collections(self, dimension: int) -> None:
        """Create the three collections if they are missing."""
        from pymilvus import DataType

        c = self.client
        if not c.has_collection(self.chunks):
            s = c.create_schema(auto_id=False)
            s.add_field("pk", DataType.INT64, is_primary=True)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
            for name, length in (
                ("doc_id", 1024), ("content_hash", 128), ("chunk_id", 1200), ("text", 65_535), ("section", 4096),
                ("period", 16), ("tokens", 65_535), ("region", 256), ("parent_region", 256), ("level", 32),
            ):
                s.add_field(name, DataType.VARCHAR, max_length=length)
            for name in ("start", "end", "ordinal", "year", "plan_year"):
                s.add_field(name, DataType.INT64)
            s.add_field("review_years", DataType.ARRAY, element_type=DataType.INT64, max_capacity=64)
            index = c.prepare_index_params()
            index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
            self._create_collection(self.chunks, s, index)
        for name in (self.documents, self.heads):
            if c.has_collection(name):
                continue
            s = c.create_schema(auto_id=False)
            s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=2048)
            s.add_field("doc_id", DataType.VARCHAR, max_length=1024)
            s.add_field("content_hash", DataType.VARCHAR, max_length=128)
            s.add_field("part", DataType.INT64)
            s.add_field("body", DataType.VARCHAR, max_length=65_535)
            s.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
            index = c.prepare_index_params()
            index.add_index("dummy", index_type="AUTOINDEX", metric_type="L2")
            self._create_collection(name, s, index)

    def _create_collection(self, name: str, schema: Any, index: Any, wait_s: float = 30.0) -> None:
        """Create `name`, or accept it when another process created it between our check and our create.

        Two API replicas starting together on an empty server both see the collection missing; Milvus then
        answers the second create with "already exists" (or, in Milvus Lite, "File exists" while the first
        is still writing it). That is success as long as the collection turns up.
        """
        try:
            self.client.create_collection(name, schema=schema, index_params=index)
            return
        except Exception as exc:
            error = exc
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.client.has_collection(name):
                return
            time.sleep(0.2)
        raise MilvusUnavailableError(f"cannot create the Milvus collection {name} at {self.uri}: {error}") from error

    # ------------------------------------------------------------------ writing

    def add(
        self, document: Document, chunks: Sequence[Chunk], tokens: Sequence[tuple[str, ...]],
        keys: NDArray[np.int64], vectors: NDArray[np.float32],
    ) -> None:
        """Write a document's chunks and record, commit its head, then delete the version it replaces.

        The collections exist: `load_store` created them.
        """
        meta = document.meta
        region = region_from_meta(meta)
        fixed = {
            "doc_id": document.doc_id,
            "content_hash": document.content_hash,
            "region": meta.region or "",
            "parent_region": (region.parent if region is not None else None) or "",
            "level": meta.level or "",
            "year": meta.year if meta.year is not None else -1,
            "plan_year": meta.plan_year if meta.plan_year is not None else -1,
            "review_years": [int(y) for y in meta.review_years[:64]],
        }
        rows = [
            {
                **fixed,
                "pk": int(key),
                "vector": np.asarray(vec, dtype=np.float32).tolist(),
                "chunk_id": c.chunk_id,
                "text": c.text,
                "section": c.section[:1300],
                "period": c.period,
                "tokens": _SEP.join(toks),
                "start": c.start,
                "end": c.end,
                "ordinal": c.ordinal,
            }
            for c, toks, key, vec in zip(chunks, tokens, keys, vectors, strict=True)
        ]
        for i in range(0, len(rows), _BATCH):
            self.client.upsert(self.chunks, rows[i : i + _BATCH])
        body = json.dumps(document_to_json(document), ensure_ascii=False)
        parts = [body[i : i + PART_CHARS] for i in range(0, len(body), PART_CHARS)] or [""]
        records = [self._record(document.doc_id, document.content_hash, n, text) for n, text in enumerate(parts)]
        for i in range(0, len(records), _BATCH):
            self.client.upsert(self.documents, records[i : i + _BATCH])
        self.client.upsert(self.heads, [self._record(document.doc_id, document.content_hash, 0, "", pk=document.doc_id)])
        stale = f"doc_id == {_strings([document.doc_id])[1:-1]} and content_hash != {_strings([document.content_hash])[1:-1]}"
        self.client.delete(self.chunks, filter=stale)
        self.client.delete(self.documents, filter=stale)

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Uncommit the documents' heads, then delete their rows."""
        if not doc_ids or not self.client.has_collection(self.heads):
            return
        expr = f"doc_id in {_strings(list(doc_ids))}"
        self.client.delete(self.heads, filter=expr)
        self.client.delete(self.chunks, filter=expr)
        self.client.delete(self.documents, filter=expr)

    @staticmethod
    def _record(doc_id: str, content_hash: str, part: int, body: str, *, pk: str | None = None) -> dict[str, Any]:
        return {
            "pk": pk if pk is not None else f"{doc_id}{_SEP}{content_hash}{_SEP}{part}",
            "doc_id": doc_id,
            "content_hash": content_hash,
            "part": part,
            "body": body,
            "dummy": [0.0, 0.0],
        }

    # ------------------------------------------------------------------ reading

    def index(
        self, vectors: NDArray[np.float32], keys: NDArray[np.int64], doc_rows: Mapping[str, NDArray[np.int64]],
        previous: VectorIndex | None,
    ) -> MilvusVectors:
        """Search goes to the shared collection, whatever the snapshot."""
        return MilvusVectors(self.client, self.chunks)

    def committed(self) -> dict[str, str]:
        """doc_id → content hash of every committed document."""
        if not self.client.has_collection(self.heads):
            return {}
        rows = self._query(self.heads, f'pk != "{_MANIFEST}"', ["doc_id", "content_hash"])
        return {r["doc_id"]: r["content_hash"] for r in rows}

    def load_store(self, manifest: Manifest) -> IndexStore:
        """The documents and passages in Milvus as an IndexStore (vectors stay in Milvus: zero-width rows).

        A new collection takes `manifest`; an existing one returns the manifest it was built with.
        """
        self.ensure_collections(manifest.dimension)
        stored = self._query(self.heads, f'pk == "{_MANIFEST}"', ["body"])
        if stored:
            raw = json.loads(stored[0]["body"])
            manifest = Manifest(**{**raw, "documents": {}})
        else:
            body = json.dumps({k: v for k, v in manifest.__dict__.items() if k != "documents"})
            self.client.upsert(self.heads, [self._record(_MANIFEST, "", 0, body, pk=_MANIFEST)])
        store = IndexStore(manifest=manifest, vectors=np.zeros((0, 0), dtype=np.float32))
        for doc, chunks, tokens, keys in self.fetch(self.committed()):
            store.upsert(doc, chunks, tokens, np.zeros((len(chunks), 0), dtype=np.float32), keys=keys)
        store.changed.clear()
        return store

    def fetch(
        self, heads: Mapping[str, str]
    ) -> Iterator[tuple[Document, list[Chunk], list[tuple[str, ...]], NDArray[np.int64]]]:
        """Each committed document (of these heads) with its chunks, tokens and row keys, in chunk order."""
        ids = sorted(heads)
        for i in range(0, len(ids), 20):
            batch = ids[i : i + 20]
            expr = f"doc_id in {_strings(batch)}"
            parts: dict[str, list[tuple[int, str]]] = {}
            for r in self._query(self.documents, expr, ["doc_id", "content_hash", "part", "body"]):
                if heads.get(r["doc_id"]) == r["content_hash"]:
                    parts.setdefault(r["doc_id"], []).append((int(r["part"]), r["body"]))
            rows: dict[str, list[dict[str, Any]]] = {}
            fields = ["pk", "doc_id", "content_hash", "chunk_id", "text", "section", "period", "tokens", "start", "end", "ordinal"]
            for r in self._query(self.chunks, expr, fields):
                if heads.get(r["doc_id"]) == r["content_hash"]:
                    rows.setdefault(r["doc_id"], []).append(r)
            for doc_id in batch:
                if doc_id not in parts:
                    continue  # committed a moment ago and not yet readable, or removed meanwhile: next refresh
                doc = document_from_json(json.loads("".join(body for _, body in sorted(parts[doc_id]))))
                mine = sorted(rows.get(doc_id, []), key=lambda r: int(r["ordinal"]))
                chunks = [
                    Chunk(
                        chunk_id=r["chunk_id"], doc_id=doc_id, text=r["text"], start=int(r["start"]), end=int(r["end"]),
                        section=r["section"], ordinal=int(r["ordinal"]), period=r["period"],
                    )
                    for r in mine
                ]
                tokens = [tuple(r["tokens"].split(_SEP)) if r["tokens"] else () for r in mine]
                yield doc, chunks, tokens, np.array([int(r["pk"]) for r in mine], dtype=np.int64)

    def _query(self, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        rows = self.client.query(collection, filter=expr, output_fields=fields, limit=MAX_LIMIT, consistency_level="Strong")
        if len(rows) < MAX_LIMIT:
            return [dict(r) for r in rows]
        out: list[dict[str, Any]] = []  # more than one query may return: page through an iterator
        it = self.client.query_iterator(collection, batch_size=_BATCH, filter=expr, output_fields=fields)
        try:
            while batch := it.next():
                out.extend(batch)
        finally:
            it.close()
        return out
