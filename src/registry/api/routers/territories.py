"""The KATOTTG codifier (not personal data: not audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import Pagination, Session, TerritoriesRead
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond, respond_page
from registry.api.schemas.base import PageOf
from registry.api.schemas.territories import TerritoryDetail, TerritoryOut
from registry.domain.territories import queries
from registry.domain.territories.rules import CODE_PATTERN, Category

router = APIRouter(prefix="/territories", tags=["territories"])

Code = Annotated[
    str,
    Path(
        pattern=CODE_PATTERN,
        description="KATOTTG code: UA + 17 digits.",
        examples=["UA80000000000093317"],
    ),
]


@router.get(
    "",
    response_model=PageOf[TerritoryOut],
    name="list_territories",
    responses=problem_responses(401, 403, 422),
)
async def list_territories(
    request: Request,
    _caller: TerritoriesRead,
    session: Session,
    page: Pagination,
    parent: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="Direct children of this unit.")
    ] = None,
    category: Annotated[Category | None, Query(description="O, K, P, H, M, T, C, X or B.")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Part of the name, any case."),
    ] = None,
) -> Response:
    """Units of the codifier in code order."""
    result = await queries.list_territories(
        session, page, parent=parent, category=category.value if category else None, q=q
    )
    return respond_page(request, result, PageOf[TerritoryOut])


@router.get(
    "/{code}",
    response_model=TerritoryDetail,
    name="get_territory",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_territory(_caller: TerritoriesRead, session: Session, code: Code) -> Response:
    """One unit with its ancestors, broadest first."""
    return respond(await queries.get_territory(session, code), TerritoryDetail)
