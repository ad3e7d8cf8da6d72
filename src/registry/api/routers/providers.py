"""The register of providers of social services: public to every caller that reads it, kept
by the ministry (community officers: the communal providers of their hromada)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BeforeValidator, Field, StrictBool, field_validator

from registry.api.dependencies import (
    Pagination,
    ProvidersManage,
    ProvidersRead,
    Session,
    page_body,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import etag
from registry.api.schemas.base import (
    InputSchema,
    IsoDate,
    NotNull,
    PageOf,
    Schema,
    refuse_null,
    text_field,
)
from registry.domain.classifier.rules import CODE_PATTERN as SERVICE_CODE_PATTERN
from registry.domain.providers import commands, queries
from registry.domain.providers.rules import (
    MAX_CAPACITY,
    Frequency,
    ProviderKind,
    ProviderStatus,
    Sector,
)
from registry.domain.service_records.rules import Place
from registry.domain.territories.categories import CODE_PATTERN

router = APIRouter(prefix="/providers", tags=["providers"])

EDRPOU_PATTERN = r"^[0-9]{8}$"
RNOKPP_PATTERN = r"^[0-9]{10}$"
#: What people type as a phone number; the domain makes it E.164.
PHONE_PATTERN = r"^\+?\(?[0-9][0-9 ()\-.]{5,30}$"
#: Control characters and every Unicode space, spelt out: what ``\s`` matches differs between
#: regular expression engines (Python's, the JSON Schema's ECMA 262), so it is not used.
_SPACE = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
EMAIL_PATTERN = rf"^[^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}]+$"
WEBSITE_PATTERN = rf"^https?://[^/?#@{_SPACE}]+\.[^/?#@{_SPACE}]+(?:[/?#][^{_SPACE}]*)?$"
#: A sum of money as decimal text (no binary floating point): up to 10 digits and 2 decimals.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"
CRITERION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_RNOKPP_NOTE = (
    " An individual's RNOKPP is personal data: shown in full to callers holding "
    "`providers:manage` or `identifiers:read`, masked to its last 2 digits for "
    "others."
)


def _json_integer(value: Any) -> Any:
    """A JSON integer (``12`` or ``12.0``), not text or a boolean that reads as one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY), BeforeValidator(_json_integer)]

ProviderId = Annotated[uuid.UUID, Path(description="The provider's id.")]
HromadaCode = Annotated[str, Field(pattern=CODE_PATTERN)]
CriterionCode = Annotated[str, Field(pattern=CRITERION_PATTERN)]
ShortText = Annotated[str, text_field(200)]


# --- shapes ------------------------------------------------------------------------------------


class TariffIn(InputSchema):
    amount: str = Field(
        pattern=AMOUNT_PATTERN, examples=["150.00"], description="Hryvnias, as decimal text."
    )
    unit: ShortText = Field(
        examples=["година"], description="What the amount is paid for (an hour, a visit, a month)."
    )


class Tariff(Schema):
    amount: str = Field(description="Hryvnias, as decimal text with 2 decimals.")
    unit: str


class OfferIn(InputSchema):
    service_code: str = Field(
        pattern=SERVICE_CODE_PATTERN,
        description="An active service of `/services`, at most once per provider.",
    )
    frequency: Frequency
    places: list[Place] = Field(min_length=1, max_length=len(Place))
    capacity: Capacity | None = Field(default=None, description="Recipients served at once.")
    tariff: TariffIn | None = Field(default=None, description="Null: free of charge.")
    urgent: StrictBool = Field(default=False, description="Can be delivered urgently.")


class Offer(Schema):
    service_code: str
    name_uk: str
    name_en: str
    frequency: Frequency
    places: list[Place]
    capacity: int | None
    tariff: Tariff | None = Field(description="Null: free of charge.")
    urgent: bool


class ProviderCreate(InputSchema):
    kind: ProviderKind
    sector: Sector = Field(
        description="Individual entrepreneurs and natural persons are always `non_state`."
    )
    edrpou: str | None = Field(
        default=None, pattern=EDRPOU_PATTERN, description="Organisations only (required for them)."
    )
    rnokpp: str | None = Field(
        default=None,
        pattern=RNOKPP_PATTERN,
        description="Individual entrepreneurs and natural persons only (required for them).",
    )
    full_name: Annotated[str, text_field(500)]
    short_name: ShortText | None = None
    legal_form: ShortText | None = Field(default=None, examples=["громадська організація"])
    phone: str | None = Field(
        default=None,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="E.164 (`+380441234567`); a Ukrainian `0XX…` number gets `+38`.",
    )
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    website: str | None = Field(default=None, max_length=300, pattern=WEBSITE_PATTERN)
    hromada_code: str = Field(
        pattern=CODE_PATTERN,
        description="KATOTTG code of the hromada of the address (category H, or K).",
    )
    settlement_code: str | None = Field(
        default=None, pattern=CODE_PATTERN, description="A settlement inside that hromada."
    )
    address_line: Annotated[str, text_field(300)] | None = None
    hromadas_served: list[HromadaCode] | None = Field(
        default=None,
        max_length=2000,
        description="Hromadas (category H or K) where the provider serves; omitted or null: "
        "the hromada of its address.",
    )
    services: list[OfferIn] = Field(default_factory=list, max_length=200)
    support_criteria_met: list[CriterionCode] = Field(
        default_factory=list,
        max_length=50,
        description="Codes of `/support-criteria` the provider meets; the server records who "
        "verified them and when.",
    )


class ProviderPatch(InputSchema):
    """A JSON merge patch (RFC 7396). `services` replaces the whole list. The register status
    changes through `POST /providers/{id}/status`."""

    kind: ProviderKind | NotNull = None
    sector: Sector | NotNull = None
    edrpou: str | None = Field(default=None, pattern=EDRPOU_PATTERN)
    rnokpp: str | None = Field(default=None, pattern=RNOKPP_PATTERN)
    full_name: Annotated[str, text_field(500)] | NotNull = None
    short_name: ShortText | None = None
    legal_form: ShortText | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    website: str | None = Field(default=None, max_length=300, pattern=WEBSITE_PATTERN)
    hromada_code: Annotated[str, Field(pattern=CODE_PATTERN)] | NotNull = None
    settlement_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    address_line: Annotated[str, text_field(300)] | None = None
    hromadas_served: Annotated[list[HromadaCode], Field(max_length=2000)] | NotNull = None
    services: Annotated[list[OfferIn], Field(max_length=200)] | NotNull = None
    support_criteria_met: Annotated[list[CriterionCode], Field(max_length=50)] | NotNull = None

    _not_null = field_validator(
        "kind",
        "sector",
        "full_name",
        "hromada_code",
        "hromadas_served",
        "services",
        "support_criteria_met",
    )(refuse_null)


class ServicememberSupport(Schema):
    criteria_met: list[str] = Field(description="Codes of `/support-criteria`.")
    eligible: bool = Field(description="Every active criterion is met.")
    verified_by: str | None = Field(description="Who last changed the criteria met.")
    verified_at: datetime | None


class Provider(Schema):
    id: uuid.UUID
    kind: ProviderKind
    sector: Sector
    edrpou: str | None
    rnokpp: str | None = Field(description="RNOKPP." + _RNOKPP_NOTE)
    full_name: str
    short_name: str | None
    legal_form: str | None
    status: ProviderStatus
    status_reason: str | None
    included_on: date | None = Field(description="When it was included in the register.")
    excluded_on: date | None
    phone: str | None
    email: str | None
    website: str | None
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    settlement_code: str | None
    address_line: str | None
    hromadas_served: list[str]
    services: list[Offer] = Field(description="The services it offers now.")
    servicemember_support: ServicememberSupport
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")


class StatusChangeIn(InputSchema):
    to: ProviderStatus = Field(
        description="pending → active or excluded; active → excluded; "
        "excluded → pending (a new application)."
    )
    reason: Annotated[str, text_field(1000)] | None = Field(
        default=None, description="Required to exclude."
    )
    effective_on: IsoDate | None = Field(
        default=None, description="Default today; not in the future."
    )


class StatusChange(Schema):
    version: int = Field(description="The provider's version this change made.")
    from_status: ProviderStatus | None = Field(description="Null for the application.")
    to_status: ProviderStatus
    effective_on: date
    reason: str | None
    changed_by: str
    changed_at: datetime


# --- operations --------------------------------------------------------------------------------


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
    location = request.url_for("get_provider", provider_id=provider["id"]).path
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
    response: Response,
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
            pattern=r"^[^\x00]*[0-9A-Za-zА-ЩЬЮЯҐЄІЇа-щьюяґєії][^\x00]*$",
            description="Part of the full or short name, any case and apostrophe; a typo allowed.",
        ),
    ] = None,
    edrpou: Annotated[
        str | None, Query(pattern=EDRPOU_PATTERN, description="Exactly this EDRPOU.")
    ] = None,
) -> dict[str, object]:
    """Search the register (no personal data but individuals' entries: each provider
    returned is recorded in the audit log)."""
    result = await queries.list_providers(
        session,
        caller,
        page,
        queries.ProviderFilter(
            service_code=service_code,
            hromada=hromada,
            sector=sector,
            kind=kind,
            status=status,
            q=q,
            edrpou=edrpou,
        ),
    )
    return page_body(request, response, result, result.items)


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
    response: Response, caller: ProvidersRead, session: Session, provider_id: ProviderId
) -> dict[str, Any]:
    """One provider with the services it offers; the `ETag` is its version."""
    provider = await queries.get_provider(session, caller, provider_id)
    response.headers["ETag"] = etag(provider["version"])
    return provider


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
    response: Response,
    caller: ProvidersManage,
    session: Session,
    provider_id: ProviderId,
    body: ProviderPatch,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change the provider's entry (JSON merge patch; `services` replaces the whole list).
    `If-Match` is required; a stale one is a 412 naming the fields changed since. An
    excluded provider's entry is not changed (409)."""
    provider = await commands.update_provider(
        session,
        caller,
        provider_id,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
    )
    response.headers["ETag"] = etag(provider["version"])
    return provider


@router.post(
    "/{provider_id}/status",
    response_model=Provider,
    name="change_provider_status",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def change_provider_status(
    response: Response,
    caller: ProvidersManage,
    session: Session,
    provider_id: ProviderId,
    body: StatusChangeIn,
    if_match: OptionalIfMatch = None,
) -> dict[str, Any]:
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
    response.headers["ETag"] = etag(provider["version"])
    return provider


@router.get(
    "/{provider_id}/status-history",
    response_model=PageOf[StatusChange],
    name="get_provider_status_history",
    responses=problem_responses(403, 404, 422),
)
async def get_provider_status_history(
    caller: ProvidersRead, session: Session, provider_id: ProviderId
) -> dict[str, object]:
    """Every register status the provider has had, oldest first (one page)."""
    return {
        "items": await queries.status_history(session, caller, provider_id),
        "next_cursor": None,
    }
