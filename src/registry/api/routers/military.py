"""Support for servicemembers' families: the units of the programme and their providers, the
catalogue of measures, servicemembers and their status, and the support cases a unit's
eligible civil-society providers work.

A servicemember's status is among the most sensitive facts the registry holds: every read is
audited, no list filters by it, and no error message names it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import (
    AppSettings,
    DriverConnection,
    MilitaryManage,
    MilitaryRead,
    MilitaryWrite,
    Pagination,
    ReferenceRead,
    Session,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, OptionalIfMatch, required_version, version_from
from registry.api.responses import respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import KatottgCode, PageOf
from registry.api.schemas.cases import SUBJECT_PATTERN
from registry.api.schemas.military import (
    MEASURE_CODE_PATTERN,
    CatalogueMeasurePatch,
    ContactIn,
    MeasureCreate,
    PlannedMeasureIn,
    Servicemember,
    ServicememberAnswer,
    ServicememberCreate,
    ServicememberView,
    Stage,
    StatusIn,
    SupportAssignmentIn,
    SupportCase,
    SupportCaseAnswer,
    SupportCaseCreate,
    SupportCaseEvent,
    SupportCaseMeasurePatch,
    SupportCaseStep,
    SupportCaseSummary,
    SupportCaseView,
    SupportMeasure,
    SupportTransitionIn,
    TransferIn,
    Unit,
    UnitCreate,
    UnitPatch,
)
from registry.auth.principal import Principal
from registry.domain.military import commands, queries
from registry.domain.military.access import sees_status_history
from registry.domain.military.queries import SupportCaseFilter
from registry.domain.military.rules import SupportCaseStatus

router = APIRouter(tags=["military"])

UnitId = Annotated[uuid.UUID, Path(description="The unit's id.")]
ServicememberId = Annotated[uuid.UUID, Path(description="The servicemember's id.")]
SupportCaseId = Annotated[uuid.UUID, Path(description="The support case's id.")]
MeasureId = Annotated[uuid.UUID, Path(description="The planned measure's id.")]
MeasureCodePath = Annotated[
    str, Path(max_length=64, pattern=MEASURE_CODE_PATTERN, description="The measure's code.")
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
_CHILD = problem_responses(403, 404, 409, 412, 422)
_CASE_LINKS = links(
    {"case_id": "$response.body#/id"},
    GetSupportCase="get_support_case",
    TransitionSupportCase="transition_support_case",
    AssignSupportCase="assign_support_case",
    PlanSupportMeasure="plan_support_case_measure",
    AddSupportContact="add_support_case_contact",
    GetSupportCaseHistory="get_support_case_history",
)


def _servicemember_model(principal: Principal) -> type[Any]:
    return Servicemember if sees_status_history(principal) else ServicememberAnswer


# --- units ------------------------------------------------------------------------------------


@router.post(
    "/military-units",
    status_code=201,
    response_model=Unit,
    name="create_military_unit",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            **_CREATED,
            "links": links(
                {"unit_id": "$response.body#/id"},
                GetMilitaryUnit="get_military_unit",
                UpdateMilitaryUnit="update_military_unit",
            ),
        },
    },
)
async def create_military_unit(
    request: Request,
    caller: MilitaryManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: UnitCreate,
) -> Response:
    """Bring a unit into the programme (the ministry), with the providers assigned to it:
    each must pass the eligibility gate (422 naming every reason it fails). The registry
    keeps the unit's public designation only: never its location, deployment or strength."""
    if idempotency.replay is not None:
        return idempotency.replay
    unit = await commands.create_unit(session, caller, body.model_dump())
    return await idempotency.respond(
        unit,
        Unit,
        status_code=201,
        version=unit["version"],
        location=path_for(request, "get_military_unit", unit_id=unit["id"]),
        resource_type=queries.MILITARY_UNIT,
        resource_ids=[unit["id"]],
    )


@router.get(
    "/military-units",
    response_model=PageOf[Unit],
    name="list_military_units",
    responses=problem_responses(403, 422),
)
async def list_military_units(
    request: Request,
    caller: MilitaryRead,
    session: Session,
    page: Pagination,
    stage: Annotated[Stage | None, Query()] = None,
    oblast: Annotated[
        KatottgCode | None, Query(description="Units serving families in this oblast.")
    ] = None,
) -> Response:
    """The units of the programme within your reach (a liaison: their own; a provider: those
    it is assigned to)."""
    result = await queries.list_units(session, caller, page, stage, oblast)
    return respond_page(request, result, PageOf[Unit])


@router.get(
    "/military-units/{unit_id}", response_model=Unit, name="get_military_unit", responses=_READ
)
async def get_military_unit(caller: MilitaryRead, session: Session, unit_id: UnitId) -> Response:
    """The unit with its standing providers and whether each still passes the gate."""
    unit = await queries.get_unit(session, caller, unit_id)
    return respond(unit, Unit, version=unit["version"])


@router.patch(
    "/military-units/{unit_id}",
    response_model=Unit,
    name="update_military_unit",
    responses=_UPDATE,
)
async def update_military_unit(
    caller: MilitaryManage, session: Session, unit_id: UnitId, body: UnitPatch, if_match: IfMatch
) -> Response:
    """Change a unit (the ministry): its name, oblasts, stage, dates, and its providers
    (`provider_ids`: the new ones through the gate; one left out is taken off the unit)."""
    unit = await commands.update_unit(
        session, caller, unit_id, body.model_dump(exclude_unset=True), required_version(if_match)
    )
    return respond(unit, Unit, version=unit["version"])


@router.get(
    "/military-units/{unit_id}/cases",
    response_model=PageOf[SupportCaseSummary],
    name="list_military_unit_cases",
    responses=problem_responses(403, 404, 422),
)
async def list_military_unit_cases(
    request: Request,
    caller: MilitaryRead,
    session: Session,
    page: Pagination,
    unit_id: UnitId,
    status: SupportCaseStatus | None = None,
    contact_overdue: Annotated[
        bool | None, Query(description="Open or active cases whose contact is overdue.")
    ] = None,
    provider_ineligible: Annotated[
        bool | None,
        Query(
            description="Open cases whose provider no longer passes the gate or serves the "
            "unit: the cases to reassign."
        ),
    ] = None,
) -> Response:
    """The unit's support cases within your reach, e.g. those to reassign
    (`provider_ineligible=true`); each one returned is audited."""
    where = SupportCaseFilter(
        status=status, contact_overdue=contact_overdue, provider_ineligible=provider_ineligible
    )
    result = await queries.list_unit_support_cases(session, caller, unit_id, page, where)
    return respond_page(request, result)  # in ``SupportCaseSummary``'s shape, as below


# --- the catalogue ----------------------------------------------------------------------------


@router.get(
    "/support-measures",
    response_model=PageOf[SupportMeasure],
    name="list_support_measures",
    responses=problem_responses(403, 422),
)
async def list_support_measures(
    caller: ReferenceRead,
    session: Session,
    include_retired: Annotated[bool, Query(description="Retired measures too.")] = False,
) -> Response:
    """The catalogue of support measures (one page): each with the servicemember statuses it
    applies to."""
    return respond_all(await queries.measures(session, include_retired), PageOf[SupportMeasure])


@router.post(
    "/support-measures",
    status_code=201,
    response_model=SupportMeasure,
    name="add_support_measure",
    responses={**problem_responses(403, 409, 422), 201: _CREATED},
)
async def add_support_measure(
    request: Request,
    caller: MilitaryManage,
    session: Session,
    idempotency: IdempotencyClaim,
    body: MeasureCreate,
) -> Response:
    """Add a measure to the catalogue (the ministry)."""
    if idempotency.replay is not None:
        return idempotency.replay
    measure = await commands.add_measure(session, caller, body.model_dump())
    return await idempotency.respond(
        measure,
        SupportMeasure,
        status_code=201,
        version=measure["version"],
        location=path_for(request, "get_support_measure", measure_code=measure["code"]),
        resource_type=queries.SUPPORT_MEASURE,
        resource_ids=[],
    )


@router.get(
    "/support-measures/{measure_code}",
    response_model=SupportMeasure,
    name="get_support_measure",
    responses=_READ,
)
async def get_support_measure(
    caller: ReferenceRead, session: Session, measure_code: MeasureCodePath
) -> Response:
    """One measure of the catalogue (retired ones too)."""
    measure = await queries.measure(session, measure_code)
    return respond(measure, SupportMeasure, version=measure["version"])


@router.patch(
    "/support-measures/{measure_code}",
    response_model=SupportMeasure,
    name="update_support_measure",
    responses=problem_responses(403, 404, 412, 422, 428),
)
async def update_support_measure(
    caller: MilitaryManage,
    session: Session,
    measure_code: MeasureCodePath,
    body: CatalogueMeasurePatch,
    if_match: IfMatch,
) -> Response:
    """Change or retire (`retired: true`) a measure (the ministry)."""
    measure = await commands.update_measure(
        session,
        caller,
        measure_code,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
    )
    return respond(measure, SupportMeasure, version=measure["version"])


# --- servicemembers ---------------------------------------------------------------------------


@router.post(
    "/servicemembers",
    status_code=201,
    response_model=Servicemember,
    name="create_servicemember",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            **_CREATED,
            "links": {
                **links(
                    {"servicemember_id": "$response.body#/id"},
                    GetServicemember="get_servicemember",
                    RecordServicememberStatus="record_servicemember_status",
                ),
                "OpenSupportCase": {
                    "operationId": "open_support_case",
                    "requestBody": {"servicemember_id": "$response.body#/id"},
                },
            },
        },
    },
)
async def create_servicemember(
    request: Request,
    caller: MilitaryWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    body: ServicememberCreate,
) -> Response:
    """Record a servicemember of your unit (a liaison): a person of the registry by id, or a
    new person with their family, and the status support starts from."""
    if idempotency.replay is not None:
        return idempotency.replay
    servicemember = await commands.create_servicemember(session, caller, body.model_dump())
    return await idempotency.respond(
        servicemember,
        Servicemember,
        status_code=201,
        version=servicemember["version"],
        location=path_for(request, "get_servicemember", servicemember_id=servicemember["id"]),
        resource_type=queries.SERVICEMEMBER,
        resource_ids=[servicemember["id"], servicemember["family_id"]],
    )


@router.get(
    "/servicemembers",
    response_model=PageOf[ServicememberView],
    name="list_servicemembers",
    responses=problem_responses(403, 422),
)
async def list_servicemembers(
    request: Request,
    caller: MilitaryRead,
    session: Session,
    page: Pagination,
    unit_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
) -> Response:
    """Servicemembers within your reach; each one returned is audited."""
    result = await queries.list_servicemembers(session, caller, page, unit_id, family_id)
    return respond_page(request, result, PageOf[ServicememberView])


@router.get(
    "/servicemembers/{servicemember_id}",
    response_model=ServicememberView,
    name="get_servicemember",
    responses=_READ,
)
async def get_servicemember(
    caller: MilitaryRead, session: Session, servicemember_id: ServicememberId
) -> Response:
    """The servicemember: the unit's side and the ministry see the status and unit
    histories, everyone else the status as it stands now. Audited."""
    found = await queries.get_servicemember(session, caller, servicemember_id)
    return respond(found, _servicemember_model(caller.principal), version=found["version"])


@router.post(
    "/servicemembers/{servicemember_id}/status",
    status_code=201,
    response_model=Servicemember,
    name="record_servicemember_status",
    responses=_CHILD,
)
async def record_servicemember_status(
    caller: MilitaryWrite,
    session: Session,
    settings: AppSettings,
    servicemember_id: ServicememberId,
    body: StatusIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Append a status to the servicemember's history (a liaison of their unit). When it
    becomes the current status, every open support case of the servicemember records it and
    plans the catalogue's measures for it. `If-Match` is checked when sent."""
    found = await commands.record_status(
        session,
        caller,
        servicemember_id,
        body.model_dump(),
        version_from(if_match),
        settings.support_first_contact_days,
    )
    return respond(found, Servicemember, status_code=201, version=found["version"])


@router.post(
    "/servicemembers/{servicemember_id}/transfer",
    response_model=Servicemember,
    name="transfer_servicemember",
    responses=_CHILD,
)
async def transfer_servicemember(
    caller: MilitaryRead,
    session: Session,
    servicemember_id: ServicememberId,
    body: TransferIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Move the servicemember to another unit (the current unit's liaison, or the ministry):
    the unit history keeps the move, and their open support cases go with them."""
    found = await commands.transfer(
        session, caller, servicemember_id, body.model_dump(), version_from(if_match)
    )
    return respond(found, Servicemember, version=found["version"])


# --- support cases ----------------------------------------------------------------------------


@router.post(
    "/support-cases",
    status_code=201,
    response_model=SupportCase,
    name="open_support_case",
    responses={**problem_responses(403, 409, 422), 201: {**_CREATED, "links": _CASE_LINKS}},
)
async def open_support_case(
    request: Request,
    caller: MilitaryWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    settings: AppSettings,
    body: SupportCaseCreate,
) -> Response:
    """Open a support case for a servicemember of your unit and their family (a liaison):
    one open case per servicemember. The first contact falls due within the configured days
    (default 3)."""
    if idempotency.replay is not None:
        return idempotency.replay
    case = await commands.open_support_case(
        session, caller, body.model_dump(), settings.support_first_contact_days
    )
    return await idempotency.respond(
        case,
        SupportCase,
        status_code=201,
        version=case["version"],
        location=path_for(request, "get_support_case", case_id=case["id"]),
        resource_type=queries.SUPPORT_CASE,
        resource_ids=[case["id"], case["servicemember"]["id"], case["family_id"]],
    )


@router.get(
    "/support-cases",
    response_model=PageOf[SupportCaseSummary],
    name="list_support_cases",
    responses=problem_responses(403, 422),
)
async def list_support_cases(
    request: Request,
    caller: MilitaryRead,
    connection: DriverConnection,
    page: Pagination,
    status: SupportCaseStatus | None = None,
    unit_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    servicemember_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
    worker: Annotated[
        str | None,
        Query(max_length=200, pattern=SUBJECT_PATTERN, description="The assigned worker's `sub`."),
    ] = None,
    contact_overdue: Annotated[
        bool | None, Query(description="Open or active cases whose contact is overdue.")
    ] = None,
    provider_ineligible: Annotated[
        bool | None, Query(description="Open cases whose provider is to be replaced.")
    ] = None,
) -> Response:
    """Support cases within your reach, filtered; each one returned is audited."""
    where = SupportCaseFilter(
        status=status,
        unit_id=unit_id,
        provider_id=provider_id,
        servicemember_id=servicemember_id,
        family_id=family_id,
        worker=worker,
        contact_overdue=contact_overdue,
        provider_ineligible=provider_ineligible,
    )
    result = await queries.list_support_cases(connection, caller, page, where)
    # As the domain renders it, in ``SupportCaseSummary``'s shape (a test holds it so): the
    # hot list of the unit's liaison, whose 50 summaries through Pydantic cost more than
    # reading them.
    return respond_page(request, result)


@router.get(
    "/support-cases/{case_id}",
    response_model=SupportCaseView,
    name="get_support_case",
    responses=_READ,
)
async def get_support_case(
    caller: MilitaryRead, session: Session, case_id: SupportCaseId
) -> Response:
    """The support case: its servicemember (status as it stands now), the family, the plan,
    the contacts and deadlines, in the shape your role sees. Audited."""
    case = await queries.get_support_case(session, caller, case_id)
    return respond(case, SupportCaseAnswer, version=case["version"])


@router.get(
    "/support-cases/{case_id}/history",
    response_model=PageOf[SupportCaseEvent] | PageOf[SupportCaseStep],
    name="get_support_case_history",
    responses=problem_responses(403, 404, 422),
)
async def get_support_case_history(
    caller: MilitaryRead, session: Session, case_id: SupportCaseId
) -> Response:
    """Every step of the case (one page). The unit's side and the ministry also see the
    servicemember's status changes recorded on it, who and why; others see when it moved."""
    model = (
        PageOf[SupportCaseEvent]
        if sees_status_history(caller.principal)
        else PageOf[SupportCaseStep]
    )
    return respond_all(await queries.history(session, caller, case_id), model)


@router.post(
    "/support-cases/{case_id}/transitions",
    response_model=SupportCaseView,
    name="transition_support_case",
    responses=_UPDATE,
)
async def transition_support_case(
    caller: MilitaryWrite,
    session: Session,
    settings: AppSettings,
    case_id: SupportCaseId,
    body: SupportTransitionIn,
    if_match: IfMatch,
) -> Response:
    """Move the case: `open → active ⇄ suspended → closed` (an open or active case may also
    close). A move not allowed is a 409 naming `allowed`; activating needs a provider and a
    worker assigned; suspending and closing need a reason."""
    case = await commands.transition(
        session,
        caller,
        case_id,
        body.model_dump(),
        required_version(if_match),
        settings.support_first_contact_days,
    )
    return respond(case, SupportCaseAnswer, version=case["version"])


@router.post(
    "/support-cases/{case_id}/assignment",
    response_model=SupportCase,
    name="assign_support_case",
    responses=_UPDATE,
)
async def assign_support_case(
    caller: MilitaryRead,
    session: Session,
    case_id: SupportCaseId,
    body: SupportAssignmentIn,
    if_match: IfMatch,
) -> Response:
    """Assign the case to an eligible provider of its unit and a named worker of it (the
    unit's liaison, or the ministry)."""
    case = await commands.assign(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, SupportCase, version=case["version"])


@router.post(
    "/support-cases/{case_id}/measures",
    status_code=201,
    response_model=SupportCaseView,
    name="plan_support_case_measure",
    responses=_CHILD,
)
async def plan_support_case_measure(
    caller: MilitaryWrite,
    session: Session,
    case_id: SupportCaseId,
    body: PlannedMeasureIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Plan a measure of the catalogue: who is responsible, by when. `If-Match` (the case's
    ETag) is checked when sent."""
    case = await commands.plan_measure(
        session, caller, case_id, body.model_dump(), version_from(if_match)
    )
    return respond(case, SupportCaseAnswer, status_code=201, version=case["version"])


@router.patch(
    "/support-cases/{case_id}/measures/{measure_id}",
    response_model=SupportCaseView,
    name="update_support_case_measure",
    responses=_UPDATE,
)
async def update_support_case_measure(
    caller: MilitaryWrite,
    session: Session,
    case_id: SupportCaseId,
    measure_id: MeasureId,
    body: SupportCaseMeasurePatch,
    if_match: IfMatch,
) -> Response:
    """Record a planned measure delivered (date, outcome, notes) or cancelled, or move its
    due date or responsible (`If-Match`: the case's ETag)."""
    case = await commands.update_case_measure(
        session,
        caller,
        case_id,
        measure_id,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
    )
    return respond(case, SupportCaseAnswer, version=case["version"])


@router.post(
    "/support-cases/{case_id}/contacts",
    status_code=201,
    response_model=SupportCaseView,
    name="add_support_case_contact",
    responses=_CHILD,
)
async def add_support_case_contact(
    caller: MilitaryWrite,
    session: Session,
    settings: AppSettings,
    case_id: SupportCaseId,
    body: ContactIn,
    if_match: OptionalIfMatch = None,
) -> Response:
    """Record a contact with the family; the next falls due within the configured interval
    (default 30 days). `If-Match` (the case's ETag) is checked when sent."""
    case = await commands.add_contact(
        session,
        caller,
        case_id,
        body.model_dump(),
        version_from(if_match),
        settings.support_contact_interval_days,
    )
    return respond(case, SupportCaseAnswer, status_code=201, version=case["version"])
