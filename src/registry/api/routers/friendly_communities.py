"""The Child and Youth Friendly Community initiative (UNICEF) per hromada: where each hromada
stands, its steps, and the next step recorded. Award and withdrawal of the status are the
ministry's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import Pagination, ProgrammesRead, Session
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import OptionalIfMatch, version_from
from registry.api.responses import respond, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import PageOf
from registry.api.schemas.friendly_communities import (
    FriendlyCommunity,
    FriendlyCommunitySummary,
    StepIn,
)
from registry.domain.friendly_communities import commands, queries
from registry.domain.friendly_communities.rules import Stage
from registry.domain.territories.rules import CODE_PATTERN

router = APIRouter(prefix="/friendly-communities", tags=["friendly-communities"])

HromadaCode = Annotated[
    str,
    Path(
        pattern=CODE_PATTERN,
        description="The hromada's KATOTTG code (UA + 17 digits).",
        examples=["UA32080070000050759"],
    ),
]


@router.get(
    "",
    response_model=PageOf[FriendlyCommunitySummary],
    name="list_friendly_communities",
    responses=problem_responses(403, 422),
)
async def list_friendly_communities(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    page: Pagination,
    stage: Annotated[Stage | None, Query(description="Only the hromadas at this stage.")] = None,
) -> Response:
    """The hromadas of the initiative within your reach (a hromada's staff: their own; a
    regional officer: their oblast's; the ministry: all), in code order."""
    result = await queries.list_communities(session, caller, page, stage)
    return respond_page(request, result, PageOf[FriendlyCommunitySummary])


@router.get(
    "/{hromada_code}",
    response_model=FriendlyCommunity,
    name="get_friendly_community",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_friendly_community(
    caller: ProgrammesRead, session: Session, hromada_code: HromadaCode
) -> Response:
    """The hromada's record with its whole history of steps (404 when it has none within
    your reach)."""
    community = await queries.get_community(session, caller, hromada_code)
    return respond(community, FriendlyCommunity, version=community["version"])


@router.post(
    "/{hromada_code}/steps",
    status_code=201,
    response_model=FriendlyCommunity,
    name="record_friendly_community_step",
    responses={
        **problem_responses(403, 404, 409, 412, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": links(
                {"hromada_code": "$response.body#/hromada_code"},
                GetFriendlyCommunity="get_friendly_community",
                RecordFriendlyCommunityStep="record_friendly_community_step",
            ),
        },
    },
)
async def record_friendly_community_step(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    idempotency: IdempotencyClaim,
    hromada_code: HromadaCode,
    body: StepIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Record the hromada's next step: its first is its council's decision (which makes its
    record), each later one the stage after the current one (409 naming the `allowed` ones
    otherwise). The hromada's community officers record the steps up to the assessment; the
    status is awarded and withdrawn by the national committee, so `status_awarded` and
    `status_withdrawn` are recorded by the ministry only (403 otherwise). `If-Match` (the
    record's ETag) is checked when sent."""
    if idempotency.replay is not None:
        return idempotency.replay
    community = await commands.record_step(
        session, caller, hromada_code, body.model_dump(), version_from(if_match)
    )
    return await idempotency.respond(
        community,
        FriendlyCommunity,
        status_code=201,
        version=community["version"],
        location=path_for(request, "get_friendly_community", hromada_code=hromada_code),
        resource_type=queries.FRIENDLY_COMMUNITY,
        resource_ids=[hromada_code],
    )
