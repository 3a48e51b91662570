"""Windows of (question, passage) pairs: offsets, overlap, answer positions."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from rag.reader.features import BOS_ID, EOS_ID, Window, Windower, WindowSpec


def char_tokenizer() -> Tokenizer:
    """One token per character (ids from 3), enough to test the windowing arithmetic."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3} | {chr(c): c - 0x4E00 + 10 for c in range(0x4E00, 0x4E00 + 200)}
    vocab |= {c: 300 + i for i, c in enumerate("0123456789.%?,，。abcdefghijklmnopqrstuvwxyz ")}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return tok


@pytest.fixture
def windower() -> Windower:
    return Windower(char_tokenizer(), WindowSpec(max_tokens=24, max_question_tokens=6, stride=4))


def test_window_layout_is_bos_question_eos_eos_passage_eos(windower: Windower) -> None:
    q = windower.question_ids(["一二三"])[0]
    passage = windower.passage_tokens(["一丁七万丈"])[0]
    (w,) = windower.windows(q, passage)
    assert w.input_ids[0] == BOS_ID and w.input_ids[-1] == EOS_ID
    assert w.input_ids[1:4] == tuple(q) and w.input_ids[4:6] == (EOS_ID, EOS_ID)
    assert w.context_start == 6 and w.context_end == 11
    assert w.char_span(6, 10) == (0, 5)


def test_long_passages_are_cut_into_overlapping_windows_covering_every_character(windower: Windower) -> None:
    text = "".join(chr(0x4E00 + i) for i in range(60))
    q = windower.question_ids(["一二"])[0]
    windows = windower.windows(q, windower.passage_tokens([text])[0], passage_index=3)
    assert len(windows) > 2 and all(w.passage_index == 3 for w in windows)
    assert all(len(w.input_ids) <= 24 for w in windows)
    covered = {c for w in windows for a, b in w.offsets for c in range(a, b)}
    assert covered == set(range(60))
    first, second = windows[0], windows[1]
    assert first.offsets[-4:] == second.offsets[:4]  # stride 4


def test_question_is_cut_to_its_budget(windower: Windower) -> None:
    assert len(windower.question_ids(["一二三四五六七八九"])[0]) == 6


def test_token_span_round_trips_and_rejects_spans_outside_the_window(windower: Windower) -> None:
    text = "今年目标是增长7.7%左右"
    q = windower.question_ids(["目标"])[0]
    w = windower.windows(q, windower.passage_tokens([text])[0])[0]
    start = text.index("7.7%")
    span = w.token_span(start, start + 4)
    assert span is not None and text[slice(*w.char_span(*span))] == "7.7%"
    assert w.token_span(100, 104) is None


def test_empty_passage_still_gives_one_window(windower: Windower) -> None:
    q = windower.question_ids(["一"])[0]
    (w,) = windower.windows(q, windower.passage_tokens([""])[0])
    assert isinstance(w, Window) and w.offsets == () and w.context_end == w.context_start


def test_window_at_clamps_to_the_passage(windower: Windower) -> None:
    text = "".join(chr(0x4E00 + i) for i in range(40))
    q = windower.question_ids(["一"])[0]
    passage = windower.passage_tokens([text])[0]
    w = windower.window_at(q, passage, 10_000)
    assert w.offsets[-1] == (39, 40) and len(w.offsets) == windower.room(q)


