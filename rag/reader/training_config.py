"""Reader training settings (`TrainConfig`), shared by the windows, the loop and the command."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights."""

    seed: int = 20261201
    max_tokens: int = 128
    max_question_tokens: int = 40
    first_trainable_layer: int = 6
    batch_size: int = 16
    lr_encoder: float = 1e-4
    lr_head: float = 1e-3
    warmup_fraction: float = 0.06
    negative_window_rate: float = 0.5
    epochs: float = 1.0
    max_answer_tokens: int = 40
    code_switch_rate: float = 0.0
    """Share of each pass's questions repeated with words switched to English glosses (see code_switching)."""
    code_switch_word_rate: float = 0.7
    inline_chinese_rate: float = 0.0
    """Share of the code-switched questions then given the answerer's Chinese dictionary words after their English
    phrases (`rag.knowledge.bilingual.with_chinese`), so training sees English questions as they are read."""
    original_rate: float = 1.0
    """Share of the original (Chinese) windows kept in each pass (lower when warm-starting)."""
    init_from: str = ""
    """A shipped weights directory to start from (warm start); "" = the base model."""
