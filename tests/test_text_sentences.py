"""rag/text/sentences.py: sentences and clauses with exact offsets."""

from __future__ import annotations

from rag.text.sentences import clauses, first_sentence, pieces, split_sentences


def test_split_sentences_keeps_exact_offsets() -> None:
    text = "  第一句话。第二句话!第三句话?最后一句;尾巴  "
    offset = 100
    spans = split_sentences(text, offset)
    assert [s.text for s in spans] == ["第一句话。", "第二句话!", "第三句话?", "最后一句;", "尾巴"]
    for s in spans:
        assert text[s.start - offset : s.end - offset] == s.text


def test_split_sentences_of_blank_text_is_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n ") == []


def test_clauses() -> None:
    text = "地区生产总值增长7.7%左右,一般公共预算收入增长2%;城乡居民收入同步。"
    spans = clauses(text)
    assert [text[a:b] for a, b in spans] == ["地区生产总值增长7.7%左右", "一般公共预算收入增长2%", "城乡居民收入同步"]
    assert clauses("") == []
    assert clauses("没有标点") == [(0, 4)]


def test_pieces_end_at_the_given_characters_within_a_window() -> None:
    text = "第一，第二：第三。 第四"
    assert [text[s:e] for s, e in pieces(text, "，：")] == ["第一，", "第二：", "第三。 第四"]
    assert [text[s:e] for s, e in pieces(text, "，", 3, 9)] == ["第二：第三。"]
    assert pieces(" \n ", "。") == []


def test_first_sentence() -> None:
    assert first_sentence("增长7.7%左右。其余不计") == "增长7.7%左右。"
    assert first_sentence("About 7.7%. The rest") == "About 7.7%."
    assert first_sentence("no end") == "no end"
