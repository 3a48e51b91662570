"""HTTP serving: cold start of `rag serve` on an existing index, then /v1/ask and /v1/search under 1, 8, 32 clients.

    # spawn `rag serve --index DIR` (as many cold starts as --cold-runs), then the concurrency sweep
    .venv/bin/python bench/bench_api.py --index out/bench/gwr-index-onnx-int8 --backend onnx-int8
    # against a server that is already running (no cold start)
    .venv/bin/python bench/bench_api.py --url http://127.0.0.1:8000

Loopback only; every run is bounded (--requests per endpoint and level). The rate limit is switched off in the
spawned server (RAG_RATE_LIMIT_PER_MINUTE=0). Cold start = process start to the first 200 from /readyz (the
index and the models loaded), with the OS page cache warm after the first run. Writes bench/results/api-<backend>.*.
"""

from __future__ import annotations

import argparse
import json
import os
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
from harness import (
    GWR_QUESTIONS,
    free_port,
    http_ok,
    machine,
    markdown_table,
    median,
    request_body,
    server_process,
    summary,
    write_results,
)

LEVELS = (1, 8, 32)


def one_request(client: httpx.Client, url: str, endpoint: str, question: str) -> tuple[int, float]:
    """(status, latency ms) of one POST to /v1/ask or /v1/search."""
    t0 = time.perf_counter()
    resp = client.post(url + endpoint, json=request_body(endpoint, question))
    return resp.status_code, (time.perf_counter() - t0) * 1000


def run_level(url: str, endpoint: str, n_requests: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """`n_requests` questions from `concurrency` client threads (one keep-alive connection each)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    key = os.environ.get("RAG_BENCH_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    lock = threading.Lock()
    results: list[tuple[int, float]] = []
    errors: Counter[str] = Counter()
    with httpx.Client(timeout=timeout, limits=limits, headers=headers) as client:
        for q in GWR_QUESTIONS[:2]:  # warm the connection and the code path
            one_request(client, url, endpoint, q)

        def work(i: int) -> None:
            try:
                r = one_request(client, url, endpoint, GWR_QUESTIONS[i % len(GWR_QUESTIONS)])
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
    ok = [ms for status, ms in results if status == 200]
    return {
        "endpoint": endpoint,
        "concurrency": concurrency,
        "requests": n_requests,
        "ok": len(ok),
        "status_counts": dict(Counter(str(s) for s, _ in results)),
        "transport_errors": dict(errors),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(ok) / wall, 2) if wall else 0.0,
        "latency_ms": summary(ok),
    }


def serve_command(index: Path, port: int, backend: str | None) -> list[str]:
    """`rag serve --index DIR --port P`, through the benchmark's backend shim when a backend is given."""
    call = f"from cli.main import main; sys.exit(main(['serve', '--index', {str(index)!r}, '--host', '127.0.0.1', '--port', '{port}']))"
    shim = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import harness; "
        + (f"harness.select_backend({backend!r}); " if backend else "")
        + call
    )
    return [sys.executable, "-c", shim]


@contextmanager
def spawned_server(index: Path, backend: str | None, ready_timeout: float) -> Iterator[tuple[str, dict[str, float]]]:
    """A `rag serve` child on a free loopback port; yields its URL and start-up timings, stops it afterwards."""
    port = free_port()
    env = {**os.environ, "RAG_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def ready() -> bool:
        if "healthz_s" not in timings and http_ok(url + "/healthz", timeout=2):
            timings["healthz_s"] = round(time.perf_counter() - t0, 2)
        if not http_ok(url + "/readyz", timeout=2):
            return False
        timings["ready_s"] = round(time.perf_counter() - t0, 2)
        return True

    with server_process(serve_command(index, port, backend), env, ready, ready_timeout, poll_s=0.05):
        with httpx.Client(timeout=120) as client:
            for endpoint in ("/v1/search", "/v1/ask"):
                _, ms = one_request(client, url, endpoint, GWR_QUESTIONS[2])
                timings[f"first_{endpoint.rsplit('/', 1)[1]}_ms"] = round(ms, 1)
        yield url, timings


def sweep(url: str, levels: list[int], n_requests: int, timeout: float) -> list[dict[str, Any]]:
    """Every endpoint at every concurrency level."""
    rows = []
    for endpoint in ("/v1/search", "/v1/ask"):
        for level in levels:
            row = run_level(url, endpoint, max(n_requests, level), level, timeout)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    return rows


def markdown(data: dict[str, Any]) -> str:
    """Cold-start and throughput tables."""
    parts = []
    if data.get("cold_starts"):
        cold = data["cold_starts"]
        parts += [
            f"## Cold start of `rag serve` ({data['index']}, {data.get('documents')} documents, backend "
            f"{data['backend'] or 'default'}; median of {len(cold)})\n",
            markdown_table(
                ["process up (/healthz) s", "ready (/readyz) s", "target ≤ 10 s", "first search ms", "first ask ms"],
                [[data["cold_start"]["healthz_s"], data["cold_start"]["ready_s"],
                  "met" if data["cold_start"]["ready_s"] <= 10 else "not met",
                  data["cold_start"]["first_search_ms"], data["cold_start"]["first_ask_ms"]]],
            ),
            "\nruns: " + ", ".join(f"{c['ready_s']} s" for c in cold) + "\n",
        ]
    rows = [
        [r["endpoint"], r["concurrency"], r["ok"], r["requests"], r["throughput_rps"], r["latency_ms"].get("p50"),
         r["latency_ms"].get("p95"), r["latency_ms"].get("max")]
        for r in data["levels"]
    ]  # fmt: skip
    parts += [
        "## Throughput on loopback\n",
        markdown_table(["endpoint", "clients", "ok", "requests", "req/s", "p50 ms", "p95 ms", "max ms"], rows),
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="spawn `rag serve` on this existing index")
    parser.add_argument("--backend", choices=["torch", "onnx-int8"], help="embedding backend of the spawned server")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="an already running server (without --index)")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold starts to time (the last one serves the sweep)")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=list(LEVELS))
    parser.add_argument("--requests", type=int, default=64, help="requests per endpoint and level (at least the level)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--results-name", help="default api-<backend>")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    args = parser.parse_args()

    data: dict[str, Any] = {"index": str(args.index) if args.index else None, "backend": args.backend, "machine": machine()}
    if args.index:
        if not args.index.is_dir():
            raise SystemExit(f"no index at {args.index}: build one first (bench_ingest.py … --index {args.index})")
        cold: list[dict[str, float]] = []
        for run in range(args.cold_runs):
            with spawned_server(args.index, args.backend, args.ready_timeout) as (url, timings):
                cold.append(timings)
                print(json.dumps({"cold_start": timings}), file=sys.stderr)
                if run == args.cold_runs - 1:
                    data["documents"] = httpx.get(url + "/readyz", timeout=10).json().get("documents")
                    data["levels"] = sweep(url, args.levels, args.requests, args.timeout)
        data["cold_starts"] = cold
        data["cold_start"] = {k: median([c[k] for c in cold]) for k in cold[0]}
    else:
        data["url"] = args.url
        data["levels"] = sweep(args.url.rstrip("/"), args.levels, args.requests, args.timeout)
    text = markdown(data)
    write_results(args.results_name or f"api-{args.backend or 'default'}", data, text, args.results_dir)
    print(text)


if __name__ == "__main__":
    main()
