"""The Reader protocol: propose answer spans of passages, with scores, for a batch of questions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ReaderPrecision = Literal["auto", "bf16", "fp32"]
"""bf16: matrix products in bfloat16 (about 2.5x faster on CPUs with AVX512-BF16/AMX, EM -0.015 on a CMRC sample);
fp32: as trained; auto: bf16 where the CPU has bfloat16 instructions, else fp32."""


@dataclass(frozen=True)
class SpanProposal:
    """A span of one passage that may answer the question."""

    passage_index: int
    start: int
    """Character offset in the passage."""
    end: int
    text: str
    score: float
    """Start + end logit of the span."""
    null_score: float
    """Start + end logit of the "no answer" slot in the window the span was read in."""
    log_prob: float = 0.0
    """log P(start) + log P(end) of the span under the window's softmaxes (no-answer slot included)."""
    null_log_prob: float = 0.0
    """The same for the no-answer slot."""

    @property
    def margin(self) -> float:
        """How much the reader prefers this span to "no answer" (the main confidence signal)."""
        return self.score - self.null_score


class Reader(Protocol):
    """Extractive span reader."""

    name: str

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[str]], *, top_n: int = 5
    ) -> list[list[SpanProposal]]:
        """For each question, its best `top_n` spans over its own passages, best first."""
        ...
