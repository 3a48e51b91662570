"""A real uvicorn process: starts, builds the index on first start, turns ready, answers, shuts down."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real_pipeline_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("rag.pipeline", "rag.loading"))


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *args, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> float:
    """Seconds until /readyz answered 200 (fails if the process dies or it takes too long)."""
    t0 = time.monotonic()
    saw_not_ready = False
    while time.monotonic() - t0 < READY_TIMEOUT_S:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"server exited early ({proc.returncode}):\n{out[-3000:]}")
        try:
            resp = httpx.get(url + "/readyz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if resp.status_code == 200:
            return time.monotonic() - t0
        assert resp.status_code == 503 and resp.headers["content-type"].startswith("application/problem+json")
        assert "could not be loaded" not in resp.json()["detail"], resp.json()
        saw_not_ready = True
        assert httpx.get(url + "/healthz", timeout=2).status_code == 200  # alive while loading
        time.sleep(0.2)
    raise AssertionError(f"not ready after {READY_TIMEOUT_S}s (saw 503 while loading: {saw_not_ready})")


def assert_stops(proc: subprocess.Popen[bytes]) -> None:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=15)
    assert time.monotonic() - t0 < 15


@pytest.mark.skipif(not real_pipeline_available(), reason="rag.pipeline / rag.loading not available yet")
def test_real_server_builds_index_on_first_start(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(ROOT / "data" / "reports", reports)
    env = {
        "RAG_EMBEDDER": "hashing",
        "RAG_READER": "none",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_REPORTS_DIR": str(reports),
        "RAG_RATE_LIMIT_PER_MINUTE": "0",
    }
    with running(["-m", "api.server", "--log-level", "warning"], env) as (url, proc):
        wait_ready(url, proc)
        n_docs = httpx.get(url + "/readyz").json()["documents"]
        assert n_docs == len(list(reports.iterdir()))
        resp = httpx.post(
            url + "/v1/ask", json={"question": "海珠区2018年地区生产总值增长目标是多少?"}, timeout=60
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["citations"] and "7.7%" in body["short_answer"]
        cite = body["citations"][0]
        doc = httpx.get(url + f"/v1/documents/{cite['doc_id']}", timeout=30).json()
        assert doc["text"][cite["start"] : cite["end"]] == cite["quote"]

        # An upload is indexed in the background by the real loaders.
        text = "越秀区2019年政府工作报告\n二、2019年工作安排\n今年经济社会发展主要预期目标是:地区生产总值增长6.5%左右。\n"
        files = {"file": ("越秀区2019.txt", text.encode(), "text/plain")}
        job = httpx.post(url + "/v1/documents", files=files, timeout=30).json()
        deadline = time.monotonic() + 60
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = httpx.get(url + job["status_url"], timeout=10).json()
        assert job["status"] == "done", job
        assert job["doc_ids"] == ["越秀区2019.txt"]
        assert httpx.get(url + "/readyz").json()["documents"] == n_docs + 1
        assert httpx.delete(url + "/v1/documents/越秀区2019.txt", timeout=30).status_code == 204
        assert_stops(proc)

    # Second start: the index exists, nothing is re-indexed.
    with running(["-m", "api.server", "--log-level", "warning"], env) as (url, proc):
        wait_ready(url, proc)
        assert httpx.get(url + "/readyz").json()["documents"] == n_docs
        assert_stops(proc)


def test_fake_server_process_answers_and_streams() -> None:
    with running(["-m", "tests.api_fakes", "--stream-delay", "0"], {}) as (url, proc):
        wait_ready(url, proc)
        body = httpx.post(
            url + "/v1/ask", json={"question": "what was Haizhu's 2018 GDP target"}, timeout=30
        ).json()
        assert body["short_answer"] == "about 7.7%"
        with httpx.stream(
            "POST", url + "/v1/ask", json={"question": "what was Haizhu's 2018 GDP target", "stream": True}
        ) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            events = [line for line in resp.iter_lines() if line.startswith("event: ")]
        assert events[0] == "event: token" and events[-1] == "event: answer"
        assert_stops(proc)
