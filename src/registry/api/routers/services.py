"""The classifier of social services: read by everyone, kept by the ministry (reference data,
not personal data: reads are not audited, changes are)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, StrictBool, field_validator

from registry.api.dependencies import (
    ClassifiersManage,
    Pagination,
    ReferenceRead,
    Session,
    page_body,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, required_version
from registry.api.responses import etag
from registry.api.schemas.base import InputSchema, NotNull, PageOf, Schema, refuse_null, text_field
from registry.domain.classifier import commands as classifier
from registry.domain.classifier.commands import NAME_MAX_LENGTH, Purpose, ServiceKind
from registry.domain.classifier.rules import CODE_PATTERN

router = APIRouter(prefix="/services", tags=["services"])

ServiceCode = Annotated[
    str, Path(pattern=CODE_PATTERN, description="The classifier code.", examples=["002.0"])
]
ServiceName = Annotated[str, text_field(NAME_MAX_LENGTH)]


class ServiceCreate(InputSchema):
    code: str = Field(pattern=CODE_PATTERN, description="The classifier code, e.g. `002.0`.")
    name_uk: ServiceName = Field(description="The name in Ukrainian.")
    name_en: ServiceName = Field(description="The name in English.")
    purpose: Purpose
    kind: ServiceKind
    is_basic: StrictBool = Field(
        default=False, description="A basic service every hromada must ensure."
    )
    active: StrictBool = True


class ServicePatch(InputSchema):
    """A JSON merge patch (RFC 7396). A service is never deleted: set `active` to false."""

    name_uk: ServiceName | NotNull = None
    name_en: ServiceName | NotNull = None
    purpose: Purpose | NotNull = None
    kind: ServiceKind | NotNull = None
    is_basic: StrictBool | NotNull = None
    active: StrictBool | NotNull = None

    _not_null = field_validator("name_uk", "name_en", "purpose", "kind", "is_basic", "active")(
        refuse_null
    )


class Service(Schema):
    code: str
    name_uk: str
    name_en: str
    purpose: Purpose
    kind: ServiceKind
    is_basic: bool = Field(description="A basic service every hromada must ensure.")
    active: bool = Field(
        description="Inactive services are kept for the records that name "
        "them; providers cannot newly offer them."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")


_SERVICE_LINKS = links(
    {"code": "$response.body#/code"}, GetService="get_service", UpdateService="update_service"
)


@router.get(
    "", response_model=PageOf[Service], name="list_services", responses=problem_responses(403, 422)
)
async def list_services(
    request: Request,
    response: Response,
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
            pattern=r"^[^\x00]*[^\s\x00][^\x00]*$",
            description="Part of the Ukrainian or English name, any case.",
        ),
    ] = None,
) -> dict[str, object]:
    """Services of the classifier in code order."""
    result = await classifier.list_services(
        session,
        page,
        classifier.ServiceFilter(purpose=purpose, kind=kind, basic=basic, active=active, q=q),
    )
    return page_body(request, response, result, list(result.items))


@router.get(
    "/{code}",
    response_model=Service,
    name="get_service",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_service(
    response: Response, _caller: ReferenceRead, session: Session, code: ServiceCode
) -> dict[str, Any]:
    """One service; the `ETag` is its version."""
    service = await classifier.get_service(session, code)
    response.headers["ETag"] = etag(service["version"])
    return service


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
    service = await classifier.create_service(session, caller, body.model_dump())
    return await idempotency.respond(
        service,
        Service,
        status_code=201,
        version=service["version"],
        location=str(request.url_for("get_service", code=service["code"]).path),
        resource_type=classifier.SERVICE,
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
    response: Response,
    caller: ClassifiersManage,
    session: Session,
    code: ServiceCode,
    body: ServicePatch,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change a service (JSON merge patch); deactivate it instead of deleting. `If-Match` is
    required; a stale one is a 412 naming the fields changed since."""
    service = await classifier.update_service(
        session, caller, code, body.model_dump(exclude_unset=True), required_version(if_match)
    )
    response.headers["ETag"] = etag(service["version"])
    return service
