"""Cases of social accompaniment: from referral to closure, with the rules of the standard
enforced here rather than trusted to the client."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from registry.api.dependencies import AppSettings, CasesRead, CasesWrite, Pagination, Session
from registry.api.idempotency import IdempotencyClaim
from registry.api.openapi_responses import links, problem_responses
from registry.api.preconditions import IfMatch, required_version
from registry.api.responses import respond, respond_all, respond_page
from registry.api.routes import path_for
from registry.api.schemas.base import KatottgCode, PageOf
from registry.api.schemas.cases import (
    SUBJECT_PATTERN,
    AssessmentIn,
    AssignmentIn,
    CaseCreate,
    Caseload,
    CaseOut,
    CaseView,
    DecisionIn,
    DeclineIn,
    ExtensionIn,
    Measure,
    MeasureIn,
    MeasurePatch,
    PlanIn,
    ReferralForProvider,
    ReferralIn,
    ReferralOut,
    ReferralView,
    ReferredCase,
    Review,
    ReviewForProvider,
    ReviewIn,
    ReviewView,
    Transition,
    TransitionForProvider,
    TransitionIn,
    TransitionView,
    Visit,
    VisitForProvider,
    VisitIn,
    VisitView,
)
from registry.auth.principal import Principal
from registry.domain.cases import commands, queries
from registry.domain.cases.access import for_provider
from registry.domain.cases.rules import CaseStatus

router = APIRouter(tags=["cases"])

CaseId = Annotated[uuid.UUID, Path(description="The case's id.")]
MeasureId = Annotated[uuid.UUID, Path(description="The measure's id.")]
ReferralId = Annotated[uuid.UUID, Path(description="The referral's id.")]

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


def _shape(principal: Principal, full: type[Any] | None, provider: type[Any]) -> type[Any] | None:
    """The shape a reader gets: ``provider``'s allow-list for a provider (its staff or its
    system), the ``full`` record for the case's own side."""
    return provider if for_provider(principal) else full


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
    settings: AppSettings,
    body: CaseCreate,
) -> Response:
    """Open a case for a family of your hromada (from its application or a report about it).
    The needs assessment falls due within the configured working days (default 10)."""
    if idempotency.replay is not None:
        return idempotency.replay
    case = await commands.open_case(
        session, caller, body.model_dump(), settings.assessment_working_days
    )
    return await idempotency.respond(
        case,
        CaseOut,
        status_code=201,
        version=case["version"],
        location=path_for(request, "get_case", case_id=case["id"]),
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
    caller: CasesRead,
    session: Session,
    page: Pagination,
    status: CaseStatus | None = None,
    hromada: Annotated[KatottgCode | None, Query()] = None,
    worker: Annotated[
        str | None,
        Query(max_length=200, pattern=SUBJECT_PATTERN, description="The assigned worker's `sub`."),
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
) -> Response:
    """Cases within your reach, filtered; each one returned is audited."""
    where = queries.CaseFilter(
        status=status,
        hromada=hromada,
        worker=worker,
        provider_id=provider_id,
        family_id=family_id,
        visit_overdue=visit_overdue,
        assessment_overdue=assessment_overdue,
        duration_exceeded=duration_exceeded,
    )
    result = await queries.list_cases(session, caller, page, where)
    # The case's own side gets the page as the domain renders it, in ``CaseOut``'s shape
    # (the hot list: 50 cases through Pydantic cost more than reading them).
    return respond_page(request, result, _shape(caller.principal, None, PageOf[ReferredCase]))


@router.get(
    "/cases/{case_id}",
    response_model=CaseView,
    name="get_case",
    responses={
        **problem_responses(403, 404, 422),
        200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
    },
)
async def get_case(caller: CasesRead, session: Session, case_id: CaseId) -> Response:
    """The case with its assessment, plan, referrals and deadlines (a provider's staff see
    only what their referral needs)."""
    case = await queries.get_case(session, caller, case_id)
    return respond(case, _shape(caller.principal, CaseOut, ReferredCase), version=case["version"])


@router.get(
    "/cases/{case_id}/history",
    response_model=PageOf[TransitionView],
    name="get_case_history",
    responses=problem_responses(403, 404, 422),
)
async def get_case_history(caller: CasesRead, session: Session, case_id: CaseId) -> Response:
    """Every transition, with who and when (one page). A provider sees when the case moved
    from which status to which, not why or who moved it."""
    model = _shape(caller.principal, PageOf[Transition], PageOf[TransitionForProvider])
    return respond_all(await queries.history(session, caller, case_id), model)


@router.post(
    "/cases/{case_id}/transitions",
    response_model=CaseView,
    name="transition_case",
    responses=_UPDATE,
)
async def transition_case(
    caller: CasesWrite, session: Session, case_id: CaseId, body: TransitionIn, if_match: IfMatch
) -> Response:
    """Move the case along its lifecycle. A move the lifecycle does not allow is a 409 with
    `allowed`; one whose requirements are unmet is a 409 with `missing`."""
    case = await commands.transition(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, _shape(caller.principal, CaseOut, ReferredCase), version=case["version"])


@router.post(
    "/cases/{case_id}/assignment", response_model=CaseOut, name="assign_case", responses=_UPDATE
)
async def assign_case(
    caller: CasesWrite, session: Session, case_id: CaseId, body: AssignmentIn, if_match: IfMatch
) -> Response:
    """Assign the social worker who works the case (community officers)."""
    case = await commands.assign(
        session, caller, case_id, body.worker_sub, required_version(if_match)
    )
    return respond(case, CaseOut, version=case["version"])


@router.put(
    "/cases/{case_id}/assessment",
    response_model=CaseOut,
    name="save_case_assessment",
    responses=_UPDATE,
)
async def save_case_assessment(
    caller: CasesWrite, session: Session, case_id: CaseId, body: AssessmentIn, if_match: IfMatch
) -> Response:
    """Record the needs assessment while the case is in assessment; `complete` closes it."""
    case = await commands.save_assessment(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, CaseOut, version=case["version"])


@router.post(
    "/cases/{case_id}/decision", response_model=CaseOut, name="decide_case", responses=_UPDATE
)
async def decide_case(
    caller: CasesWrite, session: Session, case_id: CaseId, body: DecisionIn, if_match: IfMatch
) -> Response:
    """Decide to provide or refuse accompaniment, after the completed assessment."""
    case = await commands.decide(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, CaseOut, version=case["version"])


@router.post(
    "/cases/{case_id}/extension", response_model=CaseOut, name="extend_case", responses=_UPDATE
)
async def extend_case(
    caller: CasesWrite, session: Session, case_id: CaseId, body: ExtensionIn, if_match: IfMatch
) -> Response:
    """Extend accompaniment beyond its end, with the reason."""
    case = await commands.extend(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, CaseOut, version=case["version"])


@router.put(
    "/cases/{case_id}/plan", response_model=CaseOut, name="save_case_plan", responses=_UPDATE
)
async def save_case_plan(
    caller: CasesWrite, session: Session, case_id: CaseId, body: PlanIn, if_match: IfMatch
) -> Response:
    """Save the individual plan: its goals and the family's agreement."""
    case = await commands.save_plan(
        session, caller, case_id, body.model_dump(), required_version(if_match)
    )
    return respond(case, CaseOut, version=case["version"])


@router.post(
    "/cases/{case_id}/measures",
    status_code=201,
    response_model=Measure,
    name="add_case_measure",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_measure(
    caller: CasesWrite, session: Session, case_id: CaseId, body: MeasureIn
) -> Response:
    """Add a measure to the plan."""
    measure = await commands.add_measure(session, caller, case_id, body.model_dump())
    return respond(measure, Measure, status_code=201)


@router.patch(
    "/cases/{case_id}/measures/{measure_id}",
    response_model=CaseOut,
    name="update_case_measure",
    responses=_UPDATE,
)
async def update_case_measure(
    caller: CasesWrite,
    session: Session,
    case_id: CaseId,
    measure_id: MeasureId,
    body: MeasurePatch,
    if_match: IfMatch,
) -> Response:
    """Change a measure's status or due date (`If-Match`: the case's ETag)."""
    case = await commands.update_measure(
        session,
        caller,
        case_id,
        measure_id,
        body.model_dump(exclude_unset=True),
        required_version(if_match),
    )
    return respond(case, CaseOut, version=case["version"])


@router.post(
    "/cases/{case_id}/visits",
    status_code=201,
    response_model=Visit,
    name="add_case_visit",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_visit(
    caller: CasesWrite, session: Session, case_id: CaseId, body: VisitIn
) -> Response:
    """Record a visit or contact; while active the next one falls due in 14 days."""
    visit = await commands.add_visit(session, caller, case_id, body.model_dump())
    return respond(visit, Visit, status_code=201)


@router.get(
    "/cases/{case_id}/visits",
    response_model=PageOf[VisitView],
    name="list_case_visits",
    responses=problem_responses(403, 404, 422),
)
async def list_case_visits(caller: CasesRead, session: Session, case_id: CaseId) -> Response:
    """The case's visits and contacts, latest first (one page). A provider sees their days and
    kinds, not who took part or the notes."""
    model = _shape(caller.principal, PageOf[Visit], PageOf[VisitForProvider])
    return respond_all(await queries.visits(session, caller, case_id), model)


@router.post(
    "/cases/{case_id}/reviews",
    status_code=201,
    response_model=Review,
    name="add_case_review",
    responses=problem_responses(403, 404, 409, 422),
)
async def add_case_review(
    caller: CasesWrite, session: Session, case_id: CaseId, body: ReviewIn
) -> Response:
    """Record a progress review and its outcome."""
    review = await commands.add_review(session, caller, case_id, body.model_dump())
    return respond(review, Review, status_code=201)


@router.get(
    "/cases/{case_id}/reviews",
    response_model=PageOf[ReviewView],
    name="list_case_reviews",
    responses=problem_responses(403, 404, 422),
)
async def list_case_reviews(caller: CasesRead, session: Session, case_id: CaseId) -> Response:
    """The case's progress reviews, latest first (one page). A provider sees their days and
    outcomes, not the notes."""
    model = _shape(caller.principal, PageOf[Review], PageOf[ReviewForProvider])
    return respond_all(await queries.reviews(session, caller, case_id), model)


# --- referrals ---------------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/referrals",
    status_code=201,
    response_model=ReferralOut,
    name="refer_case",
    responses=problem_responses(403, 404, 409, 422),
)
async def refer_case(
    caller: CasesWrite, session: Session, case_id: CaseId, body: ReferralIn
) -> Response:
    """Refer the case to a provider; accepting it lets the provider's staff see the case and
    the family's minimal data and record services. The provider must be active and offer the
    service (422 naming both); a case has one open (pending or accepted) referral per
    provider and service (409 naming it)."""
    referral = await commands.refer(session, caller, case_id, body.model_dump())
    return respond(referral, ReferralOut, status_code=201)


@router.get(
    "/referrals",
    response_model=PageOf[ReferralView],
    name="list_referrals",
    responses=problem_responses(403, 422),
)
async def list_referrals(
    request: Request,
    caller: CasesRead,
    session: Session,
    page: Pagination,
    status: Literal["pending", "accepted", "declined", "closed"] | None = None,
    case_id: uuid.UUID | None = None,
) -> Response:
    """Referrals within your reach: to your provider (provider staff), or of the cases you
    may see."""
    where = queries.ReferralFilter(status=status, case_id=case_id)
    result = await queries.list_referrals(session, caller, page, where)
    return respond_page(
        request, result, _shape(caller.principal, PageOf[ReferralOut], PageOf[ReferralForProvider])
    )


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralView,
    name="get_referral",
    responses=problem_responses(403, 404, 422),
)
async def get_referral(caller: CasesRead, session: Session, referral_id: ReferralId) -> Response:
    """One referral: to your provider, or of a case you may see."""
    referral = await queries.get_referral(session, caller, referral_id)
    return respond(referral, _shape(caller.principal, ReferralOut, ReferralForProvider))


@router.post(
    "/referrals/{referral_id}/accept",
    response_model=ReferralForProvider,
    name="accept_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def accept_referral(caller: CasesRead, session: Session, referral_id: ReferralId) -> Response:
    """Accept a referral to your provider."""
    return respond(await commands.accept(session, caller, referral_id), ReferralForProvider)


@router.post(
    "/referrals/{referral_id}/decline",
    response_model=ReferralForProvider,
    name="decline_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def decline_referral(
    caller: CasesRead, session: Session, referral_id: ReferralId, body: DeclineIn
) -> Response:
    """Decline a referral to your provider, with the reason."""
    return respond(
        await commands.decline(session, caller, referral_id, body.reason), ReferralForProvider
    )


@router.post(
    "/referrals/{referral_id}/close",
    response_model=ReferralOut,
    name="close_referral",
    responses=problem_responses(403, 404, 409, 422),
)
async def close_referral(caller: CasesWrite, session: Session, referral_id: ReferralId) -> Response:
    """Close a referral (its measure is done or dropped): the provider's access ends."""
    return respond(await commands.close_referral(session, caller, referral_id), ReferralOut)


# --- caseload ----------------------------------------------------------------------------------


@router.get(
    "/caseload", response_model=Caseload, name="get_caseload", responses=problem_responses(403, 422)
)
async def get_caseload(
    caller: CasesRead,
    session: Session,
    territory: Annotated[
        KatottgCode | None, Query(description="An oblast, raion or hromada within your reach.")
    ] = None,
) -> Response:
    """The caseload within your reach: per social worker, open cases, overdue visits and
    assessments; per hromada, totals and unassigned cases. A management view: not for
    providers (403)."""
    return respond(await queries.caseload(session, caller, territory), Caseload)
