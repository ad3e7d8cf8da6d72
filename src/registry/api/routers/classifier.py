"""The classifier of social services: read by everyone, kept by the ministry (reference data,
not personal data: reads are not audited, changes are)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import ClassifiersManage, Pagination, ReferenceRead, Session
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, required_version
from registry.api.responses import respond, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import PageOf
from registry.api.schemas.classifier import Service, ServiceCreate, ServicePatch
from registry.api.schemas.words import worded
from registry.domain.classifier import commands, queries
from registry.domain.classifier.rules import CODE_PATTERN, Purpose, ServiceKind

router = APIRouter(prefix="/services", tags=["services"])

ServiceCodePath = Annotated[
    str, Path(pattern=CODE_PATTERN, description="The classifier code.", examples=["002.0"])
]

_SERVICE_LINKS = links(
    {"code": "$response.body#/code"}, GetService="get_service", UpdateService="update_service"
)


@router.get(
    "", response_model=PageOf[Service], name="list_services", responses=problem_responses(403, 422)
)
async def list_services(
    request: Request,
    _caller: ReferenceRead,
    session: Session,
    page: Pagination,
    purpose: Annotated[Purpose | None, Query()] = None,
    kind: Annotated[ServiceKind | None, Query()] = None,
    basic: Annotated[
        bool | None, Query(description="Basic services only (true) or the others (false).")
    ] = None,
    active: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=worded(
                r"^[^\x00]*[^\s\x00][^\x00]*$",
                "must contain a character other than a space (and no NUL character)",
            ),
            description="Part of the Ukrainian or English name, any case.",
        ),
    ] = None,
) -> Response:
    """Services of the classifier in code order."""
    where = queries.ServiceFilter(purpose=purpose, kind=kind, basic=basic, active=active, q=q)
    result = await queries.list_services(session, page, where)
    return respond_page(request, result, PageOf[Service])


@router.get(
    "/{code}",
    response_model=Service,
    name="get_service",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_service(_caller: ReferenceRead, session: Session, code: ServiceCodePath) -> Response:
    """One service; the `ETag` is its version."""
    service = await queries.get_service(session, code)
    return respond(service, Service, version=service["version"])


@router.post(
    "",
    status_code=201,
    response_model=Service,
    name="create_service",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _SERVICE_LINKS,
        },
    },
)
async def create_service(
    request: Request,
    caller: ClassifiersManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ServiceCreate,
) -> Response:
    """Add a service to the classifier (ministry administrators). A code already there is a
    409."""
    if idempotency.replay is not None:
        return idempotency.replay
    service = await commands.create_service(session, caller, body.model_dump())
    return await idempotency.respond(
        service,
        Service,
        status_code=201,
        version=service["version"],
        location=path_for(request, "get_service", code=service["code"]),
        resource_type=queries.SERVICE,
        resource_ids=[service["code"]],
    )


@router.patch(
    "/{code}",
    response_model=Service,
    name="update_service",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/ServicePatch"}
                }
            }
        }
    },
    responses=problem_responses(403, 404, 412, 422, 428),
)
async def update_service(
    caller: ClassifiersManage,
    session: Session,
    code: ServiceCodePath,
    body: ServicePatch,
    if_match: IfMatch,
) -> Response:
    """Change a service (JSON merge patch); deactivate it instead of deleting. `If-Match` is
    required; a stale one is a 412 naming the fields changed since."""
    patch = body.model_dump(exclude_unset=True)
    service = await commands.update_service(
        session, caller, code, patch, required_version(if_match)
    )
    return respond(service, Service, version=service["version"])
