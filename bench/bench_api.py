"""Throughput and latency of POST /v1/ask under concurrent clients; prints one JSON object.

python bench/bench_api.py --url http://127.0.0.1:8000 --requests 64 --concurrency 8
python bench/bench_api.py --spawn --requests 64        # starts `python -m api.server` (RAG_* env) itself
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    "海珠区2018年地区生产总值增长目标是多少?",
    "What was Haizhu's 2018 GDP growth target?",
    "沙河口区“十三五”时期地区生产总值年均增长目标是多少?",
    "What registered unemployment rate did Shahekou aim for in 2016?",
    "海珠区2017年地区生产总值增长了多少?",
    "武昌区2012年政府工作报告提出了哪些重点工作?",
    "How much did Haizhu's general public budget revenue grow in 2017?",
    "海珠区2018年火星探测预算是多少?",
]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max, rounded, in the values' unit."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "mean": round(sum(values) / len(values), 1),
        "max": round(max(values), 1),
    }


def one_request(
    client: httpx.Client, url: str, question: str, stream: bool
) -> tuple[int, float, float | None, float | None]:
    """(status, latency ms, time to first token ms, server-side total ms)."""
    t0 = time.perf_counter()
    first: float | None = None
    server_ms: float | None = None
    payload = {"question": question, "stream": stream}
    if not stream:
        resp = client.post(url + "/v1/ask", json=payload)
        latency = (time.perf_counter() - t0) * 1000
        if resp.status_code == 200:
            server_ms = resp.json().get("timings_ms", {}).get("total")
        return resp.status_code, latency, None, server_ms
    with client.stream("POST", url + "/v1/ask", json=payload) as resp:
        event = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if first is None and event in ("token", "answer"):
                    first = (time.perf_counter() - t0) * 1000
            elif line.startswith("data: ") and event == "answer":
                server_ms = json.loads(line[6:]).get("timings_ms", {}).get("total")
        status = resp.status_code
    return status, (time.perf_counter() - t0) * 1000, first, server_ms


def run(
    url: str, n_requests: int, concurrency: int, stream: bool, timeout: float, warmup: int
) -> dict[str, Any]:
    """Send `n_requests` questions from `concurrency` threads and summarise."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = (
        {"Authorization": f"Bearer {os.environ['RAG_BENCH_KEY']}"} if os.environ.get("RAG_BENCH_KEY") else {}
    )
    with httpx.Client(timeout=timeout, limits=limits, headers=headers) as client:
        for i in range(warmup):
            one_request(client, url, QUESTIONS[i % len(QUESTIONS)], False)
        lock = threading.Lock()
        results: list[tuple[int, float, float | None, float | None]] = []
        errors: Counter[str] = Counter()

        def work(i: int) -> None:
            try:
                r = one_request(client, url, QUESTIONS[i % len(QUESTIONS)], stream)
            except httpx.HTTPError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                return
            with lock:
                results.append(r)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(work, range(n_requests)))
        wall = time.perf_counter() - t0

    statuses = Counter(str(s) for s, *_ in results)
    ok = [r for r in results if r[0] == 200]
    return {
        "url": url,
        "endpoint": "/v1/ask" + (" (stream)" if stream else ""),
        "requests": n_requests,
        "concurrency": concurrency,
        "ok": len(ok),
        "status_counts": dict(statuses),
        "transport_errors": dict(errors),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(ok) / wall, 2) if wall else 0.0,
        "latency_ms": summary([r[1] for r in ok]),
        "first_event_ms": summary([r[2] for r in ok if r[2] is not None]),
        "server_total_ms": summary([r[3] for r in ok if r[3] is not None]),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def spawned_server(ready_timeout: float) -> Iterator[str]:
    """`python -m api.server` on a free loopback port (configured by RAG_* variables), stopped afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAG_RATE_LIMIT_PER_MINUTE": os.environ.get("RAG_RATE_LIMIT_PER_MINUTE", "0"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.server", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready after {ready_timeout:.0f}s")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--spawn", action="store_true", help="start a server (python -m api.server) for the run"
    )
    parser.add_argument("--requests", type=int, default=64, help="total requests (bounded run)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--stream", action="store_true", help="use SSE streaming (also reports time to first event)"
    )
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    args = parser.parse_args()

    if args.spawn:
        with spawned_server(args.ready_timeout) as url:
            result = run(url, args.requests, args.concurrency, args.stream, args.timeout, args.warmup)
    else:
        result = run(
            args.url.rstrip("/"), args.requests, args.concurrency, args.stream, args.timeout, args.warmup
        )
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
