"""Chinese word tokenisation (jieba) and BM25 over chunk tokens: `BM25` built at once, `LexicalIndex` built
incrementally from immutable segments."""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")
_STOPWORDS = frozenset(
    ["的", "了", "和", "与", "及", "是", "在", "为", "对", "把", "将", "等", "年", "中", "上", "下", "并", "也", "都", "就", "而", "或", "其", "之", "以", "于", "由", "从", "被", "让", "向", "这", "那", "个", "what", "which", "who", "how", "many", "much", "did", "does", "do", "was", "were", "is", "are", "the", "a", "an", "of", "in", "for", "to", "and", "or", "by", "on", "at", "as", "its", "it", "their", "this", "that", "with", "from", "be", "been", "has", "have", "had", "what's", "多少", "什么", "哪个", "哪些", "哪", "吗", "呢", "是否", "怎么", "如何"]
)


class Tokenizer:
    """jieba search-mode segmentation with extra domain words (region names, report vocabulary)."""

    def __init__(self, extra_words: Iterable[str] = (), *, bigrams: bool = True) -> None:
        self._extra = sorted(set(extra_words))
        self.bigrams = bigrams
        self._jieba: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        with self._lock:
            if self._jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                engine = jieba.Tokenizer()
                for word in self._extra:
                    engine.add_word(word, freq=20000)
                self._jieba = engine
            return self._jieba

    def tokenize(self, text: str, *, bigrams: bool | None = None) -> tuple[str, ...]:
        """Lower-cased, NFKC-normalised search tokens without punctuation and stopwords."""
        norm = unicodedata.normalize("NFKC", text).lower()
        out = []
        for tok in self._engine().cut_for_search(norm):
            tok = tok.strip()
            if tok and _KEEP.search(tok) and tok not in _STOPWORDS:
                out.append(tok)
        if self.bigrams if bigrams is None else bigrams:
            # Character bigrams make matching robust to segmentation that differs between a short
            # query and a long passage (四洗 vs 四/洗).
            for run in _CJK_RUN.findall(norm):
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        return tuple(out)

    def cut(self, text: str) -> list[str]:
        """Plain (non search-mode) segmentation, punctuation kept."""
        return [t for t in self._engine().cut(unicodedata.normalize("NFKC", text)) if t.strip()]


class BM25:
    """Okapi BM25 over pre-tokenised documents, scoring every row at once with numpy."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        self.avgdl = float(lengths.mean()) if self.n else 1.0
        norm = k1 * (1 - b + b * lengths / max(self.avgdl, 1e-9))
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row, doc in enumerate(docs):
            for tok, tf in Counter(doc).items():
                postings[tok].append((row, tf))
        self._postings: dict[str, tuple[NDArray[np.int64], NDArray[np.float32]]] = {}
        self._idf: dict[str, float] = {}
        for tok, plist in postings.items():
            rows = np.array([r for r, _ in plist], dtype=np.int64)
            tfs = np.array([t for _, t in plist], dtype=np.float32)
            self._postings[tok] = (rows, (tfs * (k1 + 1) / (tfs + norm[rows])).astype(np.float32))
            df = len(plist)
            self._idf[tok] = math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def idf(self, token: str) -> float:
        """Inverse document frequency (0 for unseen tokens)."""
        return self._idf.get(token, 0.0)

    def scores(self, query_tokens: Sequence[str], weights: Sequence[float] | None = None) -> NDArray[np.float32]:
        """BM25 score of every row for the query (repeated tokens count once; optional per-token weights)."""
        out = np.zeros(self.n, dtype=np.float32)
        seen: set[str] = set()
        for i, tok in enumerate(query_tokens):
            if tok in seen or tok not in self._postings:
                continue
            seen.add(tok)
            rows, part = self._postings[tok]
            w = weights[i] if weights is not None else 1.0
            out[rows] += self._idf[tok] * part * w
        return out


# ---------------------------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class LexicalSegment:
    """Term frequencies of a batch of rows named by their keys; immutable once built."""

    keys: NDArray[np.int64]
    lengths: NDArray[np.float32]
    postings: Mapping[str, tuple[NDArray[np.int32], NDArray[np.float32]]]
    """token → (local rows, term frequencies)."""

    @classmethod
    def build(cls, keys: NDArray[np.int64], docs: Sequence[Sequence[str]]) -> LexicalSegment:
        """Postings of these rows."""
        lists: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for row, doc in enumerate(docs):
            for tok, tf in Counter(doc).items():
                rows, tfs = lists[tok]
                rows.append(row)
                tfs.append(tf)
        postings = {t: (np.array(r, dtype=np.int32), np.array(f, dtype=np.float32)) for t, (r, f) in lists.items()}
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        return cls(np.asarray(keys, dtype=np.int64), lengths, postings)

    @classmethod
    def merge(cls, parts: Sequence[tuple[LexicalSegment, NDArray[np.bool_]]]) -> LexicalSegment:
        """One segment holding the rows of `parts` whose mask is true, in order (dead rows dropped)."""
        new_row: list[NDArray[np.int32]] = []
        offset = 0
        for seg, alive in parts:
            mapping = np.full(len(seg.keys), -1, dtype=np.int32)
            mapping[alive] = np.arange(offset, offset + int(alive.sum()), dtype=np.int32)
            offset += int(alive.sum())
            new_row.append(mapping)
        gathered: dict[str, tuple[list[NDArray[np.int32]], list[NDArray[np.float32]]]] = defaultdict(lambda: ([], []))
        for (seg, _), mapping in zip(parts, new_row, strict=True):
            for tok, (rows, tfs) in seg.postings.items():
                moved = mapping[rows]
                keep = moved >= 0
                if keep.any():
                    gathered[tok][0].append(moved[keep])
                    gathered[tok][1].append(tfs[keep])
        postings = {t: (np.concatenate(r), np.concatenate(f)) for t, (r, f) in gathered.items()}
        keys = np.concatenate([seg.keys[alive] for seg, alive in parts])
        lengths = np.concatenate([seg.lengths[alive] for seg, alive in parts])
        return cls(keys, lengths, postings)


MERGE_RATIO = 2.0
"""Merge the newest segment into the one before it while that one is at most this many times larger: the
segment sizes then shrink geometrically (O(log n) segments) and each row is re-merged O(log n) times."""
COMPACT_BELOW = 0.7
"""Rewrite a segment without its removed rows once fewer than this share of them are still live."""


@dataclass(frozen=True)
class LexicalIndex:
    """Okapi BM25 over the rows of one snapshot, kept as a few immutable segments (a log-structured merge).

    Rebuilding after a change costs the new rows plus amortised merges, not the whole corpus; scores equal
    those of `BM25` built from scratch over the same rows (document frequencies and the average length count
    live rows only).
    """

    segments: tuple[LexicalSegment, ...]
    rows: tuple[NDArray[np.int64], ...]
    """Per segment: snapshot row of each local row, -1 for rows removed since the segment was built."""
    n: int
    avgdl: float
    k1: float = 1.2
    b: float = 0.75
    _idf: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls, keys: NDArray[np.int64], tokens: Sequence[Sequence[str]], previous: LexicalIndex | None = None
    ) -> LexicalIndex:
        """BM25 over rows named by `keys` (aligned with `tokens`), reusing `previous` for rows it already holds."""
        n = len(keys)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        covered = np.zeros(n, dtype=bool)
        parts: list[tuple[LexicalSegment, NDArray[np.int64]]] = []
        for seg in previous.segments if previous is not None else ():
            rows = locate_keys(sorted_keys, order, seg.keys)
            alive = rows >= 0
            n_alive = int(alive.sum())
            if n_alive == 0:
                continue
            if n_alive < COMPACT_BELOW * len(rows):
                seg, rows = LexicalSegment.merge([(seg, alive)]), rows[alive]
            covered[rows[rows >= 0]] = True
            parts.append((seg, rows))
        fresh = np.flatnonzero(~covered)
        if len(fresh):
            parts.append((LexicalSegment.build(keys[fresh], [tokens[int(i)] for i in fresh]), fresh.astype(np.int64)))
        while len(parts) >= 2 and len(parts[-2][0].keys) <= MERGE_RATIO * len(parts[-1][0].keys):
            (a, ra), (b, rb) = parts[-2], parts[-1]
            merged = LexicalSegment.merge([(a, ra >= 0), (b, rb >= 0)])
            parts[-2:] = [(merged, np.concatenate([ra[ra >= 0], rb[rb >= 0]]))]
        total = sum(float(seg.lengths[rows >= 0].sum()) for seg, rows in parts)
        return cls(
            segments=tuple(seg for seg, _ in parts),
            rows=tuple(rows for _, rows in parts),
            n=n,
            avgdl=total / n if n else 1.0,
        )

    def _postings(self, token: str) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
        rows: list[NDArray[np.int64]] = []
        tfs: list[NDArray[np.float32]] = []
        lengths: list[NDArray[np.float32]] = []
        for seg, where in zip(self.segments, self.rows, strict=True):
            posting = seg.postings.get(token)
            if posting is None:
                continue
            local, tf = posting
            global_rows = where[local]
            live = global_rows >= 0
            rows.append(global_rows[live])
            tfs.append(tf[live])
            lengths.append(seg.lengths[local[live]])
        if not rows:
            empty = np.zeros(0, dtype=np.float32)
            return np.zeros(0, dtype=np.int64), empty, empty
        return np.concatenate(rows), np.concatenate(tfs), np.concatenate(lengths)

    def idf(self, token: str) -> float:
        """Inverse document frequency (0 for unseen tokens)."""
        cached = self._idf.get(token)
        if cached is None:
            df = sum(
                int((where[seg.postings[token][0]] >= 0).sum())
                for seg, where in zip(self.segments, self.rows, strict=True)
                if token in seg.postings
            )
            cached = math.log(1 + (self.n - df + 0.5) / (df + 0.5)) if df else 0.0
            self._idf[token] = cached  # idempotent, so racing readers may both store it
        return cached

    def scores(self, query_tokens: Sequence[str], weights: Sequence[float] | None = None) -> NDArray[np.float32]:
        """BM25 score of every row for the query (repeated tokens count once; optional per-token weights)."""
        out = np.zeros(self.n, dtype=np.float32)
        seen: set[str] = set()
        for i, tok in enumerate(query_tokens):
            if tok in seen:
                continue
            seen.add(tok)
            rows, tf, dl = self._postings(tok)
            if not len(rows):
                continue
            norm = self.k1 * (1 - self.b + self.b * dl / max(self.avgdl, 1e-9))
            part = (tf * (self.k1 + 1) / (tf + norm)).astype(np.float32)
            w = weights[i] if weights is not None else 1.0
            out[rows] += np.float32(self.idf(tok) * w) * part
        return out


def locate_keys(sorted_keys: NDArray[np.int64], order: NDArray[np.int64], keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row of each key in the snapshot (-1 when it is no longer there)."""
    if not len(sorted_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = sorted_keys[pos] == keys
    return np.where(found, order[pos], -1).astype(np.int64)
