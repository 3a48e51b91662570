"""A small in-memory stand-in for rag.pipeline.Pipeline (and a TestClient of the API over it), for API, server and widget tests.

Run `python -m tests.api_fakes --port 8123` (from the repo root) to serve the API over it (used by the server/browser tests).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from rag.errors import DocumentNotFoundError, DocumentReadError, InvalidQuestionError
from rag.types import (
    Answer,
    Chunk,
    Citation,
    Document,
    DocumentInfo,
    DocumentMeta,
    Hit,
    IngestReport,
    ParsedQuery,
    QueryFilters,
    SearchResult,
    Turn,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

HAIZHU_ID = "001_haizhu_2018.txt"
HAIZHU_TEXT = (
    "海珠区2018年政府工作报告\n"
    "——2018年2月7日在广州市海珠区第十六届人民代表大会第四次会议上\n"
    "一、2017年工作回顾\n"
    "过去一年,全区地区生产总值增长8.5%,一般公共预算收入增长5.1%。\n"
    "二、2018年工作安排\n"
    "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右,一般公共预算收入增长2%(可比增长7.7%),"
    "城乡居民收入增长与经济增长基本同步。我们着力在以下八个方面狠抓落实。\n"
    "(一)全力打造琶洲创新特区。加快琶洲人工智能与数字经济试验区建设。\n"
)
XSS_ID = "666_xss.txt"
XSS_PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
XSS_TEXT = f"恶意区2020年政府工作报告<img src=x onerror=window.__xss=2>\n测试标记 {XSS_PAYLOAD} 结束。\n今年预期目标是:居民收入增长6%。\n"

# English question words → report vocabulary, just enough for the tests.
_GLOSSARY = {
    "haizhu": "海珠",
    "gdp": "地区生产总值",
    "target": "目标",
    "revenue": "一般公共预算收入",
    "income": "收入",
}
_SENTENCE = re.compile(r"[^。!?;\n]+[。!?;]?")
_REGION = re.compile(r"([\u4e00-\u9fff]{2,4}?[省市区县])")
_YEAR = re.compile(r"(20\d\d)年")


def make_document(doc_id: str, text: str, source: str = "") -> Document:
    """A fake document with metadata guessed from the first lines."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), doc_id)
    region = _REGION.search(first)
    year = _YEAR.search(first)
    meta = DocumentMeta(
        title=first[:80],
        region=region.group(1) if region else None,
        year=int(year.group(1)) if year else None,
    )
    return Document(
        doc_id=doc_id,
        text=text,
        meta=meta,
        source=source,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def _terms(question: str) -> set[str]:
    q = question.lower()
    terms = {zh for en, zh in _GLOSSARY.items() if en in q}
    terms |= set(re.findall(r"20\d\d", q))
    for run in re.findall(r"[\u4e00-\u9fff]+", question):
        terms |= {run[i : i + 2] for i in range(len(run) - 1)}
    terms |= {w for w in re.findall(r"[<>=\w.\"]{3,}", question)} & {"<script>", "onerror"}
    return terms


class FakePipeline:
    """In-memory documents; "retrieval" is term overlap per sentence; answers quote the best sentence."""

    def __init__(
        self, docs: Iterable[Document] = (), *, ingest_delay_s: float = 0.0, stream_delay_s: float = 0.0
    ) -> None:
        self._docs: dict[str, Document] = {d.doc_id: d for d in docs}
        self._lock = threading.Lock()
        self.ingest_delay_s = ingest_delay_s
        self.stream_delay_s = stream_delay_s
        self.asked: list[tuple[str, QueryFilters | None, tuple[Turn, ...]]] = []
        self.fail_with: Exception | None = None
        self.ingest_gate: threading.Event | None = None
        """When set, ingest waits for the event (a test holds a job "running" for as long as it needs)."""

    @classmethod
    def with_samples(cls, **kwargs: float) -> Self:
        """The Haizhu report and a document full of markup that must never execute."""
        return cls([make_document(HAIZHU_ID, HAIZHU_TEXT), make_document(XSS_ID, XSS_TEXT)], **kwargs)

    # ------------------------------------------------------------ documents
    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Read .txt/.md files (and JSONL records) into memory."""
        time.sleep(self.ingest_delay_s)
        if self.ingest_gate is not None:
            self.ingest_gate.wait(timeout=60)
        docs: list[Document] = []
        failed: list[tuple[str, str]] = []
        files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file()]
        for f in files:
            try:
                if f.suffix == ".jsonl":
                    for line in f.read_text(encoding="utf-8").splitlines():
                        if line.strip():
                            rec = json.loads(line)
                            docs.append(make_document(rec["doc_id"], rec["text"], str(f)))
                elif f.suffix in (".txt", ".md"):
                    docs.append(make_document(f.name, f.read_text(encoding="utf-8"), str(f)))
                else:
                    raise DocumentReadError(f"{f.name}: the fake pipeline reads only .txt/.md/.jsonl")
            except (UnicodeDecodeError, ValueError, KeyError, DocumentReadError) as exc:
                failed.append((str(f), str(exc)))
        report = self.ingest_documents(docs)
        return IngestReport(
            added=report.added, updated=report.updated, unchanged=report.unchanged, failed=tuple(failed)
        )

    def ingest_documents(self, docs: Iterable[Document], *, progress: bool = False) -> IngestReport:
        """Add or replace documents."""
        added, updated, unchanged = [], [], []
        with self._lock:
            for doc in docs:
                old = self._docs.get(doc.doc_id)
                if old is not None and old.text == doc.text:
                    unchanged.append(doc.doc_id)
                    continue
                (updated if old else added).append(doc.doc_id)
                self._docs[doc.doc_id] = doc
        return IngestReport(added=tuple(added), updated=tuple(updated), unchanged=tuple(unchanged))

    def remove(self, doc_id: str) -> None:
        """Delete a document."""
        with self._lock:
            if self._docs.pop(doc_id, None) is None:
                raise DocumentNotFoundError(f"no document {doc_id!r} in the index")

    def documents(self) -> list[DocumentInfo]:
        """Listed documents."""
        with self._lock:
            return [
                DocumentInfo(d.doc_id, d.meta, d.text.count("\n") + 1, len(d.text), d.source, d.content_hash)
                for d in self._docs.values()
            ]

    def document(self, doc_id: str) -> Document:
        """One document."""
        with self._lock:
            try:
                return self._docs[doc_id]
            except KeyError:
                raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None

    # ------------------------------------------------------------ retrieval and answers
    def _scored_sentences(
        self, question: str, filters: QueryFilters | None
    ) -> list[tuple[float, Document, int, int]]:
        terms = _terms(question)
        out = []
        with self._lock:
            docs = list(self._docs.values())
        for doc in docs:
            if filters and filters.doc_id and doc.doc_id != filters.doc_id:
                continue
            if filters and filters.year and doc.meta.year != filters.year:
                continue
            if filters and filters.region and doc.meta.region != filters.region:
                continue
            for m in _SENTENCE.finditer(doc.text):
                sentence = m.group(0)
                score = sum(1.0 for t in terms if t in sentence)
                if "目标" in terms and "目标" in sentence:
                    score += 2
                if score:
                    out.append((score / (1 + len(terms)), doc, m.start(), m.end()))
        out.sort(key=lambda s: -s[0])
        return out

    def search(self, question: str, *, k: int = 8, filters: QueryFilters | None = None) -> SearchResult:
        """Best sentences as hits."""
        hits = []
        for rank, (score, doc, start, end) in enumerate(self._scored_sentences(question, filters)[:k]):
            chunk = Chunk(f"{doc.doc_id}#{start}", doc.doc_id, doc.text[start:end], start, end, "", rank)
            hits.append(Hit(chunk=chunk, meta=doc.meta, score=score, rank=rank))
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", question) else "en"
        return SearchResult(
            query=ParsedQuery(text=question, language=lang), hits=tuple(hits), timings_ms={"retrieve": 0.1}
        )

    def ask(
        self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()
    ) -> Answer:
        """Quote the best sentence; refuse when nothing overlaps."""
        if not question.strip():
            raise InvalidQuestionError("empty question")
        if self.fail_with is not None:
            raise self.fail_with
        self.asked.append((question, filters, tuple(history)))
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", question) else "en"
        scored = self._scored_sentences(question, filters)
        if not scored:
            short = "报告中没有找到答案" if lang == "zh" else "The reports do not say."
            return Answer(question, short, short, True, lang, (), {"total": 0.2})
        _, doc, start, end = scored[0]
        quote = doc.text[start:end]
        figure = re.search(r"\d+(?:\.\d+)?%", quote)
        short = (
            (f"about {figure.group(0)}" if lang == "en" else f"{figure.group(0)}左右")
            if figure
            else quote[:80]
        )
        text = f"{doc.meta.region or 'The report'}: {short} [1]." if lang == "en" else f"{short} [1]。"
        if "<" in question:  # echo markup back so the widget's escaping is exercised on answers too
            text = f"{question} → {quote} [1]"
        citation = Citation(
            1, doc.doc_id, doc.meta.title, doc.meta.region, doc.meta.year, "", quote, start, end, 0.9
        )
        return Answer(
            question, short, text, False, lang, (citation,), {"retrieve": 0.1, "generate": 0.1, "total": 0.2}
        )

    def ask_stream(
        self, question: str, *, filters: QueryFilters | None = None, history: Sequence[Turn] = ()
    ) -> Iterator[str | Answer]:
        """The answer text in small pieces, then the Answer."""
        answer = self.ask(question, filters=filters, history=history)
        for i in range(0, len(answer.answer), 4):
            time.sleep(self.stream_delay_s)
            yield answer.answer[i : i + 4]
        yield answer


class RecordingPipeline(FakePipeline):
    """The fake pipeline, remembering which files uploads handed to ingest."""

    def __init__(self, docs: Iterable[Document] = (), **kwargs: float) -> None:
        super().__init__(docs, **kwargs)
        self.ingested: list[Path] = []

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport:
        """Record the paths, then ingest like the fake."""
        self.ingested.extend(paths)
        return super().ingest(paths, progress=progress)


def fake_client(pipeline: FakePipeline, **settings: Any) -> TestClient:
    """A TestClient of the API over `pipeline` (rate limit off unless set); server errors come back as 500s."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from rag.settings import Settings

    settings.setdefault("rate_limit_per_minute", 0)
    return TestClient(create_app(Settings(**settings), pipeline=pipeline), raise_server_exceptions=False)


def _serve() -> None:
    import argparse

    import uvicorn

    from api.app import create_app
    from rag.settings import Settings

    parser = argparse.ArgumentParser(description="Serve the API over the fake pipeline.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--stream-delay", type=float, default=0.05)
    args = parser.parse_args()
    pipeline = FakePipeline.with_samples(stream_delay_s=args.stream_delay)
    app = create_app(Settings(rate_limit_per_minute=0), pipeline=pipeline)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    _serve()
