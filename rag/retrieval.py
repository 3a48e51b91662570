"""Hybrid retrieval with metadata routing: dense (FAISS/e5) + BM25 (jieba), fused, then boosted by
document routing (region, year, distinctive terms), report period (target vs achieved) and metric terms."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
from numpy.typing import NDArray

from embeddings.base import Embedder
from rag.knowledge.regions import RegionCatalog
from rag.lexical import Tokenizer
from rag.snapshot import Snapshot
from rag.types import DocumentMeta, Hit, ParsedQuery, Period, QueryFilters, RefusalReason
from rag.vector_store import VectorFilter


@dataclass(frozen=True)
class RetrievalWeights:
    """How much each signal adds to the fused rank score (RRF scaled so rank 1 in both lists ≈ 1)."""

    rrf_k: int = 60
    dense: float = 1.0
    sparse: float = 1.0
    doc_terms: float = 0.4
    period: float = 0.35
    metric: float = 0.35
    year_in_text: float = 0.1
    append_terms_to_query: bool = True
    sentence_rescoring: float = 1.0
    """Weight of the best-sentence score when re-ranking the top chunks (0 disables the stage)."""
    rescoring_depth: int = 24
    routing: bool = True
    """Automatic metadata routing (region/year/intent); off only for ablations."""

    @classmethod
    def from_overrides(cls, overrides: dict[str, float]) -> RetrievalWeights:
        """Defaults with some fields replaced (unknown names are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown retrieval weight(s) {sorted(unknown)}; known: {sorted(known)}")
        base = cls()
        values = {f.name: type(getattr(base, f.name))(overrides[f.name]) for f in fields(cls) if f.name in overrides}
        return replace(base, **values)


@dataclass(frozen=True)
class Routing:
    """Which documents a question is about, and why nothing may be (for an honest refusal)."""

    doc_ids: frozenset[str] | None
    """None: no restriction."""
    reason: RefusalReason | None = None
    """Why no indexed report can answer (e.g. no report of 海珠区 covers 2019)."""
    desired_period: dict[str, str] = field(default_factory=dict)
    """doc_id → "review"/"plan" the question's year and intent point at."""


def year_relevance(meta: DocumentMeta, year: int) -> str | None:
    """"review" if the report reviews that year, "plan" if it plans it, None if it does not cover it."""
    if year == meta.plan_year:
        return "plan"
    if year in meta.review_years:
        return "review"
    if meta.plan_year is None and not meta.review_years and year == meta.year:
        return "plan"
    return None


def region_matches(meta: DocumentMeta, regions: Sequence[str], catalog: RegionCatalog) -> bool:
    """A report matches a region if it is that region's own report (or its parent is named)."""
    if not meta.region:
        return False
    return meta.region in regions or (catalog.parent_of(meta.region) in regions)


def route(query: ParsedQuery, metas: dict[str, DocumentMeta], catalog: RegionCatalog) -> Routing:
    """Restrict to the reports a question names; say why none fits when so."""
    candidates = dict(metas)
    hard = query.qtype != "comparison"
    if query.unknown_places:
        return Routing(frozenset(), reason=RefusalReason("places_not_indexed", places=tuple(query.unknown_places)))
    if query.regions:
        named = {d: m for d, m in candidates.items() if region_matches(m, query.regions, catalog)}
        if not named:
            return Routing(frozenset(), reason=RefusalReason("places_not_indexed", places=tuple(query.regions)))
        if hard:
            candidates = named
    desired: dict[str, str] = {}
    if query.years:
        covering: dict[str, str] = {}
        unknown: list[str] = []
        for d, m in candidates.items():
            if m.year is None and m.plan_year is None and not m.review_years:
                unknown.append(d)
                continue
            kinds = [k for y in query.years if (k := year_relevance(m, y))]
            if kinds:
                covering[d] = _pick_period(kinds, query.intent)
        want_kind = {"target": "plan", "achieved": "review"}.get(query.intent)
        if want_kind and any(k == want_kind for k in covering.values()):
            # A target question goes to the report that plans the year, not to later ones reviewing it.
            covering = {d: k for d, k in covering.items() if k == want_kind}
        if covering:
            desired = covering
            if hard and query.regions:
                candidates = {d: candidates[d] for d in covering}
        elif hard and query.regions:
            if unknown and len(unknown) == len(candidates):
                candidates = {d: candidates[d] for d in unknown}
            else:
                return Routing(frozenset(), reason=RefusalReason(
                    "years_not_indexed", places=tuple(query.regions), years=tuple(query.years)
                ))
    if query.intent in ("target", "achieved") and desired:
        want: Period = "plan" if query.intent == "target" else "review"
        if hard and query.regions and query.intent_explicit and not any(v == want for v in desired.values()):
            return Routing(frozenset(), reason=RefusalReason(
                "period_not_indexed", places=tuple(query.regions), years=tuple(query.years), period=want
            ))
        desired = {d: want for d, v in desired.items()}
    elif query.intent in ("target", "achieved"):
        desired = {d: "plan" if query.intent == "target" else "review" for d in candidates}
    restrict = frozenset(candidates) if len(candidates) < len(metas) else None
    return Routing(restrict, desired_period=desired)


def _pick_period(kinds: list[str], intent: str) -> str:
    if intent == "target" and "plan" in kinds:
        return "plan"
    if intent == "achieved" and "review" in kinds:
        return "review"
    return kinds[0]


class Retriever:
    """Hybrid search over one snapshot at a time: `snapshot` is swapped whole by the writer, and every method
    reads the snapshot it is given (or the current one, taken once), never a mix of two."""

    def __init__(
        self,
        snapshot: Snapshot,
        embedder: Embedder,
        tokenizer: Tokenizer,
        weights: RetrievalWeights | None = None,
        *,
        exhaustive_max: int = 50_000,
        dense_depth: int = 1000,
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.weights = weights or RetrievalWeights()
        self.exhaustive_max = exhaustive_max
        """Candidate chunks up to which every one is ranked by both signals (above: the dense and BM25 top
        `dense_depth` only)."""
        self.dense_depth = dense_depth

    @property
    def catalog(self) -> RegionCatalog:
        """Regions of the current snapshot's documents (plus the static table)."""
        return self.snapshot.catalog

    def metas(self, snapshot: Snapshot | None = None) -> dict[str, DocumentMeta]:
        """Metadata of every indexed document."""
        snap = snapshot or self.snapshot
        return {d: doc.meta for d, doc in snap.documents.items()}

    def allowed_docs(self, filters: QueryFilters | None, snapshot: Snapshot | None = None) -> frozenset[str] | None:
        """Documents explicit filters allow (None: all); a filter that matches nothing gives an empty set."""
        if filters is None:
            return None
        snap = snapshot or self.snapshot
        docs = set(snap.documents)
        restricted = False
        if filters.doc_ids is not None:
            docs &= set(filters.doc_ids)
            restricted = True
        if filters.doc_id is not None:
            docs &= {filters.doc_id}
            restricted = True
        if filters.region is not None:
            names = snap.catalog.find(filters.region) or (filters.region,)
            docs = {d for d in docs if region_matches(snap.documents[d].meta, names, snap.catalog)}
            restricted = True
        if filters.year is not None:
            year = filters.year
            docs = {
                d for d in docs
                if year_relevance(snap.documents[d].meta, year) or snap.documents[d].meta.year == year
            }
            restricted = True
        if filters.level is not None:
            docs = {d for d in docs if snap.documents[d].meta.level == filters.level}
            restricted = True
        return frozenset(docs) if restricted else None

    def route(self, query: ParsedQuery, allowed: frozenset[str] | None, snapshot: Snapshot | None = None) -> Routing:
        """Automatic routing within the explicitly allowed documents."""
        snap = snapshot or self.snapshot
        metas = self.metas(snap)
        if allowed is not None:
            metas = {d: m for d, m in metas.items() if d in allowed}
        routing = route(query, metas, snap.catalog) if self.weights.routing else Routing(None)
        if self.weights.routing and query.qtype == "comparison" and routing.doc_ids is None:
            sides = self._comparison_sides(query, metas, snap)
            if len(sides) >= 2:
                routing = Routing(frozenset(sides), None, routing.desired_period)
        if routing.doc_ids is None and allowed is not None:
            return Routing(allowed, routing.reason, routing.desired_period)
        return routing

    def _comparison_sides(self, query: ParsedQuery, metas: dict[str, DocumentMeta], snap: Snapshot) -> set[str]:
        """Reports a comparison is between: those of the named regions, and those the question singles out
        by words found in no other report (a report described by the places it names)."""
        sides = {d for d, m in metas.items() if query.regions and region_matches(m, query.regions, snap.catalog)}
        for d in metas:
            if self.distinctive_terms(query, d, snap):
                sides.add(d)
        return sides

    def distinctive_terms(self, query: ParsedQuery, doc_id: str, snapshot: Snapshot | None = None) -> list[str]:
        """Question words (≥2 Chinese characters) that occur in this report and in no other."""
        snap = snapshot or self.snapshot
        words = [t for t in self.tokenizer.tokenize(query.text, bigrams=False) if len(t) >= 2 and not t.isascii()]
        mine = snap.doc_terms.get(doc_id, frozenset())
        out = []
        for t in dict.fromkeys(words):
            if t in mine and snap.doc_df.get(t, 0) == 1:
                out.append(t)
        return out

    def search(
        self, query: ParsedQuery, k: int, routing: Routing, snapshot: Snapshot | None = None,
        where: VectorFilter | None = None,
    ) -> list[Hit]:
        """Top-k chunks of the routed documents, best first.

        `where` carries the explicit filters to stores that evaluate them themselves (Milvus); the routed
        documents always restrict the search.
        """
        snap = snapshot or self.snapshot
        w = self.weights
        if routing.doc_ids is not None:
            parts = [snap.doc_rows[d] for d in sorted(routing.doc_ids) if d in snap.doc_rows]
            rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        else:
            rows = np.arange(len(snap.chunks), dtype=np.int64)
        if len(rows) == 0:
            return []
        qtext = query.text
        if w.append_terms_to_query and query.language == "en" and query.terms:
            qtext = qtext + " " + " ".join(query.terms)
        qvec = self.embedder.embed_queries([qtext])[0]
        exhaustive = len(rows) <= self.exhaustive_max
        depth = len(rows) if exhaustive else self.dense_depth
        base = where or VectorFilter()
        vf = VectorFilter(routing.doc_ids, base.regions, base.year, base.level) if routing.doc_ids is not None else base
        found = snap.dense.search(qvec[None, :].astype(np.float32), depth, vf)[0]
        dense_rows = snap.rows_of(found.keys)
        ranked = dense_rows >= 0  # keys another process wrote after this snapshot are not ours to show
        dense_rows, dense_scores = dense_rows[ranked], found.scores[ranked]
        sparse_all = snap.lexical.scores(self._query_tokens(query))
        if not exhaustive:
            sparse_sub = sparse_all[rows]
            top = rows[np.argsort(-sparse_sub, kind="stable")[: self.dense_depth]]
            rows = np.unique(np.concatenate([dense_rows, top[sparse_all[top] > 0]]))
        # Dense ranks as the store returned them (ties in row order); candidates it did not return rank last.
        position = np.full(len(snap.chunks), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        dense = np.full(len(rows), -np.inf, dtype=np.float32)
        inside = position[dense_rows] >= 0
        dense[position[dense_rows[inside]]] = dense_scores[inside]
        sparse = sparse_all[rows]
        score = w.dense * _rrf(dense, w.rrf_k, unranked=~np.isfinite(dense)) + w.sparse * _rrf(
            sparse, w.rrf_k, zero_is_last=True
        )
        score += w.doc_terms * self._doc_prior(query, rows, snap)
        score += self._chunk_boosts(query, rows, routing, snap)
        order = np.argsort(-score, kind="stable")[:k]
        hits = []
        for rank, j in enumerate(order, start=1):
            chunk = snap.chunks[int(rows[j])]
            hits.append(Hit(chunk=chunk, meta=snap.documents[chunk.doc_id].meta, score=float(score[j]), rank=rank))
        return hits

    def _query_tokens(self, query: ParsedQuery) -> list[str]:
        if query.language == "zh":
            return list(self.tokenizer.tokenize(query.text)) + list(query.metrics)
        return list(query.terms)

    def _doc_prior(self, query: ParsedQuery, rows: NDArray[np.int64], snap: Snapshot) -> NDArray[np.float32]:
        """Documents that contain the question's distinctive words (place names found in no other report) everywhere get a lift."""
        n_docs = max(len(snap.doc_terms), 1)
        tokens = set(self._query_tokens(query))
        doc_score: dict[str, float] = {}
        for d, terms in snap.doc_terms.items():
            s = 0.0
            for t in tokens & terms:
                df = snap.doc_df[t]
                s += math.log(1 + n_docs / df) if df < n_docs else 0.0
            doc_score[d] = s
        top = max(doc_score.values(), default=0.0)
        if top <= 0:
            return np.zeros(len(rows), dtype=np.float32)
        return np.array([doc_score[snap.chunks[int(r)].doc_id] / top for r in rows], dtype=np.float32)

    def _chunk_boosts(
        self, query: ParsedQuery, rows: NDArray[np.int64], routing: Routing, snap: Snapshot
    ) -> NDArray[np.float32]:
        w = self.weights
        out = np.zeros(len(rows), dtype=np.float32)
        years = [str(y) for y in query.years]
        for j, r in enumerate(rows):
            chunk = snap.chunks[int(r)]
            want = routing.desired_period.get(chunk.doc_id)
            if want and chunk.period == want:
                out[j] += w.period
            if query.metrics and any(m in chunk.text for m in query.metrics):
                out[j] += w.metric
            if years and any(y in chunk.section or y in chunk.text for y in years):
                out[j] += w.year_in_text
        return out


def _rrf(
    scores: NDArray[np.float32], k: int, zero_is_last: bool = False, unranked: NDArray[np.bool_] | None = None
) -> NDArray[np.float32]:
    """Reciprocal-rank scores scaled so rank 1 gets ≈1; rows with no lexical match (or `unranked`) get nothing."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[order] = np.arange(1, len(scores) + 1, dtype=np.float32)
    out = (k + 1) / (k + ranks)
    if zero_is_last:
        out[scores <= 0] = 0.0
    if unranked is not None:
        out[unranked] = 0.0
    return out.astype(np.float32)
