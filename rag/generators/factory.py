"""The one place a generator backend is chosen by name."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, assert_never

from rag.errors import ModelUnavailableError
from rag.generators.base import Generator

GeneratorName = Literal["extractive", "openai", "transformers"]


def load_generator(
    name: GeneratorName,
    *,
    extractive: Generator,
    base_url: str = "http://127.0.0.1:8080/v1",
    model: str = "qwen2.5",
    api_key: str | None = None,
    timeout_s: float = 60.0,
    max_tokens: int = 512,
    model_path: str | Path | None = None,
) -> Generator:
    """The generator called `name`; LLM backends fall back to `extractive` when their answer cannot be trusted.

    Nothing is loaded here: a TransformersGenerator loads its model on `load()` or first use.
    """
    match name:
        case "extractive":
            return extractive
        case "openai":
            from rag.generators.openai import OpenAICompatibleGenerator

            return OpenAICompatibleGenerator(
                base_url, model, api_key, timeout_s, max_tokens, fallback=extractive
            )
        case "transformers":
            from rag.generators.local import TransformersGenerator

            if model_path is None:
                raise ModelUnavailableError(
                    "generator=transformers needs a local model: set RAG_LLM_MODEL_PATH to a model directory or .gguf file"
                )
            return TransformersGenerator(model_path, max_tokens, fallback=extractive)
        case _:
            assert_never(name)
