"""POST /v1/ask: an answer with citations, as JSON or as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from api.deps import JsonBody, PipelineDep, SettingsDep, check_question
from api.problems import problem_responses
from api.schemas import AnswerOut, AskRequest, to_turns
from api.security import ReadAccess
from api.sse import SSE_HEADERS, SSE_MEDIA_TYPE, ask_events
from rag.serialization import answer_to_dict
from rag.types import Answer

router = APIRouter(tags=["ask"])


@router.post(
    "/v1/ask",
    response_model=AnswerOut,
    dependencies=[JsonBody],
    responses={
        **problem_responses(400, 401, 403, 413, 415, 422, 429, 502, 503),
        200: {
            "description": "The Answer JSON, or with `stream: true` an event stream: `event: token` "
            '(`{"text": "..."}`) chunks, then `event: answer` (the Answer JSON) or `event: error` (a problem).',
            "content": {SSE_MEDIA_TYPE: {}},
        },
    },
)
def ask(body: AskRequest, pipeline: PipelineDep, settings: SettingsDep, _access: ReadAccess) -> Any:
    """Answer a question from the indexed reports, citing the sentences it rests on."""
    question = check_question(body.question, settings)
    filters = body.filters.to_query_filters() if body.filters else None
    history = to_turns(body.history)
    if body.stream:

        def items() -> Iterator[str | Answer]:
            return pipeline.ask_stream(question, filters=filters, history=history)

        return StreamingResponse(ask_events(items), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
    return answer_to_dict(pipeline.ask(question, filters=filters, history=history))
