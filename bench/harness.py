"""Shared by the benchmarks: percentiles, machine facts, result files, child processes and the embedding backend."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED = ROOT.parent / "shared"
GWR_CORPUS = SHARED / "evaldata" / "gov_work_reports" / "normalized" / "corpus.jsonl"
SAMPLE_REPORTS = ROOT / "data" / "reports"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def offline() -> None:
    """Set the offline variables before anything imports huggingface_hub."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """p50/p95/p99/mean/max, rounded, in the values' unit."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "mean": round(statistics.fmean(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def median(values: Sequence[float], digits: int = 2) -> float:
    """Rounded median."""
    return round(statistics.median(values), digits)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def busy_processes(threshold: float = 20.0) -> list[str]:
    """Other processes using more than `threshold` % CPU right now (what makes a 2-core measurement noisy)."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    busy = []
    for line in out.splitlines():
        pid, pcpu, args = line.split(None, 2)
        if int(pid) != os.getpid() and float(pcpu) >= threshold:
            busy.append(f"{pid} {pcpu}% {args[:100]}")
    return busy


def machine() -> dict[str, Any]:
    """What the numbers were measured on, including who else was using the CPU."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.split("\n")
    except OSError:
        rev, dirty = "", []
    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "busy_processes": busy_processes(),
        "python": platform.python_version(),
        "git": rev,
        "uncommitted": [line[3:] for line in dirty if line.strip()],
        "versions": {n: _version(n) for n in ("torch", "onnxruntime", "sentence-transformers", "faiss-cpu", "numpy")},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any], markdown: str, directory: Path | None = None) -> Path:
    """Write `<name>.json` and `<name>.md` into bench/results (or `directory`); returns the JSON path."""
    out = directory or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return path


def run_json_child(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child that prints one JSON object on its last stdout line; adds its wall time and own peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True, cwd=ROOT)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"child {' '.join(cmd[:4])} … failed with exit code {code}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - t0, 2)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    return result


def select_backend(backend: str, *, cache_vectors: bool | None = None) -> None:
    """Make `rag.pipeline.load_pipeline` build the e5 embedder on `backend` (and with/without the vector cache).

    A benchmark-only shim for as long as load_pipeline does not pass RAG_EMBEDDING_BACKEND on itself: it
    only fills in keyword arguments the pipeline does not pass, so it is a no-op once it does.
    """
    import embeddings.base
    import rag.pipeline

    original: Callable[..., Any] = embeddings.base.load_embedder

    def load_embedder(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("backend", backend)
        if cache_vectors is not None:
            kwargs.setdefault("cache_vectors", cache_vectors)
        return original(*args, **kwargs)

    rag.pipeline.load_embedder = load_embedder  # type: ignore[attr-defined]


def fresh_model_cache(source: Path, target: Path) -> Path:
    """`target` holding hard links to the verified model directories of `source` and no vector cache."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for directory in sorted(source.glob("e5-small-*")):
        if directory.is_dir() and not (target / directory.name).exists():
            shutil.copytree(directory, target / directory.name, copy_function=os.link)
    return target
