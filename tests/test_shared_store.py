"""deploy/shared_store_demo.py: two API processes answer from one Milvus store after a third ingests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT


@pytest.mark.slow
@pytest.mark.milvus
def test_two_api_processes_see_a_third_process_ingest_and_a_fourth_remove() -> None:
    pytest.importorskip("milvus_lite", reason='milvus-lite is not installed: pip install -e ".[milvus]"')
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy" / "shared_store_demo.py"), "--timeout", "600"],
        capture_output=True, text=True, timeout=1500, cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert steps[0]["refused"] == [True, True]
    assert steps[1]["short_answers"] == ["7.7%左右", "7.7%左右"] and steps[1]["documents"] == [5, 5]
    assert steps[2]["still_cited"] == [False, False]
