"""Passage vectors cached on disk by content hash, so unchanged text is never embedded twice.

The index skips whole documents whose content hash is unchanged; this cache works one level down: a
changed report re-embeds only its new chunks, and a fresh index (another --index directory, an eval
run, a re-chunking with the same chunk texts) reuses every vector computed before with the same model.
One SQLite file per model and model build; queries are not cached (each is embedded once per request).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from embeddings.base import Embedder

logger = logging.getLogger(__name__)

_BATCH = 500  # keys per SELECT ... IN (...), below SQLite's default limit of bound parameters


def cache_path(cache_dir: Path, model_id: str, build_id: str) -> Path:
    """The cache file for one model build: `cache_dir/vectors/<model slug>-<digest>.sqlite3`."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model_id).strip("-")[:80]
    digest = hashlib.blake2b(f"{model_id}\0{build_id}".encode(), digest_size=8).hexdigest()
    return cache_dir / "vectors" / f"{slug}-{digest}.sqlite3"


def text_key(text: str) -> bytes:
    """Content hash of a passage (blake2b-128 of its UTF-8 bytes)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorStore:
    """Key → float32 vector in one SQLite file; safe across threads and processes (WAL, busy timeout)."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost vector after a power cut is only re-embedded
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
            self._db = db
        return self._db

    def get_many(self, keys: list[bytes]) -> dict[bytes, NDArray[np.float32]]:
        """The stored vectors of those keys that are present (wrongly sized entries count as absent)."""
        found: dict[bytes, NDArray[np.float32]] = {}
        width = 4 * self.dimension
        with self._lock:
            db = self._connection()
            for start in range(0, len(keys), _BATCH):
                part = keys[start : start + _BATCH]
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                for key, blob in rows:
                    if len(blob) == width:
                        found[bytes(key)] = np.frombuffer(blob, dtype="<f4")
        return found

    def put_many(self, items: list[tuple[bytes, NDArray[np.float32]]]) -> None:
        """Store vectors (replacing any under the same key) in one transaction."""
        rows = [(key, np.ascontiguousarray(vector, dtype="<f4").tobytes()) for key, vector in items]
        with self._lock:
            db = self._connection()
            with db:
                db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class CachedEmbedder:
    """Wraps an `Embedder`: passages whose text was embedded before by the same model come from the cache.

    A cache that cannot be opened or read (unwritable directory, corrupt file) is logged once and
    bypassed: vectors are then computed as without it.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.hits = 0
        self.misses = 0
        self._store: VectorStore | None = None
        self._broken = False
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """The wrapped embedder's id (cached vectors are the same vectors)."""
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        """The wrapped embedder's vector length."""
        return self.inner.dimension

    def load(self) -> None:
        """Load the wrapped model now, if it loads lazily."""
        load = getattr(self.inner, "load", None)
        if callable(load):
            load()

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions (never cached)."""
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed passages, computing only those not cached yet (each distinct text once)."""
        if not texts:
            return self.inner.embed_documents(texts)
        keys = [text_key(t) for t in texts]
        found = self._get(keys)
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                todo.setdefault(key, text)
        if todo:
            fresh = self.inner.embed_documents(list(todo.values()))
            new = list(zip(todo, fresh, strict=True))
            found.update(new)
            self._put(new)
        with self._lock:
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    def _open(self) -> VectorStore | None:
        if self._broken:
            return None
        if self._store is None:
            self._store = VectorStore(self.path, self.inner.dimension)
        return self._store

    def _disable(self, exc: Exception) -> None:
        logger.warning("embedding cache %s unusable (%s); embedding without it", self.path, exc)
        self._broken = True

    def _get(self, keys: list[bytes]) -> dict[bytes, NDArray[np.float32]]:
        store = self._open()
        if store is None:
            return {}
        try:
            return store.get_many(keys)
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)
            return {}

    def _put(self, items: list[tuple[bytes, NDArray[np.float32]]]) -> None:
        store = self._open()
        if store is None:
            return
        try:
            store.put_many(items)
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)
