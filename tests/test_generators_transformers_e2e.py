"""The transformers backend end to end: a tiny GPT-2 trained in the test answers through the real generate path."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_fakes import DOC_TEXT, ZH_QUERY, FakeExtractive, llm_hits

from rag.generators.local import TransformersGenerator, _encode
from rag.generators.prompting import build_messages
from rag.types import Answer, Hit, ParsedQuery

pytestmark = pytest.mark.slow

INVENTED_REPLY = "SHORT: 9.9%\nANSWER: 地区生产总值增长9.9%[1]。"
"""A well-formed reply whose figure appears in no passage (the passages say 7.7%左右)."""

SUPPORTED_QUERY = ParsedQuery(
    text="海珠区2018年经济增长的预期目标是什么？", language="zh", regions=("海珠区",), years=(2018,)
)
SUPPORTED_REPLY = "SHORT: 7.7%左右\nANSWER: 地区生产总值增长7.7%左右[1]。"
"""A reply that copies passage 1's figure with its qualifier and cites it."""

CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)
TRAIN_STEPS = 300
MAX_NEW_TOKENS = 64


def _supportedllm_hits() -> list[Hit]:
    """Passages 1-2 only: the shorter prompt puts this reply at positions no other reply uses."""
    return llm_hits()[:2]


def _cases() -> list[tuple[ParsedQuery, list[Hit], str]]:
    """(question, passages, reply the model is trained to give) for each trained behaviour."""
    return [(ZH_QUERY, llm_hits(), INVENTED_REPLY), (SUPPORTED_QUERY, _supportedllm_hits(), SUPPORTED_REPLY)]


def _save_char_tokenizer(path: Path) -> None:
    """A character-level WordLevel tokenizer covering every prompt and reply character, with a chat template."""
    import tokenizers
    import transformers

    chars = set(CHAT_TEMPLATE)
    for query, hits, reply in _cases():
        chars |= set(reply) | {c for m in build_messages(query, hits) for c in m["role"] + m["content"]}
    vocab = {"<unk>": 0, "<eos>": 1} | {c: i + 2 for i, c in enumerate(sorted(chars))}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    # Every character, newlines included, is its own token ("." would leave "\n\n" as one unknown piece).
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Split(tokenizers.Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = tokenizers.decoders.Fuse()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)


def _examples(tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """(prompt ids exactly as TransformersGenerator encodes them, reply ids + EOS) per case."""
    examples = []
    for query, hits, reply in _cases():
        prompt = _encode(tokenizer, build_messages(query, hits))["input_ids"][0].tolist()
        target = [*tokenizer(reply, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        assert tokenizer.unk_token_id not in prompt + target
        examples.append((prompt, target))
    return examples


def _train(model: Any, examples: list[tuple[list[int], list[int]]], steps: int) -> None:
    """Teach a 1-layer GPT-2 each prompt's reply, computing the long prompt prefixes' keys/values only once.

    The token embeddings, ln_1 and the q/k/v projection stay frozen and position rows inside the cached prefix
    get no gradient, so the cached keys/values are exactly those that generation computes from scratch.
    """
    import torch

    kv = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    for module in (model.transformer.wte, model.transformer.h[0].ln_1, model.transformer.h[0].attn.c_attn):
        module.requires_grad_(False)
    prefix = min(len(prompt) for prompt, _ in examples) - 1
    batches: list[tuple[Any, Any, Any]] = []
    with torch.no_grad():
        for prompt, target in examples:
            cache = model(input_ids=torch.tensor([prompt[:prefix]]), use_cache=True)[kv]
            rest = prompt[prefix:] + target
            labels = [-100] * (len(prompt) - prefix - 1) + target
            batches.append((cache, torch.tensor([rest[:-1]]), torch.tensor(labels)))
    frozen_positions = model.transformer.wpe.weight[:prefix].detach().clone()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()  # the caller sets every dropout to 0, so training sees exactly what generation computes
    for _ in range(steps):
        optimizer.zero_grad()
        for cache, ids, labels in batches:
            logits = model(input_ids=ids, use_cache=True, **{kv: copy.deepcopy(cache)}).logits[0]
            torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100).backward()
        optimizer.step()
    model.eval()
    assert torch.equal(model.transformer.wpe.weight[:prefix], frozen_positions)
    with torch.no_grad():  # greedy decoding will follow the trained path only if every argmax is right
        for prompt, target in examples:
            logits = model(input_ids=torch.tensor([prompt + target[:-1]])).logits[0, len(prompt) - 1 :]
            assert logits.argmax(-1).tolist() == target, "the tiny model did not learn its reply"


@pytest.fixture(scope="module")
def trained_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny GPT-2 fine-tuned to give INVENTED_REPLY to ZH_QUERY and SUPPORTED_REPLY to SUPPORTED_QUERY."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # leave the other cores to whatever else is running
    try:
        path = tmp_path_factory.mktemp("trained-lm")
        _save_char_tokenizer(path)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        examples = _examples(tokenizer)
        torch.manual_seed(0)
        config = transformers.GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=max(len(p) + len(t) for p, t in examples) + MAX_NEW_TOKENS,
            n_embd=32,
            n_layer=1,
            n_head=2,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            tie_word_embeddings=False,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.eos_token_id,
        )
        model = transformers.GPT2LMHeadModel(config)
        _train(model, examples, TRAIN_STEPS)
        model.save_pretrained(path)
        yield path
    finally:
        torch.set_num_threads(threads)


def _run(path: Path, query: ParsedQuery, hits: list[Hit]) -> tuple[str, Answer, FakeExtractive]:
    """Stream one answer from a freshly loaded generator: (visible text, final Answer, the fallback)."""
    fallback = FakeExtractive()
    *pieces, final = list(TransformersGenerator(path, MAX_NEW_TOKENS, fallback=fallback).stream(query, hits))
    assert isinstance(final, Answer) and all(isinstance(p, str) for p in pieces)
    return "".join(str(p) for p in pieces), final, fallback


def test_invented_number_generated_by_a_real_model_is_rejected(trained_lm_dir: Path) -> None:
    """Greedy decoding yields the invented 9.9%; the verifier rejects it and the fallback answers."""
    visible, final, fallback = _run(trained_lm_dir, ZH_QUERY, llm_hits())
    assert "9.9" in visible and visible == "地区生产总值增长9.9%[1]。"
    assert "9.9" not in DOC_TEXT
    assert final.backend == "extractive" and fallback.calls == [ZH_QUERY.text]
    assert final.fallback_reason == "unsupported number 9.9% in LLM answer"
    assert final.short_answer == "7.7%左右"


def test_supported_answer_generated_by_a_real_model_is_cited_exactly(trained_lm_dir: Path) -> None:
    """Greedy decoding yields a passage figure; it is kept, with citations quoting the document verbatim."""
    hits = _supportedllm_hits()
    visible, final, fallback = _run(trained_lm_dir, SUPPORTED_QUERY, hits)
    assert visible == "地区生产总值增长7.7%左右[1]。"
    assert final.backend == "transformers" and final.fallback_reason is None and not fallback.calls
    assert final.short_answer == "7.7%左右" and final.answer == "地区生产总值增长7.7%左右[1]。"
    assert [c.n for c in final.citations] == [1]
    for citation in final.citations:
        assert citation.doc_id == hits[0].chunk.doc_id
        assert citation.quote == DOC_TEXT[citation.start : citation.end] and "7.7%左右" in citation.quote
