"""FAISS vs Milvus (milvus-lite) on one corpus: ingest time, search latency, dense-only latency, same hits?

OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stores.py [CORPUS...] [--embedder hashing|e5-small]
    [--gold eval/casual/gwr.jsonl] [--reps 3] [--out bench/results]

Default corpus: the 103 government work reports (../shared/evaldata/gov_work_reports/normalized/corpus.jsonl)
plus data/reports. With the hashing embedder (default) embedding costs next to nothing, so the numbers are
the stores' own overhead; with e5-small they are what a deployment sees. Writes stores-<embedder>.json/.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_search import FALLBACK_QUESTIONS, load_questions, percentile

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / ".." / "shared" / "evaldata" / "gov_work_reports" / "normalized" / "corpus.jsonl"


def bench_store(store: str, corpus: list[Path], embedder: str, questions: list[str], reps: int) -> dict[str, Any]:
    """Ingest into a fresh index on `store`, then time searches."""
    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    work = Path(tempfile.mkdtemp(prefix=f"bench-{store}-"))
    try:
        settings = Settings(embedder=embedder, reader="none", vector_store=store, index_dir=work / "index")  # type: ignore[arg-type]
        pipeline = load_pipeline(settings)
        t0, c0 = time.perf_counter(), time.process_time()
        report = pipeline.ingest(corpus)
        ingest_s, ingest_cpu = time.perf_counter() - t0, time.process_time() - c0
        for q in questions:
            pipeline.search(q, k=8)
        search_ms: list[float] = []
        dense_ms: list[float] = []
        hits: dict[str, list[str]] = {}
        snap = pipeline.snapshot
        for _ in range(reps):
            for q in questions:
                start = time.perf_counter()
                result = pipeline.search(q, k=8)
                search_ms.append((time.perf_counter() - start) * 1000)
                hits[q] = [h.chunk.chunk_id for h in result.hits]
                qvec = pipeline.embedder.embed_queries([q]).astype(np.float32)
                start = time.perf_counter()
                snap.dense.search(qvec, 100)
                dense_ms.append((time.perf_counter() - start) * 1000)
        return {
            "store": store,
            "dense_index": snap.dense.kind,
            "documents": len(pipeline.documents()),
            "chunks": len(snap.chunks),
            "failed": len(report.failed),
            "ingest_s": round(ingest_s, 1),
            "ingest_cpu_s": round(ingest_cpu, 1),
            "search_p50_ms": round(percentile(search_ms, 50), 1),
            "search_p95_ms": round(percentile(search_ms, 95), 1),
            "search_mean_ms": round(statistics.fmean(search_ms), 1),
            "dense_k100_p50_ms": round(percentile(dense_ms, 50), 2),
            "dense_k100_p95_ms": round(percentile(dense_ms, 95), 2),
            "hits": hits,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Parse arguments, bench both stores, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "casual" / "gwr.jsonl")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    corpus = args.corpus or [CORPUS, ROOT / "data" / "reports"]
    questions, source = load_questions(args.gold) if args.gold.is_file() else (list(FALLBACK_QUESTIONS), "built-in")
    rows = [bench_store(s, corpus, args.embedder, questions, args.reps) for s in ("faiss", "milvus")]
    same = sum(rows[0]["hits"][q] == rows[1]["hits"][q] for q in questions)
    result = {
        "embedder": args.embedder,
        "corpus": [str(p) for p in corpus],
        "questions": source,
        "n_questions": len(questions),
        "same_top8_hits": f"{same}/{len(questions)}",
        "load_average": os.getloadavg()[0],
        "stores": [{k: v for k, v in r.items() if k != "hits"} for r in rows],
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"stores-{args.embedder}"
    stem.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"Embedder {args.embedder}; {result['stores'][0]['documents']} documents, {result['stores'][0]['chunks']:,} chunks; "
        f"same top-8 hits on {result['same_top8_hits']} questions; load average {result['load_average']:.1f}.",
        "",
        "| store | dense | ingest s (CPU s) | search p50 ms | p95 ms | dense k=100 p50 ms | p95 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["stores"]:
        lines.append(
            f"| {r['store']} | {r['dense_index']} | {r['ingest_s']} ({r['ingest_cpu_s']}) | {r['search_p50_ms']} | "
            f"{r['search_p95_ms']} | {r['dense_k100_p50_ms']} | {r['dense_k100_p95_ms']} |"
        )
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
