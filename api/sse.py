"""Server-Sent Events framing for /v1/ask (token/answer/error events) and OpenAI-style chat chunks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from api.problems import exception_to_problem
from rag.serialization import answer_to_dict
from rag.types import Answer

SSE_MEDIA_TYPE = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse_event(data: str, event: str | None = None) -> bytes:
    """One SSE event; multi-line data is split over several `data:` lines as the spec requires."""
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def ask_events(items: Callable[[], Iterator[str | Answer]]) -> Iterator[bytes]:
    """`event: token` with `{"text": piece}` per piece, then `event: answer` (the Answer JSON).

    Failures after the stream has started become one `event: error` with a problem JSON.
    """
    try:
        for item in items():
            if isinstance(item, Answer):
                yield sse_event(_dumps(answer_to_dict(item)), "answer")
                return
            if item:
                yield sse_event(_dumps({"text": item}), "token")
        raise RuntimeError("the answer stream ended without a final answer")
    except Exception as exc:
        yield sse_event(_dumps(exception_to_problem(exc)), "error")


def chat_completion_id() -> str:
    """An OpenAI-style completion id."""
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def chat_events(items: Callable[[], Iterator[str | Answer]], model: str) -> Iterator[bytes]:
    """OpenAI `chat.completion.chunk` events ending in `data: [DONE]`; citations ride on the last chunk."""
    cid, created = chat_completion_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse_event(_dumps(body))

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    try:
        for item in items():
            if isinstance(item, Answer):
                full = item.answer
                sent = "".join(streamed)
                # The final text may extend what was streamed (or replace it after a fallback): send the rest.
                if full.startswith(sent) and len(full) > len(sent):
                    yield chunk({"content": full[len(sent) :]})
                answer = answer_to_dict(item)
                yield chunk({}, "stop", citations=answer["citations"], answer=answer)
                break
            if item:
                streamed.append(item)
                yield chunk({"content": item})
        else:
            raise RuntimeError("the answer stream ended without a final answer")
    except Exception as exc:
        yield sse_event(_dumps({"error": exception_to_problem(exc)}))
    yield sse_event("[DONE]")
