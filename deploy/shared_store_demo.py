"""Two `rag serve` processes answer from one Milvus store after a third process ingests, without a restart.

    .venv/bin/python deploy/shared_store_demo.py [--embedder hashing] [--timeout 300]

Starts a Milvus Lite gRPC server (`milvus-lite server`, the stand-in for Milvus standalone here), two API
processes on it with empty local index directories, then `rag ingest data/reports` in a third process, and
waits until both API processes cite the newly ingested report; then `rag remove` in a fourth process and waits
until both stop citing it. Prints one JSON line per step; exits non-zero on failure. Every process it starts
is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUESTION = "2018年海珠区地区生产总值预期增长多少?"
DOC_ID = "001_a23e36bce40488e8.txt"


def free_port() -> int:
    """A TCP port on loopback nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str, procs: Sequence[subprocess.Popen[bytes]] = ()) -> Any:
    """Poll `check()` until it returns something truthy, or fail naming `what` (at once if a process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise SystemExit(f"waiting for {what}: process {dead[0].pid} exited with {dead[0].returncode}")
        try:
            got = check()
        except (httpx.HTTPError, OSError):
            got = None
        if got:
            return got
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")


def main() -> int:
    """Run the demonstration; 0 when both servers saw the ingest and the removal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="hashing", help="hashing (fast, default) or e5-small")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rag-shared-store-"))
    milvus_port = free_port()
    env = {
        **os.environ,
        "RAG_VECTOR_STORE": "milvus",
        "RAG_MILVUS_URI": f"http://127.0.0.1:{milvus_port}",
        "RAG_EMBEDDER": args.embedder,
        "RAG_READER": "none",
        "RAG_STORE_REFRESH_S": "1",
        "RAG_REPORTS_DIR": str(work / "no-reports"),  # start empty: only the third process ingests
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    procs: list[subprocess.Popen[bytes]] = []
    log = (work / "processes.log").open("wb")
    failed = True
    try:
        procs.append(subprocess.Popen(
            [str(BIN / "milvus-lite"), "server", "--data-dir", str(work / "milvus"), "--host", "127.0.0.1",
             "--port", str(milvus_port)], stdout=log, stderr=log,
        ))
        def listening() -> bool:
            with socket.create_connection(("127.0.0.1", milvus_port), timeout=1):
                return True

        wait_until(listening, args.timeout, "the Milvus server", procs)
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            procs.append(subprocess.Popen(
                [str(BIN / "rag"), "serve", "--index", str(work / f"api-{i}"), "--port", str(port)],
                env=env, cwd=ROOT, stdout=log, stderr=log,
            ))
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports]
        def ready(c: httpx.Client) -> bool:
            r = c.get("/readyz")
            if r.status_code == 503 and "could not be loaded" in r.text:
                raise SystemExit(f"{c.base_url}: {r.json().get('detail')}")
            return r.status_code == 200

        for c in clients:
            wait_until(lambda c=c: ready(c), args.timeout, f"{c.base_url} to be ready", procs)
        before = [c.post("/v1/ask", json={"question": QUESTION}).json() for c in clients]
        print(json.dumps({"step": "empty store", "refused": [a["refused"] for a in before]}, ensure_ascii=False))

        t0 = time.monotonic()
        subprocess.run([str(BIN / "rag"), "ingest", str(ROOT / "data" / "reports"), "--index", str(work / "ingest")],
                       env=env, cwd=ROOT, check=True, stdout=log, stderr=log)
        ingest_s = time.monotonic() - t0

        def cites(c: httpx.Client) -> dict[str, Any] | None:
            answer: dict[str, Any] = c.post("/v1/ask", json={"question": QUESTION}).json()
            return answer if any(x["doc_id"] == DOC_ID for x in answer.get("citations", [])) else None

        after = [wait_until(lambda c=c: cites(c), args.timeout, f"{c.base_url} to cite {DOC_ID}") for c in clients]
        print(json.dumps({
            "step": "after a third process ingested", "ingest_s": round(ingest_s, 1),
            "short_answers": [a["short_answer"] for a in after],
            "documents": [len(c.get("/v1/documents").json()["documents"]) for c in clients],
        }, ensure_ascii=False))

        subprocess.run([str(BIN / "rag"), "remove", DOC_ID, "--index", str(work / "ingest")],
                       env=env, cwd=ROOT, check=True, stdout=log, stderr=log)
        gone = [wait_until(lambda c=c: not cites(c), args.timeout, f"{c.base_url} to drop {DOC_ID}") for c in clients]
        print(json.dumps({"step": "after a fourth process removed it", "still_cited": [not g for g in gone]}))
        failed = False
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        if failed:  # the processes' own words are what tell why (CI deletes the directory)
            tail = (work / "processes.log").read_text(encoding="utf-8", errors="replace").splitlines()[-80:]
            print("\n".join(["--- last lines of the processes' log ---", *tail]), file=sys.stderr)
        if os.environ.get("KEEP_DEMO_DIR"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
