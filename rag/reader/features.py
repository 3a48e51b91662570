"""Question/passage windows for the span reader: token ids, character offsets, answer positions.

One home for how a (question, passage) pair becomes model input, shared by training and inference so
the two can never disagree: `<s> question </s></s> passage-window </s>`, XLM-R style, with each
passage token carrying its character span in the passage. Position 0 (`<s>`) is the "no answer" slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BOS_ID, PAD_ID, EOS_ID = 0, 1, 2


@dataclass(frozen=True)
class WindowSpec:
    """How long windows are and how they overlap."""

    max_tokens: int = 128
    max_question_tokens: int = 40
    stride: int = 48
    """Passage tokens shared by neighbouring windows."""


@dataclass(frozen=True)
class Window:
    """One model input: a question with a slice of one passage."""

    passage_index: int
    input_ids: tuple[int, ...]
    context_start: int
    """Index in input_ids of the first passage token."""
    offsets: tuple[tuple[int, int], ...]
    """Character span in the passage of each passage token (len = passage tokens in this window)."""

    @property
    def context_end(self) -> int:
        """Index in input_ids one past the last passage token."""
        return self.context_start + len(self.offsets)

    def char_span(self, start_token: int, end_token: int) -> tuple[int, int]:
        """Passage character span of input positions start_token..end_token (inclusive)."""
        return (
            self.offsets[start_token - self.context_start][0],
            self.offsets[end_token - self.context_start][1],
        )

    def token_span(self, char_start: int, char_end: int) -> tuple[int, int] | None:
        """Input positions covering passage characters [char_start, char_end), or None if outside."""
        first = last = None
        for i, (a, b) in enumerate(self.offsets):
            if first is None and b > char_start:
                first = i
            if a < char_end:
                last = i
        if first is None or last is None or last < first:
            return None
        if self.offsets[first][0] > char_start or self.offsets[last][1] < char_end:
            return None
        return first + self.context_start, last + self.context_start


class Windower:
    """Tokenises questions and passages once and cuts them into overlapping windows."""

    def __init__(self, tokenizer: Tokenizer, spec: WindowSpec | None = None) -> None:
        self._tokenizer = tokenizer
        self.spec = spec or WindowSpec()

    def question_ids(self, questions: Sequence[str]) -> list[list[int]]:
        """Token ids of each question, cut to the spec's question budget."""
        encodings = self._tokenizer.encode_batch(list(questions), add_special_tokens=False)
        return [list(e.ids[: self.spec.max_question_tokens]) for e in encodings]

    def passage_tokens(self, passages: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids and character offsets of each passage."""
        encodings = self._tokenizer.encode_batch(list(passages), add_special_tokens=False)
        return [(list(e.ids), _clean_offsets(e.offsets)) for e in encodings]

    def windows(
        self,
        question: list[int],
        passage: tuple[list[int], list[tuple[int, int]]],
        passage_index: int = 0,
    ) -> list[Window]:
        """Every window of one passage for one question (at least one, even for an empty passage)."""
        ids, offsets = passage
        room = max(8, self.spec.max_tokens - len(question) - 4)
        step = max(1, room - self.spec.stride)
        prefix = (BOS_ID, *question, EOS_ID, EOS_ID)
        out: list[Window] = []
        begin = 0
        while True:
            end = min(len(ids), begin + room)
            out.append(
                Window(
                    passage_index=passage_index,
                    input_ids=(*prefix, *ids[begin:end], EOS_ID),
                    context_start=len(prefix),
                    offsets=tuple(offsets[begin:end]),
                )
            )
            if end >= len(ids):
                return out
            begin += step

    def window_at(
        self,
        question: list[int],
        passage: tuple[list[int], list[tuple[int, int]]],
        first_token: int,
    ) -> Window:
        """The window of one passage that starts at passage token `first_token` (training crops)."""
        ids, offsets = passage
        room = max(8, self.spec.max_tokens - len(question) - 4)
        first_token = max(0, min(first_token, max(0, len(ids) - room)))
        end = min(len(ids), first_token + room)
        prefix = (BOS_ID, *question, EOS_ID, EOS_ID)
        return Window(
            passage_index=0,
            input_ids=(*prefix, *ids[first_token:end], EOS_ID),
            context_start=len(prefix),
            offsets=tuple(offsets[first_token:end]),
        )

    def room(self, question: list[int]) -> int:
        """Passage tokens that fit beside this question."""
        return max(8, self.spec.max_tokens - len(question) - 4)


def _clean_offsets(offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    # Metaspace gives the first piece of a word a zero-width "▁" prefix; its offsets are already the
    # word's characters, but a lone "▁" token has an empty span that must not become an answer edge.
    return [(a, max(a, b)) for a, b in offsets]
