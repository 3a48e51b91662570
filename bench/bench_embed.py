"""Passages/s of the default embedder (converted e5-small) on 64 Chinese passages of ~250 characters.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_embed.py [--cache-dir DIR] [--runs 3] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from embeddings.base import load_embedder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

FALLBACK_TEXT = (
    "今年政府工作的总体要求是：坚持稳中求进工作总基调，全面贯彻新发展理念，推动高质量发展。"
    "全省地区生产总值增长7.7%左右，一般公共预算收入增长8%，城镇新增就业60万人以上，"
    "居民消费价格涨幅控制在3%左右，城镇登记失业率控制在4.5%以内，节能减排完成国家下达的任务。"
)


def sample_passages(count: int, length: int) -> list[str]:
    """`count` passages of `length` characters cut from the sample reports (or a built-in paragraph)."""
    reports = sorted((ROOT / "data" / "reports").glob("*.txt"))
    text = "".join("".join(p.read_text(encoding="utf-8").split()) for p in reports) or FALLBACK_TEXT
    while len(text) < count * length:
        text += text
    step = (len(text) - length) // max(count - 1, 1)
    return [text[i * step : i * step + length] for i in range(count)]


def main() -> None:
    """Convert/verify the model, then time embed_documents over the passages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="default: RAG_CACHE_DIR or ~/.cache/govreport-rag"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--chars", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before anything imports huggingface_hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    cache_dir = args.cache_dir or Settings().cache_dir
    started = time.perf_counter()
    embedder = load_embedder("e5-small", cache_dir=cache_dir, batch_size=args.batch_size)
    ready = time.perf_counter()
    dimension = embedder.dimension  # loads the model
    loaded = time.perf_counter()
    print(
        f"model: {embedder.model_id}; cache verified/converted in {ready - started:.2f}s, loaded in {loaded - ready:.2f}s"
    )

    passages = sample_passages(args.passages, args.chars)
    embedder.embed_documents(passages[:4])  # warm-up
    rates, cpu_rates = [], []
    for run in range(1, args.runs + 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        vectors = embedder.embed_documents(passages)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        rates.append(len(passages) / elapsed)
        cpu_rates.append(len(passages) / cpu)
        print(
            f"run {run}: {len(passages)} × {args.chars} chars in {elapsed:.2f}s ({cpu:.1f} CPU-s) = {rates[-1]:.1f}/s"
        )
    assert vectors.shape == (len(passages), dimension)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # On a shared machine wall-clock rates depend on other load; passages per CPU-second much less so.
    print(
        f"median: {statistics.median(rates):.1f} passages/s, {statistics.median(cpu_rates):.1f} per CPU-second "
        f"(batch {args.batch_size}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}); peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
