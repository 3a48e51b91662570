"""The one place the span reader is chosen by name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rag.reader.base import Reader, ReaderPrecision

ReaderKind = Literal["trained", "none"]


def load_reader(
    kind: ReaderKind, *, cache_dir: Path, weights_dir: Path | None = None, precision: ReaderPrecision = "auto"
) -> Reader | None:
    """The configured reader (None: answer with the rule-based extractive answerer)."""
    match kind:
        case "none":
            return None
        case "trained":
            from rag.reader.torch_reader import TorchReader
            from rag.reader.weights import DEFAULT_WEIGHTS_DIR

            return TorchReader.load(weights_dir or DEFAULT_WEIGHTS_DIR, cache_dir=cache_dir, precision=precision)
