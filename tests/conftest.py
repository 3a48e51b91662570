"""Shared fixtures: hashing-embedder settings and pipelines over the sample reports, offline and deterministic."""

from __future__ import annotations

import os

# Before anything imports transformers/huggingface_hub: tests never reach the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from rag.lexical import Tokenizer
from rag.pipeline import Pipeline
from rag.pipeline_factory import load_pipeline
from rag.reader.base import SpanProposal
from rag.settings import Settings
from rag.types import Answer, Document, DocumentMeta

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = REPO_ROOT / "data" / "reports"
"""The five sample reports shipped in the repository (inside the repo, so tests may read them)."""

# ------------------------------------------------------------------------------------- tokenizer sharing

_TOKENIZERS: dict[tuple[tuple[str, ...], bool], Tokenizer] = {}


def shared_tokenizer(extra_words: Iterable[str] = (), *, bigrams: bool = True) -> Tokenizer:
    """A Tokenizer memoised by its dictionary words.

    Loading jieba's dictionary costs ~1-2 s per Tokenizer; every Pipeline builds one with the same words, so
    tests share them (a Tokenizer is stateless once loaded and guards its lazy load with a lock).
    """
    key = (tuple(sorted(set(extra_words))), bigrams)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = Tokenizer(key[0], bigrams=bigrams)
    return _TOKENIZERS[key]


def pipeline_tokenizer() -> Tokenizer:
    """The tokenizer a Pipeline builds (domain words + static region names), shared."""
    from rag.knowledge.regions import static_regions
    from rag.knowledge.vocabulary import domain_words

    words = domain_words() + sorted({z for r in static_regions() for z in r.zh if len(z) >= 2})
    return shared_tokenizer(words)


@pytest.fixture
def fast_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make pipelines built in this test (also via the CLI, in-process) share one loaded jieba dictionary."""
    monkeypatch.setattr("rag.pipeline.Tokenizer", shared_tokenizer)


# ------------------------------------------------------------------------------------- settings and data


def make_hashing_settings(root: Path) -> Settings:
    """Settings for the test embedder, with the index and cache under root."""
    return Settings(embedder="hashing", reader="none", index_dir=root / "index", cache_dir=root / "cache")


@pytest.fixture
def hashing_settings(tmp_path: Path, fast_tokenizer: None) -> Settings:
    """Settings(embedder="hashing") with index_dir and cache_dir in tmp_path."""
    return make_hashing_settings(tmp_path)


@pytest.fixture
def sample_reports_dir(tmp_path: Path) -> Path:
    """A private copy of data/reports that a test may modify."""
    target = tmp_path / "reports"
    shutil.copytree(REPORTS_DIR, target)
    return target


@pytest.fixture(scope="session")
def hashing_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """One pipeline over data/reports with the hashing embedder, ingested once per session. Read-only!"""
    root = tmp_path_factory.mktemp("hashing-pipeline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("rag.pipeline.Tokenizer", shared_tokenizer)
        pipeline = load_pipeline(make_hashing_settings(root))
    report = pipeline.ingest([REPORTS_DIR])
    assert not report.failed, report.failed
    assert len(report.added) == 5
    return pipeline


# ------------------------------------------------------------------------------------- helpers


def make_document(doc_id: str, text: str, **meta: object) -> Document:
    """A Document over exactly this text (no cleaning), with metadata given as keyword arguments."""
    meta.setdefault("title", doc_id)
    return Document(doc_id=doc_id, text=text, meta=DocumentMeta(**meta), content_hash=f"hash-{doc_id}")  # type: ignore[arg-type]


def assert_citations_exact(pipeline: Pipeline, answer: Answer) -> None:
    """Every citation quotes its document's cleaned text at exactly [start:end]."""
    for citation in answer.citations:
        text = pipeline.document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.quote, citation


@pytest.fixture
def citations_exact() -> Callable[[Pipeline, Answer], None]:
    """The assert_citations_exact helper, for test modules that prefer fixtures to imports."""
    return assert_citations_exact


@pytest.fixture
def clean_rag_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No RAG_* variables from the outer environment; the hashing embedder and a tmp model cache."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_EMBEDDER", "hashing")
    monkeypatch.setenv("RAG_READER", "none")
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    yield


# ------------------------------------------------------------------------------------- fake reader


class ScriptedReader:
    """A Reader that proposes a scripted answer wherever it occurs in a passage (margin +4), else nothing.

    Implements rag.reader.base.Reader; `calls` records every batch it was asked to read.
    """

    name = "scripted"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = []

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[str]], *, top_n: int = 5
    ) -> list[list[SpanProposal]]:
        """Proposals for each question, best first."""
        self.calls.append((tuple(questions), tuple(tuple(p) for p in passages)))
        out: list[list[SpanProposal]] = []
        for question, texts in zip(questions, passages, strict=True):
            want = self.answers.get(question)
            found = []
            for i, text in enumerate(texts):
                at = text.find(want) if want else -1
                if at >= 0:
                    found.append(SpanProposal(i, at, at + len(want or ""), want or "", 6.0 - i, 2.0))
            out.append(found[:top_n])
        return out
