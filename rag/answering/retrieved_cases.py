"""Calibration cases read the way the answerer reads: training questions over a retrieved index.

The single-passage cases of `calibration_fit` say how far the reader's own scores can be trusted, but
not where the span's passage stood among the retrieved ones, nor how often the same answer came back
from several passages. Here the fitting questions go through the real pipeline over an index built
from training passages only:

- the calibration slice's passages (kept out of reader training) plus twice as many other training
  passages as distractors, first those of the same articles (a corpus about the size of CMRC's 848,
  and, like it, several passages per article);
- a seeded quarter of the slice's passages is *withheld* from the index: its answerable questions then
  have no answer anywhere (the RGB situation: related passages, none answering);
- ChineseSquad's unanswerable questions stay unanswerable.

Every candidate span the answerer scores becomes a row (right when it comes from the answering
document and matches the gold answer as `calibration_fit.label` judges spans); the calibrator is fitted on
each question's candidate the reader ranks first (`best_by_margin`).
English questions can be fitted the same way on XQuAD's odd articles over the XQuAD passages
(`--english … --retrieval`); measured, that did worse than the single-passage English fit, which stays.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path

from rag.answering.calibration import ANSWER_SLACK, AnswerFeatures
from rag.reader.training_examples import Example

logger = logging.getLogger("rag.answering.retrieved_cases")
WITHHELD_SHARE = 0.25
DISTRACTORS_PER_PASSAGE = 2


@dataclass(frozen=True)
class Document:
    """One indexed passage."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class FitQuestion:
    """A fitting question and the indexed document that answers it (None: nothing indexed does)."""

    example: Example
    doc_id: str | None


def passage_id(context: str) -> str:
    """A stable document id for a training passage."""
    return "train:" + hashlib.blake2b(context.encode("utf-8"), digest_size=8).hexdigest()


def passage_title(context: str) -> str:
    """The passage's opening clause, as a stand-in for its article title."""
    head = re.split(r"[，。；：,;:！？!?\n]", context.strip(), maxsplit=1)[0]
    return head[:20] or "passage"


def training_corpus(
    slice_examples: Sequence[Example], other_examples: Sequence[Example], seed: int
) -> tuple[list[Document], list[FitQuestion]]:
    """The index documents and the fitting questions (see module docstring), seeded. The distractors are
    first the other passages of the slice passages' own articles (the hard case: same subject, no
    answer), then random training passages."""
    rng = random.Random(seed)
    contexts = sorted({e.context for e in slice_examples})
    withheld = set(rng.sample(contexts, int(len(contexts) * WITHHELD_SHARE)))
    articles = {e.article for e in slice_examples if e.article}
    taken = set(contexts)
    siblings = sorted({e.context for e in other_examples if e.article in articles} - taken)
    others = sorted({e.context for e in other_examples} - taken - set(siblings))
    budget = DISTRACTORS_PER_PASSAGE * len(contexts)
    distractors = rng.sample(siblings, min(len(siblings), budget))
    distractors += rng.sample(others, min(len(others), budget - len(distractors)))
    docs = [Document(passage_id(c), passage_title(c), c) for c in [*contexts, *distractors] if c not in withheld]
    questions = [
        FitQuestion(e, None if e.impossible or e.context in withheld else passage_id(e.context)) for e in slice_examples
    ]
    return docs, questions


def xquad_corpus(xquad_dir: Path, examples: Sequence[Example], seed: int) -> tuple[list[Document], list[FitQuestion]]:
    """XQuAD's Chinese passages (a seeded quarter of the fitting articles' passages withheld) and the
    English fitting questions; `examples` carry the passage text as context (`english_examples`)."""
    rng = random.Random(seed)
    docs: list[Document] = []
    with (xquad_dir / "corpus_zh.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                docs.append(Document(str(record["doc_id"]), str(record.get("title") or ""), str(record["text"])))
    by_text = {d.text: d.doc_id for d in docs}
    fitting = sorted({by_text[e.context] for e in examples if e.context in by_text})
    withheld = set(rng.sample(fitting, int(len(fitting) * WITHHELD_SHARE)))
    questions = [FitQuestion(e, None if by_text.get(e.context) in withheld else by_text.get(e.context)) for e in examples]
    return [d for d in docs if d.doc_id not in withheld], questions


def write_corpus(docs: Iterable[Document], path: Path) -> Path:
    """The documents as a JSONL corpus the pipeline ingests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({"doc_id": d.doc_id, "title": d.title, "text": d.text, "meta": {}}, ensure_ascii=False))
            fh.write("\n")
    return path


def is_right(candidate: str, gold: str) -> bool:
    """Whether a candidate's text answers like the gold span: it holds it with at most ANSWER_SLACK more
    characters, or their longest common stretch covers half of their union (IoU >= 0.5)."""
    c, g = re.sub(r"\s+", "", candidate), re.sub(r"\s+", "", gold)
    if not c or not g:
        return False
    if g in c and len(c) - len(g) <= ANSWER_SLACK:
        return True
    common = SequenceMatcher(None, c, g, autojunk=False).find_longest_match(0, len(c), 0, len(g)).size
    return common / (len(c) + len(g) - common) >= 0.5


@dataclass(frozen=True)
class CandidateRow:
    """One scored candidate of one fitting question."""

    question: int
    features: AnswerFeatures
    right: bool


def best_by_margin(rows: Iterable[CandidateRow]) -> list[CandidateRow]:
    """Each question's row with the highest reader margin, in first-seen question order."""
    best: dict[int, CandidateRow] = {}
    for r in rows:
        if r.question not in best or r.features.margin > best[r.question].features.margin:
            best[r.question] = r
    return list(best.values())


def save_rows(rows: Iterable[CandidateRow], path: Path) -> None:
    """The rows as JSONL (a refit with other features or costs need not read again)."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"question": r.question, "right": r.right, "features": asdict(r.features)}) + "\n")


def load_rows(path: Path) -> list[CandidateRow]:
    """Rows written by `save_rows`."""
    out: list[CandidateRow] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                out.append(CandidateRow(int(record["question"]), AnswerFeatures(**record["features"]), bool(record["right"])))
    return out


def read_over_index(
    questions: Sequence[FitQuestion], corpus: Path, index_dir: Path, weights: Path, cache_dir: Path
) -> list[CandidateRow]:
    """Ingest the corpus into a fresh index and score every candidate of every question with the
    answerer the pipeline builds over the given reader weights."""

    from rag.answering.reading import ReaderAnswerer
    from rag.pipeline_factory import load_pipeline
    from rag.settings import Settings

    if index_dir.exists():
        shutil.rmtree(index_dir)
    settings = Settings(index_dir=index_dir, reader_weights_dir=weights, cache_dir=cache_dir)
    pipeline = load_pipeline(settings, index_dir=index_dir)
    report = pipeline.ingest([corpus])
    logger.info("indexed %d documents (%d failed)", len(report.added) + len(report.updated), len(report.failed))
    answerer = pipeline.generator
    if not isinstance(answerer, ReaderAnswerer):
        raise SystemExit("the pipeline's answerer is not the reader (RAG_READER must be 'trained')")
    rows: list[CandidateRow] = []
    for qi, q in enumerate(questions):
        result = pipeline.search(q.example.question, k=pipeline.top_k)
        if result.reason or not result.hits:
            continue
        for span in answerer.candidates(result.query, result.hits):
            right = q.doc_id is not None and span.hit.chunk.doc_id == q.doc_id and is_right(span.text, q.example.answer_text)
            rows.append(CandidateRow(qi, span.features, right))
        if qi % 200 == 0:
            logger.info("read %d/%d questions, %d candidates", qi + 1, len(questions), len(rows))
    return rows
