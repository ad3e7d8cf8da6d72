"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from registry.api.dependencies import database_reachable
from registry.api.openapi_responses import problem_responses
from registry.api.problems import problem_response
from registry.api.responses import respond
from registry.api.schemas.health import Health
from registry.errors import ServiceUnavailable

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Health, name="health_live", responses=problem_responses(500))
async def live() -> Response:
    """The process is up."""
    return respond({"status": "ok"}, Health)


@router.get(
    "/ready", response_model=Health, name="health_ready", responses=problem_responses(500, 503)
)
async def ready(request: Request) -> Response:
    """The process can reach its database: a connection is had and answers within the wait a
    request is allowed for one (a 503 as soon as requests would get one)."""
    if not await database_reachable(request):
        return problem_response(
            503,
            "The database is not reachable.",
            request_id=request.state.request_id,
            headers=ServiceUnavailable.default_headers,
        )
    return respond({"status": "ok"}, Health)
