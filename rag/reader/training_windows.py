"""Reader training windows: seeded crops of the examples, code-switched copies, and the batches of one pass."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from rag.reader.training_config import TrainConfig
from rag.reader.training_examples import Example

logger = logging.getLogger("rag.reader.training_windows")


def code_switched(examples: list[Example], config: TrainConfig, seed: int) -> list[Example]:
    """A seeded share of the examples with their questions partly in English."""
    if config.code_switch_rate <= 0:
        return []
    from rag.reader.code_switching import load_code_switcher

    switcher = load_code_switcher()
    lexicon = None
    if config.inline_chinese_rate > 0:
        from rag.knowledge.bilingual import load_lexicon, with_chinese

        lexicon = load_lexicon()
    rng = random.Random(seed)
    out = []
    for example in examples:
        if rng.random() >= config.code_switch_rate:
            continue
        question = switcher.switch(example.question, rng, config.code_switch_word_rate)
        if lexicon is not None and rng.random() < config.inline_chinese_rate:
            question = with_chinese(question, lexicon)
        if question != example.question:
            out.append(replace(example, qid=f"{example.qid}#cs", question=question))
    return out


@dataclass(frozen=True)
class TrainWindow:
    """Model input with its gold start/end positions (0, 0 = no answer)."""

    input_ids: tuple[int, ...]
    start: int
    end: int


def build_windows(examples: list[Example], tokenizer_path: Path, config: TrainConfig) -> list[TrainWindow]:
    """Seeded crops of every example (see the `rag.reader.training` docstring)."""
    from tokenizers import Tokenizer

    from rag.reader.features import Windower, WindowSpec

    windower = Windower(
        Tokenizer.from_file(str(tokenizer_path)),
        WindowSpec(max_tokens=config.max_tokens, max_question_tokens=config.max_question_tokens),
    )
    rng = random.Random(config.seed)
    questions = windower.question_ids([e.question for e in examples])
    contexts = sorted({e.context for e in examples})
    tokens = dict(zip(contexts, windower.passage_tokens(contexts), strict=True))
    out: list[TrainWindow] = []
    for example, question in zip(examples, questions, strict=True):
        passage = tokens[example.context]
        room = windower.room(question)
        n = len(passage[0])
        if example.impossible:
            window = windower.window_at(question, passage, rng.randrange(max(1, n - room + 1)))
            out.append(TrainWindow(window.input_ids, 0, 0))
            continue
        full = windower.window_at(question, passage, 0) if n <= room else None
        span = _answer_tokens(passage[1], example.answer_start, example.answer_start + len(example.answer_text))
        if span is None or span[1] - span[0] + 1 > min(room, config.max_answer_tokens):
            continue
        first = rng.randint(max(0, span[1] - room + 1), span[0]) if full is None else 0
        window = full or windower.window_at(question, passage, first)
        located = window.token_span(example.answer_start, example.answer_start + len(example.answer_text))
        if located is None:
            continue
        out.append(TrainWindow(window.input_ids, located[0], located[1]))
        if n > room and rng.random() < config.negative_window_rate:
            # a window entirely before or after the answer
            choices = []
            if span[0] >= room:
                choices.append(rng.randrange(0, span[0] - room + 1))
            if n - span[1] - 1 >= room:
                choices.append(rng.randrange(span[1] + 1, n - room + 1))
            if choices:
                negative = windower.window_at(question, passage, rng.choice(choices))
                out.append(TrainWindow(negative.input_ids, 0, 0))
    rng.shuffle(out)
    return out


def _answer_tokens(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    first = next((i for i, (_, b) in enumerate(offsets) if b > start), None)
    last = None
    for i, (a, _) in enumerate(offsets):
        if a < end:
            last = i
    if first is None or last is None or last < first:
        return None
    return first, last


def batches(windows: list[TrainWindow], size: int) -> Iterator[list[TrainWindow]]:
    """The windows in order, `size` at a time (the last batch may be smaller)."""
    for i in range(0, len(windows), size):
        yield windows[i : i + size]


def windows_for_pass(examples: list[Example], base_dir: Path, config: TrainConfig, index: int) -> list[TrainWindow]:
    """One pass: fresh crops of (a share of) the originals plus code-switched copies, shuffled."""
    seed = config.seed + index
    rng = random.Random(seed)
    originals = [e for e in examples if rng.random() < config.original_rate]
    chosen = originals + code_switched(examples, config, seed)
    windows = build_windows(chosen, base_dir / "tokenizer.json", replace(config, seed=seed))
    logger.info("pass %d: %d questions (%d code-switched), %d windows", index, len(chosen), len(chosen) - len(originals), len(windows))
    return windows
