"""Cases of social accompaniment: from referral to closure, with the rules of the standard
enforced here rather than trusted to the client."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field

from registry.api.dependencies import (
    CasesRead,
    CasesWrite,
    Pagination,
    Session,
    Today,
    page_body,
)
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, required_version
from registry.api.responses import etag
from registry.api.schemas.base import (
    InputSchema,
    IsoDate,
    PageOf,
    Rfc3339DateTime,
    Schema,
    text_field,
)
from registry.domain.cases import commands, queries
from registry.domain.cases import referrals as referrals_domain
from registry.domain.cases.lifecycle import CaseStatus, ClosureReason
from registry.domain.territories.categories import CODE_PATTERN

router = APIRouter(tags=["cases"])

CaseId = Annotated[uuid.UUID, Path(description="The case's id.")]
MeasureId = Annotated[uuid.UUID, Path(description="The measure's id.")]
Text = Annotated[str, text_field(4000)]
ShortText = Annotated[str, text_field(300)]
Reason = Annotated[str, text_field(1000)]
Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="The social worker's user id (their token's `sub`).",
    ),
]
Level = Literal["none", "low", "medium", "high"]
ServiceCode = Annotated[str, Field(pattern=r"^[0-9]{3}\.[0-9]$")]


# --- shapes ------------------------------------------------------------------------------------


class ReporterIn(InputSchema):
    kind: Literal[
        "family_member",
        "neighbour",
        "school",
        "healthcare",
        "police",
        "social_services",
        "ngo",
        "anonymous",
        "other",
    ]
    name: ShortText | None = None
    contact: ShortText | None = None


class CaseCreate(InputSchema):
    family_id: uuid.UUID
    source: Literal["application", "report"] = Field(
        description="The family's own application, or a report about the family."
    )
    reporter: ReporterIn | None = Field(default=None, description="Who reported (for a report).")
    summary: Text | None = None
    received_on: IsoDate | None = Field(
        default=None,
        description="When the application or "
        "report was received (not in the future; default today).",
    )


class Reporter(Schema):
    kind: str | None
    name: str | None
    contact: str | None


class DomainAssessment(Schema):
    level: Level | None
    notes: str | None


class Assessment(Schema):
    child_development: DomainAssessment | None = Field(description="The child's development needs.")
    parenting_capacity: DomainAssessment | None
    family_environment: DomainAssessment | None = Field(
        description="Family and environment factors."
    )
    conclusions: str | None
    completed_at: datetime | None
    completed_by: str | None


class Decision(Schema):
    decision: Literal["provide", "refuse"]
    reason: str
    decided_on: date
    decided_by: str


class Measure(Schema):
    id: uuid.UUID
    description: str
    service_code: str | None
    provider_id: uuid.UUID | None
    responsible: str
    due_on: date
    status: Literal["planned", "in_progress", "done", "cancelled"]
    version: int


class Plan(Schema):
    goals: list[str]
    agreed_by: str | None
    agreed_at: datetime | None
    measures: list[Measure]


class ReferralOut(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    measure_id: uuid.UUID | None
    provider_id: uuid.UUID
    service_code: str | None
    note: str | None
    status: Literal["pending", "accepted", "declined", "closed"]
    decline_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    closed_at: datetime | None
    created_by: str
    created_at: datetime
    version: int


class Closure(Schema):
    reason: ClosureReason
    outcome: str | None
    closed_at: datetime


class CaseOut(Schema):
    id: uuid.UUID
    family_id: uuid.UUID
    oblast_code: str
    hromada_code: str
    status: CaseStatus
    suspended_from: CaseStatus | None
    allowed_transitions: list[CaseStatus]
    source: Literal["application", "report"]
    reporter: Reporter | None
    summary: str | None
    received_on: date
    worker_sub: str | None = Field(description="The assigned social worker (null: none).")
    assigned_at: datetime | None
    assessment_due_on: date
    assessment_overdue: bool
    assessment: Assessment | None
    decision: Decision | None
    accompaniment_until: date | None = Field(
        description="Six months from the decision unless extended."
    )
    extension_reason: str | None
    duration_exceeded: bool
    visit_due_on: date | None = Field(description="While active: 14 days after the latest visit.")
    visit_overdue: bool
    plan: Plan | None
    referrals: list[ReferralOut]
    closure: Closure | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(
        description="Also the `ETag`; every change to the case needs it in `If-Match`."
    )


class MemberSummary(Schema):
    last_name: str
    first_name: str
    patronymic: str | None
    relation: str
    age: int | None = Field(description="Children only; null for adults.")


class FamilySummary(Schema):
    id: uuid.UUID
    phone: str | None
    address_line: str | None
    hromada_code: str
    settlement_code: str | None
    members: list[MemberSummary]


class ReferredCase(Schema):
    """What a provider's staff see of a case referred to them."""

    id: uuid.UUID
    status: CaseStatus
    hromada_code: str
    worker_sub: str | None
    family: FamilySummary
    referrals: list[ReferralOut]
    version: int


CaseView = CaseOut | ReferredCase


class TransferTarget(InputSchema):
    hromada_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    worker_sub: Subject | None = None


class TransitionIn(InputSchema):
    to: CaseStatus
    reason: Reason | None = Field(
        default=None, description="Required to suspend, transfer and close."
    )
    closure_reason: ClosureReason | None = Field(default=None, description="Required to close.")
    outcome: Text | None = Field(default=None, description="The outcome, on closing.")
    transfer_to: TransferTarget | None = Field(default=None, description="Where a transfer goes.")


class Transition(Schema):
    version: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    reason: str | None
    details: dict[str, Any] | None
    actor: str
    at: datetime


class AssignmentIn(InputSchema):
    worker_sub: Subject


class DomainAssessmentIn(InputSchema):
    level: Level | None = None
    notes: Text | None = None


class AssessmentIn(InputSchema):
    child_development: DomainAssessmentIn | None = None
    parenting_capacity: DomainAssessmentIn | None = None
    family_environment: DomainAssessmentIn | None = None
    conclusions: Text | None = None
    complete: bool = Field(
        default=False,
        description="Complete the assessment: every domain needs a level, and conclusions.",
    )


class DecisionIn(InputSchema):
    decision: Literal["provide", "refuse"]
    reason: Reason


class ExtensionIn(InputSchema):
    until: IsoDate
    reason: Reason


class AgreementIn(InputSchema):
    agreed_by: ShortText = Field(description="Who agreed the plan for the family.")
    agreed_at: Rfc3339DateTime


class PlanIn(InputSchema):
    goals: list[ShortText] = Field(min_length=1, max_length=30)
    agreement: AgreementIn | None = None


class MeasureIn(InputSchema):
    description: ShortText
    service_code: ServiceCode | None = None
    provider_id: uuid.UUID | None = None
    responsible: ShortText
    due_on: IsoDate


class MeasureStatusIn(InputSchema):
    status: Literal["planned", "in_progress", "done", "cancelled"]


class VisitIn(InputSchema):
    visited_on: IsoDate
    kind: Literal["home", "office", "phone", "online"]
    participants: list[ShortText] = Field(default_factory=list, max_length=20)
    notes: Text | None = None


class Visit(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    visited_on: date
    kind: str
    participants: list[str]
    notes: str | None
    created_by: str
    created_at: datetime


class ReviewIn(InputSchema):
    reviewed_on: IsoDate
    outcome: Literal["progressing", "no_progress", "goals_achieved", "plan_changed"]
    notes: Text | None = None


class Review(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    reviewed_on: date
    outcome: str
    notes: str | None
    created_by: str
    created_at: datetime


class ReferralIn(InputSchema):
    provider_id: uuid.UUID
    measure_id: uuid.UUID | None = None
    service_code: ServiceCode | None = None
    note: Text | None = None


class DeclineIn(InputSchema):
    reason: Reason


class WorkerLoad(Schema):
    hromada_code: str
    worker_sub: str
    open_cases: int
    visits_overdue: int
    assessments_overdue: int
    duration_exceeded: int


class HromadaLoad(Schema):
    hromada_code: str
    open_cases: int
    unassigned: int
    workers: int
    visits_overdue: int
    assessments_overdue: int
    duration_exceeded: int


class Caseload(Schema):
    as_of: date
    territory: str | None
    workers: list[WorkerLoad]
    hromadas: list[HromadaLoad]


# --- helpers -----------------------------------------------------------------------------------

_CASE_LINKS = links(
    {"case_id": "$response.body#/id"},
    GetCase="get_case",
    TransitionCase="transition_case",
    AssignCase="assign_case",
    SaveAssessment="save_case_assessment",
    DecideCase="decide_case",
    SavePlan="save_case_plan",
    AddMeasure="add_case_measure",
    AddVisit="add_case_visit",
    ListVisits="list_case_visits",
    GetCaseHistory="get_case_history",
)
_UPDATE = problem_responses(403, 404, 409, 412, 422, 428)


def _etagged(response: Response, case: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = etag(case["version"])
    return case


# --- cases -------------------------------------------------------------------------------------


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    name="open_case",
    responses={
        **problem_responses(403, 409, 422),
        201: {
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "ETag": {"schema": {"type": "string"}},
            },
            "links": _CASE_LINKS,
        },
    },
)
async def open_case(
    request: Request,
    caller: CasesWrite,
    session: Session,
    idempotency: IdempotencyClaim,
    today: Today,
    body: CaseCreate,
) -> Response:
    """Open a case for a family of your hromada, from its application or a report about it.
    The needs assessment falls due within the configured working days (default 10)."""
    if idempotency.replay is not None:
        return idempotency.replay
    settings = request.app.state.settings
    case = await commands.open_case(
        session, caller, body.model_dump(), today, settings.assessment_working_days
    )
    return await idempotency.respond(
        case,
        CaseOut,
        status_code=201,
        version=case["version"],
        location=str(request.url_for("get_case", case_id=case["id"]).path),
        resource_type=queries.CASE,
        resource_ids=[case["id"], case["family_id"]],
    )


@router.get(
    "/cases",
    response_model=PageOf[CaseView],
    name="list_cases",
    responses=problem_responses(403, 422),
)
async def list_cases(
    request: Request,
    response: Response,
    caller: CasesRead,
    session: Session,
    page: Pagination,
    today: Today,
    status: CaseStatus | None = None,
    hromada: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    worker: Annotated[
        str | None,
        Query(
            max_length=200, pattern=r"^[\x21-\x7e]+$", description="The assigned worker's `sub`."
        ),
    ] = None,
    provider_id: Annotated[
        uuid.UUID | None, Query(description="Cases referred to this provider.")
    ] = None,
    family_id: uuid.UUID | None = None,
    visit_overdue: Annotated[
        bool | None, Query(description="Active cases whose visit is overdue.")
    ] = None,
    assessment_overdue: Annotated[
        bool | None, Query(description="Cases whose needs assessment is overdue.")
    ] = None,
    duration_exceeded: Annotated[
        bool | None, Query(description="Open cases past their accompaniment end.")
    ] = None,
) -> dict[str, object]:
    """Cases within your reach, filtered; each one returned is audited."""
    result = await queries.list_cases(
        session,
        caller,
        page,
        queries.CaseFilter(
            status=status,
            hromada=hromada,
            worker=worker,
            provider_id=provider_id,
            family_id=family_id,
            visit_overdue=visit_overdue,
            assessment_overdue=assessment_overdue,
            duration_exceeded=duration_exceeded,
        ),
        today,
    )
    return page_body(request, response, result, result.items)


@router.get(
    "/cases/{case_id}",
    response_model=CaseView,
    name="get_case",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_case(
    response: Response, caller: CasesRead, session: Session, today: Today, case_id: CaseId
) -> dict[str, Any]:
    """The case with its assessment, plan, referrals and deadlines (a provider's staff see
    only what their referral needs)."""
    return _etagged(response, await queries.get_case(session, caller, case_id, today))


@router.get(
    "/cases/{case_id}/history",
    response_model=PageOf[Transition],
    name="get_case_history",
    responses=problem_responses(403, 404, 422),
)
async def get_case_history(
    caller: CasesRead, session: Session, today: Today, case_id: CaseId
) -> dict[str, object]:
    """Every transition, with who and when (one page)."""
    return {"items": await queries.history(session, caller, case_id, today), "next_cursor": None}


@router.post(
    "/cases/{case_id}/transitions",
    response_model=CaseView,
    name="transition_case",
    responses=_UPDATE,
)
async def transition_case(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: TransitionIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Move the case along its lifecycle. A move the lifecycle does not allow is a 409 with
    `allowed`; one whose requirements are unmet is a 409 with `missing`."""
    case = await commands.transition(
        session, caller, case_id, body.model_dump(), required_version(if_match), today
    )
    response.headers["ETag"] = etag(case["version"])
    return case


@router.post(
    "/cases/{case_id}/assignment", response_model=CaseOut, name="assign_case", responses=_UPDATE
)
async def assign_case(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: AssignmentIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Assign the social worker who works the case (community officers)."""
    return _etagged(
        response,
        await commands.assign(
            session, caller, case_id, body.worker_sub, required_version(if_match), today
        ),
    )


@router.put(
    "/cases/{case_id}/assessment",
    response_model=CaseOut,
    name="save_case_assessment",
    responses=_UPDATE,
)
async def save_case_assessment(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: AssessmentIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Record the needs assessment while the case is in assessment; `complete` closes it."""
    return _etagged(
        response,
        await commands.save_assessment(
            session, caller, case_id, body.model_dump(), required_version(if_match), today
        ),
    )


@router.post(
    "/cases/{case_id}/decision", response_model=CaseOut, name="decide_case", responses=_UPDATE
)
async def decide_case(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: DecisionIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Decide to provide or refuse accompaniment, after the completed assessment."""
    return _etagged(
        response,
        await commands.decide(
            session, caller, case_id, body.model_dump(), required_version(if_match), today
        ),
    )


@router.post(
    "/cases/{case_id}/extension", response_model=CaseOut, name="extend_case", responses=_UPDATE
)
async def extend_case(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: ExtensionIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Extend accompaniment beyond its end, with the reason."""
    return _etagged(
        response,
        await commands.extend(
            session, caller, case_id, body.model_dump(), required_version(if_match), today
        ),
    )


@router.put(
    "/cases/{case_id}/plan", response_model=CaseOut, name="save_case_plan", responses=_UPDATE
)
async def save_case_plan(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    body: PlanIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """The individual plan's goals and the family's agreement."""
    return _etagged(
        response,
        await commands.save_plan(
            session, caller, case_id, body.model_dump(), required_version(if_match), today
        ),
    )


@router.post(
    "/cases/{case_id}/measures",
    status_code=201,
    response_model=Measure,
    name="add_case_measure",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_measure(
    caller: CasesWrite, session: Session, today: Today, case_id: CaseId, body: MeasureIn
) -> dict[str, Any]:
    """Add a measure to the plan."""
    return await commands.add_measure(session, caller, case_id, body.model_dump(), today)


@router.patch(
    "/cases/{case_id}/measures/{measure_id}",
    response_model=CaseOut,
    name="update_case_measure",
    responses=_UPDATE,
)
async def update_case_measure(
    response: Response,
    caller: CasesWrite,
    session: Session,
    today: Today,
    case_id: CaseId,
    measure_id: MeasureId,
    body: MeasureStatusIn,
    if_match: IfMatch,
) -> dict[str, Any]:
    """Change a measure's status (`If-Match`: the case's ETag)."""
    return _etagged(
        response,
        await commands.update_measure(
            session, caller, case_id, measure_id, body.status, required_version(if_match), today
        ),
    )


@router.post(
    "/cases/{case_id}/visits",
    status_code=201,
    response_model=Visit,
    name="add_case_visit",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_visit(
    caller: CasesWrite, session: Session, today: Today, case_id: CaseId, body: VisitIn
) -> dict[str, Any]:
    """Record a visit or contact; while active the next one falls due in 14 days."""
    return await commands.add_visit(session, caller, case_id, body.model_dump(), today)


@router.get(
    "/cases/{case_id}/visits",
    response_model=PageOf[Visit],
    name="list_case_visits",
    responses=problem_responses(403, 404, 422),
)
async def list_case_visits(
    caller: CasesRead, session: Session, today: Today, case_id: CaseId
) -> dict[str, object]:
    """The case's visits and contacts, latest first (one page)."""
    return {"items": await queries.visits(session, caller, case_id, today), "next_cursor": None}


@router.post(
    "/cases/{case_id}/reviews",
    status_code=201,
    response_model=Review,
    name="add_case_review",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_review(
    caller: CasesWrite, session: Session, today: Today, case_id: CaseId, body: ReviewIn
) -> dict[str, Any]:
    """Record a progress review and its outcome."""
    return await commands.add_review(session, caller, case_id, body.model_dump(), today)


@router.get(
    "/cases/{case_id}/reviews",
    response_model=PageOf[Review],
    name="list_case_reviews",
    responses=problem_responses(403, 404, 422),
)
async def list_case_reviews(
    caller: CasesRead, session: Session, today: Today, case_id: CaseId
) -> dict[str, object]:
    """The case's progress reviews, latest first (one page)."""
    return {"items": await queries.reviews(session, caller, case_id, today), "next_cursor": None}


# --- referrals ---------------------------------------------------------------------------------

ReferralId = Annotated[uuid.UUID, Path(description="The referral's id.")]


@router.post(
    "/cases/{case_id}/referrals",
    status_code=201,
    response_model=ReferralOut,
    name="refer_case",
    responses=problem_responses(403, 404, 409, 422),
)
async def refer_case(
    caller: CasesWrite, session: Session, today: Today, case_id: CaseId, body: ReferralIn
) -> dict[str, Any]:
    """Refer the case to a provider; accepting it lets the provider's staff see the case and
    the family's minimal data and record services."""
    return await referrals_domain.refer(session, caller, case_id, body.model_dump(), today)


@router.get(
    "/referrals",
    response_model=PageOf[ReferralOut],
    name="list_referrals",
    responses=problem_responses(403, 422),
)
async def list_referrals(
    request: Request,
    response: Response,
    caller: CasesRead,
    session: Session,
    page: Pagination,
    status: Literal["pending", "accepted", "declined", "closed"] | None = None,
    case_id: uuid.UUID | None = None,
) -> dict[str, object]:
    """Referrals to your provider (provider staff), or of the cases you may see."""
    result = await referrals_domain.list_referrals(
        session, caller, page, referrals_domain.ReferralFilter(status=status, case_id=case_id)
    )
    return page_body(request, response, result, result.items)


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralOut,
    name="get_referral",
    responses=problem_responses(403, 404, 422),
)
async def get_referral(
    caller: CasesRead, session: Session, referral_id: ReferralId
) -> dict[str, Any]:
    """One referral: to your provider, or of a case you may see."""
    return await referrals_domain.get_referral(session, caller, referral_id)


@router.post(
    "/referrals/{referral_id}/accept",
    response_model=ReferralOut,
    name="accept_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def accept_referral(
    caller: CasesRead, session: Session, referral_id: ReferralId
) -> dict[str, Any]:
    """Accept a referral to your provider."""
    return await referrals_domain.accept(session, caller, referral_id)


@router.post(
    "/referrals/{referral_id}/decline",
    response_model=ReferralOut,
    name="decline_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def decline_referral(
    caller: CasesRead, session: Session, referral_id: ReferralId, body: DeclineIn
) -> dict[str, Any]:
    """Decline a referral to your provider, with the reason."""
    return await referrals_domain.decline(session, caller, referral_id, body.reason)


@router.post(
    "/referrals/{referral_id}/close",
    response_model=ReferralOut,
    name="close_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def close_referral(
    caller: CasesWrite, session: Session, today: Today, referral_id: ReferralId
) -> dict[str, Any]:
    """Close a referral (its measure is done or dropped): the provider's access ends."""
    return await referrals_domain.close(session, caller, referral_id, today)


# --- caseload ----------------------------------------------------------------------------------


@router.get(
    "/caseload", response_model=Caseload, name="get_caseload", responses=problem_responses(403, 422)
)
async def get_caseload(
    caller: CasesRead,
    session: Session,
    today: Today,
    territory: Annotated[
        str | None,
        Query(pattern=CODE_PATTERN, description="An oblast, raion or hromada within your reach."),
    ] = None,
) -> dict[str, Any]:
    """Per social worker: open cases, overdue visits and assessments; per hromada: totals
    and unassigned cases — within your reach."""
    return await queries.caseload(session, caller, territory, today)
