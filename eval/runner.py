"""Run a gold set through a QA system and score it: ``run_eval`` for the CLI, ``evaluate`` for anything QA-like."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eval.answer_matching import answer_correct
from eval.gold import GoldItem, load_gold, sample_items
from eval.metrics import CitedQuote, ItemResult
from eval.report import EvalReport, build_report, write_reports
from eval.retrieval_metrics import doc_rank, evidence_rank
from eval.spans import char_f1, exact_match
from rag.errors import RagError
from rag.types import Answer, IngestReport, QueryFilters, SearchResult

if TYPE_CHECKING:
    from rag.settings import Settings

RETRIEVAL_K = 10
"""Passages retrieved per question for doc/evidence hit@k and MRR@10."""


class QASystem(Protocol):
    """What the harness needs from a pipeline: answers and ranked passages."""

    def ask(self, question: str, *, filters: QueryFilters | None = None) -> Answer:
        """Answer with citations."""
        ...

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        """Ranked passages, best first."""
        ...


class IndexingQASystem(QASystem, Protocol):
    """A QA system that can also index files (needed for ``--corpus``)."""

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Add files/JSONL corpora to the index."""
        ...


PipelineLoader = Callable[["Settings", Path], IndexingQASystem]


def default_loader(settings: Settings, index_dir: Path) -> IndexingQASystem:
    """The real pipeline (imported lazily so the harness and its tests do not load models)."""
    from rag.pipeline_factory import load_pipeline

    pipeline: IndexingQASystem = load_pipeline(settings, index_dir=index_dir)
    return pipeline


def _filters_for(item: GoldItem) -> QueryFilters | None:
    return QueryFilters(doc_ids=item.pool_doc_ids) if item.pool_doc_ids is not None else None


def score_item(
    item: GoldItem,
    answer: Answer | None,
    search: SearchResult | None,
    latency_ms: float,
    error: str | None = None,
) -> ItemResult:
    """Score one answered (or failed) question."""
    hits = search.hits if search is not None else ()
    refused = answer.refused if answer is not None else False
    short = answer.short_answer if answer is not None else ""
    if item.answerable:
        correct = answer is not None and answer_correct(short, refused, item.check.groups, item.check.mode)
    else:
        correct = answer is not None and refused
    return ItemResult(
        id=item.id,
        question=item.question,
        lang=item.lang,
        type=item.type,
        difficulty=item.difficulty,
        answerable=item.answerable,
        gold=item.answers,
        gold_docs=item.gold_docs,
        has_evidence=bool(item.evidence),
        correct=correct,
        refused=refused,
        short_answer=short,
        answer=answer.answer if answer is not None else "",
        evidence_rank=evidence_rank(hits, item.evidence, _aligned_docs(item)) if item.evidence else None,
        doc_rank=doc_rank(hits, item.doc_groups) if item.doc_groups else None,
        retrieved_docs=tuple(dict.fromkeys(h.chunk.doc_id for h in hits)),
        citations=tuple(CitedQuote(c.doc_id, c.quote) for c in answer.citations)
        if answer is not None
        else (),
        latency_ms=latency_ms,
        error=error,
        exact_match=(0.0 if refused else exact_match(short, item.answers)) if item.answerable and item.answers else None,
        f1=(0.0 if refused else char_f1(short, item.answers)) if item.answerable and item.answers else None,
    )


def _aligned_docs(item: GoldItem) -> tuple[str, ...]:
    """Docs for evidence matching: one per evidence when aligned (dev multi-doc), else all gold docs."""
    if len(item.doc_groups) == len(item.evidence) and all(len(g) == 1 for g in item.doc_groups):
        return tuple(g[0] for g in item.doc_groups)
    return item.gold_docs


def evaluate_item(system: QASystem, item: GoldItem, *, k: int = RETRIEVAL_K) -> ItemResult:
    """Ask one question (timed), retrieve its top-k passages and score both."""
    filters = _filters_for(item)
    start = time.perf_counter()
    try:
        answer = system.ask(item.question, filters=filters)
    except RagError as exc:  # recorded in the report as a wrong answer, not swallowed
        return score_item(
            item, None, None, (time.perf_counter() - start) * 1000.0, f"{type(exc).__name__}: {exc}"
        )
    latency_ms = (time.perf_counter() - start) * 1000.0
    search = system.search(item.question, k=k, filters=filters)
    return score_item(item, answer, search, latency_ms)


def _progress(items: Sequence[GoldItem], enabled: bool) -> Iterable[GoldItem]:
    if not enabled:
        return items
    from tqdm import tqdm

    bar: Iterable[GoldItem] = tqdm(items, desc="eval", unit="q", file=sys.stderr)
    return bar


def evaluate(
    system: QASystem, items: Sequence[GoldItem], *, k: int = RETRIEVAL_K, progress: bool = False
) -> tuple[ItemResult, ...]:
    """Every item asked and scored, in order."""
    return tuple(evaluate_item(system, item, k=k) for item in _progress(items, progress))


@dataclass(frozen=True)
class IndexPlan:
    """Where the index for a run lives and what to ingest into it first."""

    index_dir: Path
    corpus: tuple[Path, ...] = ()


def _plan_index(
    corpus: Sequence[Path] | None,
    index_dir: Path | None,
    out_dir: Path | None,
    settings: Settings,
    stack: ExitStack,
) -> IndexPlan:
    if not corpus:
        return IndexPlan(index_dir or settings.index_dir)
    missing = [str(p) for p in corpus if not p.exists()]
    if missing:
        raise FileNotFoundError(f"corpus path not found: {', '.join(missing)}")
    # A fresh index of exactly the corpus: never the user's main index, always rebuilt.
    if out_dir is None:
        target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-eval-"))) / "index"
    else:
        target = out_dir / "index"
        if target.exists():
            shutil.rmtree(target)
    return IndexPlan(target, tuple(corpus))


def run_items(
    items: Sequence[GoldItem],
    *,
    settings: Settings,
    corpus: Sequence[Path] | None = None,
    index_dir: Path | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    meta: dict[str, Any] | None = None,
    loader: PipelineLoader | None = None,
) -> EvalReport:
    """Index the corpus if given, evaluate the items, write the reports to ``out_dir`` if given."""
    meta = dict(meta or {})
    with ExitStack() as stack:
        plan = _plan_index(corpus, index_dir, out_dir, settings, stack)
        system = (loader or default_loader)(settings, plan.index_dir)
        if plan.corpus:
            ingest = system.ingest(list(plan.corpus), progress=progress)
            meta["ingested_docs"] = len(ingest.added) + len(ingest.updated) + len(ingest.unchanged)
            meta["ingest_failed"] = len(ingest.failed)
            for path, reason in ingest.failed:
                print(f"warning: could not ingest {path}: {reason}", file=sys.stderr)
        started = time.perf_counter()
        results = evaluate(system, items, progress=progress)
        meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta.update(
        {
            "index_dir": str(plan.index_dir) if not plan.corpus or out_dir is not None else "(temporary)",
            "corpus": [str(p) for p in plan.corpus],
            "embedder": settings.embedder,
            "generator": settings.generator,
            "errors": sum(1 for r in results if r.error is not None),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    report = build_report(results, meta)
    if out_dir is not None:
        write_reports(report, out_dir)
    return report


def run_eval(
    gold_path: Path,
    *,
    corpus: Sequence[Path] | None = None,
    index_dir: Path | None = None,
    out_dir: Path | None = None,
    settings: Settings,
    limit: int | None = None,
    sample_seed: int = 0,
    progress: bool = False,
    loader: PipelineLoader | None = None,
) -> EvalReport:
    """Run a gold file (dev or external schema) and write report.json/.md/.html to ``out_dir``.

    With ``corpus`` a fresh index of exactly those paths is built in ``out_dir/index`` (a temporary directory when
    ``out_dir`` is None) and ``index_dir`` is ignored; otherwise the existing index at ``index_dir`` (default
    ``settings.index_dir``) is used. ``limit`` evaluates a seeded random sample of that many questions.
    """
    items = sample_items(load_gold(gold_path), limit, sample_seed)
    meta: dict[str, Any] = {"gold": str(gold_path), "limit": limit, "seed": sample_seed}
    return run_items(
        items,
        settings=settings,
        corpus=corpus,
        index_dir=index_dir,
        out_dir=out_dir,
        progress=progress,
        meta=meta,
        loader=loader,
    )
