"""Warm latency of `pipeline.search(q, k=8)` (retrieval only) over a gold file's questions; prints one JSON object.

HF_HUB_OFFLINE=1 RAG_CACHE_DIR=/tmp/e5cache .venv/bin/python bench/bench_search.py [--index DIR] [--gold FILE]
    [--reps 5] [--json-out out/bench_search.json]

Without --index, the index of data/reports in $TMPDIR/govreport-rag-bench/index-<embedder> is built on first use
and brought up to date (a no-op when the reports are unchanged) before timing.
bench/bench_ask.py runs the same harness on `pipeline.ask(q)` (end to end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GOLD = ROOT / ".." / "shared" / "gold" / "dev.jsonl"
TARGET_P50_MS = {"search": 50.0, "ask": 150.0}

FALLBACK_QUESTIONS = [
    "海珠区2018年地区生产总值增长目标是多少?",
    "What was Haizhu's 2018 GDP growth target?",
    "海珠区2017年社会消费品零售总额是多少?",
    "沙河口区2015年失业率控制在多少以内?",
    "What GDP growth target did Shahekou District set for 2016?",
    "武昌区2012年全口径财政收入是多少?",
    "How many community home-based elderly care service centres did Wuchang build in 2012?",
    "在提及木渎和太湖的区政府工作总结中,全年完成进出口总额多少?",
    "海珠区2008年政府年度工作意见要求完成哪个岛的整体搬迁工作?",
    "How much did Haizhu's general public budget revenue grow in 2017?",
]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def load_questions(gold: Path) -> tuple[list[str], str]:
    """The gold file's questions, or the built-in list when the file is missing."""
    if not gold.is_file():
        return list(FALLBACK_QUESTIONS), "built-in"
    questions = []
    for line in gold.read_text(encoding="utf-8").splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    return questions, str(gold.resolve())


def open_pipeline(index: Path | None) -> tuple[Pipeline, Path, float | None]:
    """Load the pipeline over `index`, or over the bench index of data/reports (built or updated first)."""
    from rag.index import index_exists
    from rag.pipeline import load_pipeline
    from rag.settings import Settings

    settings = Settings()
    index_dir = index or Path(tempfile.gettempdir()) / "govreport-rag-bench" / f"index-{settings.embedder}"
    if index is not None and not index_exists(index):
        raise SystemExit(f'no index at {index} — run "rag ingest data/reports --index {index}" first')
    pipeline = load_pipeline(settings, index_dir=index_dir)
    build_s = None
    if index is None:
        t0 = time.perf_counter()
        pipeline.ingest([ROOT / "data" / "reports"])
        build_s = round(time.perf_counter() - t0, 2)
    return pipeline, index_dir, build_s


def run(mode: str, description: str) -> None:
    """Parse arguments, warm up, time `mode` ("search" or "ask") over the questions, print/write JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--index", type=Path, help="existing index directory (default: a bench index of data/reports)")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold JSONL with a `question` field")
    parser.add_argument("--reps", type=int, default=5, help="timed passes over the questions")
    parser.add_argument("--k", type=int, default=8, help="passages per search")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    t0 = time.perf_counter()
    pipeline, index_dir, build_s = open_pipeline(args.index)
    questions, source = load_questions(args.gold)
    call: Callable[[str], Any]
    if mode == "search":
        def call(q: str) -> Any:
            return pipeline.search(q, k=args.k)
    else:
        def call(q: str) -> Any:
            return pipeline.ask(q)
    for q in questions:  # warm-up: model, jieba dictionary, BM25/FAISS structures, caches
        call(q)
    ready_s = time.perf_counter() - t0

    times: list[float] = []
    for _ in range(args.reps):
        for q in questions:
            start = time.perf_counter()
            call(q)
            times.append((time.perf_counter() - start) * 1000)
    p50 = percentile(times, 50)
    result = {
        "mode": mode,
        "call": f"pipeline.search(q, k={args.k})" if mode == "search" else "pipeline.ask(q)",
        "embedder": pipeline.embedder.model_id,
        "index": str(index_dir),
        "documents": len(pipeline.documents()),
        "chunks": len(pipeline.store.chunks),
        "questions": source,
        "n_questions": len(questions),
        "reps": args.reps,
        "n": len(times),
        "p50_ms": round(p50, 1),
        "p95_ms": round(percentile(times, 95), 1),
        "mean_ms": round(statistics.fmean(times), 1),
        "max_ms": round(max(times), 1),
        "target_p50_ms": TARGET_P50_MS[mode],
        "meets_target": p50 <= TARGET_P50_MS[mode],
        "cpu_count": os.cpu_count(),
        "index_build_or_update_s": build_s,
        "load_and_warmup_s": round(ready_s, 2),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    run("search", __doc__.splitlines()[0])
