"""POST /v1/search: ranked passages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import JsonBody, PipelineDep, SettingsDep, check_question
from api.problems import problem_responses
from api.schemas import SearchOut, SearchRequest
from api.security import ReadAccess
from rag.serialization import search_to_dict

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search",
    response_model=SearchOut,
    dependencies=[JsonBody],
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
)
def search(body: SearchRequest, pipeline: PipelineDep, settings: SettingsDep, _access: ReadAccess) -> Any:
    """The passages most relevant to a query, best first."""
    query = check_question(body.query, settings, field="query")
    filters = body.filters.to_query_filters() if body.filters else None
    return search_to_dict(pipeline.search(query, k=body.k, filters=filters))
