"""Working a case: opening it, assigning a worker, moving it through its lifecycle, the needs
assessment, the decision, the plan and its measures, visits, reviews and extensions.

Every change locks the case, checks the caller may work it (403) at the version it read
(412), applies the rules of the standard (409 naming what is missing), bumps the case's
version, keeps the transition history and records the audit event, in the caller's
transaction. ``today`` comes from the caller, so deadlines follow a controllable clock.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.base import table_of
from registry.db.ids import new_id
from registry.domain.audit.commands import record
from registry.domain.cases import queries
from registry.domain.cases.deadlines import (
    ACCOMPANIMENT_MONTHS,
    add_months,
    add_working_days,
    next_visit_due,
)
from registry.domain.cases.lifecycle import (
    OPEN,
    VISITED,
    CaseStatus,
    allowed_transitions,
)
from registry.domain.cases.referrals import close_case_referrals
from registry.domain.cases.tables import (
    Case,
    CaseAssessment,
    CaseMeasure,
    CasePlan,
    CaseReview,
    CaseVisit,
)
from registry.domain.cases.working import bump, case_for_change, note_transition
from registry.domain.classifier.tables import Service
from registry.domain.families.access import may_keep_families_in, visible_families
from registry.domain.families.tables import Family
from registry.domain.providers.tables import Provider
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import locate_address
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

CASE = queries.CASE
_c = Case.__table__.c  # type: ignore[attr-defined]
_f = Family.__table__.c  # type: ignore[attr-defined]
_as = CaseAssessment.__table__.c  # type: ignore[attr-defined]
_pl = CasePlan.__table__.c  # type: ignore[attr-defined]
_m = CaseMeasure.__table__.c  # type: ignore[attr-defined]
_pr = Provider.__table__.c  # type: ignore[attr-defined]
_s = Service.__table__.c  # type: ignore[attr-defined]
S = CaseStatus


def _not_after_today(field: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidInput(
            "A date is in the future.", errors=[FieldError(field, "must not be in the future")]
        )


# --- opening -----------------------------------------------------------------------------------


async def open_case(
    session: AsyncSession,
    caller: Caller,
    values: dict[str, Any],
    today: date,
    assessment_working_days: int,
) -> dict[str, Any]:
    """Open a case for a family of the caller's hromada from an application or a report;
    the needs assessment falls due ``assessment_working_days`` working days later."""
    received_on = values.get("received_on") or today
    _not_after_today("body.received_on", received_on, today)
    family = (
        (
            await session.execute(
                select(_f.id, _f.status, _f.oblast_code, _f.raion_code, _f.hromada_code)
                .where(_f.id == values["family_id"], visible_families(caller.principal))
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if family is None:
        raise InvalidInput(
            "No family with this id is within your reach.",
            errors=[FieldError("body.family_id", "not a family you may see")],
        )
    if not may_keep_families_in(
        caller.principal, family["oblast_code"], family["raion_code"], family["hromada_code"]
    ):
        raise Forbidden("You may open cases only for families of your own territory.")
    if family["status"] != "active":
        raise Conflict("The family is archived.")
    already = await session.scalar(
        select(_c.id).where(_c.family_id == family["id"], _c.status.in_([s.value for s in OPEN]))
    )
    if already is not None:
        raise Conflict(
            "The family already has an open case.", extensions={"existing_case_id": str(already)}
        )
    reporter = values.get("reporter") or {}
    case_id = new_id()
    await session.execute(
        insert(Case).values(
            id=case_id,
            family_id=family["id"],
            oblast_code=family["oblast_code"],
            raion_code=family["raion_code"],
            hromada_code=family["hromada_code"],
            source=values["source"],
            reporter_kind=reporter.get("kind"),
            reporter_name=reporter.get("name"),
            reporter_contact=reporter.get("contact"),
            summary=values.get("summary"),
            received_on=received_on,
            assessment_due_on=add_working_days(received_on, assessment_working_days),
            created_by=caller.principal.sub,
        )
    )
    await note_transition(
        session, caller, case_id, 1, None, S.REFERRED, reason=values.get("summary")
    )
    await record(session, caller, "open_case", CASE, [case_id, family["id"]])
    return await _case(session, caller, case_id, today)


async def _case(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, today: date
) -> dict[str, Any]:
    (found,) = await queries.cases_by_id(session, caller, [case_id], today)
    return found


# --- assignment and transfer ---------------------------------------------------------------------


async def assign(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    worker_sub: str,
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """Assign the social worker (their token subject) who works the case."""
    current = await case_for_change(session, caller, case_id, expected_version, today, manager=True)
    if current["worker_sub"] != worker_sub:
        await bump(
            session,
            caller,
            current,
            {
                "worker_sub": worker_sub,
                "assigned_at": func.now(),
                "assigned_by": caller.principal.sub,
            },
            ["worker_sub"],
        )
    await record(session, caller, "assign_case", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


# --- transitions ---------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """Move the case to ``values["to"]``: 409 naming the allowed transitions when it may
    not go there, or naming what the standard requires first."""
    to = CaseStatus(values["to"])
    manager = to is S.TRANSFERRED
    current = await case_for_change(
        session, caller, case_id, expected_version, today, manager=manager
    )
    status = CaseStatus(current["status"])
    suspended_from = CaseStatus(current["suspended_from"]) if current["suspended_from"] else None
    allowed = allowed_transitions(status, suspended_from)
    if to not in allowed:
        raise Conflict(
            f"A case in {status.value} cannot go to {to.value}.",
            extensions={"allowed": sorted(allowed)},
        )
    reason = values.get("reason")
    changes: dict[str, Any] = {"status": to.value}
    details: dict[str, Any] | None = None

    await _require_for(session, current, to, values)
    if to is S.SUSPENDED:
        changes["suspended_from"] = status.value
    elif status is S.SUSPENDED:
        changes["suspended_from"] = None
    if to is S.CLOSED:
        changes.update(
            closure_reason=values["closure_reason"],
            closure_outcome=values.get("outcome"),
            closed_at=func.now(),
        )
    if to is S.TRANSFERRED:
        changes_for_transfer, details = await _transfer(session, caller, current, values)
        changes.update(changes_for_transfer)
    if to in VISITED and status not in VISITED:
        changes["visit_due_on"] = next_visit_due(today)
    elif to not in VISITED:
        changes["visit_due_on"] = None

    version = await bump(session, caller, current, changes, changes)
    await note_transition(
        session, caller, case_id, version, status, to, reason=reason, details=details
    )
    if to is S.CLOSED:
        await close_case_referrals(session, caller, current)
    await record(session, caller, "transition_case", CASE, [case_id, current["family_id"]])
    # A transfer to another hromada takes the case out of the officer's reach: the answer
    # still shows the case as the transfer left it, once.
    (moved,) = await queries.cases_by_id(session, caller, [case_id], today, confined=False)
    return moved


async def _require_for(
    session: AsyncSession, current: dict[str, Any], to: CaseStatus, values: dict[str, Any]
) -> None:
    """What the standard requires before a case may enter ``to``."""
    case_id = current["id"]
    if to in (S.SUSPENDED, S.TRANSFERRED, S.CLOSED) and not values.get("reason"):
        raise InvalidInput(
            "This transition needs a reason.", errors=[FieldError("body.reason", "is required")]
        )
    if to is S.CLOSED and not values.get("closure_reason"):
        raise InvalidInput(
            "Closing a case needs a closure reason.",
            errors=[FieldError("body.closure_reason", "is required")],
        )
    if to is S.ASSESSMENT and current["worker_sub"] is None:
        raise Conflict(
            "Assign a social worker before the assessment starts.",
            extensions={"missing": ["worker"]},
        )
    if to is S.PLANNING:
        completed = await session.scalar(select(_as.completed_at).where(_as.case_id == case_id))
        missing = ([] if completed else ["completed_assessment"]) + (
            [] if current["decision"] == "provide" else ["decision_to_provide"]
        )
        if missing:
            raise Conflict(
                "A plan needs a completed needs assessment and a decision to "
                "provide accompaniment.",
                extensions={"missing": missing},
            )
    if to is S.ACTIVE and CaseStatus(current["status"]) is S.PLANNING:
        agreed = await session.scalar(select(_pl.agreed_at).where(_pl.case_id == case_id))
        measures = await session.scalar(
            select(func.count()).where(_m.case_id == case_id, _m.status != "cancelled")
        )
        missing = ([] if agreed else ["agreed_plan"]) + ([] if measures else ["measure"])
        if missing:
            raise Conflict(
                "Accompaniment starts with an individual plan agreed with the "
                "family, with at least one measure.",
                extensions={"missing": missing},
            )


async def _transfer(
    session: AsyncSession, caller: Caller, current: dict[str, Any], values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A transfer to another hromada (whose officers resume the case) or another worker;
    the history stays with the case."""
    target = values.get("transfer_to") or {}
    hromada, worker = target.get("hromada_code"), target.get("worker_sub")
    if hromada is None and worker is None:
        raise InvalidInput(
            "A transfer names the hromada or the worker it goes to.",
            errors=[FieldError("body.transfer_to", "give hromada_code or worker_sub")],
        )
    changes: dict[str, Any] = {}
    details = {"from_hromada": current["hromada_code"], "from_worker": current["worker_sub"]}
    if hromada is not None and hromada != current["hromada_code"]:
        address = await locate_address(
            session, hromada, None, field="body.transfer_to.hromada_code"
        )
        changes.update(
            oblast_code=address["oblast_code"],
            raion_code=address["raion_code"],
            hromada_code=hromada,
            worker_sub=worker,
            assigned_at=None,
            assigned_by=None,
        )
        details["to_hromada"] = hromada
    elif worker is not None:
        changes.update(worker_sub=worker, assigned_at=func.now(), assigned_by=caller.principal.sub)
    details["to_worker"] = worker
    return changes, details


# --- assessment and decision ---------------------------------------------------------------------


async def save_assessment(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """Record the needs assessment (while the case is in assessment); ``complete`` closes
    it, after which it no longer changes. Completing needs every domain assessed and the
    conclusions."""
    current = await case_for_change(session, caller, case_id, expected_version, today)
    if current["status"] != S.ASSESSMENT:
        raise Conflict(
            "The needs assessment is made while the case is in assessment.",
            extensions={"case_status": current["status"]},
        )
    existing = (
        (
            await session.execute(
                select(table_of(CaseAssessment)).where(_as.case_id == case_id).with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if existing is not None and existing["completed_at"] is not None:
        raise Conflict("The needs assessment is completed; it no longer changes.")
    columns: dict[str, Any] = {"conclusions": values.get("conclusions")}
    for domain in queries.ASSESSMENT_DOMAINS:
        part = values.get(domain) or {}
        columns[f"{domain}_level"] = part.get("level")
        columns[f"{domain}_notes"] = part.get("notes")
    if values.get("complete"):
        missing = [
            FieldError(f"body.{domain}.level", "is required to complete")
            for domain in queries.ASSESSMENT_DOMAINS
            if columns[f"{domain}_level"] is None
        ]
        if not columns["conclusions"]:
            missing.append(FieldError("body.conclusions", "is required to complete"))
        if missing:
            raise InvalidInput(
                "A completed assessment covers every domain and concludes.", errors=missing
            )
        columns.update(completed_at=func.now(), completed_by=caller.principal.sub)
    await session.execute(
        upsert(CaseAssessment)
        .values(case_id=case_id, created_by=caller.principal.sub, **columns)
        .on_conflict_do_update(
            index_elements=["case_id"],
            set_={**columns, "updated_at": func.now(), "version": _as.version + 1},
        )
    )
    await bump(session, caller, current, {}, ["assessment"])
    await record(session, caller, "save_case_assessment", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


async def decide(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """The decision to provide (or refuse) social accompaniment, after the assessment;
    accompaniment then lasts up to six months from the decision."""
    current = await case_for_change(session, caller, case_id, expected_version, today)
    if current["status"] != S.ASSESSMENT:
        raise Conflict(
            "The decision is taken at the end of the assessment.",
            extensions={"case_status": current["status"]},
        )
    completed = await session.scalar(select(_as.completed_at).where(_as.case_id == case_id))
    if completed is None:
        raise Conflict(
            "Complete the needs assessment before deciding.",
            extensions={"missing": ["completed_assessment"]},
        )
    provide = values["decision"] == "provide"
    await bump(
        session,
        caller,
        current,
        {
            "decision": values["decision"],
            "decision_reason": values["reason"],
            "decided_on": today,
            "decided_by": caller.principal.sub,
            "accompaniment_until": add_months(today, ACCOMPANIMENT_MONTHS) if provide else None,
        },
        ["decision", "accompaniment_until"],
    )
    await record(session, caller, "decide_case", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


async def extend(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """An extension decision: accompaniment continues until ``until``, with the reason."""
    current = await case_for_change(session, caller, case_id, expected_version, today)
    if current["accompaniment_until"] is None:
        raise Conflict(
            "Only accompaniment decided on can be extended.",
            extensions={"missing": ["decision_to_provide"]},
        )
    until = values["until"]
    if until <= current["accompaniment_until"] or until <= today:
        raise InvalidInput(
            "An extension ends later than the current end and today.",
            errors=[
                FieldError(
                    "body.until", f"must be after {max(current['accompaniment_until'], today)}"
                )
            ],
        )
    await bump(
        session,
        caller,
        current,
        {
            "accompaniment_until": until,
            "extension_reason": values["reason"],
            "extended_by": caller.principal.sub,
        },
        ["accompaniment_until", "extension_reason"],
    )
    await record(session, caller, "extend_case", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


# --- plan and measures ---------------------------------------------------------------------------


_PLANNED = (S.PLANNING, S.ACTIVE, S.REVIEW)


async def save_plan(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    """The individual plan's goals and the family's agreement (who agreed, when)."""
    current = await case_for_change(session, caller, case_id, expected_version, today)
    if current["status"] not in _PLANNED:
        raise Conflict(
            "The plan is made from planning on.", extensions={"case_status": current["status"]}
        )
    agreement = values.get("agreement")
    if agreement is not None:
        _not_after_today("body.agreement.agreed_at", agreement["agreed_at"].date(), today)
    columns = {
        "goals": values["goals"],
        "agreed_by": agreement["agreed_by"] if agreement else None,
        "agreed_at": agreement["agreed_at"] if agreement else None,
    }
    await session.execute(
        upsert(CasePlan)
        .values(case_id=case_id, created_by=caller.principal.sub, **columns)
        .on_conflict_do_update(
            index_elements=["case_id"],
            set_={**columns, "updated_at": func.now(), "version": _pl.version + 1},
        )
    )
    await bump(session, caller, current, {}, ["plan"])
    await record(session, caller, "save_case_plan", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


async def add_measure(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """A measure of the plan: what is done, by whom, by when (a service of the classifier
    and the provider to deliver it, when it is one)."""
    current = await case_for_change(session, caller, case_id, None, today)
    if current["status"] not in _PLANNED:
        raise Conflict(
            "Measures are planned from planning on.", extensions={"case_status": current["status"]}
        )
    await _require_known(session, values.get("service_code"), values.get("provider_id"))
    measure_id = new_id()
    await session.execute(
        insert(CaseMeasure).values(
            id=measure_id,
            case_id=case_id,
            description=values["description"],
            service_code=values.get("service_code"),
            provider_id=values.get("provider_id"),
            responsible=values["responsible"],
            due_on=values["due_on"],
            created_by=caller.principal.sub,
        )
    )
    await bump(session, caller, current, {}, ["plan"])
    await record(session, caller, "add_case_measure", CASE, [case_id, current["family_id"]])
    return dict(
        (await session.execute(select(table_of(CaseMeasure)).where(_m.id == measure_id)))
        .mappings()
        .one()
    )


async def update_measure(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    measure_id: uuid.UUID,
    status: str,
    expected_version: int,
    today: date,
) -> dict[str, Any]:
    current = await case_for_change(session, caller, case_id, expected_version, today)
    updated = (
        await session.execute(
            update(CaseMeasure)
            .where(_m.id == measure_id, _m.case_id == case_id)
            .values(status=status, updated_at=func.now(), version=_m.version + 1)
            .returning(_m.id)
        )
    ).first()
    if updated is None:
        raise NotFound("No measure with this id in this case.")
    await bump(session, caller, current, {}, ["plan"])
    await record(session, caller, "update_case_measure", CASE, [case_id, current["family_id"]])
    return await _case(session, caller, case_id, today)


async def _require_known(
    session: AsyncSession, service_code: str | None, provider_id: uuid.UUID | None
) -> None:
    errors = []
    if (
        service_code is not None
        and await session.scalar(select(_s.code).where(_s.code == service_code, _s.active)) is None
    ):
        errors.append(FieldError("body.service_code", "not an active service of /services"))
    if (
        provider_id is not None
        and await session.scalar(select(_pr.status).where(_pr.id == provider_id)) != "active"
    ):
        errors.append(FieldError("body.provider_id", "not an active provider of the register"))
    if errors:
        raise InvalidInput("Some references are unknown.", errors=errors)


# --- visits and reviews --------------------------------------------------------------------------


async def add_visit(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """A visit or contact with the family. While the case is active (or in review) the next
    visit falls due 14 days after the latest one."""
    current = await case_for_change(session, caller, case_id, None, today)
    _not_after_today("body.visited_on", values["visited_on"], today)
    visit_id = new_id()
    await session.execute(
        insert(CaseVisit).values(
            id=visit_id,
            case_id=case_id,
            visited_on=values["visited_on"],
            kind=values["kind"],
            participants=values.get("participants") or [],
            notes=values.get("notes"),
            created_by=caller.principal.sub,
        )
    )
    if current["status"] in VISITED:
        due = next_visit_due(values["visited_on"])
        if current["visit_due_on"] is None or due > current["visit_due_on"]:
            await bump(session, caller, current, {"visit_due_on": due}, ["visit_due_on"])
    await record(session, caller, "add_case_visit", CASE, [case_id, current["family_id"]])
    return dict(
        (
            await session.execute(
                select(table_of(CaseVisit)).where(table_of(CaseVisit).c.id == visit_id)
            )
        )
        .mappings()
        .one()
    )


async def add_review(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """A progress review of the plan, with its outcome."""
    current = await case_for_change(session, caller, case_id, None, today)
    if current["status"] not in (S.ACTIVE, S.REVIEW):
        raise Conflict(
            "Progress is reviewed while accompaniment is under way.",
            extensions={"case_status": current["status"]},
        )
    _not_after_today("body.reviewed_on", values["reviewed_on"], today)
    review_id = new_id()
    await session.execute(
        insert(CaseReview).values(
            id=review_id,
            case_id=case_id,
            reviewed_on=values["reviewed_on"],
            outcome=values["outcome"],
            notes=values.get("notes"),
            created_by=caller.principal.sub,
        )
    )
    await record(session, caller, "add_case_review", CASE, [case_id, current["family_id"]])
    return dict(
        (
            await session.execute(
                select(table_of(CaseReview)).where(table_of(CaseReview).c.id == review_id)
            )
        )
        .mappings()
        .one()
    )
