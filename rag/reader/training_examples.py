"""Reader training data: the SQuAD-layout training files read as examples (DRCD converted with OpenCC t2s),
and the slice of passages held out of training for the answer/refuse calibration."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("rag.reader.training_examples")

TRAIN_FILES = (
    ("drcd_dev.squad.json", True),
    ("drcd_test.squad.json", True),
    ("cmrc2018_trial.squad.json", False),
    ("chinese_squad_v2_dev.squad.json", False),
)


@dataclass(frozen=True)
class Example:
    """One training question with its passage (simplified Chinese)."""

    qid: str
    question: str
    context: str
    answer_start: int
    answer_text: str
    impossible: bool
    source: str
    article: str = ""
    """The article the passage belongs to (source file and article id), when known."""


CALIBRATION_PERCENT = 7
"""Passages (by content hash) held out of reader training, to fit the answer/refuse calibration on."""


def is_calibration(example: Example) -> bool:
    """Whether the example's passage belongs to the held-out calibration slice."""
    digest = hashlib.blake2b(example.context.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < CALIBRATION_PERCENT


def load_examples(train_dir: Path) -> list[Example]:
    """All usable training questions; DRCD converted to simplified, offsets re-checked."""
    try:
        import opencc
    except ImportError as exc:
        raise SystemExit("reader training needs OpenCC: pip install -e '.[train]'") from exc

    t2s = opencc.OpenCC("t2s")
    out: list[Example] = []
    dropped = 0
    for name, traditional in TRAIN_FILES:
        path = train_dir / name
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in data:
            article_key = f"{name}:{article.get('id') or article.get('title') or ''}"
            for paragraph in article["paragraphs"]:
                raw_context = paragraph["context"]
                context = t2s.convert(raw_context) if traditional else raw_context
                same_length = len(context) == len(raw_context)
                for qa in paragraph["qas"]:
                    question = t2s.convert(qa["question"]) if traditional else qa["question"]
                    if qa.get("is_impossible") or not qa.get("answers"):
                        out.append(Example(str(qa["id"]), question, context, -1, "", True, name, article_key))
                        continue
                    answer = qa["answers"][0]
                    text = t2s.convert(answer["text"]) if traditional else answer["text"]
                    start = int(answer["answer_start"]) if same_length else -1
                    if context[start : start + len(text)] != text:
                        start = _nearest(context, text, int(answer["answer_start"]))
                    if start < 0 or not text.strip():
                        dropped += 1
                        continue
                    out.append(Example(str(qa["id"]), question, context, start, text, False, name, article_key))
    logger.info("loaded %d training questions (%d dropped: answer not found in passage)", len(out), dropped)
    return out


def _nearest(context: str, text: str, hint: int) -> int:
    best, pos = -1, context.find(text)
    while pos >= 0:
        if best < 0 or abs(pos - hint) < abs(best - hint):
            best = pos
        pos = context.find(text, pos + 1)
    return best
