"""LLM answers from a local transformers model (a model directory or a GGUF file); never downloads anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import GeneratorError, ModelUnavailableError
from rag.generators.base import Generator
from rag.generators.prompting import ChatMessage, build_messages, final_answer, stream_llm_answer
from rag.types import Answer, Hit, ParsedQuery


class TransformersGenerator:
    """Greedy generation with a local causal LM, streamed token by token, then verified like the HTTP backend.

    The model is loaded by `load()` (or lazily on first use). A GGUF file is read by transformers' GGUF loader,
    which dequantises it (slow to load, several GB of RAM for a 0.5B model; an OpenAI-compatible llama.cpp
    server is the faster way to run GGUF models).
    """

    name = "transformers"

    def __init__(self, model_path: str | Path, max_new_tokens: int = 512, *, fallback: Generator) -> None:
        self.model_path = Path(model_path)
        self.max_new_tokens = max_new_tokens
        self.fallback = fallback
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load tokenizer and model from the local path (idempotent); ModelUnavailableError says what is missing."""
        with self._lock:
            if self._model is not None:
                return
            self._tokenizer, self._model = _load_local(self.model_path)

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """The verified model answer, or the fallback's answer with fallback_reason set."""
        return final_answer(self.stream(query, hits))

    def stream(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Answer text pieces as tokens are decoded, then the final (verified or fallback) Answer."""
        if hits:
            self.load()  # a missing model is a configuration error, not something to fall back from
        return stream_llm_answer(
            lambda: self._deltas(build_messages(query, hits)),
            query,
            hits,
            fallback=self.fallback,
            backend=self.name,
        )

    def _deltas(self, messages: list[ChatMessage]) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        tokenizer, model = self._tokenizer, self._model
        inputs = _encode(tokenizer, messages)
        streamer: Any = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                model.generate(
                    **inputs,
                    streamer=streamer,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
            except Exception as exc:  # re-raised in the consuming thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="transformers-generate", daemon=True)
        thread.start()
        for text in streamer:
            if text:
                yield text
        thread.join()
        if failure:
            raise GeneratorError(f"local model generation failed: {failure[0]}") from failure[0]


def _encode(tokenizer: Any, messages: list[ChatMessage]) -> dict[str, Any]:
    """Token ids through the model's chat template (plain role-prefixed text if it has none)."""
    if getattr(tokenizer, "chat_template", None):
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return dict(encoded)
    prompt = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages) + "\n\nAssistant:"
    return dict(tokenizer(prompt, return_tensors="pt"))


def _load_local(path: Path) -> tuple[Any, Any]:
    """(tokenizer, model) from a model directory or a .gguf file, offline."""
    if not path.exists():
        raise ModelUnavailableError(
            f"no local model at {path} — set RAG_LLM_MODEL_PATH to a transformers model directory or a .gguf file"
        )
    kwargs: dict[str, Any] = {"local_files_only": True}
    source = str(path)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelUnavailableError(
                f"{path} is a file but not a .gguf model; give a model directory or a .gguf file"
            )
        try:
            import gguf  # noqa: F401 - transformers' GGUF loader imports it lazily; fail early with a clear message
        except ImportError as exc:
            raise ModelUnavailableError(
                f"reading {path.name} needs the gguf package: pip install gguf"
            ) from exc
        kwargs["gguf_file"] = path.name
        source = str(path.parent)
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelUnavailableError(
            "generator=transformers needs transformers: pip install transformers"
        ) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model: Any = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot load a causal LM from {path}: {exc}") from exc
    model.eval()
    return tokenizer, model
