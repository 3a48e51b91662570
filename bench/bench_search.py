"""Warm latency of `pipeline.search(q, k=8)` (retrieval only) over a gold file's questions; prints one JSON object.

HF_HUB_OFFLINE=1 RAG_CACHE_DIR=/tmp/e5cache .venv/bin/python bench/bench_search.py [--index DIR] [--gold FILE]
    [--reps 5] [--json-out out/bench_search.json]

Without --index, the index of data/reports in $TMPDIR/govreport-rag-bench/index-<embedder> is built on first use
and brought up to date (a no-op when the reports are unchanged) before timing.
bench/bench_ask.py runs the same harness on `pipeline.ask(q)` (end to end).

Search at scale (synthetic vectors of the real dimension and BM25 over synthetic report-like text):

OMP_NUM_THREADS=1 .venv/bin/python bench/bench_search.py --synthetic 10000,100000,1000000 [--queries 200]
    [--index-kind auto] [--out bench/results]

writes bench/results/search_scale.json and search_scale.md: per size, dense build time, index bytes, RSS,
p50/p95 of a k=10 vector search and recall@10 against exact search, and BM25 build time, memory and p50/p95.
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
    from rag.index.generations import index_exists
    from rag.pipeline_factory import load_pipeline
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


# ---------------------------------------------------------------------------------------------- at scale

DIMENSION = 384
TARGET_1M = {"vector_p50_ms": 20.0, "vector_index_bytes": 1 << 30, "recall_at_10": 0.95}


def synthetic_vectors(n: int, rng: Any, topics: int = 2000) -> Any:
    """Unit vectors around `topics` centres with per-topic spread, like embeddings of passages on many subjects."""
    import numpy as np

    centres = rng.standard_normal((topics, DIMENSION)).astype(np.float32)
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        topic = rng.integers(0, topics, size=stop - start)
        noise = rng.standard_normal((stop - start, DIMENSION)).astype(np.float32)
        out[start:stop] = centres[topic] + 1.2 * noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def synthetic_tokens(n: int, rng: Any, vocabulary: int = 60_000, length: int = 110) -> list[tuple[str, ...]]:
    """Zipf-distributed tokens, ~110 a chunk (what jieba + bigrams give a 240-character report passage)."""
    words = [f"w{i}" for i in range(vocabulary)]
    out = []
    for _ in range(n):
        ids = rng.zipf(1.15, size=length) % vocabulary
        out.append(tuple(words[int(i)] for i in ids))
    return out


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def bench_size(n: int, n_queries: int, kind: str, seed: int = 0) -> dict[str, Any]:
    """One size: build the dense index and BM25, time k=10 searches, compare with exact search."""
    import numpy as np

    from rag.lexical import LexicalIndex
    from rag.stores.faiss_store import FaissConfig, FaissStore
    from rag.vector_store import exact_search

    rng = np.random.default_rng(seed)
    vectors = synthetic_vectors(n + n_queries, rng)
    queries, vectors = vectors[:n_queries].copy(), vectors[n_queries:]
    keys = np.arange(1, n + 1, dtype=np.int64)
    store = FaissStore(FaissConfig(kind=kind))  # type: ignore[arg-type]
    rss0 = _rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    index = store.index(vectors, keys, {}, None)
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    index_bytes = index.memory_bytes() or vectors.nbytes  # flat searches the raw vectors themselves
    dense_ms: list[float] = []
    dense_cpu: list[float] = []
    found: list[Any] = []
    for q in queries:
        start, cpu = time.perf_counter(), time.process_time()
        found.append(index.search(q[None, :], 10)[0].keys)
        dense_ms.append((time.perf_counter() - start) * 1000)
        dense_cpu.append((time.process_time() - cpu) * 1000)
    exact = exact_search(vectors, keys, None, queries, 10)
    recall = float(np.mean([len(set(f.tolist()) & set(e.keys.tolist())) / 10 for f, e in zip(found, exact, strict=True)]))
    rss_dense = _rss_bytes() - rss0

    tokens = synthetic_tokens(n, rng)
    t0, c0 = time.perf_counter(), time.process_time()
    lexical = LexicalIndex.build(keys, tokens)
    bm25_build_s, bm25_build_cpu = time.perf_counter() - t0, time.process_time() - c0
    postings = sum(r.nbytes + f.nbytes for seg in lexical.segments for r, f in seg.postings.values())
    bm25_ms: list[float] = []
    bm25_cpu: list[float] = []
    for _ in range(n_queries):
        q_tokens = list(tokens[int(rng.integers(0, n))][:12])
        start, cpu = time.perf_counter(), time.process_time()
        scores = lexical.scores(q_tokens)
        np.argpartition(-scores, 10)[:10]
        bm25_ms.append((time.perf_counter() - start) * 1000)
        bm25_cpu.append((time.process_time() - cpu) * 1000)
    return {
        "chunks": n,
        "index": index.kind,
        "dense_build_s": round(build_s, 2),
        "dense_build_cpu_s": round(build_cpu, 2),
        "vector_index_bytes": int(index_bytes),
        "vector_p50_ms": round(percentile(dense_ms, 50), 3),
        "vector_p95_ms": round(percentile(dense_ms, 95), 3),
        "vector_cpu_p50_ms": round(percentile(dense_cpu, 50), 3),
        "vector_cpu_p95_ms": round(percentile(dense_cpu, 95), 3),
        "recall_at_10": round(recall, 4),
        "rss_dense_delta_bytes": int(rss_dense),
        "bm25_build_s": round(bm25_build_s, 2),
        "bm25_build_cpu_s": round(bm25_build_cpu, 2),
        "bm25_postings_bytes": int(postings),
        "bm25_p50_ms": round(percentile(bm25_ms, 50), 2),
        "bm25_p95_ms": round(percentile(bm25_ms, 95), 2),
        "bm25_cpu_p50_ms": round(percentile(bm25_cpu, 50), 2),
        "bm25_cpu_p95_ms": round(percentile(bm25_cpu, 95), 2),
        "load_average": os.getloadavg()[0],
    }


def run_scale() -> None:
    """Parse --synthetic arguments, bench each size, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description="search at scale over synthetic chunks")
    parser.add_argument("--synthetic", required=True, help="comma-separated chunk counts, e.g. 10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--index-kind", default="auto", choices=["auto", "flat", "hnsw", "ivfpq"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    rows = []
    for n in [int(x) for x in args.synthetic.split(",") if x]:
        row = bench_size(n, args.queries, args.index_kind)
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {
        "dimension": DIMENSION,
        "queries": args.queries,
        "k": 10,
        "index_kind": args.index_kind,
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "targets_at_1m": TARGET_1M,
        "sizes": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_scale.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "Wall times, with CPU times (what one uncontended core would take) in brackets.",
        "",
        "| chunks | index | build s | vector index MB | vector p50 ms | p95 ms | recall@10 | BM25 build s | BM25 MB | BM25 p50 ms | p95 ms | load avg |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['index']} | {r['dense_build_s']} ({r['dense_build_cpu_s']}) | "
            f"{r['vector_index_bytes'] / 2**20:.0f} | {r['vector_p50_ms']} ({r['vector_cpu_p50_ms']}) | "
            f"{r['vector_p95_ms']} ({r['vector_cpu_p95_ms']}) | {r['recall_at_10']} | "
            f"{r['bm25_build_s']} ({r['bm25_build_cpu_s']}) | {r['bm25_postings_bytes'] / 2**20:.0f} | "
            f"{r['bm25_p50_ms']} ({r['bm25_cpu_p50_ms']}) | {r['bm25_p95_ms']} ({r['bm25_cpu_p95_ms']}) | "
            f"{r['load_average']:.1f} |"
        )
    (args.out / "search_scale.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import sys

    if any(a.startswith("--synthetic") for a in sys.argv[1:]):
        run_scale()
    else:
        run("search", __doc__.splitlines()[0])
