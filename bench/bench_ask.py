"""Warm end-to-end latency of `pipeline.ask(q)` over a gold file's questions; prints one JSON object.

HF_HUB_OFFLINE=1 RAG_CACHE_DIR=/tmp/e5cache .venv/bin/python bench/bench_ask.py [--index DIR] [--gold FILE]
    [--reps 5] [--json-out out/bench_ask.json]

Same harness and options as bench/bench_search.py (a bench index of data/reports unless --index is given);
the generator is whatever RAG_GENERATOR selects (extractive by default).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import run

if __name__ == "__main__":
    run("ask", __doc__.splitlines()[0] if __doc__ else "bench ask")
