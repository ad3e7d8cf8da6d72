"""Families and their members: personal records, confined to the caller's reach and audited."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, field_validator

from registry.api.dependencies import (
    FamiliesRead,
    FamiliesWrite,
    Pagination,
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
    Reason,
    Rfc3339DateTime,
    Schema,
    refuse_null,
    text_field,
)
from registry.domain.families import commands, queries
from registry.domain.families.rules import ConsentPurpose, DisabilityGroup, Relation, Sex
from registry.domain.providers import links as links_domain
from registry.domain.shared.names import MAX_LENGTH
from registry.domain.territories.categories import CODE_PATTERN
from registry.errors import NotFound

router = APIRouter(prefix="/families", tags=["families"])

_LETTER = "А-ЩЬЮЯҐЄІЇа-щьюяґєії"
#: Ukrainian letters, words joined by one space, hyphen or apostrophe (any of ' ’ ʼ ‘ ` ´,
#: stored as ʼ). What the registry stores is exactly this, apostrophes unified.
NAME_PATTERN = rf"^[{_LETTER}]+(?:['’ʼ‘`´\- ][{_LETTER}]+)*$"
REFERENCE_CODE = r"^[a-z][a-z0-9_]{0,63}$"
RNOKPP_PATTERN = r"^[0-9]{10}$"
UNZR_PATTERN = r"^[0-9]{8}-?[0-9]{5}$"
#: What people type as a phone number; the domain makes it E.164.
PHONE_PATTERN = r"^\+?\(?[0-9][0-9 ()\-.]{5,30}$"
IDP_CERTIFICATE_PATTERN = r"^[0-9A-Za-z\-]{4,32}$"
_IDENTIFIERS_NOTE = (
    " Shown in full to callers holding `identifiers:read` (social_worker, community_officer, "
    "ministry_admin, integration clients granted the scope); masked to the last 2 characters "
    "for regional_officer and other integration clients; always null for provider_staff."
)

_NOT_FOR_PROVIDERS = (
    "Null for provider_staff: a provider is told only what serving the "
    "family needs (names, ages, contact)."
)
Name = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH, pattern=NAME_PATTERN)]
Code = Annotated[str, Field(pattern=REFERENCE_CODE)]
FamilyId = Annotated[uuid.UUID, Path(description="The family's id.")]
PersonId = Annotated[uuid.UUID, Path(description="The member's id.")]


# --- shapes ------------------------------------------------------------------------------------


class Consent(Schema):
    given_at: datetime
    given_by: str = Field(description="Who gave consent (e.g. the head of the family).")
    scope: list[ConsentPurpose]


class ConsentIn(InputSchema):
    given_at: Rfc3339DateTime = Field(description="Not in the future.")
    given_by: Annotated[str, text_field(200)]
    scope: list[ConsentPurpose] = Field(min_length=1, max_length=len(ConsentPurpose))


class ConsentPatch(InputSchema):
    given_at: Rfc3339DateTime | NotNull = None
    given_by: Annotated[str, text_field(200)] | NotNull = None
    scope: (
        Annotated[list[ConsentPurpose], Field(min_length=1, max_length=len(ConsentPurpose))]
        | NotNull
    ) = None

    _not_null = field_validator("given_at", "given_by", "scope")(refuse_null)


class PersonFields(InputSchema):
    last_name: Name
    first_name: Name
    patronymic: Name | None = None
    birth_date: IsoDate = Field(description="From 1900-01-01 up to today.")
    sex: Sex
    relation: Relation = Field(description="Relation to the family.")
    rnokpp: str | None = Field(
        default=None,
        pattern=RNOKPP_PATTERN,
        description="Taxpayer number; must agree with birth_date and sex (numbers starting "
        "with 8 encode neither).",
    )
    rnokpp_refused: bool = Field(
        default=False, description="The person refused an RNOKPP (then `rnokpp` is null)."
    )
    unzr: str | None = Field(
        default=None,
        pattern=UNZR_PATTERN,
        description="Demographic register number YYYYMMDD-NNNNC; the date must be the birth date.",
    )
    disability_group: DisabilityGroup | None = None
    idp_certificate: str | None = Field(
        default=None,
        pattern=IDP_CERTIFICATE_PATTERN,
        description="Number of the IDP registration certificate.",
    )
    is_servicemember: bool = False


class PersonCreate(PersonFields):
    pass


class PersonPatch(InputSchema):
    """A JSON merge patch (RFC 7396): absent fields stay, null clears an optional field."""

    last_name: Name | NotNull = None
    first_name: Name | NotNull = None
    patronymic: Name | None = None
    birth_date: IsoDate | NotNull = None
    sex: Sex | NotNull = None
    relation: Relation | NotNull = None
    rnokpp: str | None = Field(default=None, pattern=RNOKPP_PATTERN)
    rnokpp_refused: bool | NotNull = None
    unzr: str | None = Field(default=None, pattern=UNZR_PATTERN)
    disability_group: DisabilityGroup | None = None
    idp_certificate: str | None = Field(default=None, pattern=IDP_CERTIFICATE_PATTERN)
    is_servicemember: bool | NotNull = None

    _not_null = field_validator(
        "last_name",
        "first_name",
        "birth_date",
        "sex",
        "relation",
        "rnokpp_refused",
        "is_servicemember",
    )(refuse_null)


class Person(Schema):
    id: uuid.UUID
    family_id: uuid.UUID
    last_name: str
    first_name: str
    patronymic: str | None
    birth_date: date
    sex: Sex
    relation: Relation
    rnokpp: str | None = Field(description="RNOKPP." + _IDENTIFIERS_NOTE)
    rnokpp_refused: bool
    unzr: str | None = Field(description="UNZR." + _IDENTIFIERS_NOTE)
    disability_group: DisabilityGroup | None
    idp_certificate: str | None = Field(description="IDP certificate." + _IDENTIFIERS_NOTE)
    is_servicemember: bool | None = Field(description="Null for provider_staff (not disclosed).")
    status: Literal["active", "removed"]
    removal_reason: str | None
    removed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class PossibleDuplicate(Schema):
    """An active person in another family you may see, born the same day, with a similar
    name."""

    person_id: uuid.UUID = Field(description="The member this may duplicate.")
    matching_person_id: uuid.UUID
    family_id: uuid.UUID = Field(description="The matching person's family.")
    last_name: str
    first_name: str
    patronymic: str | None
    birth_date: date
    score: float = Field(description="Name similarity, 0–1.")


class PersonCreated(Person):
    possible_duplicates: list[PossibleDuplicate]


class FamilyCreate(InputSchema):
    hromada_code: str = Field(
        pattern=CODE_PATTERN, description="KATOTTG code of the hromada (category H, or K)."
    )
    settlement_code: str | None = Field(
        default=None,
        pattern=CODE_PATTERN,
        description="KATOTTG code of a settlement inside the hromada.",
    )
    address_line: Annotated[str, text_field(300)] | None = None
    phone: str | None = Field(
        default=None,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="E.164 (`+380441234567`); a Ukrainian `0XX…` number gets `+38`.",
    )
    categories: list[Code] = Field(
        default_factory=list, max_length=20, description="Codes of `/recipient-categories`."
    )
    factors: list[Code] = Field(
        default_factory=list, max_length=30, description="Codes of `/hardship-factors`."
    )
    consent: ConsentIn | None = None
    members: list[PersonCreate] = Field(default_factory=list, max_length=30)


class FamilyPatch(InputSchema):
    """A JSON merge patch (RFC 7396) of the family's own fields (members have their own)."""

    hromada_code: Annotated[str, Field(pattern=CODE_PATTERN)] | NotNull = None
    settlement_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    address_line: Annotated[str, text_field(300)] | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=PHONE_PATTERN)
    categories: Annotated[list[Code], Field(max_length=20)] | NotNull = None
    factors: Annotated[list[Code], Field(max_length=30)] | NotNull = None
    consent: ConsentPatch | None = None

    _not_null = field_validator("hromada_code", "categories", "factors")(refuse_null)


class Family(Schema):
    id: uuid.UUID
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    settlement_code: str | None
    address_line: str | None
    phone: str | None
    categories: list[str] | None = Field(description=_NOT_FOR_PROVIDERS)
    factors: list[str] | None = Field(description=_NOT_FOR_PROVIDERS)
    consent: Consent | None = Field(description=_NOT_FOR_PROVIDERS)
    status: Literal["active", "archived"]
    archive_reason: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")
    members: list[Person] = Field(description="Current and former members.")


class FamilyCreated(Family):
    possible_duplicates: list[PossibleDuplicate]


# --- helpers -----------------------------------------------------------------------------------


_FAMILY_LINKS = links(
    {"family_id": "$response.body#/id"},
    GetFamily="get_family",
    UpdateFamily="update_family",
    ArchiveFamily="archive_family",
    AddMember="add_member",
    ListMembers="list_members",
    ListPossibleDuplicates="list_possible_duplicates",
)
_MEMBER_LINKS = links(
    {"family_id": "$response.body#/family_id", "person_id": "$response.body#/id"},
    GetMember="get_member",
    UpdateMember="update_member",
    RemoveMember="remove_member",
)


def _patch_values(patch: InputSchema) -> dict[str, Any]:
    """The fields the client sent (null included), as plain values."""
    values = patch.model_dump(exclude_unset=True)
    if isinstance(values.get("consent"), dict):
        values["consent"] = {
            k: v
            for k, v in values["consent"].items()
            if k in patch.consent.model_fields_set  # type: ignore[attr-defined]
        }
    return values


def _family_location(request: Request, family_id: uuid.UUID) -> str:
    return str(request.url_for("get_family", family_id=family_id).path)


# --- families ----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=FamilyCreated,
    name="create_family",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _FAMILY_LINKS,
        },
    },
)
async def create_family(
    request: Request,
    caller: FamiliesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    body: FamilyCreate,
) -> Response:
    """Register a family in your hromada, optionally with its members.

    Members matching a person in another family you may see (same birth date, similar name)
    are accepted and listed in `possible_duplicates`; an RNOKPP or UNZR already registered
    is a 409."""
    if idempotency.replay is not None:
        return idempotency.replay
    family = await commands.create_family(session, caller, body.model_dump())
    return await idempotency.respond(
        family,
        FamilyCreated,
        status_code=201,
        version=family["version"],
        location=_family_location(request, family["id"]),
        resource_type=queries.FAMILY,
        resource_ids=[family["id"]],
    )


@router.get(
    "", response_model=PageOf[Family], name="list_families", responses=problem_responses(403, 422)
)
async def list_families(
    request: Request,
    response: Response,
    caller: FamiliesRead,
    session: Session,
    page: Pagination,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=100,
            pattern=r"[A-Za-zА-ЩЬЮЯҐЄІЇа-щьюяґєії]",
            description="The name, or part of it, of a current or former member: Cyrillic or "
            "Latin (the official "
            "transliteration), any case and apostrophe, a typo allowed. Results "
            "come best match first.",
        ),
    ] = None,
    rnokpp: Annotated[
        str | None,
        Query(pattern=RNOKPP_PATTERN, description="A current or former member's RNOKPP, exactly."),
    ] = None,
    unzr: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{8}-[0-9]{5}$",
            description="A current or former member's UNZR, exactly.",
        ),
    ] = None,
    hromada: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    category: Annotated[str | None, Query(pattern=REFERENCE_CODE)] = None,
    factor: Annotated[str | None, Query(pattern=REFERENCE_CODE)] = None,
    status: Annotated[Literal["active", "archived"] | None, Query()] = None,
    has_child_under: Annotated[
        int | None,
        Query(ge=1, le=25, description="Has an active member younger than this many years."),
    ] = None,
) -> Response:
    """Families within your reach, filtered; each one returned is recorded in the audit log."""
    result = await queries.list_families(
        session,
        caller,
        page,
        queries.FamilyFilter(
            q=q,
            rnokpp=rnokpp,
            unzr=unzr,
            hromada=hromada,
            category=category,
            factor=factor,
            status=status,
            has_child_under=has_child_under,
        ),
    )
    body = page_body(request, response, result, result.items)
    # (the items have the shape of ``Family``; a test holds them equal to ``get_family``'s)
    link = response.headers.get("link")
    return _rows_as_json(body, {"Link": link} if link else {})


@router.get(
    "/{family_id}",
    response_model=Family,
    name="get_family",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_family(request: Request, caller: FamiliesRead, family_id: FamilyId) -> Response:
    """One family with its current and former members; the `ETag` is its version."""
    # The most frequent request: one statement reads and audits (see ``read_family``), and
    # the rows go straight to JSON (the same shape as ``Family``; a test holds them equal).
    async with request.app.state.database.statement_connection() as connection:
        family = await queries.read_family(connection, caller, family_id)
    if family is None:
        raise NotFound("No family with this id is within your reach.")
    return _rows_as_json(family, {"ETag": etag(family["version"])})


def _rows_as_json(body: object, headers: dict[str, str]) -> Response:
    """Rows read on the driver connection, written straight to JSON in the shape of the
    response model (asyncpg has its own UUID type, which orjson writes through str())."""
    return Response(
        orjson.dumps(body, default=str, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers=headers,
    )


@router.patch(
    "/{family_id}",
    response_model=Family,
    name="update_family",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/FamilyPatch"}
                }
            }
        }
    },
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
async def update_family(
    response: Response,
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: FamilyPatch,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change the family's own fields (JSON merge patch). `If-Match` is required; a stale one
    is a 412 naming the fields changed since."""
    version = required_version(if_match)
    family = await commands.update_family(session, caller, family_id, _patch_values(body), version)
    response.headers["ETag"] = etag(family["version"])
    return family


@router.post(
    "/{family_id}/archive",
    response_model=Family,
    name="archive_family",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def archive_family(
    response: Response,
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> dict[str, Any]:
    """Archive the family (nothing is deleted). `If-Match` is checked when sent."""
    family = await commands.archive_family(
        session, caller, family_id, body.reason, version_from(if_match)
    )
    response.headers["ETag"] = etag(family["version"])
    return family


@router.get(
    "/{family_id}/possible-duplicates",
    response_model=PageOf[PossibleDuplicate],
    name="list_possible_duplicates",
    responses=problem_responses(403, 404, 422),
)
async def list_possible_duplicates(
    caller: FamiliesRead, session: Session, family_id: FamilyId
) -> dict[str, object]:
    """Persons in other families you may see who may be this family's members registered
    twice: the same birth date and a similar name."""
    found = await queries.possible_duplicates(session, caller, family_id)
    return {"items": found, "next_cursor": None}


# --- members -----------------------------------------------------------------------------------


@router.post(
    "/{family_id}/members",
    status_code=201,
    response_model=PersonCreated,
    name="add_member",
    responses={
        **problem_responses(403, 404, 409, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _MEMBER_LINKS,
        },
    },
)
async def add_member(
    request: Request,
    caller: FamiliesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    family_id: FamilyId,
    body: PersonCreate,
) -> Response:
    """Add a member. A person matching someone in another family you may see is accepted and
    listed in `possible_duplicates`; an RNOKPP or UNZR already registered is a 409."""
    if idempotency.replay is not None:
        return idempotency.replay
    person = await commands.add_member(session, caller, family_id, body.model_dump())
    location = request.url_for("get_member", family_id=family_id, person_id=person["id"]).path
    return await idempotency.respond(
        person,
        PersonCreated,
        status_code=201,
        version=person["version"],
        location=str(location),
        resource_type=commands.PERSON,
        resource_ids=[person["id"], family_id],
    )


@router.get(
    "/{family_id}/members",
    response_model=PageOf[Person],
    name="list_members",
    responses=problem_responses(403, 404, 422),
)
async def list_members(
    caller: FamiliesRead, session: Session, family_id: FamilyId
) -> dict[str, object]:
    """Current and former members (a family has few: one page)."""
    return {"items": await queries.list_members(session, caller, family_id), "next_cursor": None}


@router.get(
    "/{family_id}/members/{person_id}",
    response_model=Person,
    name="get_member",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_member(
    response: Response,
    caller: FamiliesRead,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
) -> dict[str, Any]:
    """One member; the `ETag` is the member's version (for `If-Match` on a PATCH)."""
    person = await queries.get_member(session, caller, family_id, person_id)
    response.headers["ETag"] = etag(person["version"])
    return person


@router.patch(
    "/{family_id}/members/{person_id}",
    response_model=Person,
    name="update_member",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/PersonPatch"}
                }
            }
        }
    },
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
async def update_member(
    response: Response,
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
    body: PersonPatch,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change a member (JSON merge patch). `If-Match` is required; a stale one is a 412
    naming the fields changed since."""
    version = required_version(if_match)
    person = await commands.update_member(
        session, caller, family_id, person_id, _patch_values(body), version
    )
    response.headers["ETag"] = etag(person["version"])
    return person


@router.post(
    "/{family_id}/members/{person_id}/remove",
    response_model=Person,
    name="remove_member",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def remove_member(
    response: Response,
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> dict[str, Any]:
    """End the person's membership, with the reason; the record stays as history."""
    person = await commands.remove_member(
        session, caller, family_id, person_id, body.reason, version_from(if_match)
    )
    response.headers["ETag"] = etag(person["version"])
    return person


# --- providers serving the family --------------------------------------------------------------


class ProviderLinkCreate(InputSchema):
    provider_id: uuid.UUID = Field(description="An active provider of the register.")
    reason: Annotated[str, text_field(1000)] | None = None


class ProviderLink(Schema):
    """While a link is active the provider's staff see the family and record services for
    it."""

    family_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    active: bool
    granted_at: datetime
    granted_by: str | None
    reason: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


ProviderIdPath = Annotated[uuid.UUID, Path(description="The provider's id.")]


@router.get(
    "/{family_id}/providers",
    response_model=PageOf[ProviderLink],
    name="list_family_providers",
    responses=problem_responses(403, 404, 422),
)
async def list_family_providers(
    caller: FamiliesRead, session: Session, family_id: FamilyId
) -> dict[str, object]:
    """Providers linked to the family, current first, revoked links as history (a
    provider's staff see only their own link)."""
    return {"items": await links_domain.list_links(session, caller, family_id), "next_cursor": None}


@router.post(
    "/{family_id}/providers",
    status_code=201,
    response_model=ProviderLink,
    name="link_family_provider",
    responses={
        **problem_responses(403, 404, 409, 422),
        200: {
            "description": "The family was already linked to the provider.",
            "model": ProviderLink,
        },
    },
)
async def link_family_provider(
    response: Response,
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: ProviderLinkCreate,
) -> dict[str, Any]:
    """Link the family to a provider that serves it (community officers): the provider's
    staff may then see the family and record the services they deliver to it. Linking again
    while linked changes nothing (200)."""
    link, granted = await links_domain.link(
        session, caller, family_id, body.provider_id, body.reason
    )
    response.status_code = 201 if granted else 200
    return link


@router.post(
    "/{family_id}/providers/{provider_id}/revoke",
    response_model=ProviderLink,
    name="revoke_family_provider",
    responses=problem_responses(403, 404, 422),
)
async def revoke_family_provider(
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    provider_id: ProviderIdPath,
    body: Reason,
) -> dict[str, Any]:
    """End the provider's access to the family, with the reason; the link stays as history."""
    return await links_domain.revoke(session, caller, family_id, provider_id, body.reason)
