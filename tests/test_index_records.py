"""rag/index/records.py: a document and a chunk come back from their JSON lines exactly (tuples included)."""

from __future__ import annotations

import json
from dataclasses import asdict

from rag.index.records import chunk_from_json, document_from_json, document_to_json
from rag.types import Chunk, Document, DocumentMeta


def test_a_document_round_trips_through_its_json_line() -> None:
    doc = Document(
        doc_id="gwr:prov2025:广东省",
        text="“四上”企业:规模以上工业企业。\n",
        meta=DocumentMeta(
            title="广东省政府工作报告",
            region="广东省",
            level="provincial",
            year=2025,
            review_years=(2024,),
            plan_year=2025,
            source_meta=(("lang", "zh-Hans"),),
        ),
        source="corpus.jsonl",
        content_hash="abc",
        offset_map=((0, 0), (5, 12)),
    )
    line = json.dumps(document_to_json(doc), ensure_ascii=False)
    assert document_from_json(json.loads(line)) == doc


def test_a_chunk_line_gives_the_chunk_and_its_tokens() -> None:
    chunk = Chunk("c1", "d1", "地区生产总值增长7.7%左右。", 10, 25, section="二、2018年工作安排", ordinal=3, period="plan")
    line = json.dumps({**asdict(chunk), "tokens": ["地区", "生产总值"]}, ensure_ascii=False)
    assert chunk_from_json(json.loads(line)) == (chunk, ("地区", "生产总值"))
