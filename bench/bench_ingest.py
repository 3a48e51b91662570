"""Ingest wall time, chunks/s and peak RSS into a fresh index, then a second (no-op) ingest; prints one JSON object.

Each ingest runs in its own subprocess so its peak RSS is measured alone (os.wait4 per child; the first child's
figure equals resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, which is also reported).

HF_HUB_OFFLINE=1 RAG_CACHE_DIR=/tmp/e5cache .venv/bin/python bench/bench_ingest.py \\
    ../shared/evaldata/gov_work_reports/normalized/corpus.jsonl --json-out out/bench_ingest.json
.venv/bin/python bench/bench_ingest.py data/reports --embedder hashing    # quick check of the harness
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child_main(index_dir: Path, paths: list[Path]) -> None:
    """Run one ingest in this process and print its report as JSON on the last stdout line."""
    from rag.pipeline import load_pipeline
    from rag.settings import Settings

    started = time.perf_counter()
    pipeline = load_pipeline(Settings(), index_dir=index_dir)
    _ = pipeline.embedder.dimension  # load the model before timing the ingest itself
    loaded = time.perf_counter()
    report = pipeline.ingest(paths, progress=False)
    done = time.perf_counter()
    out = {
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "failed": [list(f) for f in report.failed],
        "chunks_embedded": report.chunks_embedded,
        "documents": len(pipeline.documents()),
        "chunks_in_index": len(pipeline.store.chunks),
        "load_s": round(loaded - started, 2),
        "ingest_s": round(done - loaded, 2),
    }
    print(json.dumps(out))


def run_child(index_dir: Path, paths: list[Path], env: dict[str, str]) -> dict[str, Any]:
    """One ingest in a subprocess: its report plus wall time and its own peak RSS."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--index", str(index_dir), *map(str, paths)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ingest subprocess failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 2)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    if result["chunks_embedded"] and result["ingest_s"]:
        result["chunks_per_s"] = round(result["chunks_embedded"] / result["ingest_s"], 1)
    return result


def main() -> None:
    """Fresh ingest, then the same ingest again (which must embed nothing)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files, folders or JSONL corpora (default data/reports)")
    parser.add_argument("--index", type=Path, help="index directory (must not exist yet; kept). Default: a temp dir")
    parser.add_argument("--embedder", choices=["e5-small", "hashing"], help="default: RAG_EMBEDDER or e5-small")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    paths = args.paths or [ROOT / "data" / "reports"]
    if args.child:
        child_main(args.index, paths)
        return

    env = dict(os.environ)
    if args.embedder:
        env["RAG_EMBEDDER"] = args.embedder
    keep = args.index is not None
    if keep and args.index.exists() and any(args.index.iterdir()):
        raise SystemExit(f"{args.index} is not empty: give a fresh --index directory")
    index_dir = args.index or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        first = run_child(index_dir, paths, env)
        children_maxrss_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        second = run_child(index_dir, paths, env)
    finally:
        if not keep:
            shutil.rmtree(index_dir, ignore_errors=True)
    result = {
        "paths": [str(p) for p in paths],
        "embedder": env.get("RAG_EMBEDDER", "e5-small"),
        "cpu_count": os.cpu_count(),
        "index": str(index_dir) if keep else None,
        "first": first,
        "first_peak_rss_mb_rusage_children": children_maxrss_mb,
        "second": second,
        "second_embedded_nothing": second["chunks_embedded"] == 0,
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")
    if not result["second_embedded_nothing"]:
        raise SystemExit("the second ingest embedded chunks: unchanged documents were not skipped")


if __name__ == "__main__":
    main()
