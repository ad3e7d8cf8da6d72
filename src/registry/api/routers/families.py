"""Families and their members: personal records, confined to the caller's reach and audited."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import (
    DriverConnection,
    FamiliesRead,
    FamiliesSearch,
    FamiliesWrite,
    Pagination,
    Session,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import (
    RNOKPP_PATTERN,
    KatottgCode,
    NameSearch,
    PageOf,
    Reason,
)
from registry.api.schemas.families import (
    REFERENCE_CODE,
    Family,
    FamilyCreate,
    FamilyCreated,
    FamilyForProvider,
    FamilyPatch,
    FamilyRelocated,
    FamilyView,
    MemberForProvider,
    Person,
    PersonCreate,
    PersonCreated,
    PersonPatch,
    PersonView,
    PossibleDuplicate,
    ProviderLink,
    ProviderLinkCreate,
    RelocationIn,
)
from registry.api.schemas.words import worded
from registry.domain.cases import commands as case_commands
from registry.domain.families import commands, queries
from registry.domain.families.access import sees_provider_view
from registry.domain.providers import commands as provider_commands
from registry.domain.providers import queries as provider_queries
from registry.domain.service_records import commands as service_record_commands

router = APIRouter(prefix="/families", tags=["families"])

FamilyId = Annotated[uuid.UUID, Path(description="The family's id.")]
PersonId = Annotated[uuid.UUID, Path(description="The member's id.")]
ProviderIdPath = Annotated[uuid.UUID, Path(description="The provider's id.")]


# --- helpers -----------------------------------------------------------------------------------


_FAMILY_LINKS = links(
    {"family_id": "$response.body#/id"},
    GetFamily="get_family",
    UpdateFamily="update_family",
    ArchiveFamily="archive_family",
    RelocateFamily="relocate_family",
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


def _family_location(request: Request, family_id: uuid.UUID) -> str:
    return path_for(request, "get_family", family_id=family_id)


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
    "",
    response_model=PageOf[FamilyView],
    name="list_families",
    responses=problem_responses(403, 422),
)
async def list_families(
    request: Request,
    caller: FamiliesSearch,
    connection: DriverConnection,
    page: Pagination,
    q: Annotated[
        NameSearch,
        Query(
            min_length=2,
            max_length=100,
            description="The name, or part of it, of a current or former member, in any "
            "script: letters, digits, apostrophes, hyphens and spaces, at most six words. "
            "Each word must match a different word of one member's name (last, first, "
            "patronymic, any order), in any case and with any apostrophe, within one edit "
            "(two for words over 7 letters; swapped neighbouring letters are one edit), a "
            "Latin look-alike letter in a Cyrillic word forgiven; Latin words find Cyrillic "
            "names by the official (2010), scholarly (ISO 9, `Ševčenko`) or passport "
            "spelling, and Latin names with or without diacritics (`Sevkiyeva` finds "
            "`Şevkiyeva`); a word of 3+ letters also finds the names it begins. Best match "
            "first: prefixes below full matches, then fewer edits, then exact words, then "
            "the name.",
        ),
    ] = None,
    rnokpp: Annotated[
        str | None,
        Query(
            pattern=RNOKPP_PATTERN,
            description="A current or former member's RNOKPP, exactly. Needs "
            "`identifiers:read` (403 otherwise).",
        ),
    ] = None,
    unzr: Annotated[
        str | None,
        Query(
            pattern=worded(
                r"^[0-9]{8}-[0-9]{5}$", "must be a UNZR: eight digits, a hyphen, five digits"
            ),
            description="A current or former member's UNZR, exactly. Needs `identifiers:read` "
            "(403 otherwise).",
        ),
    ] = None,
    hromada: Annotated[KatottgCode | None, Query()] = None,
    category: Annotated[
        str | None,
        Query(pattern=REFERENCE_CODE, description="Not open to provider_staff (403)."),
    ] = None,
    factor: Annotated[
        str | None,
        Query(pattern=REFERENCE_CODE, description="Not open to provider_staff (403)."),
    ] = None,
    status: Annotated[
        Literal["active", "archived"] | None,
        Query(
            description="`active` when not given: an archived family is left out of lists, "
            "name search and identifier lookups unless `archived` is asked for."
        ),
    ] = None,
    has_child_under: Annotated[
        int | None,
        Query(ge=1, le=25, description="Has an active member younger than this many years."),
    ] = None,
) -> Response:
    """Families within your reach, filtered (active ones unless `status=archived`); each one
    returned is recorded in the audit log. A provider's staff get `FamilyForProvider` items.
    """
    found = await queries.list_families(
        connection,
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
    if sees_provider_view(caller.principal):
        return respond_page(request, found, PageOf[FamilyForProvider])
    # (the items have the shape of ``Family``; a test holds them equal to ``get_family``'s)
    return respond_page(request, found)


@router.get(
    "/{family_id}",
    response_model=FamilyView,
    name="get_family",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_family(
    caller: FamiliesRead, connection: DriverConnection, family_id: FamilyId
) -> Response:
    """One family with its current and former members; the `ETag` is its version. A
    provider's staff get `FamilyForProvider` (current members, ages, no `ETag`: they do not
    change families)."""
    # The most frequent request: one statement reads and audits (see ``queries.get_family``),
    # and the rows go straight to JSON (the same shape as ``Family``; a test holds them equal).
    family = await queries.get_family(connection, caller, family_id)
    if sees_provider_view(caller.principal):
        return respond(family, FamilyForProvider)
    return respond(family, version=family["version"])


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
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: FamilyPatch,
    if_match: IfMatch,
) -> Response:
    """Change the family's own fields (JSON merge patch). `If-Match` is required; a stale one
    is a 412 naming the fields changed since."""
    # (only the fields sent, the nested consent's too: a merge patch)
    patch = body.model_dump(exclude_unset=True)
    family = await commands.update_family(
        session, caller, family_id, patch, required_version(if_match)
    )
    return respond(family, Family, version=family["version"])


@router.post(
    "/{family_id}/archive",
    response_model=Family,
    name="archive_family",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def archive_family(
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Archive the family (nothing is deleted); its memberships end with the reason.
    `If-Match` is checked when sent. A family with an open case is not archived: 409 naming
    the open cases in `open_cases` (close each through its lifecycle first)."""
    family = await case_commands.archive_family(
        session, caller, family_id, body.reason, version_from(if_match)
    )
    return respond(family, Family, version=family["version"])


@router.post(
    "/{family_id}/relocation",
    response_model=FamilyRelocated,
    name="relocate_family",
    responses={
        **problem_responses(403, 404, 409, 412, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def relocate_family(
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: RelocationIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Move the family to another hromada with all its cases, in one operation: the
    community officer of the hromada it leaves, or of the one it moves to once one of its
    cases has been transferred there. The family's reach moves with it (the old hromada keeps
    none; the audit log keeps what it did); open cases are unassigned for the receiving
    officer to assign a local social worker, and each case's history notes the move; provider
    links and referrals stay. `If-Match` is checked when sent. Moving to the hromada it is in
    is a 409."""
    family = await service_record_commands.relocate_family(
        session, caller, family_id, body.model_dump(), version_from(if_match)
    )
    return respond(family, FamilyRelocated, version=family["version"])


@router.get(
    "/{family_id}/possible-duplicates",
    response_model=PageOf[PossibleDuplicate],
    name="list_possible_duplicates",
    responses=problem_responses(403, 404, 422),
)
async def list_possible_duplicates(
    caller: FamiliesRead, session: Session, family_id: FamilyId
) -> Response:
    """Possible duplicates of the family's members: persons in other active families you may
    see with the same birth date and a similar name (registered twice, perhaps). Archived
    families do not count: their members may be registered again. Not open to provider_staff
    (403)."""
    found = await queries.possible_duplicates(session, caller, family_id)
    return respond_all(found, PageOf[PossibleDuplicate])


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
    location = path_for(request, "get_member", family_id=family_id, person_id=person["id"])
    return await idempotency.respond(
        person,
        PersonCreated,
        status_code=201,
        version=person["version"],
        location=str(location),
        resource_type=queries.PERSON,
        resource_ids=[person["id"], family_id],
    )


@router.get(
    "/{family_id}/members",
    response_model=PageOf[PersonView],
    name="list_members",
    responses=problem_responses(403, 404, 422),
)
async def list_members(caller: FamiliesRead, session: Session, family_id: FamilyId) -> Response:
    """Current and former members (a family has few: one page); a provider's staff get the
    current members as `MemberForProvider`."""
    members = await queries.list_members(session, caller, family_id)
    if sees_provider_view(caller.principal):
        return respond_all(members, PageOf[MemberForProvider])
    return respond_all(members, PageOf[Person])


@router.get(
    "/{family_id}/members/{person_id}",
    response_model=PersonView,
    name="get_member",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_member(
    caller: FamiliesRead,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
) -> Response:
    """One member; the `ETag` is the member's version (for `If-Match` on a PATCH). A
    provider's staff get a current member as `MemberForProvider` (no `ETag`)."""
    person = await queries.get_member(session, caller, family_id, person_id)
    if sees_provider_view(caller.principal):
        return respond(person, MemberForProvider)
    return respond(person, Person, version=person["version"])


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
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
    body: PersonPatch,
    if_match: IfMatch,
) -> Response:
    """Change a member (JSON merge patch). `If-Match` is required; a stale one is a 412
    naming the fields changed since."""
    patch = body.model_dump(exclude_unset=True)
    person = await commands.update_member(
        session, caller, family_id, person_id, patch, required_version(if_match)
    )
    return respond(person, Person, version=person["version"])


@router.post(
    "/{family_id}/members/{person_id}/remove",
    response_model=Person,
    name="remove_member",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def remove_member(
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    person_id: PersonId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> Response:
    """End the person's membership, with the reason; the record stays as history."""
    person = await commands.remove_member(
        session, caller, family_id, person_id, body.reason, version_from(if_match)
    )
    return respond(person, Person, version=person["version"])


# --- providers serving the family --------------------------------------------------------------


@router.get(
    "/{family_id}/providers",
    response_model=PageOf[ProviderLink],
    name="list_family_providers",
    responses=problem_responses(403, 404, 422),
)
async def list_family_providers(
    caller: FamiliesRead, session: Session, family_id: FamilyId
) -> Response:
    """Providers linked to the family, current first, revoked links as history (a
    provider's staff see only their own link)."""
    found = await provider_queries.list_links(session, caller, family_id)
    return respond_all(found, PageOf[ProviderLink])


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
    caller: FamiliesWrite,
    session: Session,
    family_id: FamilyId,
    body: ProviderLinkCreate,
) -> Response:
    """Link the family to a provider that serves it (community officers): the provider's
    staff may then see the family and record the services they deliver to it. Linking again
    while linked changes nothing (200)."""
    link, granted = await provider_commands.link(
        session, caller, family_id, body.provider_id, body.reason
    )
    return respond(link, ProviderLink, status_code=201 if granted else 200)


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
) -> Response:
    """End the provider's access to the family, with the reason; the link stays as history."""
    link = await provider_commands.revoke(session, caller, family_id, provider_id, body.reason)
    return respond(link, ProviderLink)
