"""Community programmes: programmes and their budgets (the ministry), allocations per hromada,
enrolment of families, distributions of money and aid in kind with their reversals, the
catalogue of aid items, and each hromada's aid receipts and stock.

A family's enrolment and what it received are personal data: every read is audited, and
each is confined to the hromada (a regional officer: the oblast) it belongs to.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import (
    Pagination,
    ProgrammesManage,
    ProgrammesRead,
    ProgrammesWrite,
    Session,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import KatottgCode, PageOf, Reason
from registry.api.schemas.programmes import (
    AidItem,
    AidItemCreate,
    AidReceipt,
    AidReceiptCreate,
    AidStock,
    Allocation,
    AllocationIn,
    Distribution,
    DistributionCreate,
    Enrolment,
    EnrolmentCreate,
    Programme,
    ProgrammeCreate,
    ProgrammePatch,
)
from registry.domain.programmes import commands, queries
from registry.domain.programmes.queries import DistributionFilter, EnrolmentFilter
from registry.domain.programmes.rules import EnrolmentStatus, ProgrammeKind, ProgrammeStatus

router = APIRouter(tags=["programmes"])

ProgrammeId = Annotated[uuid.UUID, Path(description="The programme's id.")]
EnrolmentId = Annotated[uuid.UUID, Path(description="The enrolment's id.")]
DistributionId = Annotated[uuid.UUID, Path(description="The distribution's id.")]
ItemId = Annotated[uuid.UUID, Path(description="The aid item's id.")]
HromadaPath = Annotated[
    KatottgCode, Path(description="The hromada's KATOTTG code (UA + 17 digits).")
]
_CREATED = {
    "headers": {
        "Location": {"schema": {"type": "string"}},
        "ETag": {"schema": {"type": "string"}},
    }
}
_READ = {
    **problem_responses(403, 404, 422),
    200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
}
_UPDATE = problem_responses(403, 404, 409, 412, 422, 428)


# --- programmes -------------------------------------------------------------------------------


@router.post(
    "/programmes",
    status_code=201,
    response_model=Programme,
    name="create_programme",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            **_CREATED,
            "links": links(
                {"programme_id": "$response.body#/id"},
                GetProgramme="get_programme",
                UpdateProgramme="update_programme",
                PutAllocation="put_programme_allocation",
                EnrolFamily="create_programme_enrolment",
                Distribute="create_programme_distribution",
            ),
        },
    },
)
async def create_programme(
    request: Request,
    caller: ProgrammesManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ProgrammeCreate,
) -> Response:
    """Start a programme (the ministry), as a `draft`: its funder, kind, budget in its
    currency, period and eligibility rule. Open it (`PATCH status=open`) to enrol and
    distribute."""
    if idempotency.replay is not None:
        return idempotency.replay
    programme = await commands.create_programme(session, caller, body.model_dump())
    return await idempotency.respond(
        programme,
        Programme,
        status_code=201,
        version=programme["version"],
        location=path_for(request, "get_programme", programme_id=programme["id"]),
        resource_type=queries.PROGRAMME,
        resource_ids=[programme["id"]],
    )


@router.get(
    "/programmes",
    response_model=PageOf[Programme],
    name="list_programmes",
    responses=problem_responses(403, 422),
)
async def list_programmes(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    page: Pagination,
    status: ProgrammeStatus | None = None,
    kind: ProgrammeKind | None = None,
) -> Response:
    """The programmes (a provider: those that distributed to it)."""
    result = await queries.list_programmes(session, caller, page, status, kind)
    return respond_page(request, result, PageOf[Programme])


@router.get(
    "/programmes/{programme_id}",
    response_model=Programme,
    name="get_programme",
    responses=_READ,
)
async def get_programme(
    caller: ProgrammesRead, session: Session, programme_id: ProgrammeId
) -> Response:
    """The programme with what it allocated so far."""
    programme = await queries.get_programme(session, caller, programme_id)
    return respond(programme, Programme, version=programme["version"])


@router.patch(
    "/programmes/{programme_id}",
    response_model=Programme,
    name="update_programme",
    responses={
        **_UPDATE,
        200: {
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "links": links(
                {"programme_id": "$response.body#/id"},
                EnrolFamily="create_programme_enrolment",
                Distribute="create_programme_distribution",
                ListBalances="list_programme_allocations",
            ),
        },
    },
)
async def update_programme(
    caller: ProgrammesManage,
    session: Session,
    programme_id: ProgrammeId,
    body: ProgrammePatch,
    if_match: IfMatch,
) -> Response:
    """Change a programme (the ministry): its names, budget (never below what it allocated:
    409), period, eligibility rule, or status (`draft → open → closed`; 409 naming the
    allowed moves). A closed programme takes no changes."""
    programme = await commands.update_programme(
        session,
        caller,
        programme_id,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
    )
    return respond(programme, Programme, version=programme["version"])


# --- allocations ------------------------------------------------------------------------------


@router.get(
    "/programmes/{programme_id}/allocations",
    response_model=PageOf[Allocation],
    name="list_programme_allocations",
    responses=problem_responses(403, 404, 422),
)
async def list_programme_allocations(
    caller: ProgrammesRead,
    session: Session,
    programme_id: ProgrammeId,
    hromada: Annotated[KatottgCode | None, Query(description="One hromada's balances.")] = None,
) -> Response:
    """Per hromada within your reach: allocated, distributed, reversed and remaining, for the
    money and for each item."""
    programme = await queries.require_programme(session, caller, programme_id)
    entries = await queries.balances(session, caller, programme, hromada)
    return respond_all(entries, PageOf[Allocation])


@router.get(
    "/programmes/{programme_id}/allocations/{hromada_code}",
    response_model=Allocation,
    name="get_programme_allocation",
    responses=problem_responses(403, 404, 422),
)
async def get_programme_allocation(
    caller: ProgrammesRead, session: Session, programme_id: ProgrammeId, hromada_code: HromadaPath
) -> Response:
    """One hromada's balances in the programme (404 when it allocates nothing there, or the
    hromada is outside your reach)."""
    programme = await queries.require_programme(session, caller, programme_id)
    entries = await queries.balances(session, caller, programme, hromada_code)
    if not entries:
        raise queries.allocation_not_found()
    return respond(entries[0], Allocation)


@router.put(
    "/programmes/{programme_id}/allocations/{hromada_code}",
    response_model=Allocation,
    name="put_programme_allocation",
    responses=problem_responses(403, 404, 409, 422),
)
async def put_programme_allocation(
    caller: ProgrammesManage,
    session: Session,
    programme_id: ProgrammeId,
    hromada_code: HromadaPath,
    body: AllocationIn,
) -> Response:
    """Set what the programme allocates to a hromada (the ministry): `amount` for a money
    programme, `items` for an in-kind one. Allocations never exceed the budget (409 naming the
    remainder) nor fall below what the hromada distributed (409)."""
    entry = await commands.put_allocation(
        session, caller, programme_id, hromada_code, body.model_dump(exclude_unset=True)
    )
    return respond(entry, Allocation)


# --- enrolments -------------------------------------------------------------------------------


@router.post(
    "/programmes/{programme_id}/enrolments",
    status_code=201,
    response_model=Enrolment,
    name="create_programme_enrolment",
    responses={
        **problem_responses(403, 404, 409, 422),
        201: {
            **_CREATED,
            "links": links(
                {
                    "enrolment_id": "$response.body#/id",
                    "programme_id": "$request.path.programme_id",
                },
                GetEnrolment="get_programme_enrolment",
                WithdrawEnrolment="withdraw_programme_enrolment",
            ),
        },
    },
)
async def create_programme_enrolment(
    request: Request,
    caller: ProgrammesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    programme_id: ProgrammeId,
    body: EnrolmentCreate,
) -> Response:
    """Enrol a family of your hromada in an open programme that covers it. The family is
    checked against the programme's rule now: 422 listing each unmet condition (`errors`, and
    `unmet` with each condition). A family is enrolled once per programme (409 with
    `existing_enrolment_id`)."""
    if idempotency.replay is not None:
        return idempotency.replay
    enrolment = await commands.enrol(session, caller, programme_id, body.family_id)
    return await idempotency.respond(
        enrolment,
        Enrolment,
        status_code=201,
        version=enrolment["version"],
        location=path_for(
            request,
            "get_programme_enrolment",
            programme_id=programme_id,
            enrolment_id=enrolment["id"],
        ),
        resource_type=queries.ENROLMENT,
        resource_ids=[enrolment["id"], enrolment["family_id"]],
    )


@router.get(
    "/programmes/{programme_id}/enrolments",
    response_model=PageOf[Enrolment],
    name="list_programme_enrolments",
    responses=problem_responses(403, 404, 422),
)
async def list_programme_enrolments(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    page: Pagination,
    programme_id: ProgrammeId,
    status: EnrolmentStatus | None = None,
    hromada: Annotated[KatottgCode | None, Query(description="Enrolled in this hromada.")] = None,
    family_id: uuid.UUID | None = None,
) -> Response:
    """The programme's enrolments within your reach (your hromada; a regional officer: the
    oblast)."""
    result = await queries.list_enrolments(
        session,
        caller,
        programme_id,
        page,
        EnrolmentFilter(status=status, hromada_code=hromada, family_id=family_id),
    )
    return respond_page(request, result, PageOf[Enrolment])


@router.get(
    "/programmes/{programme_id}/enrolments/{enrolment_id}",
    response_model=Enrolment,
    name="get_programme_enrolment",
    responses=_READ,
)
async def get_programme_enrolment(
    caller: ProgrammesRead, session: Session, programme_id: ProgrammeId, enrolment_id: EnrolmentId
) -> Response:
    """One enrolment within your reach (a provider: 403)."""
    enrolment = await queries.get_enrolment(session, caller, programme_id, enrolment_id)
    return respond(enrolment, Enrolment, version=enrolment["version"])


@router.post(
    "/programmes/{programme_id}/enrolments/{enrolment_id}/withdrawal",
    response_model=Enrolment,
    name="withdraw_programme_enrolment",
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def withdraw_programme_enrolment(
    caller: ProgrammesWrite,
    session: Session,
    programme_id: ProgrammeId,
    enrolment_id: EnrolmentId,
    body: Reason,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Withdraw a family from the programme, with the reason (409 if already withdrawn). What
    it received stays on the ledger; it may be enrolled again later."""
    enrolment = await commands.withdraw(
        session, caller, programme_id, enrolment_id, body.reason, version_from(if_match)
    )
    return respond(enrolment, Enrolment, version=enrolment["version"])


# --- distributions ----------------------------------------------------------------------------


@router.post(
    "/programmes/{programme_id}/distributions",
    status_code=201,
    response_model=Distribution,
    name="create_programme_distribution",
    responses={
        **problem_responses(403, 404, 409, 422),
        201: {
            **_CREATED,
            "links": links(
                {
                    "distribution_id": "$response.body#/id",
                    "programme_id": "$request.path.programme_id",
                },
                GetDistribution="get_programme_distribution",
                ReverseDistribution="reverse_programme_distribution",
            ),
        },
    },
)
async def create_programme_distribution(
    request: Request,
    caller: ProgrammesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    programme_id: ProgrammeId,
    body: DistributionCreate,
) -> Response:
    """Record money or items handed over (send an `Idempotency-Key`: a retry is answered, not
    paid twice). It never exceeds the hromada's allocation, nor its stock of an item: 409 with
    `remaining` (or `in_stock`), and nothing written. A correction is a reversal."""
    if idempotency.replay is not None:
        return idempotency.replay
    distribution = await commands.distribute(
        session, caller, programme_id, body.model_dump(exclude_unset=True)
    )
    return await idempotency.respond(
        distribution,
        Distribution,
        status_code=201,
        location=path_for(
            request,
            "get_programme_distribution",
            programme_id=programme_id,
            distribution_id=distribution["id"],
        ),
        resource_type=queries.DISTRIBUTION,
        resource_ids=[i for i in (distribution["id"], distribution["family_id"]) if i],
    )


@router.get(
    "/programmes/{programme_id}/distributions",
    response_model=PageOf[Distribution],
    name="list_programme_distributions",
    responses=problem_responses(403, 404, 422),
)
async def list_programme_distributions(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    page: Pagination,
    programme_id: ProgrammeId,
    hromada: Annotated[KatottgCode | None, Query(description="Drawn on this hromada.")] = None,
    family_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    reversed: Annotated[bool | None, Query(description="Reversed ones, or standing ones.")] = None,
) -> Response:
    """The programme's distributions within your reach (a provider: those made to it)."""
    result = await queries.list_distributions(
        session,
        caller,
        programme_id,
        page,
        DistributionFilter(
            hromada_code=hromada, family_id=family_id, provider_id=provider_id, reversed=reversed
        ),
    )
    return respond_page(request, result, PageOf[Distribution])


@router.get(
    "/programmes/{programme_id}/distributions/{distribution_id}",
    response_model=Distribution,
    name="get_programme_distribution",
    responses=problem_responses(403, 404, 422),
)
async def get_programme_distribution(
    caller: ProgrammesRead,
    session: Session,
    programme_id: ProgrammeId,
    distribution_id: DistributionId,
) -> Response:
    """One distribution within your reach (a provider: one made to it), with its reversal."""
    distribution = await queries.get_distribution(session, caller, programme_id, distribution_id)
    return respond(distribution, Distribution)


@router.post(
    "/programmes/{programme_id}/distributions/{distribution_id}/reversal",
    response_model=Distribution,
    name="reverse_programme_distribution",
    responses=problem_responses(403, 404, 409, 422),
)
async def reverse_programme_distribution(
    caller: ProgrammesWrite,
    session: Session,
    programme_id: ProgrammeId,
    distribution_id: DistributionId,
    body: Reason,
) -> Response:
    """Reverse a whole distribution, with the reason: its money or items go back to the
    hromada's balance (and stock). The distribution itself is never changed or deleted; 409
    when it is already reversed."""
    distribution = await commands.reverse(
        session, caller, programme_id, distribution_id, body.reason
    )
    return respond(distribution, Distribution)


# --- aid items and stock ----------------------------------------------------------------------


@router.post(
    "/aid-items",
    status_code=201,
    response_model=AidItem,
    name="create_aid_item",
    responses={**problem_responses(403, 409, 422), 201: _CREATED},
)
async def create_aid_item(
    request: Request,
    caller: ProgrammesManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: AidItemCreate,
) -> Response:
    """Add an item to the catalogue of aid in kind (the ministry): name, unit, unit value."""
    if idempotency.replay is not None:
        return idempotency.replay
    item = await commands.create_item(session, caller, body.model_dump())
    return await idempotency.respond(
        item,
        AidItem,
        status_code=201,
        location=path_for(request, "get_aid_item", item_id=item["id"]),
        resource_type=queries.AID_ITEM,
        resource_ids=[item["id"]],
    )


@router.get(
    "/aid-items",
    response_model=PageOf[AidItem],
    name="list_aid_items",
    responses=problem_responses(403, 422),
)
async def list_aid_items(
    caller: ProgrammesRead,
    session: Session,
    include_retired: Annotated[bool, Query(description="Retired items too.")] = False,
) -> Response:
    """The catalogue of aid items."""
    return respond_all(await queries.items(session, include_retired), PageOf[AidItem])


@router.get("/aid-items/{item_id}", response_model=AidItem, name="get_aid_item", responses=_READ)
async def get_aid_item(caller: ProgrammesRead, session: Session, item_id: ItemId) -> Response:
    """One item of the catalogue."""
    return respond(await queries.item(session, item_id), AidItem)


@router.get(
    "/aid-stock",
    response_model=PageOf[AidStock],
    name="list_aid_stock",
    responses=problem_responses(403, 422),
)
async def list_aid_stock(
    caller: ProgrammesRead,
    session: Session,
    hromada: Annotated[KatottgCode | None, Query(description="One hromada's stock.")] = None,
    item_id: uuid.UUID | None = None,
) -> Response:
    """Aid in kind on hand per hromada and item within your reach (your hromada; a regional
    officer: the oblast): received, handed out, on hand."""
    return respond_all(await queries.stock(session, caller, hromada, item_id), PageOf[AidStock])


@router.post(
    "/aid-receipts",
    status_code=201,
    response_model=AidReceipt,
    name="create_aid_receipt",
    responses={**problem_responses(403, 404, 409, 422), 201: {"headers": _CREATED["headers"]}},
)
async def create_aid_receipt(
    caller: ProgrammesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    body: AidReceiptCreate,
) -> Response:
    """Record aid in kind your hromada received: it adds to the hromada's stock."""
    if idempotency.replay is not None:
        return idempotency.replay
    receipt = await commands.record_receipt(session, caller, body.model_dump(exclude_unset=True))
    return await idempotency.respond(
        receipt,
        AidReceipt,
        status_code=201,
        resource_type=queries.AID_RECEIPT,
        resource_ids=[receipt["id"]],
    )


@router.get(
    "/aid-receipts",
    response_model=PageOf[AidReceipt],
    name="list_aid_receipts",
    responses=problem_responses(403, 422),
)
async def list_aid_receipts(
    request: Request,
    caller: ProgrammesRead,
    session: Session,
    page: Pagination,
    hromada: Annotated[KatottgCode | None, Query(description="One hromada's receipts.")] = None,
    item_id: uuid.UUID | None = None,
) -> Response:
    """The aid received within your reach."""
    result = await queries.list_receipts(session, caller, page, hromada, item_id)
    return respond_page(request, result, PageOf[AidReceipt])
