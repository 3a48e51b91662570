"""Hand-built indexes and index directories shared by the tests of rag/index/ (tests/test_index_*.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import make_document

from embeddings.hashing import HashingEmbedder
from rag.chunking import chunk_document
from rag.index.lock import writer_lock
from rag.index.store import IndexStore
from rag.types import Document

EMBEDDER = HashingEmbedder(dimension=32)

HAIZHU = make_document(
    "haizhu.txt",
    "海珠区2018年政府工作报告\n一、2017年工作回顾\n实现地区生产总值1740.31亿元,同比增长7.6%。\n"
    "二、2018年工作安排\n今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右。\n",
    title="海珠区2018年政府工作报告",
    region="海珠区",
    level="district",
    year=2018,
    review_years=(2017,),
    plan_year=2018,
    source_meta=(("parent_region", "广州市"),),
)
SHAHEKOU = make_document(
    "shahekou.txt",
    "2016年沙河口区政府工作报告\n建议经济增长的主要预期目标为:地区生产总值增长6.5-7%。\n",
    title="2016年沙河口区政府工作报告",
    region="沙河口区",
    year=2016,
)
DOCS = [
    make_document(
        f"{region}.txt",
        f"{region}{year}年政府工作报告\n今年地区生产总值增长{rate}%左右。\n",
        region=region,
        year=year,
    )
    for region, year, rate in (("海珠区", 2018, 7.7), ("沙河口区", 2016, 6.5), ("武昌区", 2012, 11))
]


def add_document(store: IndexStore, doc: Document) -> None:
    """Chunk a document as the store's manifest says, tokenise (first four characters) and embed it into `store`."""
    chunks = chunk_document(doc, chunk_size=store.manifest.chunk_size, overlap=store.manifest.chunk_overlap)
    tokens = [tuple(c.text[:4]) for c in chunks]
    store.upsert(doc, chunks, tokens, EMBEDDER.embed_documents([c.text for c in chunks]))


def make_store(*docs: Document) -> IndexStore:
    """An index of these documents in chunks of 60 characters, embedded by EMBEDDER."""
    store = IndexStore.empty(EMBEDDER.model_id, EMBEDDER.dimension, chunk_size=60, chunk_overlap=1)
    for doc in docs:
        add_document(store, doc)
    return store


def live_generation(index_dir: Path) -> Path:
    """The directory of the generation CURRENT names."""
    return index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def directory_bytes(index_dir: Path) -> dict[str, bytes]:
    """Every file under a directory, by relative path, with its bytes."""
    return {
        str(p.relative_to(index_dir)): p.read_bytes() for p in sorted(index_dir.rglob("*")) if p.is_file()
    }


def write_report(folder: Path, name: str, region: str, rate: float) -> Path:
    """A one-line report file of a region with a growth target of `rate` percent."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{region}2019年政府工作报告\n今年地区生产总值预期增长{rate}%左右。\n", encoding="utf-8")
    return path


@contextmanager
def held_in_thread(index_dir: Path, *, release_after: float | None = None) -> Iterator[None]:
    """Hold the writer lock of a directory in another thread, for the `with` block or `release_after` seconds."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(index_dir):
            held.set()
            release.wait(release_after)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)
