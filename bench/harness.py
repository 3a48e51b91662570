"""Shared by the benchmarks: percentiles, machine facts, result files, child processes, servers and the embedding
backend. Standard library only (the peer's venv imports it too); httpx is imported where a server is probed."""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED = ROOT.parent / "shared"
GWR_CORPUS = SHARED / "evaldata" / "gov_work_reports" / "normalized" / "corpus.jsonl"
SAMPLE_REPORTS = ROOT / "data" / "reports"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
# Questions a 103-report index can answer (national and provincial reports), Chinese and English.
GWR_QUESTIONS = [
    "江西25年gdp增速目标?",
    "ningxia 2025 gdp target",
    "2025年国务院政府工作报告提出的国内生产总值增长目标是多少?",
    "What urban job creation target did the 2024 State Council report set?",
    "2023年居民消费价格涨幅目标是多少?",
    "What was the 2018 GDP growth target in the government work report?",
    "广东省2025年地区生产总值增长目标",
    "How much should the deficit-to-GDP ratio be in 2025?",
    "四川省2025年城镇调查失业率控制在多少?",
    "2021年政府工作报告提出的粮食产量目标是多少?",
    "Zhejiang 2025 growth target",
    "2020年政府工作报告为什么没有设定经济增长具体目标?",
]


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
    """Make `rag.pipeline_factory.load_pipeline` build the e5 embedder on `backend` (and with/without the vector cache).

    The benchmark's own `--backend` wins over `RAG_EMBEDDING_BACKEND`, which `load_pipeline` passes on.
    """
    import embeddings.factory
    import rag.pipeline_factory

    original: Callable[..., Any] = embeddings.factory.load_embedder

    def load_embedder(*args: Any, **kwargs: Any) -> Any:
        kwargs["backend"] = backend
        if cache_vectors is not None:
            kwargs["cache_vectors"] = cache_vectors
        return original(*args, **kwargs)

    rag.pipeline_factory.load_embedder = load_embedder  # type: ignore[attr-defined]


def fresh_model_cache(source: Path, target: Path) -> Path:
    """`target` holding hard links to the verified model directories of `source` and no vector cache."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for directory in sorted(source.glob("e5-small-*")):
        if directory.is_dir() and not (target / directory.name).exists():
            shutil.copytree(directory, target / directory.name, copy_function=os.link)
    return target


def request_body(endpoint: str, question: str) -> dict[str, Any]:
    """The JSON body of a POST to /v1/ask or /v1/search (8 hits)."""
    return {"question": question} if endpoint == "/v1/ask" else {"query": question, "k": 8}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a server child to listen on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str, timeout: float) -> bool:
    """True when a GET of `url` answers 200; False on any other status or when nothing answers yet."""
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def server_process(
    cmd: Sequence[str], env: Mapping[str, str], ready: Callable[[], bool], ready_timeout: float, poll_s: float
) -> Iterator[subprocess.Popen[bytes]]:
    """`cmd` (a `rag serve`) started in the repository, output discarded, until `ready()` is true (polled every
    `poll_s`); stopped afterwards (SIGINT, then kill after 20 s). Exits when it dies or is not ready in time."""
    proc = subprocess.Popen(list(cmd), cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"rag serve exited with {proc.returncode} (run it by hand to see why)")
            if ready():
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"rag serve not ready after {ready_timeout:.0f} s")
            time.sleep(poll_s)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
