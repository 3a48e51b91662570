"""Ingest end to end against its limit, raw `encode` of the same model on the same passage texts; where time goes.

Three child processes, each measured alone (wall time, own peak RSS), with a fresh model cache holding hard
links to the verified model directories of RAG_CACHE_DIR and no passage vectors yet:

1. **fresh**: raw encoding of every passage text the ingest will embed (`embed_documents` of the bare
   backend, one call, no vector cache) — the limit — then `pipeline.ingest(paths)` into a new index, timed by
   stage (loading, chunking, BM25 tokenising, embedding, `store.upsert`, checkpoint saves, catalog refresh),
   then the first search (which builds whatever the retriever builds lazily) and a warm one;
2. **unchanged**: the same ingest again into that index (must embed nothing);
3. **new index, warm vector cache**: a fresh index of the same paths, every vector from the content-hash cache.

    .venv/bin/python bench/bench_ingest.py ../shared/evaldata/gov_work_reports/normalized/corpus.jsonl \\
        [--backend torch|onnx-int8] [--raw-fraction 1.0] [--results-name ingest-onnx-int8]
    .venv/bin/python bench/bench_ingest.py data/reports --embedder hashing     # quick check of the harness

Writes bench/results/<results-name>.json + .md (default ingest-<backend>).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import (  # bench/ is on sys.path when a script in it runs
    SAMPLE_REPORTS,
    fresh_model_cache,
    machine,
    markdown_table,
    offline,
    run_json_child,
    select_backend,
    write_results,
)

STAGES = ("load", "chunk", "tokenize", "embed", "upsert", "vector_store_add", "checkpoint", "final_save", "publish",
          "catalog", "sync")


class StageClock:
    """Seconds and calls per stage, accumulated by wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)  # process CPU time: robust to other load
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, stage: str | Callable[[], str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed under `stage` (a name, or a function returning the name at call time)."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                name = stage() if callable(stage) else stage
                self.seconds[name] += time.perf_counter() - t0
                self.cpu_seconds[name] += time.process_time() - c0
                self.calls[name] += 1

        return timed

    def wrap_iter(self, stage: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """A generator function whose every step is timed under `stage`."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = fn(*args, **kwargs)
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    self.seconds[stage] += time.perf_counter() - t0
                    return
                self.seconds[stage] += time.perf_counter() - t0
                self.calls[stage] += 1
                yield item

        return timed


def _dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def child_main(args: argparse.Namespace) -> None:
    """One ingest in this process, instrumented; prints one JSON object on the last stdout line."""
    import rag.ingestion
    import rag.loading
    import rag.pipeline
    from rag.ingestion import passage_text
    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    if args.backend:
        select_backend(args.backend)
    settings = Settings()
    started = time.perf_counter()
    pipeline = load_pipeline(settings, index_dir=args.index, answering=False)
    _ = pipeline.embedder.dimension  # load the model before timing anything
    loaded = time.perf_counter()
    out: dict[str, Any] = {"model_id": pipeline.embedder.model_id, "load_model_s": round(loaded - started, 2)}

    raw_fraction = args.raw_fraction if args.raw else 0.0
    if raw_fraction > 0:
        from rag.chunking import chunk_document
        from rag.loading import LoadFailure, load_documents

        texts: list[str] = []
        for doc in load_documents(args.paths):
            if not isinstance(doc, LoadFailure):
                chunks = chunk_document(doc, chunk_size=pipeline.chunk_size, overlap=pipeline.chunk_overlap)
                texts += [passage_text(doc, c) for c in chunks]
        if raw_fraction < 1:
            step = 1 / raw_fraction
            texts = [texts[int(i * step)] for i in range(int(len(texts) * raw_fraction))]
        bare = getattr(pipeline.embedder, "inner", pipeline.embedder)  # without the vector cache
        bare.embed_documents(texts[:16])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        bare.embed_documents(texts)
        raw_s = time.perf_counter() - t0
        out["raw"] = {
            "passages": len(texts),
            "fraction": raw_fraction,
            "seconds": round(raw_s, 2),
            "passages_per_s": round(len(texts) / raw_s, 2),
            "passages_per_cpu_s": round(len(texts) / (time.process_time() - c0), 2),
        }
        print(json.dumps({"raw": out["raw"]}), file=sys.stderr)

    clock = StageClock()
    saves: list[dict[str, Any]] = []
    rag.loading.load_documents = clock.wrap_iter("load", rag.loading.load_documents)  # type: ignore[assignment]
    # The pipeline changes under other hands: time what exists, and say what could not be timed.
    missing = []
    for owner, attr, stage in (
        (rag.ingestion, "chunk_document", "chunk"),
        (pipeline.tokenizer, "tokenize", "tokenize"),
        (pipeline.embedder, "embed_documents", "embed"),
        (pipeline.store, "upsert", "upsert"),
        (pipeline, "_refresh_catalog", "catalog"),
        (pipeline, "publish", "publish"),
        (pipeline, "sync", "sync"),
        (getattr(pipeline, "vector_store", None), "add", "vector_store_add"),
    ):
        if owner is not None and hasattr(owner, attr):
            setattr(owner, attr, clock.wrap(stage, getattr(owner, attr)))
        else:
            missing.append(f"{type(owner).__name__}.{attr}")
    out["not_timed"] = missing
    original_save = rag.pipeline.save_index  # type: ignore[attr-defined]

    def save_index(store: Any, index_dir: Path) -> Any:
        t0 = time.perf_counter()
        result = original_save(store, index_dir)
        saves.append({"chunks": len(store.chunks), "seconds": round(time.perf_counter() - t0, 3),
                      "generation_mb": _dir_mb(Path(result)) if result else None})  # fmt: skip
        return result

    rag.pipeline.save_index = save_index  # type: ignore[attr-defined]
    t0, c0 = time.perf_counter(), time.process_time()
    report = pipeline.ingest(args.paths, progress=False)
    ingest_s, ingest_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    # The last save is the final one; the others are the periodic checkpoints.
    clock.seconds["checkpoint"] = sum(s["seconds"] for s in saves[:-1])
    clock.calls["checkpoint"] = max(0, len(saves) - 1)
    if saves:
        clock.seconds["final_save"] = saves[-1]["seconds"]
        clock.calls["final_save"] = 1
    stages = {
        s: {"seconds": round(clock.seconds.get(s, 0.0), 2), "cpu_seconds": round(clock.cpu_seconds.get(s, 0.0), 2),
            "calls": clock.calls.get(s, 0)}
        for s in STAGES
    }  # fmt: skip
    accounted = sum(v["seconds"] for v in stages.values())
    stages["other"] = {"seconds": round(ingest_s - accounted, 2), "cpu_seconds": None, "calls": 0}
    for v in stages.values():
        v["share"] = round(v["seconds"] / ingest_s, 4) if ingest_s else 0.0

    searches = []
    for question in ("2025年国内生产总值增长目标是多少?", "What was the 2018 GDP growth target?"):
        t1 = time.perf_counter()
        pipeline.search(question, k=8)
        searches.append(round((time.perf_counter() - t1) * 1000, 1))
    cached = pipeline.embedder
    out.update(
        {
            "added": len(report.added),
            "updated": len(report.updated),
            "unchanged": len(report.unchanged),
            "failed": [list(f) for f in report.failed],
            "chunks_embedded": report.chunks_embedded,
            "vector_cache_hits": getattr(cached, "hits", None),
            "vector_cache_misses": getattr(cached, "misses", None),
            "documents": len(pipeline.documents()),
            "chunks_in_index": len(pipeline.store.chunks),
            "ingest_s": round(ingest_s, 2),
            "ingest_cpu_s": round(ingest_cpu_s, 2),
            "passages_per_s": round(report.chunks_embedded / ingest_s, 2) if report.chunks_embedded else None,
            "stages": stages,
            "saves": saves,
            "first_search_ms": searches[0],
            "second_search_ms": searches[1],
        }
    )
    if "raw" in out and out["passages_per_s"]:
        out["ratio_to_raw"] = round(out["passages_per_s"] / out["raw"]["passages_per_s"], 3)
        # Ingest without the periodic checkpoints, against the same limit.
        no_ckpt = ingest_s - clock.seconds["checkpoint"]
        out["ratio_to_raw_without_checkpoints"] = round(report.chunks_embedded / no_ckpt / out["raw"]["passages_per_s"], 3)
        # Per CPU-second on both sides: what the ratio would be without other load on the machine.
        out["cpu_ratio_to_raw"] = round(report.chunks_embedded / ingest_cpu_s / out["raw"]["passages_per_cpu_s"], 3)
    print(json.dumps(out))


def markdown(data: dict[str, Any]) -> str:
    """Tables: the three runs, the ratio to raw encoding, and the stage breakdown of the fresh ingest."""
    runs = data["runs"]
    fresh = runs["fresh"]
    rows = [
        [name, r["added"], r["unchanged"], r["chunks_embedded"], r["vector_cache_hits"], r["ingest_s"],
         r["passages_per_s"], r["load_model_s"], r["wall_s"], r["peak_rss_mb"]]
        for name, r in runs.items()
    ]  # fmt: skip
    parts = [
        f"## Ingest of {', '.join(data['paths'])} ({data['backend']}, {fresh['chunks_in_index']} chunks)\n",
        markdown_table(
            ["run", "added", "unchanged", "chunks embedded", "vector-cache hits", "ingest s", "passages/s",
             "model load s", "wall s", "peak RSS MB"],
            rows,
        ),
    ]
    if "raw" in fresh:
        raw = fresh["raw"]
        parts += [
            "\n### Against raw encoding (the limit)\n",
            markdown_table(
                ["raw passages", "raw passages/s", "ingest passages/s", "ratio (target ≥ 0.9)", "ratio without checkpoints",
                 "ratio per CPU-second"],
                [[raw["passages"], raw["passages_per_s"], fresh["passages_per_s"], fresh.get("ratio_to_raw"),
                  fresh.get("ratio_to_raw_without_checkpoints"), fresh.get("cpu_ratio_to_raw")]],
            ),
        ]
    stage_rows = [[s, v["seconds"], v.get("cpu_seconds"), v["calls"], f"{100 * v['share']:.1f}%"] for s, v in fresh["stages"].items()]
    parts += [
        "\n### Where the fresh ingest's time goes\n",
        markdown_table(["stage", "seconds", "CPU seconds", "calls", "share of wall"], stage_rows),
    ]
    if fresh["saves"]:
        s = fresh["saves"]
        parts.append(
            f"\n{len(s)} saves (last = final): first {s[0]['seconds']} s at {s[0]['chunks']} chunks, "
            f"last {s[-1]['seconds']} s at {s[-1]['chunks']} chunks ({s[-1]['generation_mb']} MB per generation); "
            f"first search after ingest {fresh['first_search_ms']} ms, second {fresh['second_search_ms']} ms."
        )
    return "\n".join(parts) + "\n"


def main() -> None:
    """Fresh ingest (+ raw limit), unchanged re-ingest, new index with a warm vector cache."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="files, folders or JSONL corpora (default data/reports)")
    parser.add_argument("--backend", choices=["torch", "onnx-int8"], help="default: RAG_EMBEDDING_BACKEND or torch")
    parser.add_argument("--embedder", choices=["e5-small", "hashing"], help="default: RAG_EMBEDDER or e5-small")
    parser.add_argument("--raw-fraction", type=float, default=1.0, help="share of the passages encoded raw (0 = skip)")
    parser.add_argument("--index", type=Path, help="keep the index here (a new directory). Default: a temp dir")
    parser.add_argument("--results-name", help="default ingest-<backend> (ingest-hashing for --embedder hashing)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-raw", dest="raw", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    args.paths = args.paths or [SAMPLE_REPORTS]
    if args.child:
        child_main(args)
        return

    from rag.settings import Settings

    env: dict[str, str] = {}
    if args.embedder:
        env["RAG_EMBEDDER"] = args.embedder
    backend = args.backend or os.environ.get("RAG_EMBEDDING_BACKEND", "torch")
    keep = args.index is not None
    if keep and args.index.exists() and any(args.index.iterdir()):
        raise SystemExit(f"{args.index} is not empty: give a fresh --index directory")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    index_dir = args.index or work / "index"
    env["RAG_CACHE_DIR"] = str(fresh_model_cache(Settings().cache_dir, work / "cache"))

    def child(index: Path, raw: bool) -> dict[str, Any]:
        cmd = [sys.executable, __file__, "--child", "--index", str(index), "--backend", backend,
               "--raw-fraction", str(args.raw_fraction), *([] if raw else ["--no-raw"]), *map(str, args.paths)]  # fmt: skip
        result = run_json_child(cmd, env)
        print(json.dumps({k: v for k, v in result.items() if k not in ("stages", "saves")}), file=sys.stderr)
        return result

    try:
        runs = {
            "fresh": child(index_dir, raw=args.raw_fraction > 0),
            "unchanged": child(index_dir, raw=False),
            "new index, warm vector cache": child(work / "index-2", raw=False),
        }
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    embedder = env.get("RAG_EMBEDDER", os.environ.get("RAG_EMBEDDER", "e5-small"))
    data = {
        "paths": [str(p) for p in args.paths],
        "embedder": embedder,
        "backend": backend if embedder == "e5-small" else None,
        "index": str(index_dir) if keep else None,
        "runs": runs,
        "unchanged_embedded_nothing": runs["unchanged"]["chunks_embedded"] == 0,
        "machine": machine(),
    }
    name = args.results_name or f"ingest-{backend if embedder == 'e5-small' else embedder}"
    text = markdown(data)
    write_results(name, data, text, args.results_dir)
    print(text)
    if not data["unchanged_embedded_nothing"]:
        raise SystemExit("the second ingest embedded chunks: unchanged documents were not skipped")


if __name__ == "__main__":
    main()
