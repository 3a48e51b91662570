"""OpenAI-compatible chat: POST /v1/chat/completions and GET /v1/models over the same pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from api.deps import JsonBody, PipelineDep, SettingsDep, check_question
from api.problems import ProblemError, problem_responses
from api.schemas import ChatCompletionRequest, ChatMessage, HistoryTurn, ModelListOut, to_turns
from api.security import ReadAccess
from api.sse import SSE_HEADERS, SSE_MEDIA_TYPE, chat_completion_id, chat_events
from rag.serialization import answer_to_dict
from rag.types import Answer

router = APIRouter(tags=["openai-compatible"])

MODEL_ID = "govreport-rag"


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[HistoryTurn]]:
    """The last user message as the question; earlier user/assistant pairs as history (system turns ignored)."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise ProblemError(
            422, "`messages` needs at least one message with role `user`.", slug="empty-question"
        )
    history: list[HistoryTurn] = []
    for message in messages[:last_user]:
        if message.role == "user":
            history.append(HistoryTurn(question=message.text()))
        elif message.role == "assistant" and history and not history[-1].answer:
            history[-1] = HistoryTurn(question=history[-1].question, answer=message.text())
    return messages[last_user].text(), history


@router.post(
    "/v1/chat/completions",
    dependencies=[JsonBody],
    responses={
        **problem_responses(400, 401, 403, 413, 415, 422, 429, 502, 503),
        200: {
            "description": "An OpenAI `chat.completion` (plus `citations` and the full `answer`), or with "
            "`stream: true` `chat.completion.chunk` events ending in `data: [DONE]`.",
            "content": {"application/json": {}, SSE_MEDIA_TYPE: {}},
        },
    },
)
def chat_completions(
    body: ChatCompletionRequest, pipeline: PipelineDep, settings: SettingsDep, _access: ReadAccess
) -> Any:
    """Answer the last user message; the reply text keeps its [n] markers and carries `citations`."""
    text, history = split_messages(body.messages)
    question = check_question(text, settings, field="messages[-1].content")
    filters = body.filters.to_query_filters() if body.filters else None
    turns = to_turns(history)
    model = body.model or MODEL_ID
    if body.stream:

        def items() -> Iterator[str | Answer]:
            return pipeline.ask_stream(question, filters=filters, history=turns)

        return StreamingResponse(chat_events(items, model), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    answer = answer_to_dict(pipeline.ask(question, filters=filters, history=turns))
    return {
        "id": chat_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer["answer"],
                    "citations": answer["citations"],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": answer["citations"],
        "answer": answer,
    }


@router.get("/v1/models", response_model=ModelListOut, responses=problem_responses(401, 403, 429))
def list_models(_access: ReadAccess) -> Any:
    """The one model this server offers (any `model` value is accepted by chat completions)."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "govreport-rag"}],
    }
