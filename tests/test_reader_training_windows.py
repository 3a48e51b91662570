"""Reader training windows (rag/reader/training_windows.py): seeded crops with gold positions, batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from rag.reader.training_config import TrainConfig
from rag.reader.training_examples import Example
from rag.reader.training_windows import TrainWindow, batches, build_windows, code_switched

CHARS = "".join(chr(0x4E00 + i) for i in range(200)) + "0123456789.%?,，。"


@pytest.fixture
def tokenizer_path(tmp_path: Path) -> Path:
    """One token per character, saved as a tokenizer.json."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3} | {c: 10 + i for i, c in enumerate(CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def ids(text: str) -> tuple[int, ...]:
    return tuple(10 + CHARS.index(c) for c in text)


LONG = "".join(chr(0x4E00 + i % 150) for i in range(60)) + "三上8%" + "".join(chr(0x4E00 + i % 150) for i in range(60))
EXAMPLES = [
    Example("short", "一二?", "丁七万三上8%。", 3, "三上8%", False, "t"),
    Example("long", "一二?", LONG, 60, "三上8%", False, "t"),
    Example("none", "一二?", LONG, -1, "", True, "t"),
]
CONFIG = TrainConfig(max_tokens=32, max_question_tokens=6, negative_window_rate=1.0)


def test_answer_windows_point_at_the_answer_and_no_answer_windows_at_zero(tokenizer_path: Path) -> None:
    windows = build_windows(EXAMPLES, tokenizer_path, CONFIG)
    answered = [w for w in windows if (w.start, w.end) != (0, 0)]
    assert len(answered) == 2
    assert all(w.input_ids[w.start : w.end + 1] == ids("三上8%") for w in answered)
    assert all(len(w.input_ids) <= CONFIG.max_tokens for w in windows)
    # the long passage gives a window without its answer, the unanswerable question one more
    unanswered = [w for w in windows if (w.start, w.end) == (0, 0)]
    assert len(unanswered) == 2
    assert all(ids("三上8%") not in _runs(w) for w in unanswered)


def _runs(window: TrainWindow) -> list[tuple[int, ...]]:
    n = len(ids("三上8%"))
    return [window.input_ids[i : i + n] for i in range(len(window.input_ids) - n + 1)]


def test_windows_are_seeded(tokenizer_path: Path) -> None:
    assert build_windows(EXAMPLES, tokenizer_path, CONFIG) == build_windows(EXAMPLES, tokenizer_path, CONFIG)


def test_answers_longer_than_the_budget_are_skipped(tokenizer_path: Path) -> None:
    config = TrainConfig(max_tokens=32, max_question_tokens=6, max_answer_tokens=3)
    assert build_windows(EXAMPLES[:1], tokenizer_path, config) == []


def test_batches_keep_order_and_the_last_one_is_short() -> None:
    windows = [TrainWindow((i,), 0, 0) for i in range(5)]
    assert [[w.input_ids[0] for w in b] for b in batches(windows, 2)] == [[0, 1], [2, 3], [4]]


def test_no_code_switched_copies_unless_asked() -> None:
    assert code_switched(EXAMPLES, TrainConfig(), seed=1) == []
