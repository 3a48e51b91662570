"""rag/knowledge/vocabulary.py: the packaged glossary, intent cue words and glossary matching."""

from __future__ import annotations

from rag.knowledge.vocabulary import domain_words, glossary_entries, intent_words, match_glossary


def test_glossary_maps_gdp_both_ways() -> None:
    gdp = next(e for e in glossary_entries() if "gdp" in e.en)
    assert gdp.kind == "metric"
    assert "地区生产总值" in gdp.zh
    assert "地区生产总值" in domain_words()
    assert all(len(w) >= 2 for w in domain_words())


def test_intent_words_by_language() -> None:
    words = intent_words()
    assert {"target", "achieved"} <= set(words)
    assert "目标" in words["target"]["zh"]
    assert "target" in words["target"]["en"]


def test_match_glossary_prefers_the_longest_phrase() -> None:
    entries = match_glossary("What was Haizhu's per capita GDP in 2017?", "en")
    assert entries[0].zh[0] == "人均地区生产总值"
    assert all(e.zh[0] != "地区生产总值" for e in entries)  # "gdp" inside "per capita gdp" is not matched again


def test_match_glossary_composes_general_entries() -> None:
    # A compound phrase is covered by its general parts rather than an entry of its own.
    entries = match_glossary("What was the exchange's futures trading volume in 2015?", "en")
    assert {e.zh[0] for e in entries} == {"交易量", "期货"}
    assert [e.kind for e in entries if e.zh[0] == "交易量"] == ["metric"]
    # Each English word maps to its own concept only.
    (software,) = match_glossary("How much did the district invest in software?", "en")
    assert software.zh == ("软件",)
