"""Retrieval metrics (eval/retrieval_metrics.py) on tiny hand-made cases."""

from __future__ import annotations

import pytest

from eval.retrieval_metrics import doc_rank, evidence_rank, hit_at_k, mrr_at_10
from rag.types import Chunk, DocumentMeta, Hit


def hit(doc_id: str, text: str) -> Hit:
    return Hit(
        chunk=Chunk(chunk_id=f"{doc_id}#0", doc_id=doc_id, text=text, start=0, end=len(text)),
        meta=DocumentMeta(title=doc_id),
        score=1.0,
    )


def test_evidence_rank_whitespace_and_width() -> None:
    hits = [hit("a", "无关内容"), hit("b", "地区生产总值增长 7.7%左右，一般公共预算收入增长2%")]
    assert evidence_rank(hits, ["地区生产总值增长7.7%左右,一般公共预算收入增长2%"], ["b"]) == 2
    assert evidence_rank(hits, ["地区生产总值增长7.7%左右"], ["a"]) is None
    assert evidence_rank(hits, ["不存在的证据"]) is None


def test_multi_doc_evidence_needs_every_evidence() -> None:
    hits = [hit("d1", "低保标准提高到900元"), hit("x", "其他"), hit("d2", "城乡低保标准上调至每月750元")]
    evidence = ["低保标准提高到900元", "城乡低保标准上调至每月750元"]
    assert evidence_rank(hits, evidence, ["d1", "d2"]) == 3
    assert evidence_rank(hits[:2], evidence, ["d1", "d2"]) is None
    assert doc_rank(hits, [["d1"], ["d2"]]) == 3
    assert doc_rank(hits, [["d2", "d1"]]) == 1  # one group of alternatives
    assert doc_rank(hits, [["zzz"]]) is None


def test_hit_at_k_and_mrr() -> None:
    ranks = [1, 3, None, 12]
    assert hit_at_k(ranks, 1) == 0.25
    assert hit_at_k(ranks, 5) == 0.5
    assert mrr_at_10(ranks) == pytest.approx((1 + 1 / 3) / 4)
    assert hit_at_k([], 5) is None
    assert mrr_at_10([]) is None
