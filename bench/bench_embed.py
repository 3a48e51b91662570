"""Passages/s of the e5-small backends (torch fp32 vs ONNX Runtime int8) on real passages, and their agreement.

Each backend runs in its own child process (its own peak RSS, no shared thread pools), without the vector
cache, on the same passages: the pipeline's own passage texts of the sample reports (or of --corpus).

    .venv/bin/python bench/bench_embed.py [--backends torch,onnx-int8] [--passages 256] [--runs 3]
    .venv/bin/python bench/bench_embed.py --quality     # + dev evidence_hit@5 and XQuAD en→zh doc_hit@5 per backend

Writes bench/results/embed.json + embed.md (and embed_quality.* with --quality).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import (  # bench/ is on sys.path when a script in it runs
    ROOT,
    SAMPLE_REPORTS,
    SHARED,
    machine,
    markdown_table,
    median,
    offline,
    run_json_child,
    write_results,
)

BACKENDS = ("torch", "onnx-int8")


def pipeline_passages(paths: list[Path], count: int) -> list[str]:
    """`count` passages as the pipeline embeds them (title | section + chunk text), evenly spread over the corpus."""
    from rag.chunking import chunk_document
    from rag.ingestion import passage_text
    from rag.loading import LoadFailure, load_documents
    from rag.settings import Settings

    settings = Settings()
    texts: list[str] = []
    for doc in load_documents(paths):
        if not isinstance(doc, LoadFailure):
            chunks = chunk_document(doc, chunk_size=settings.chunk_size, overlap=settings.chunk_overlap)
            texts += [passage_text(doc, c) for c in chunks]
    if count and count < len(texts):
        step = len(texts) / count
        texts = [texts[int(i * step)] for i in range(count)]
    return texts


def child_main(args: argparse.Namespace) -> None:
    """Load one backend, warm it up, time `runs` passes over the passages; print JSON, save the vectors."""
    from embeddings.factory import load_embedder
    from rag.settings import Settings

    passages: list[str] = json.loads(Path(args.passages_file).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    embedder = load_embedder(
        "e5-small", cache_dir=Settings().cache_dir, batch_size=args.batch_size, backend=args.child, cache_vectors=False
    )
    dimension = embedder.dimension  # loads the model
    load_s = time.perf_counter() - t0
    embedder.embed_documents(passages[: args.batch_size])  # warm-up
    rates, cpu_rates = [], []
    vectors = np.zeros((0, dimension), dtype=np.float32)
    for _ in range(args.runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        vectors = embedder.embed_documents(passages)
        rates.append(len(passages) / (time.perf_counter() - began))
        cpu_rates.append(len(passages) / (time.process_time() - began_cpu))
    queries = [p[:40] for p in passages[:64]]
    q_times = []
    for q in queries:
        began = time.perf_counter()
        embedder.embed_queries([q])
        q_times.append((time.perf_counter() - began) * 1000)
    np.save(args.vectors_out, vectors)
    print(
        json.dumps(
            {
                "backend": args.child,
                "model_id": embedder.model_id,
                "load_s": round(load_s, 2),
                "passages": len(passages),
                "batch_size": args.batch_size,
                "runs_passages_per_s": [round(r, 2) for r in rates],
                "passages_per_s": median(rates),
                "passages_per_cpu_s": median(cpu_rates),
                "query_ms_p50": median(q_times, 1),
                "torch_threads": _torch_threads(),
            }
        )
    )


def _torch_threads() -> int | None:
    if "torch" not in sys.modules:
        return None
    import torch

    return int(torch.get_num_threads())


def run_speed(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every backend in a child process on the same passages, then cosine agreement with the first."""
    paths = [Path(p) for p in args.corpus] or [SAMPLE_REPORTS]
    passages = pipeline_passages(paths, args.passages)
    passages_file = work / "passages.json"
    passages_file.write_text(json.dumps(passages, ensure_ascii=False), encoding="utf-8")
    lengths = [len(p) for p in passages]
    results: dict[str, dict[str, Any]] = {}
    for backend in args.backends:
        cmd = [
            sys.executable, __file__, "--child", backend, "--passages-file", str(passages_file),
            "--vectors-out", str(work / f"{backend}.npy"), "--batch-size", str(args.batch_size), "--runs", str(args.runs),
        ]  # fmt: skip
        results[backend] = run_json_child(cmd)
        print(json.dumps(results[backend]), file=sys.stderr)
    reference = np.load(work / f"{args.backends[0]}.npy")
    for backend in args.backends[1:]:
        cos = np.sum(np.load(work / f"{backend}.npy") * reference, axis=1)
        results[backend]["cosine_vs_" + args.backends[0]] = {
            "min": round(float(cos.min()), 4), "mean": round(float(cos.mean()), 4), "p01": round(float(np.percentile(cos, 1)), 4),
        }  # fmt: skip
        results[backend]["speedup_vs_" + args.backends[0]] = round(
            results[backend]["passages_per_s"] / results[args.backends[0]]["passages_per_s"], 2
        )
    return {
        "passages_from": [str(p) for p in paths],
        "passage_chars": {"mean": round(float(np.mean(lengths)), 1), "max": max(lengths)},
        "backends": results,
        "machine": machine(),
    }


def speed_markdown(data: dict[str, Any]) -> str:
    """The speed table."""
    first = next(iter(data["backends"]))
    rows = []
    for name, r in data["backends"].items():
        cos = r.get(f"cosine_vs_{first}", {})
        rows.append([
            name, r["passages_per_s"], r["passages_per_cpu_s"], r.get(f"speedup_vs_{first}", 1.0), r["query_ms_p50"],
            r["load_s"], r["peak_rss_mb"], cos.get("min"), cos.get("mean"),
        ])  # fmt: skip
    m = data["machine"]
    return (
        f"## Embedding throughput ({data['backends'][first]['passages']} pipeline passages, mean "
        f"{data['passage_chars']['mean']} chars, batch {data['backends'][first]['batch_size']}, {m['cpu_count']} CPUs, "
        f"load {m['load_avg_1m']} at start)\n\n"
        + markdown_table(
            ["backend", "passages/s", "per CPU-s", f"× {first}", "query ms p50", "load s", "peak RSS MB",
             f"min cos vs {first}", "mean cos"],
            rows,
        )
        + "\n"
    )


# ----------------------------------------------------------------------------- retrieval quality per backend

_SHIM = (
    "import sys; sys.path.insert(0, {bench!r}); import harness; harness.offline(); harness.select_backend({backend!r}); "
    "{call}"
)


def _shimmed(backend: str, call: str) -> list[str]:
    return [sys.executable, "-c", _SHIM.format(bench=str(Path(__file__).parent), backend=backend, call=call)]


def run_quality(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Dev-set and XQuAD en→zh retrieval through the eval harness, once per backend (reader off: retrieval only)."""
    import subprocess

    env = {**os.environ, "RAG_READER": "none"}
    results: dict[str, dict[str, Any]] = {}
    for backend in args.backends:
        out = work / backend
        dev = (
            "from cli.main import main; sys.exit(main(['eval', '--gold', {gold!r}, '--corpus', {corpus!r}, "
            "'--out', {out!r}, '--index', {index!r}]))"
        ).format(gold=str(SHARED / "gold" / "dev.jsonl"), corpus=str(SAMPLE_REPORTS), out=str(out / "dev"),
                 index=str(out / "dev-index"))  # fmt: skip
        xquad = "from eval.external import main; sys.exit(main(['xquad', '--out', {out!r}] + {extra!r}))".format(
            out=str(out / "xquad"), extra=["--limit", str(args.xquad_limit)] if args.xquad_limit else []
        )
        row: dict[str, Any] = {}
        for name, call in (("dev", dev), ("xquad_en2zh", xquad)):
            t0 = time.perf_counter()
            subprocess.run(_shimmed(backend, call), check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
            summary = json.loads((out / ("dev" if name == "dev" else "xquad") / "report.json").read_text())["summary"]
            row[name] = {k: summary.get(k) for k in ("n", "doc_hit@1", "doc_hit@5", "evidence_hit@1", "evidence_hit@5", "mrr@10")}
            row[name]["elapsed_s"] = round(time.perf_counter() - t0, 1)
        results[backend] = row
        print(json.dumps({backend: row}), file=sys.stderr)
    base = results[args.backends[0]]
    deltas = {
        b: {
            "dev_evidence_hit@5": _delta(r["dev"]["evidence_hit@5"], base["dev"]["evidence_hit@5"]),
            "xquad_doc_hit@5": _delta(r["xquad_en2zh"]["doc_hit@5"], base["xquad_en2zh"]["doc_hit@5"]),
        }
        for b, r in results.items()
    }
    return {"backends": results, "delta_vs_" + args.backends[0]: deltas, "machine": machine()}


def _delta(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else round(value - base, 4)


def quality_markdown(data: dict[str, Any]) -> str:
    """The quality table."""
    first = next(iter(data["backends"]))
    deltas = data[f"delta_vs_{first}"]
    rows = [
        [b, r["dev"]["n"], r["dev"]["evidence_hit@5"], deltas[b]["dev_evidence_hit@5"], r["xquad_en2zh"]["n"],
         r["xquad_en2zh"]["doc_hit@5"], deltas[b]["xquad_doc_hit@5"], r["xquad_en2zh"]["mrr@10"]]
        for b, r in data["backends"].items()
    ]  # fmt: skip
    return "## Retrieval quality per embedding backend (reader off)\n\n" + markdown_table(
        ["backend", "dev n", "dev evidence_hit@5", "Δ", "XQuAD en→zh n", "doc_hit@5", "Δ", "mrr@10"], rows
    )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", type=lambda s: s.split(","), default=list(BACKENDS))
    parser.add_argument("--corpus", nargs="*", default=[], help="files/folders/JSONL to take passages from")
    parser.add_argument("--passages", type=int, default=256, help="passages per timed run (0 = all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--quality", action="store_true", help="also run the dev and XQuAD retrieval evaluations")
    parser.add_argument("--xquad-limit", type=int, default=0, help="XQuAD questions (0 = all 1,190)")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--passages-file", help=argparse.SUPPRESS)
    parser.add_argument("--vectors-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    offline()
    if args.child:
        child_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        speed = run_speed(args, Path(tmp))
        write_results("embed", speed, speed_markdown(speed), args.results_dir)
        print(speed_markdown(speed))
        if args.quality:
            quality = run_quality(args, Path(tmp))
            write_results("embed_quality", quality, quality_markdown(quality), args.results_dir)
            print(quality_markdown(quality))


if __name__ == "__main__":
    main()
