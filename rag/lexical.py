"""Chinese word tokenisation (jieba) and a BM25 index over chunk tokens."""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
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
