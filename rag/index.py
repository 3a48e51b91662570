"""The on-disk index: FAISS vectors plus documents, chunks and a manifest, saved atomically by generation.

Layout of an index directory::

    CURRENT                 name of the live generation (replaced atomically)
    gen-000007/manifest.json
    gen-000007/documents.jsonl   cleaned text + metadata, one document a line
    gen-000007/chunks.jsonl      chunk text/offsets/section + lexical tokens, aligned with the vectors
    gen-000007/vectors.faiss     FAISS IndexFlatIP of normalised embeddings

A save writes a new generation directory, fsyncs it, then swaps CURRENT; a crash at any point leaves the
previous generation live.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rag.errors import DocumentNotFoundError, IndexMismatchError, IndexNotFoundError
from rag.types import Chunk, Document, DocumentInfo, DocumentMeta

FORMAT_VERSION = 1
_CURRENT = "CURRENT"


@dataclass(frozen=True)
class Manifest:
    """What an index was built with; a mismatch with the running configuration is an error."""

    model_id: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    format_version: int = FORMAT_VERSION
    documents: dict[str, str] = field(default_factory=dict)
    """doc_id → content hash."""
    updated: float = 0.0


@dataclass
class IndexStore:
    """Documents, chunks and their vectors, kept aligned (row i of the vectors is chunks[i])."""

    manifest: Manifest
    documents: dict[str, Document] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    tokens: list[tuple[str, ...]] = field(default_factory=list)
    vectors: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    version: int = 0
    """Bumped on every change so derived structures (BM25, FAISS) know to rebuild."""

    @classmethod
    def empty(cls, model_id: str, dimension: int, chunk_size: int, chunk_overlap: int) -> IndexStore:
        """A new, empty index for this embedder and chunker."""
        manifest = Manifest(model_id=model_id, dimension=dimension, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        return cls(manifest=manifest, vectors=np.zeros((0, dimension), dtype=np.float32))

    def check_compatible(self, model_id: str, dimension: int) -> None:
        """Fail clearly when the index was built with another embedding model."""
        m = self.manifest
        if m.model_id != model_id or m.dimension != dimension:
            raise IndexMismatchError(
                f"index was built with embedding model {m.model_id!r} (dimension {m.dimension}) but the "
                f"configured embedder is {model_id!r} (dimension {dimension}); use another --index directory "
                "or set RAG_EMBEDDER to the model the index was built with"
            )

    def content_hash(self, doc_id: str) -> str | None:
        """Stored content hash of a document, or None if absent."""
        return self.manifest.documents.get(doc_id)

    def upsert(
        self, document: Document, chunks: list[Chunk], tokens: list[tuple[str, ...]], vectors: NDArray[np.float32]
    ) -> None:
        """Add a document or replace all chunks of an existing one."""
        if len(chunks) != len(vectors) or len(chunks) != len(tokens):
            raise ValueError("chunks, tokens and vectors must be aligned")
        if document.doc_id in self.documents:
            self._drop(document.doc_id)
        self.documents[document.doc_id] = document
        self.chunks.extend(chunks)
        self.tokens.extend(tokens)
        self.vectors = np.vstack([self.vectors, vectors.astype(np.float32)]) if len(vectors) else self.vectors
        docs = dict(self.manifest.documents)
        docs[document.doc_id] = document.content_hash
        self.manifest = _replace_docs(self.manifest, docs)
        self.version += 1

    def remove(self, doc_id: str) -> None:
        """Delete a document and its chunks."""
        if doc_id not in self.documents:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        self._drop(doc_id)
        del self.documents[doc_id]
        docs = dict(self.manifest.documents)
        docs.pop(doc_id, None)
        self.manifest = _replace_docs(self.manifest, docs)
        self.version += 1

    def _drop(self, doc_id: str) -> None:
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id != doc_id]
        self.chunks = [self.chunks[i] for i in keep]
        self.tokens = [self.tokens[i] for i in keep]
        self.vectors = self.vectors[keep] if len(keep) else np.zeros((0, self.manifest.dimension), dtype=np.float32)

    def infos(self) -> list[DocumentInfo]:
        """One line per document, in id order."""
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return [
            DocumentInfo(
                doc_id=d.doc_id,
                meta=d.meta,
                n_chunks=counts.get(d.doc_id, 0),
                n_chars=len(d.text),
                source=d.source,
                content_hash=d.content_hash,
            )
            for d in sorted(self.documents.values(), key=lambda d: d.doc_id)
        ]


def _replace_docs(manifest: Manifest, docs: dict[str, str]) -> Manifest:
    return Manifest(
        model_id=manifest.model_id,
        dimension=manifest.dimension,
        chunk_size=manifest.chunk_size,
        chunk_overlap=manifest.chunk_overlap,
        format_version=manifest.format_version,
        documents=docs,
        updated=time.time(),
    )


# ---------------------------------------------------------------- persistence


def index_exists(index_dir: Path) -> bool:
    """True when a loadable generation is present."""
    return (index_dir / _CURRENT).is_file()


def load_index(index_dir: Path) -> IndexStore:
    """Load the live generation of an index directory."""
    import faiss

    pointer = index_dir / _CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(f'no index at {index_dir} — run "rag ingest data/reports" first')
    gen = index_dir / pointer.read_text(encoding="utf-8").strip()
    try:
        raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatchError(f"index at {index_dir} is unreadable ({exc}); re-ingest into a new directory") from exc
    if raw.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format {raw.get('format_version')}, this version reads {FORMAT_VERSION}; re-ingest"
        )
    manifest = Manifest(**raw)
    documents: dict[str, Document] = {}
    with (gen / "documents.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = _document_from_json(json.loads(line))
            documents[doc.doc_id] = doc
    chunks: list[Chunk] = []
    tokens: list[tuple[str, ...]] = []
    with (gen / "chunks.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            tokens.append(tuple(row.pop("tokens")))
            chunks.append(Chunk(**row))
    index = faiss.read_index(str(gen / "vectors.faiss"))
    vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, manifest.dimension), np.float32)
    if len(vectors) != len(chunks):
        raise IndexMismatchError(f"index at {index_dir} is inconsistent ({len(vectors)} vectors, {len(chunks)} chunks)")
    return IndexStore(manifest=manifest, documents=documents, chunks=chunks, tokens=tokens, vectors=vectors, version=1)


def save_index(store: IndexStore, index_dir: Path) -> Path:
    """Write a new generation and make it live atomically; returns its directory."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    number = _next_generation(index_dir)
    final = index_dir / f"gen-{number:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".gen-{number:06d}-", dir=index_dir))
    try:
        _write_json(tmp / "manifest.json", asdict(store.manifest))
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for doc in store.documents.values():
                fh.write(json.dumps(_document_to_json(doc), ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk, toks in zip(store.chunks, store.tokens, strict=True):
                fh.write(json.dumps({**asdict(chunk), "tokens": list(toks)}, ensure_ascii=False) + "\n")
        flat = faiss.IndexFlatIP(store.manifest.dimension)
        if len(store.vectors):
            flat.add(np.ascontiguousarray(store.vectors, dtype=np.float32))
        faiss.write_index(flat, str(tmp / "vectors.faiss"))
        for f in tmp.iterdir():
            _fsync(f)
        os.replace(tmp, final)
        _fsync(index_dir)
        pointer_tmp = index_dir / f".{_CURRENT}.{os.getpid()}"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        _fsync(pointer_tmp)
        os.replace(pointer_tmp, index_dir / _CURRENT)
        _fsync(index_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _collect_garbage(index_dir, keep=final.name)
    return final


def _next_generation(index_dir: Path) -> int:
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return max(numbers, default=0) + 1


def _collect_garbage(index_dir: Path, keep: str) -> None:
    """Remove older generations and temp dirs left by crashed writers (never the live one)."""
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("gen-") or p.name.startswith(".gen-")):
            shutil.rmtree(p, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _document_to_json(doc: Document) -> dict[str, Any]:
    out = asdict(doc)
    out["offset_map"] = [list(p) for p in doc.offset_map]
    return out


def _document_from_json(raw: dict[str, Any]) -> Document:
    meta_raw = raw.pop("meta")
    meta = DocumentMeta(
        **{
            **meta_raw,
            "review_years": tuple(meta_raw.get("review_years", ())),
            "source_meta": tuple(tuple(p) for p in meta_raw.get("source_meta", ())),
        }
    )
    offset_map = tuple((int(a), int(b)) for a, b in raw.pop("offset_map", ()))
    return Document(meta=meta, offset_map=offset_map, **raw)
