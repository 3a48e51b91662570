"""rag/lexical.py: jieba tokenisation with domain words and character bigrams; BM25 scoring."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import pipeline_tokenizer

from rag.lexical import BM25, Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return pipeline_tokenizer()


# ----------------------------------------------------------------------------------------- tokenizer


def test_domain_words_stay_whole(tokenizer: Tokenizer) -> None:
    assert tokenizer.cut("地区生产总值增长7.7%左右,一般公共预算收入增长2%。") == [
        "地区生产总值", "增长", "7.7%", "左右", ",", "一般公共预算收入", "增长", "2%", "。",
    ]


def test_search_mode_adds_the_parts_of_long_words(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("地区生产总值", bigrams=False)
    assert "地区生产总值" in tokens and "地区" in tokens and "总值" in tokens


def test_bigrams_of_chinese_runs(tokenizer: Tokenizer) -> None:
    without = tokenizer.tokenize("开展四洗行动", bigrams=False)
    with_bigrams = tokenizer.tokenize("开展四洗行动")
    assert without == ("开展", "四洗", "行动")
    assert with_bigrams[: len(without)] == without
    assert with_bigrams[len(without) :] == ("开展", "展四", "四洗", "洗行", "行动")


def test_bigrams_do_not_cross_punctuation_or_latin(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("海珠,GDP增长")
    assert "珠增" not in tokens and "珠," not in tokens
    assert "海珠" in tokens and "增长" in tokens


def test_normalisation_lowercase_and_stopwords(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("ＧＤＰ增长，What is the GDP of Haizhu?", bigrams=False)
    assert tokens == ("gdp", "增长", "gdp", "haizhu")
    assert tokenizer.tokenize("的 了 和 是 , 。 !", bigrams=False) == ()
    assert tokenizer.tokenize("") == ()


# ----------------------------------------------------------------------------------------- BM25

DOCS = [
    ["海珠", "湿地", "建设", "湿地"],
    ["地区生产总值", "增长", "建设"],
    ["琶洲", "互联网", "创新", "建设", "增长"],
    ["官洲岛", "整体", "搬迁", "建设"],
]


def test_the_document_with_the_rare_term_ranks_first() -> None:
    bm25 = BM25(DOCS)
    scores = bm25.scores(["建设", "官洲岛"])
    assert int(np.argmax(scores)) == 3
    assert scores[3] > 0 and all(scores[i] < scores[3] for i in range(3))


def test_idf_of_rare_terms_is_higher_and_unseen_terms_are_zero() -> None:
    bm25 = BM25(DOCS)
    assert bm25.idf("官洲岛") > bm25.idf("增长") > bm25.idf("建设") > 0
    assert bm25.idf("北京") == 0.0
    np.testing.assert_array_equal(bm25.scores(["北京"]), np.zeros(4, dtype=np.float32))


def test_repeated_query_tokens_count_once() -> None:
    bm25 = BM25(DOCS)
    np.testing.assert_allclose(bm25.scores(["湿地", "湿地", "湿地"]), bm25.scores(["湿地"]))


def test_term_frequency_saturates_and_length_normalises() -> None:
    bm25 = BM25([["湿地"], ["湿地", "湿地"], ["湿地", "其他", "其他", "其他", "其他", "其他"], ["别的"]])
    s = bm25.scores(["湿地"])
    assert s[1] > s[0] > s[2] > 0  # tf helps, a long document is penalised
    assert s[1] < 2 * s[0]  # ... but tf saturates
    assert s[3] == 0


def test_per_token_weights_scale_contributions() -> None:
    bm25 = BM25(DOCS)
    plain = bm25.scores(["湿地", "琶洲"])
    weighted = bm25.scores(["湿地", "琶洲"], weights=[2.0, 0.0])
    np.testing.assert_allclose(weighted[0], 2 * plain[0], rtol=1e-6)
    assert weighted[2] == 0 and plain[2] > 0


def test_empty_corpus_scores_nothing() -> None:
    bm25 = BM25([])
    assert bm25.scores(["湿地"]).shape == (0,)
    assert bm25.idf("湿地") == 0.0


def test_bm25_over_tokenized_passages_prefers_the_matching_passage(tokenizer: Tokenizer) -> None:
    passages = [
        "今年经济社会发展主要预期目标是:地区生产总值增长7.7%左右。",
        "全力以赴完成官洲岛整体搬迁工作。",
        "海珠湿地三期基本建成。",
    ]
    bm25 = BM25([tokenizer.tokenize(p) for p in passages])
    assert int(np.argmax(bm25.scores(tokenizer.tokenize("官洲岛搬迁")))) == 1
    assert int(np.argmax(bm25.scores(tokenizer.tokenize("地区生产总值增长目标")))) == 0
