"""Documents and chunks as the JSON objects of documents.jsonl and chunks.jsonl (the Milvus store keeps documents so too)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rag.types import Chunk, Document, DocumentMeta


def document_to_json(doc: Document) -> dict[str, Any]:
    """A document as the JSON object documents.jsonl holds a line of."""
    out = asdict(doc)
    out["offset_map"] = [list(p) for p in doc.offset_map]
    return out


def document_from_json(raw: dict[str, Any]) -> Document:
    """The inverse of `document_to_json` (consumes `raw`)."""
    meta_raw = raw.pop("meta")
    meta = DocumentMeta(
        **{
            **meta_raw,
            "review_years": tuple(meta_raw.get("review_years", ())),
            "source_meta": tuple(tuple(p) for p in meta_raw.get("source_meta", ())),
        }
    )
    offset_map = tuple((int(a), int(b)) for a, b in raw.pop("offset_map", ()))
    return Document(meta=meta, offset_map=offset_map, **raw)


def chunk_from_json(raw: dict[str, Any]) -> tuple[Chunk, tuple[str, ...]]:
    """A chunks.jsonl line: the chunk and its BM25 tokens (consumes `raw`)."""
    tokens = tuple(raw.pop("tokens"))
    return Chunk(**raw), tokens
