"""rag/index/integrity.py: a damaged file of the live generation is a clear error naming it, through load_index,
the CLI and the API, and reading never "repairs" (deletes) anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from index_helpers import DOCS, EMBEDDER, directory_bytes, live_generation, make_store, write_report

from rag.errors import IndexCorruptError
from rag.index.generations import load_index, save_index
from rag.pipeline_factory import load_pipeline
from rag.settings import Settings

# ----------------------------------------------------------------------------------------- damaged files


def _truncate(name: str, keep: float) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        path = gen / name
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return damage


def _replace(name: str, data: bytes) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen / name).write_bytes(data)
        return gen / name

    return damage


def _delete(name: str) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen / name).unlink()
        return gen / name

    return damage


def _nan_vectors(gen: Path) -> Path:
    import faiss

    flat = faiss.IndexFlatIP(EMBEDDER.dimension)
    n = sum(1 for _ in (gen / "chunks.jsonl").open(encoding="utf-8"))
    flat.add(np.full((n, EMBEDDER.dimension), np.nan, dtype=np.float32))
    faiss.write_index(flat, str(gen / "vectors.faiss"))
    return gen / "vectors.faiss"


def _orphan_chunk(gen: Path) -> Path:
    path = gen / "chunks.jsonl"
    path.write_text(
        path.read_text(encoding="utf-8").replace('"doc_id": "海珠区.txt"', '"doc_id": "ghost.txt"'),
        encoding="utf-8",
    )
    return path


def _pointer(data: bytes) -> Callable[[Path], Path]:
    def damage(gen: Path) -> Path:
        (gen.parent / "CURRENT").write_bytes(data)
        return gen.parent / "CURRENT"

    return damage


def _lost_generation(gen: Path) -> Path:
    for p in gen.iterdir():
        p.unlink()
    gen.rmdir()
    return gen.parent / "CURRENT"


DAMAGE: dict[str, Callable[[Path], Path]] = {
    "vectors truncated": _truncate("vectors.faiss", 0.5),
    "vectors emptied": _truncate("vectors.faiss", 0),
    "vectors overwritten": _replace("vectors.faiss", b"\x01" * 1000),
    "vectors missing": _delete("vectors.faiss"),
    "vectors NaN": _nan_vectors,
    "chunks truncated": _truncate("chunks.jsonl", 0.5),
    "chunks emptied": _truncate("chunks.jsonl", 0),
    "chunks not JSON": _replace("chunks.jsonl", b"{not json\n"),
    "chunks of the wrong shape": _replace("chunks.jsonl", b'{"chunk_id": 1}\n'),
    "chunks missing": _delete("chunks.jsonl"),
    "chunk of an unknown document": _orphan_chunk,
    "documents truncated": _truncate("documents.jsonl", 0.5),
    "documents of the wrong shape": _replace("documents.jsonl", b"[1, 2]\n"),
    "documents missing": _delete("documents.jsonl"),
    "manifest truncated": _truncate("manifest.json", 0.5),
    "manifest binary": _replace("manifest.json", b"\xff\xfe\x00\x01"),
    "manifest of the wrong shape": _replace("manifest.json", b'{"format_version": 1, "model_id": 5}'),
    "manifest missing": _delete("manifest.json"),
    "CURRENT binary": _pointer(b"\xff\xfe\x00"),
    "CURRENT empty": _pointer(b""),
    "CURRENT escaping the directory": _pointer(b"../../etc"),
    "generation directory gone": _lost_generation,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_index_file_is_a_clear_error_naming_it(
    tmp_path: Path, damage: Callable[[Path], Path]
) -> None:
    index_dir = tmp_path / "index"
    save_index(make_store(*DOCS), index_dir)
    damaged = damage(live_generation(index_dir))
    before = directory_bytes(index_dir)
    with pytest.raises(IndexCorruptError) as err:
        load_index(index_dir)
    message = str(err.value)
    assert str(damaged) in message, message
    assert f"remove {index_dir}" in message and "rag ingest" in message
    assert "\n" not in message and "Traceback" not in message
    assert directory_bytes(index_dir) == before  # reading never "repairs" (deletes) anything


def test_damaged_index_is_one_line_from_the_cli(
    tmp_path: Path, clean_rag_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    index_dir = tmp_path / "index"
    pipeline = load_pipeline(
        Settings(embedder="hashing", reader="none", index_dir=index_dir, cache_dir=tmp_path / "c"),
        answering=False,
    )
    pipeline.ingest([write_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    _truncate("chunks.jsonl", 0.4)(live_generation(index_dir))
    assert main(["docs", "--index", str(index_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chunks.jsonl" in err and "rag ingest" in err


def test_damaged_index_makes_the_api_unready_not_broken(tmp_path: Path, fast_tokenizer: None) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    settings = Settings(embedder="hashing", reader="none", index_dir=tmp_path / "index", cache_dir=tmp_path / "c",
                        rate_limit_per_minute=0)  # fmt: skip
    load_pipeline(settings, answering=False).ingest([write_report(tmp_path / "in", "a.txt", "海珠区", 7.7)])
    _truncate("vectors.faiss", 0.5)(live_generation(settings.index_dir))
    with TestClient(create_app(settings, loader=lambda s: load_pipeline(s, answering=False))) as client:
        deadline = time.monotonic() + 30
        while "vectors.faiss" not in client.get("/readyz").text and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "vectors.faiss" in ready.json()["detail"]
        ask = client.post("/v1/ask", json={"question": "海珠区地区生产总值增长目标"})
        assert ask.status_code == 503 and ask.headers["content-type"].startswith("application/problem+json")

