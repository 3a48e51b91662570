"""Load and fault check of `rag serve` on loopback: 32 clients for 60 s, RSS across 10,000 requests, the rate limiter.

    # the full run (several minutes; nothing else should be using the CPU)
    .venv/bin/python bench/bench_load.py
    # a quick proof that it works
    .venv/bin/python bench/bench_load.py --embedder hashing --seconds 5 --requests 500

Three phases, each against a `rag serve` child on a free 127.0.0.1 port over a small index (data/reports,
built by the server on its first start and kept under $TMPDIR for the next run):

1. load: `--clients` threads (one keep-alive connection each) alternate /v1/ask and /v1/search for `--seconds`;
   requests, errors (transport errors and any status but 200), p50/p95/p99 per endpoint;
2. memory: the server's RSS (/proc/PID/status) before and after `--requests` more requests, sampled every tenth;
3. rate limit: a second server with RAG_RATE_LIMIT_PER_MINUTE=`--rate-limit`; one client sends 3x that many
   requests at once; every refusal must be a 429 problem+json with an integer Retry-After, never a 5xx.

Every loop is bounded (by time or by count) and talks to loopback only. Writes bench/results/load-<embedder>.*;
exits 1 when a check fails (errors, p95 over `--p95-budget-ms`, RSS growth over `--rss-budget-mb`, limiter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import (
    OFFLINE_ENV,
    SAMPLE_REPORTS,
    free_port,
    http_ok,
    machine,
    markdown_table,
    request_body,
    server_process,
    summary,
    write_results,
)

# Questions the sample reports answer (and one they do not), Chinese and English.
QUESTIONS = [
    "海珠区2018年地区生产总值增长目标是多少?",
    "What was Haizhu District's GDP growth target for 2018?",
    "海珠区2017年社会消费品零售总额是多少?",
    "海珠区2017年全面推行河长制,共设立河长多少名?",
    "What GDP growth target did Shahekou District (Dalian) set for 2016?",
    "沙河口区2015年“暖房子”工程共涉及多少栋老旧楼?",
    "武昌区2012年预计完成地区生产总值多少?",
    "How many community home-based elderly care service centres did Wuchang newly build in 2012?",
    "海珠区2008年政府年度工作意见要求全力以赴完成哪个岛的整体搬迁工作?",
    "海珠区2018年政府工作报告为2018年设定的研发投入强度目标是多少?",
]
ENDPOINTS = ("/v1/ask", "/v1/search")


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (Linux /proc), or None where that is not available."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@dataclass
class Server:
    """A running `rag serve` child."""

    url: str
    proc: subprocess.Popen[bytes]
    ready_s: float


@contextmanager
def serve(
    index: Path, env: dict[str, str], ready_timeout: float, reports: Path = SAMPLE_REPORTS
) -> Iterator[Server]:
    """`rag serve --index DIR` on a free loopback port until /readyz is 200; stopped (SIGINT, then kill) afterwards."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "serve",
        "--index",
        str(index),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    full_env = {**os.environ, **OFFLINE_ENV, "RAG_REPORTS_DIR": str(reports), **env}
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    with server_process(cmd, full_env, lambda: http_ok(url + "/readyz", timeout=5), ready_timeout, poll_s=0.1) as proc:
        yield Server(url, proc, round(time.perf_counter() - t0, 2))


@dataclass
class Tally:
    """Thread-safe results of many requests."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, status: int | None, ms: float, error: str | None = None) -> None:
        """One request's outcome."""
        with self.lock:
            if error is not None:
                self.errors[error] += 1
                return
            self.statuses[str(status)] += 1
            if status == 200:
                self.latencies[endpoint].append(ms)
            else:
                self.errors[f"HTTP {status}"] += 1

    @property
    def count(self) -> int:
        """Requests recorded so far."""
        with self.lock:
            return sum(self.statuses.values()) + sum(
                v for k, v in self.errors.items() if not k.startswith("HTTP")
            )


def _one(client: httpx.Client, url: str, i: int, tally: Tally) -> None:
    endpoint = ENDPOINTS[i % 2]
    question = QUESTIONS[(i // 2) % len(QUESTIONS)]
    t0 = time.perf_counter()
    try:
        resp = client.post(url + endpoint, json=request_body(endpoint, question))
    except httpx.HTTPError as exc:
        tally.record(endpoint, None, 0.0, type(exc).__name__)
        return
    tally.record(endpoint, resp.status_code, (time.perf_counter() - t0) * 1000)


def drive(
    url: str,
    clients: int,
    timeout: float,
    *,
    seconds: float | None = None,
    requests: int | None = None,
    on_progress: Any = None,
) -> tuple[Tally, float]:
    """`clients` threads sending requests until `seconds` have passed or `requests` were sent (both bounded)."""
    assert seconds is not None or requests is not None
    tally = Tally()
    counter = iter(range(requests if requests is not None else 10**9))
    counter_lock = threading.Lock()
    deadline = time.monotonic() + seconds if seconds is not None else float("inf")

    def next_index() -> int | None:
        if time.monotonic() >= deadline:
            return None
        with counter_lock:
            return next(counter, None)

    def client_loop() -> None:
        with httpx.Client(timeout=timeout) as client:
            while (i := next_index()) is not None:
                _one(client, url, i, tally)
                if on_progress is not None:
                    on_progress(i)

    threads = [threading.Thread(target=client_loop, name=f"client-{n}") for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - t0


def phase_result(tally: Tally, wall: float) -> dict[str, Any]:
    """Counts, throughput and latency percentiles of one phase."""
    ok = [ms for values in tally.latencies.values() for ms in values]
    return {
        "requests": tally.count,
        "ok": len(ok),
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "status_counts": dict(tally.statuses),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(ok) / wall, 1) if wall else 0.0,
        "latency_ms": summary(ok),
        "by_endpoint": {e: summary(v) for e, v in tally.latencies.items()},
    }


def load_phase(server: Server, clients: int, seconds: float, timeout: float) -> dict[str, Any]:
    """Phase 1: a fixed time under `clients` concurrent clients."""
    tally, wall = drive(server.url, clients, timeout, seconds=seconds)
    return {"clients": clients, "seconds": seconds, **phase_result(tally, wall)}


def memory_phase(server: Server, clients: int, requests: int, timeout: float) -> dict[str, Any]:
    """Phase 2: RSS before, every tenth of the way, and after `requests` requests."""
    pid = server.proc.pid
    samples: list[tuple[int, float | None]] = [(0, rss_mb(pid))]
    step = max(1, requests // 10)
    sample_lock = threading.Lock()

    def on_progress(i: int) -> None:
        if (i + 1) % step == 0:
            with sample_lock:
                samples.append((i + 1, rss_mb(pid)))

    tally, wall = drive(server.url, clients, timeout, requests=requests, on_progress=on_progress)
    after = rss_mb(pid)
    before = samples[0][1]
    return {
        "clients": clients,
        "rss_mb_before": before,
        "rss_mb_after": after,
        "rss_growth_mb": round(after - before, 1) if before is not None and after is not None else None,
        "rss_samples_mb": sorted(samples),
        **phase_result(tally, wall),
    }


def limiter_phase(
    index: Path, env: dict[str, str], limit: int, ready_timeout: float, reports: Path
) -> dict[str, Any]:
    """Phase 3: 3x the per-minute limit at once from one client; refusals are 429 + Retry-After, never 5xx."""
    with serve(index, {**env, "RAG_RATE_LIMIT_PER_MINUTE": str(limit)}, ready_timeout, reports) as server:
        statuses: Counter[str] = Counter()
        retry_after: list[str | None] = []
        problem_json = True
        lock = threading.Lock()
        sent = 3 * limit

        def one(i: int) -> None:
            nonlocal problem_json
            endpoint = ENDPOINTS[i % 2]
            with httpx.Client(timeout=60) as client:
                try:
                    resp = client.post(server.url + endpoint, json=request_body(endpoint, QUESTIONS[0]))
                except httpx.HTTPError as exc:
                    with lock:
                        statuses[type(exc).__name__] += 1
                    return
            with lock:
                statuses[str(resp.status_code)] += 1
                if resp.status_code == 429:
                    retry_after.append(resp.headers.get("retry-after"))
                    problem_json &= resp.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    )

        threads = [threading.Thread(target=one, args=(i,)) for i in range(sent)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        valid_retry = [r for r in retry_after if r is not None and r.isdigit() and int(r) >= 1]
        waits = sorted({int(r) for r in valid_retry})
        # After the advertised wait, the same client is served again.
        recovered = None
        if waits:
            time.sleep(min(waits[0], 10))
            recovered = httpx.post(
                server.url + "/v1/search", json=request_body("/v1/search", QUESTIONS[0]), timeout=60
            ).status_code
    server_errors = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500)
    return {
        "limit_per_minute": limit,
        "sent": sent,
        "status_counts": dict(statuses),
        "ok": statuses.get("200", 0),
        "rate_limited": statuses.get("429", 0),
        "with_retry_after": len(valid_retry),
        "retry_after_s": waits,
        "problem_json": problem_json,
        "server_errors": server_errors,
        "status_after_retry_after": recovered,
    }


def checks(data: dict[str, Any], p95_budget_ms: float, rss_budget_mb: float) -> dict[str, bool]:
    """Pass/fail of what the issue asks for."""
    load, memory, limiter = data["load"], data["memory"], data["rate_limit"]
    growth = memory["rss_growth_mb"]
    return {
        "load: zero errors": load["errors"] == 0,
        f"load: p95 <= {p95_budget_ms:g} ms": load["latency_ms"].get("p95", float("inf")) <= p95_budget_ms,
        "memory: zero errors": memory["errors"] == 0,
        f"memory: RSS growth <= {rss_budget_mb:g} MB": growth is not None and growth <= rss_budget_mb,
        "rate limit: some 429s": limiter["rate_limited"] > 0,
        "rate limit: every 429 has Retry-After": limiter["with_retry_after"] == limiter["rate_limited"],
        "rate limit: 429s are problem+json": bool(limiter["problem_json"]),
        "rate limit: no 5xx": limiter["server_errors"] == 0,
        "rate limit: only 200 or 429": set(limiter["status_counts"]) <= {"200", "429"},
        "rate limit: served again after Retry-After": limiter["status_after_retry_after"] == 200,
    }


def markdown(data: dict[str, Any]) -> str:
    """The result tables."""
    load, memory, limiter = data["load"], data["memory"], data["rate_limit"]

    def row(name: str, phase: dict[str, Any], clients: int) -> list[object]:
        lat = phase["latency_ms"]
        return [name, clients, phase["wall_s"], phase["requests"], phase["ok"], phase["errors"],
                phase["throughput_rps"], lat.get("p50"), lat.get("p95"), lat.get("max")]  # fmt: skip

    parts = [
        f"## `rag serve` under load ({data['embedder']} embedder, {data['documents']} documents, "
        f"ready after {data['ready_s']} s)\n",
        markdown_table(
            ["phase", "clients", "wall s", "requests", "ok", "errors", "req/s", "p50 ms", "p95 ms", "max ms"],
            [
                row(f"load ({load['seconds']:g} s)", load, load["clients"]),
                row(f"memory ({memory['requests']} requests)", memory, memory["clients"]),
            ],
        ),
        "\nPer endpoint (load phase): "
        + "; ".join(
            f"`{e}` p50 {s.get('p50')} / p95 {s.get('p95')} ms (n={s.get('n')})"
            for e, s in load["by_endpoint"].items()
        )
        + "\n",
        "### Server RSS\n",
        markdown_table(
            ["requests", "RSS before MB", "RSS after MB", "growth MB"],
            [[memory["requests"], memory["rss_mb_before"], memory["rss_mb_after"], memory["rss_growth_mb"]]],
        ),
        "\nsamples (requests: MB): " + ", ".join(f"{n}: {mb}" for n, mb in memory["rss_samples_mb"]) + "\n",
        f"### Rate limiter ({limiter['limit_per_minute']}/min, {limiter['sent']} requests at once from one client)\n",
        markdown_table(
            ["sent", "200", "429", "429 with Retry-After", "Retry-After s", "5xx", "after waiting"],
            [
                [
                    limiter["sent"],
                    limiter["ok"],
                    limiter["rate_limited"],
                    limiter["with_retry_after"],
                    ",".join(map(str, limiter["retry_after_s"])) or None,
                    limiter["server_errors"],
                    limiter["status_after_retry_after"],
                ]
            ],
        ),
        "\n### Checks\n",
        markdown_table(
            ["check", "result"], [[k, "pass" if v else "**FAIL**"] for k, v in data["checks"].items()]
        ),
        f"\nMachine: {data['machine']['cpu_count']} CPUs, load average {data['machine']['load_avg_1m']} at the start.",
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index",
        type=Path,
        help="index directory (default: $TMPDIR/govreport-rag-bench/load-index-<embedder>)",
    )
    parser.add_argument("--embedder", default="e5-small", choices=["e5-small", "sbert", "hashing"])
    parser.add_argument("--reports", type=Path, default=SAMPLE_REPORTS, help="what a new index is built from")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--requests", type=int, default=10_000, help="requests of the memory phase")
    parser.add_argument("--rate-limit", type=int, default=20, help="per-minute limit of the rate-limit phase")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--ready-timeout", type=float, default=900.0, help="includes building the index on first start"
    )
    parser.add_argument("--p95-budget-ms", type=float, default=5000.0)
    parser.add_argument("--rss-budget-mb", type=float, default=100.0)
    parser.add_argument("--results-name", help="default load-<embedder>")
    parser.add_argument("--results-dir", type=Path, default=None, help="default bench/results")
    args = parser.parse_args()

    default_name = f"load-index-{args.embedder}" + (
        "" if args.reports == SAMPLE_REPORTS else f"-{args.reports.name}"
    )
    index = args.index or Path(tempfile.gettempdir()) / "govreport-rag-bench" / default_name
    index.parent.mkdir(parents=True, exist_ok=True)
    env = {"RAG_EMBEDDER": args.embedder}
    data: dict[str, Any] = {
        "index": str(index),
        "reports": str(args.reports),
        "embedder": args.embedder,
        "machine": machine(),
    }
    with serve(index, {**env, "RAG_RATE_LIMIT_PER_MINUTE": "0"}, args.ready_timeout, args.reports) as server:
        data["ready_s"] = server.ready_s
        data["documents"] = httpx.get(server.url + "/readyz", timeout=10).json().get("documents")
        drive(
            server.url, 2, args.timeout, requests=2 * len(QUESTIONS)
        )  # warm-up: every question once per endpoint
        data["load"] = load_phase(server, args.clients, args.seconds, args.timeout)
        print(
            json.dumps({"load": data["load"]["latency_ms"], "errors": data["load"]["errors"]}),
            file=sys.stderr,
        )
        data["memory"] = memory_phase(server, args.clients, args.requests, args.timeout)
        print(json.dumps({"memory_rss_mb": data["memory"]["rss_samples_mb"]}), file=sys.stderr)
    data["rate_limit"] = limiter_phase(index, env, args.rate_limit, args.ready_timeout, args.reports)
    data["checks"] = checks(data, args.p95_budget_ms, args.rss_budget_mb)
    text = markdown(data)
    write_results(args.results_name or f"load-{args.embedder}", data, text, args.results_dir)
    print(text)
    sys.exit(0 if all(data["checks"].values()) else 1)


if __name__ == "__main__":
    main()
