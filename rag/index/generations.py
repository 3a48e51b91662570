"""Generations of an index directory (the layout is in `rag.index`): loading the live one, saving the next and
swapping CURRENT to it, replaying a stale writer's changes onto a newer one, sweeping up after killed writers."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.files import fsync_path as _fsync  # a module global: the crash tests patch it
from rag.errors import IndexCorruptError, IndexLockedError, IndexNotFoundError
from rag.index.integrity import corrupt_error, read_jsonl, read_manifest, read_vectors
from rag.index.lock import writer_lock
from rag.index.records import chunk_from_json, document_from_json, document_to_json
from rag.index.store import IndexStore, replace_documents

_CURRENT = "CURRENT"
_GENERATION = re.compile(r"gen-\d{6,}")


def index_exists(index_dir: Path) -> bool:
    """True when a loadable generation is present."""
    return (index_dir / _CURRENT).is_file()


def load_index(index_dir: Path) -> IndexStore:
    """Load the live generation of an index directory.

    Temporary files left by a killed writer are removed first. A truncated or damaged file is an
    IndexCorruptError naming it and saying how to rebuild.
    """
    pointer = index_dir / _CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(f'no index at {index_dir} — run "rag ingest data/reports" first')
    _sweep_debris(index_dir)
    for attempt in range(3):
        name = _read_pointer(index_dir, pointer)
        try:
            return _load_generation(index_dir, index_dir / name)
        except IndexCorruptError:
            # A writer may have swapped CURRENT and collected this generation while we read it.
            if attempt == 2 or _read_pointer(index_dir, pointer) == name:
                raise
    raise AssertionError("unreachable")


def _load_generation(index_dir: Path, gen: Path) -> IndexStore:
    manifest = read_manifest(index_dir, gen / "manifest.json")
    documents = {d.doc_id: d for d in read_jsonl(index_dir, gen / "documents.jsonl", document_from_json)}
    rows = read_jsonl(index_dir, gen / "chunks.jsonl", chunk_from_json)
    chunks = [chunk for chunk, _ in rows]
    vectors = read_vectors(index_dir, gen / "vectors.faiss", manifest.dimension, len(chunks))
    orphans = sorted({c.doc_id for c in chunks} - documents.keys())
    if orphans:
        raise corrupt_error(
            index_dir, gen / "chunks.jsonl", f"chunks of {len(orphans)} documents missing from documents.jsonl, e.g. {orphans[0]!r}"
        )
    return IndexStore(
        manifest=manifest,
        documents=documents,
        chunks=chunks,
        tokens=[tokens for _, tokens in rows],
        vectors=vectors,
        version=1,
        generation=gen.name,
    )


def save_index(store: IndexStore, index_dir: Path) -> Path:
    """Write a new generation and make it live atomically; returns its directory.

    Call it holding `writer_lock`. When another writer saved a generation after `store` was loaded, the store's
    own changes are first replayed onto that one (in place), so neither writer's documents are lost.
    """
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    live = _live_generation(index_dir)
    if live is not None and live != store.generation:
        _rebase(store, load_index(index_dir))
    number = _next_generation(index_dir)
    final = index_dir / f"gen-{number:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".gen-{number:06d}-", dir=index_dir))
    try:
        _write_json(tmp / "manifest.json", asdict(store.manifest))
        with (tmp / "documents.jsonl").open("w", encoding="utf-8") as fh:
            for doc in store.documents.values():
                fh.write(json.dumps(document_to_json(doc), ensure_ascii=False) + "\n")
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
    store.generation = final.name
    store.changed.clear()
    _collect_garbage(index_dir, keep=final.name)
    return final


def _rebase(store: IndexStore, newer: IndexStore) -> None:
    """Replay the store's changed documents onto a newer generation, keeping the store object (readers hold it)."""
    newer.check_compatible(store.manifest.model_id, store.manifest.dimension)
    changed = store.changed
    theirs = [i for i, c in enumerate(newer.chunks) if c.doc_id not in changed]
    ours = [i for i, c in enumerate(store.chunks) if c.doc_id in changed]
    documents = {d: doc for d, doc in newer.documents.items() if d not in changed}
    documents.update({d: store.documents[d] for d in sorted(changed) if d in store.documents})
    hashes = {d: h for d, h in newer.manifest.documents.items() if d not in changed}
    hashes.update({d: doc.content_hash for d, doc in documents.items() if d in changed})
    store.manifest = replace_documents(newer.manifest, hashes)
    store.documents = documents
    store.chunks = [newer.chunks[i] for i in theirs] + [store.chunks[i] for i in ours]
    store.tokens = [newer.tokens[i] for i in theirs] + [store.tokens[i] for i in ours]
    store.keys = np.concatenate([newer.keys[theirs], store.keys[ours]])
    store.vectors = np.vstack([newer.vectors[theirs], store.vectors[ours]]).astype(np.float32)
    store.generation = newer.generation
    store.version += 1


def _live_generation(index_dir: Path) -> str | None:
    pointer = index_dir / _CURRENT
    return pointer.read_text(encoding="utf-8", errors="replace").strip() if pointer.is_file() else None


def _read_pointer(index_dir: Path, pointer: Path) -> str:
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise corrupt_error(index_dir, pointer, f"unreadable: {exc}") from exc
    if not _GENERATION.fullmatch(name):
        raise corrupt_error(index_dir, pointer, f"holds {name[:40]!r}, not a generation name such as gen-000001")
    if not (index_dir / name).is_dir():
        raise corrupt_error(index_dir, pointer, f"names {name}, which does not exist")
    return name


def _sweep_debris(index_dir: Path) -> None:
    """Delete what a killed writer left: its temporary files, and a generation it renamed into place but never
    made live (killed between the rename and the CURRENT swap). Unless a writer is at work right now: then
    they are its own."""
    if not _debris(index_dir) and not _stale_generations(index_dir):
        return
    # Busy lock: the files belong to a live writer. Read-only directory: leave them to the next save.
    with suppress(IndexLockedError, OSError), writer_lock(index_dir, timeout=0):
        for path in [*_debris(index_dir), *_stale_generations(index_dir)]:
            _remove(path)


def _stale_generations(index_dir: Path) -> list[Path]:
    """Generation directories other than the live one (none unless CURRENT names a generation that exists:
    a corrupt pointer must be reported, never taken as "everything is stale")."""
    try:
        live = _live_generation(index_dir)
    except OSError:
        return []
    if live is None or not _GENERATION.fullmatch(live) or not (index_dir / live).is_dir():
        return []
    return [p for p in index_dir.iterdir() if p.is_dir() and _GENERATION.fullmatch(p.name) and p.name != live]


def _debris(index_dir: Path) -> list[Path]:
    return [p for p in index_dir.iterdir() if p.name.startswith((".gen-", f".{_CURRENT}."))]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _next_generation(index_dir: Path) -> int:
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return max(numbers, default=0) + 1


def _collect_garbage(index_dir: Path, keep: str) -> None:
    """Remove older generations and what crashed writers left (never the live one); the caller holds the lock."""
    for p in index_dir.iterdir():
        if p.is_dir() and p.name != keep and p.name.startswith("gen-"):
            shutil.rmtree(p, ignore_errors=True)
    for p in _debris(index_dir):
        _remove(p)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
