"""LLM answers from any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted Qwen/DeepSeek)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from rag.errors import GeneratorError
from rag.generators.base import Generator
from rag.generators.prompting import build_messages, final_answer, stream_llm_answer
from rag.types import Answer, Hit, ParsedQuery


class OpenAICompatibleGenerator:
    """Streams a chat completion at temperature 0, then verifies it; falls back to `fallback` when it cannot be trusted.

    Unreachable endpoints, HTTP errors and malformed responses do not raise: the answer is the fallback's, with
    `fallback_reason` saying what went wrong (a user would rather have the extractive answer than an error).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 512,
        *,
        fallback: Generator,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.fallback = fallback

    def generate(self, query: ParsedQuery, hits: Sequence[Hit]) -> Answer:
        """The verified LLM answer, or the fallback's answer with fallback_reason set."""
        return final_answer(self.stream(query, hits))

    def stream(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Answer text pieces as the endpoint sends them, then the final (verified or fallback) Answer."""
        return stream_llm_answer(
            lambda: self._deltas(query, hits), query, hits, fallback=self.fallback, backend=self.name
        )

    def _request(self, query: ParsedQuery, hits: Sequence[Hit]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": build_messages(query, hits),
            "stream": True,
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }

    def _deltas(self, query: ParsedQuery, hits: Sequence[Hit]) -> Iterator[str]:
        """Text deltas of one streamed completion; every failure becomes a GeneratorError."""
        url = f"{self.base_url}/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            with (
                httpx.Client(timeout=self.timeout_s) as client,
                client.stream("POST", url, json=self._request(query, hits), headers=headers) as response,
            ):
                if response.status_code >= 400:
                    body = response.read().decode("utf-8", "replace").strip()
                    raise GeneratorError(
                        f"LLM endpoint {url} returned HTTP {response.status_code}: {body[:200]}"
                    )
                if response.headers.get("content-type", "").startswith("application/json"):
                    # A server that ignores stream=true answers with one JSON body.
                    yield _message_content(_json(response.read().decode("utf-8", "replace")))
                    return
                yield from _sse_deltas(response.iter_lines())
        except httpx.TimeoutException as exc:
            raise GeneratorError(f"LLM endpoint {url} timed out after {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(f"LLM endpoint unreachable: {url} ({type(exc).__name__}: {exc})") from exc


def _json(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise GeneratorError(f"LLM endpoint sent malformed JSON: {payload[:200]!r}") from exc
    if not isinstance(data, dict):
        raise GeneratorError(f"LLM endpoint sent unexpected JSON: {payload[:200]!r}")
    if "error" in data:
        raise GeneratorError(f"LLM endpoint error: {json.dumps(data['error'], ensure_ascii=False)[:200]}")
    return data


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise GeneratorError(
            f"LLM endpoint response has no choices: {json.dumps(data, ensure_ascii=False)[:200]}"
        )
    if not choices or not isinstance(choices[0], dict):
        return {}
    return choices[0]


def _message_content(data: dict[str, Any]) -> str:
    message = _first_choice(data).get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def _sse_deltas(lines: Iterator[str]) -> Iterator[str]:
    """Content deltas from `data: {...}` Server-Sent Event lines, up to `data: [DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, `: keep-alive` comments, event:/id: fields
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        if not payload:
            continue
        delta = _first_choice(_json(payload)).get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            yield content
