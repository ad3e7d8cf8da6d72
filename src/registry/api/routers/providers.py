"""The register of providers of social services: public to every caller that reads it, kept
by the ministry (community officers: the communal providers of their hromada)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import Pagination, ProvidersManage, ProvidersRead, Session
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import PageOf
from registry.api.schemas.providers import (
    EDRPOU_PATTERN,
    Provider,
    ProviderCreate,
    ProviderPatch,
    StatusChange,
    StatusChangeIn,
)
from registry.api.schemas.words import worded
from registry.domain.classifier.rules import CODE_PATTERN as SERVICE_CODE_PATTERN
from registry.domain.providers import commands, queries
from registry.domain.providers.rules import ProviderKind, ProviderStatus, Sector
from registry.domain.territories.rules import CODE_PATTERN

router = APIRouter(prefix="/providers", tags=["providers"])

ProviderId = Annotated[uuid.UUID, Path(description="The provider's id.")]


_PROVIDER_LINKS = links(
    {"provider_id": "$response.body#/id"},
    GetProvider="get_provider",
    UpdateProvider="update_provider",
    ChangeProviderStatus="change_provider_status",
    GetProviderStatusHistory="get_provider_status_history",
)


@router.post(
    "",
    status_code=201,
    response_model=Provider,
    name="create_provider",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _PROVIDER_LINKS,
        },
    },
)
async def create_provider(
    request: Request,
    caller: ProvidersManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ProviderCreate,
) -> Response:
    """Register a provider; it starts `pending` until included (`POST …/status`). An EDRPOU
    or RNOKPP already in the register is a 409 naming `existing_provider_id`. Community
    officers register communal providers of their own hromada only."""
    if idempotency.replay is not None:
        return idempotency.replay
    provider = await commands.create_provider(session, caller, body.model_dump())
    location = path_for(request, "get_provider", provider_id=provider["id"])
    return await idempotency.respond(
        provider,
        Provider,
        status_code=201,
        version=provider["version"],
        location=str(location),
        resource_type=queries.PROVIDER,
        resource_ids=[provider["id"]],
    )


@router.get(
    "",
    response_model=PageOf[Provider],
    name="list_providers",
    responses=problem_responses(403, 422),
)
async def list_providers(
    request: Request,
    caller: ProvidersRead,
    session: Session,
    page: Pagination,
    service_code: Annotated[
        str | None, Query(pattern=SERVICE_CODE_PATTERN, description="Offers this service.")
    ] = None,
    hromada: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="Serves this hromada.")
    ] = None,
    sector: Annotated[Sector | None, Query()] = None,
    kind: Annotated[ProviderKind | None, Query()] = None,
    status: Annotated[ProviderStatus | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=200,
            pattern=worded(
                r"^[^\x00]*[0-9A-Za-zА-ЩЬЮЯҐЄІЇа-щьюяґєії][^\x00]*$",
                "must contain a letter or a digit (and no NUL character)",
            ),
            description="Part of the full or short name, any case and apostrophe; a typo allowed.",
        ),
    ] = None,
    edrpou: Annotated[
        str | None, Query(pattern=EDRPOU_PATTERN, description="Exactly this EDRPOU.")
    ] = None,
) -> Response:
    """Search the register (no personal data but individuals' entries: each provider
    returned is recorded in the audit log)."""
    where = queries.ProviderFilter(
        service_code=service_code,
        hromada=hromada,
        sector=sector,
        kind=kind,
        status=status,
        q=q,
        edrpou=edrpou,
    )
    result = await queries.list_providers(session, caller, page, where)
    return respond_page(request, result, PageOf[Provider])


@router.get(
    "/{provider_id}",
    response_model=Provider,
    name="get_provider",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_provider(
    caller: ProvidersRead, session: Session, provider_id: ProviderId
) -> Response:
    """One provider with the services it offers; the `ETag` is its version."""
    provider = await queries.get_provider(session, caller, provider_id)
    return respond(provider, Provider, version=provider["version"])


@router.patch(
    "/{provider_id}",
    response_model=Provider,
    name="update_provider",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/ProviderPatch"}
                }
            }
        }
    },
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
async def update_provider(
    caller: ProvidersManage,
    session: Session,
    provider_id: ProviderId,
    body: ProviderPatch,
    if_match: IfMatch,
) -> Response:
    """Change the provider's entry (JSON merge patch; `services` replaces the whole list).
    `If-Match` is required; a stale one is a 412 naming the fields changed since. An
    excluded provider's entry is not changed (409)."""
    patch = body.model_dump(exclude_unset=True)
    provider = await commands.update_provider(
        session, caller, provider_id, patch, required_version(if_match)
    )
    return respond(provider, Provider, version=provider["version"])


@router.post(
    "/{provider_id}/status",
    response_model=Provider,
    name="change_provider_status",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def change_provider_status(
    caller: ProvidersManage,
    session: Session,
    provider_id: ProviderId,
    body: StatusChangeIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Move the provider in the register: include (`active`), refuse or exclude (`excluded`,
    with a reason), or take a new application (`pending`). A transition not allowed from the
    current status is a 409 listing the `allowed` ones. `If-Match` is checked when sent."""
    provider = await commands.change_status(
        session,
        caller,
        provider_id,
        body.to,
        body.reason,
        body.effective_on,
        version_from(if_match),
    )
    return respond(provider, Provider, version=provider["version"])


@router.get(
    "/{provider_id}/status-history",
    response_model=PageOf[StatusChange],
    name="get_provider_status_history",
    responses=problem_responses(403, 404, 422),
)
async def get_provider_status_history(
    caller: ProvidersRead, session: Session, provider_id: ProviderId
) -> Response:
    """Every register status the provider has had, oldest first (one page)."""
    history = await queries.status_history(session, caller, provider_id)
    return respond_all(history, PageOf[StatusChange])
