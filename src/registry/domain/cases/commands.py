"""Working a case: opening it, assigning a worker, moving it through its lifecycle, the needs
assessment, the decision, the plan and its measures, visits, reviews and extensions; and its
referrals to providers.

Every change locks the case, checks the caller may work it (403) at the version it read
(412), applies the rules of the standard (409 naming what is missing), bumps the case's
version, keeps the transition history and records the audit event, in the caller's
transaction. ``caller.today`` is the application's clock, so deadlines follow a controllable
clock.

A referral's provider accepts or declines it. Accepting lets the provider's staff see the
case and the family's minimal data and record services for the family — through the same
grant a community officer's link gives (``family_provider_access``) — and declining, closing
the referral or closing the case takes that away again (unless another referral or a
standing link still holds it).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.roles import Role
from registry.db.ids import new_id
from registry.db.reach import unconfined
from registry.domain.audit.commands import record
from registry.domain.cases import queries
from registry.domain.cases.access import (
    for_provider,
    require_manager_of,
    require_worker_of,
    visible_cases,
    visible_referrals,
)
from registry.domain.cases.queries import CASE, REFERRAL
from registry.domain.cases.rules import (
    ACCOMPANIMENT_MONTHS,
    ASSESSMENT_DOMAINS,
    OPEN,
    OPEN_REFERRAL_STATUSES,
    PLANNED,
    VISITED,
    CaseStatus,
    add_months,
    add_working_days,
    allowed_transitions,
    next_visit_due,
    require_not_after,
    require_not_before_received,
)
from registry.domain.cases.tables import (
    case_assessment_table,
    case_deadline_breach_table,
    case_measure_table,
    case_plan_table,
    case_review_table,
    case_table,
    case_transition_table,
    case_visit_table,
    referral_table,
)
from registry.domain.classifier.tables import service_table
from registry.domain.families import commands as family_commands
from registry.domain.families.access import may_keep_families_in, visible_families
from registry.domain.families.queries import FAMILY, families_by_id
from registry.domain.families.tables import family_provider_access_table, family_table
from registry.domain.providers.commands import grant_access
from registry.domain.providers.tables import provider_service_table, provider_table
from registry.domain.shared import deadlines
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import locate_address
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

S = CaseStatus
CASES = Versioned(case_table, CASE)
REFERRALS = Versioned(referral_table, REFERRAL)
#: The parts of a case with versions of their own (the case's ``If-Match`` guards them).
ASSESSMENTS = Versioned(case_assessment_table, "case_assessment", key="case_id")
PLANS = Versioned(case_plan_table, "case_plan", key="case_id")
MEASURES = Versioned(case_measure_table, "case_measure")
#: ``family_provider_access.reason`` of a grant a referral made (a link's reason is free text).
GRANTED_BY_REFERRAL = "referral"


# --- the versioned case --------------------------------------------------------------------------


async def case_for_change(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    expected_version: int | None,
    *,
    manager: bool = False,
    open_only: bool = True,
) -> VersionedWrite:
    """The case's row (with its deadline flags), locked: visible (else 404), the caller's to
    work (else 403), at ``expected_version`` (else 412) and not closed (else 409)."""
    write = await VersionedWrite.lock(
        session,
        caller,
        CASES,
        case_id,
        columns=queries.case_columns(caller.today),
        where=[visible_cases(caller.principal)],
    )
    if write is None:
        raise NotFound(queries.NOT_FOUND)
    if manager:
        require_manager_of(caller.principal)
    else:
        require_worker_of(caller.principal, write.current)
    await write.check_version(expected_version)
    if open_only and write.current["status"] == CaseStatus.CLOSED:
        raise Conflict("The case is closed; a closed case is read-only.")
    return write


def _audited(write: VersionedWrite) -> list[Any]:
    """What a change of a case is audited on: the case and its family."""
    return [write.key, write.current["family_id"]]


async def _save_part(write: VersionedWrite, part: str, action: str) -> None:
    """A change inside the case (its assessment, its plan and measures) is a new version of
    the case, noting ``part`` as what changed."""
    await write.save(
        {},
        action=action,
        changed=[part],
        audit_ids=_audited(write),
    )


async def note_transition(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    version: int,
    from_status: CaseStatus | None,
    to: CaseStatus,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One step of the case's history: which version of the case it made, who, why."""
    await session.execute(
        insert(case_transition_table).values(
            case_id=case_id,
            version=version,
            from_status=from_status,
            to_status=to,
            reason=reason,
            details=details,
            actor=caller.principal.sub,
        )
    )


async def _case(session: AsyncSession, caller: Caller, case_id: uuid.UUID) -> dict[str, Any]:
    (found,) = await queries.cases_by_id(session, caller, [case_id])
    return found


# --- opening -----------------------------------------------------------------------------------


async def open_case(
    session: AsyncSession, caller: Caller, values: dict[str, Any], assessment_working_days: int
) -> dict[str, Any]:
    """Open a case for a family of the caller's hromada from an application or a report;
    the needs assessment falls due ``assessment_working_days`` working days later."""
    if for_provider(caller.principal):
        raise Forbidden("A provider's system does not open cases; the hromada does.")
    received_on = values.get("received_on") or caller.today
    require_not_after("body.received_on", received_on, caller.today)
    family = (
        (
            await session.execute(
                select(
                    family_table.c.id,
                    family_table.c.status,
                    family_table.c.oblast_code,
                    family_table.c.raion_code,
                    family_table.c.hromada_code,
                )
                .where(family_table.c.id == values["family_id"], visible_families(caller.principal))
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
        select(case_table.c.id).where(
            case_table.c.family_id == family["id"],
            case_table.c.status.in_([s.value for s in OPEN]),
        )
    )
    if already is not None:
        raise Conflict(
            "The family already has an open case.", extensions={"existing_case_id": str(already)}
        )
    reporter = values.get("reporter") or {}
    case_id = new_id()
    await session.execute(
        insert(case_table).values(
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
    return await _case(session, caller, case_id)


# --- assignment and transfer ---------------------------------------------------------------------


async def assign(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    worker_sub: str,
    expected_version: int,
) -> dict[str, Any]:
    """Assign the social worker (their token subject) who works the case."""
    write = await case_for_change(session, caller, case_id, expected_version, manager=True)
    changes: dict[str, Any] = {}
    if write.current["worker_sub"] != worker_sub:
        changes = {
            "worker_sub": worker_sub,
            "assigned_at": func.now(),
            "assigned_by": caller.principal.sub,
        }
    await write.save(
        changes, action="assign_case", changed=["worker_sub"], audit_ids=_audited(write)
    )
    return await _case(session, caller, case_id)


# --- transitions ---------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Move the case to ``values["to"]``: 409 naming the allowed transitions when it may
    not go there, or naming what the standard requires first."""
    to = CaseStatus(values["to"])
    manager = to is S.TRANSFERRED
    write = await case_for_change(session, caller, case_id, expected_version, manager=manager)
    current = write.current
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
        changes["visit_due_on"] = next_visit_due(caller.today)
    elif to not in VISITED:
        changes["visit_due_on"] = None

    audited = _audited(write)
    # A transfer to another hromada takes the case out of the officer's reach: it is written
    # beyond it (its history with it), and the answer still shows the case as the transfer
    # left it, once.
    async with unconfined(session, to is S.TRANSFERRED):
        version = await write.save(changes, action=None)
        await note_transition(
            session, caller, case_id, version, status, to, reason=reason, details=details
        )
        if to is S.CLOSED:
            await close_case_referrals(session, caller, case_id, current["family_id"])
        await record(session, caller, "transition_case", CASE, audited)
        (moved,) = await queries.cases_by_id(session, caller, [case_id], confined=False)
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
        completed = await _assessment_completed_at(session, case_id)
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
        agreed = await session.scalar(
            select(case_plan_table.c.agreed_at).where(case_plan_table.c.case_id == case_id)
        )
        measures = await session.scalar(
            select(func.count()).where(
                case_measure_table.c.case_id == case_id,
                case_measure_table.c.status != "cancelled",
            )
        )
        missing = ([] if agreed else ["agreed_plan"]) + ([] if measures else ["measure"])
        if missing:
            raise Conflict(
                "Accompaniment starts with an individual plan agreed with the "
                "family, with at least one measure.",
                extensions={"missing": missing},
            )


async def _assessment_completed_at(session: AsyncSession, case_id: uuid.UUID) -> Any:
    return await session.scalar(
        select(case_assessment_table.c.completed_at).where(
            case_assessment_table.c.case_id == case_id
        )
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
) -> dict[str, Any]:
    """Record the needs assessment (while the case is in assessment); ``complete`` closes
    it, after which it no longer changes. Completing needs every domain assessed and the
    conclusions."""
    write = await case_for_change(session, caller, case_id, expected_version)
    if write.current["status"] != S.ASSESSMENT:
        raise Conflict(
            "The needs assessment is made while the case is in assessment.",
            extensions={"case_status": write.current["status"]},
        )
    assessment = await VersionedWrite.lock(session, caller, ASSESSMENTS, case_id)
    if assessment is not None and assessment.current["completed_at"] is not None:
        raise Conflict("The needs assessment is completed; it no longer changes.")
    columns: dict[str, Any] = {"conclusions": values.get("conclusions")}
    for domain in ASSESSMENT_DOMAINS:
        part = values.get(domain) or {}
        columns[f"{domain}_level"] = part.get("level")
        columns[f"{domain}_notes"] = part.get("notes")
    if values.get("complete"):
        missing = [
            FieldError(f"body.{domain}.level", "is required to complete")
            for domain in ASSESSMENT_DOMAINS
            if columns[f"{domain}_level"] is None
        ]
        if not columns["conclusions"]:
            missing.append(FieldError("body.conclusions", "is required to complete"))
        if missing:
            raise InvalidInput(
                "A completed assessment covers every domain and concludes.", errors=missing
            )
        columns.update(completed_at=func.now(), completed_by=caller.principal.sub)
    if assessment is None:
        await session.execute(
            insert(case_assessment_table).values(
                case_id=case_id, created_by=caller.principal.sub, **columns
            )
        )
    else:
        await assessment.save(columns, action=None)
    await _save_part(write, "assessment", "save_case_assessment")
    return await _case(session, caller, case_id)


async def decide(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """The decision to provide (or refuse) social accompaniment, after the assessment;
    accompaniment then lasts up to six months from the decision."""
    write = await case_for_change(session, caller, case_id, expected_version)
    if write.current["status"] != S.ASSESSMENT:
        raise Conflict(
            "The decision is taken at the end of the assessment.",
            extensions={"case_status": write.current["status"]},
        )
    if await _assessment_completed_at(session, case_id) is None:
        raise Conflict(
            "Complete the needs assessment before deciding.",
            extensions={"missing": ["completed_assessment"]},
        )
    today = caller.today
    provide = values["decision"] == "provide"
    await write.save(
        {
            "decision": values["decision"],
            "decision_reason": values["reason"],
            "decided_on": today,
            "decided_by": caller.principal.sub,
            "accompaniment_until": add_months(today, ACCOMPANIMENT_MONTHS) if provide else None,
        },
        action="decide_case",
        changed=["decision", "accompaniment_until"],
        audit_ids=_audited(write),
    )
    return await _case(session, caller, case_id)


async def extend(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """An extension decision: accompaniment continues until ``until``, with the reason."""
    write = await case_for_change(session, caller, case_id, expected_version)
    current_until = write.current["accompaniment_until"]
    if current_until is None:
        raise Conflict(
            "Only accompaniment decided on can be extended.",
            extensions={"missing": ["decision_to_provide"]},
        )
    until = values["until"]
    if until <= current_until or until <= caller.today:
        raise InvalidInput(
            "An extension ends later than the current end and today.",
            errors=[FieldError("body.until", f"must be after {max(current_until, caller.today)}")],
        )
    await write.save(
        {
            "accompaniment_until": until,
            "extension_reason": values["reason"],
            "extended_by": caller.principal.sub,
        },
        action="extend_case",
        changed=["accompaniment_until", "extension_reason"],
        audit_ids=_audited(write),
    )
    return await _case(session, caller, case_id)


# --- plan and measures ---------------------------------------------------------------------------


async def save_plan(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """The individual plan's goals and the family's agreement (who agreed, when)."""
    write = await case_for_change(session, caller, case_id, expected_version)
    if write.current["status"] not in PLANNED:
        raise Conflict(
            "The plan is made from planning on.",
            extensions={"case_status": write.current["status"]},
        )
    agreement = values.get("agreement")
    if agreement is not None:
        require_not_after("body.agreement.agreed_at", agreement["agreed_at"].date(), caller.today)
    columns = {
        "goals": values["goals"],
        "agreed_by": agreement["agreed_by"] if agreement else None,
        "agreed_at": agreement["agreed_at"] if agreement else None,
    }
    plan = await VersionedWrite.lock(session, caller, PLANS, case_id)
    if plan is None:
        await session.execute(
            insert(case_plan_table).values(
                case_id=case_id, created_by=caller.principal.sub, **columns
            )
        )
    else:
        await plan.save(columns, action=None)
    await _save_part(write, "plan", "save_case_plan")
    return await _case(session, caller, case_id)


async def add_measure(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """A measure of the plan: what is done, by whom, by when (a service of the classifier
    and the provider to deliver it, when it is one)."""
    write = await case_for_change(session, caller, case_id, None)
    if write.current["status"] not in PLANNED:
        raise Conflict(
            "Measures are planned from planning on.",
            extensions={"case_status": write.current["status"]},
        )
    require_not_before_received(
        "body.due_on", values["due_on"], write.current["received_on"], "measure"
    )
    await _require_known(session, values.get("service_code"), values.get("provider_id"))
    measure_id = new_id()
    await session.execute(
        insert(case_measure_table).values(
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
    await _save_part(write, "plan", "add_case_measure")
    return dict(
        (
            await session.execute(
                select(case_measure_table).where(case_measure_table.c.id == measure_id)
            )
        )
        .mappings()
        .one()
    )


async def update_measure(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    measure_id: uuid.UUID,
    patch: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """A measure's status or due date (a merge patch); the measure is guarded by the case's
    version (``If-Match``)."""
    write = await case_for_change(session, caller, case_id, expected_version)
    measure = await VersionedWrite.lock(
        session, caller, MEASURES, measure_id, where=[case_measure_table.c.case_id == case_id]
    )
    if measure is None:
        raise NotFound("No measure with this id in this case.")
    if patch.get("due_on") is not None:
        require_not_before_received(
            "body.due_on", patch["due_on"], write.current["received_on"], "measure"
        )
    changes = {name: patch[name] for name in ("status", "due_on") if patch.get(name) is not None}
    await measure.save(changes, action=None)
    await _save_part(write, "plan", "update_case_measure")
    return await _case(session, caller, case_id)


async def _require_known(
    session: AsyncSession, service_code: str | None, provider_id: uuid.UUID | None
) -> None:
    errors = []
    if (
        service_code is not None
        and await session.scalar(
            select(service_table.c.code).where(
                service_table.c.code == service_code, service_table.c.active
            )
        )
        is None
    ):
        errors.append(FieldError("body.service_code", "not an active service of /services"))
    if provider_id is not None and await _provider_status(session, provider_id) != "active":
        errors.append(FieldError("body.provider_id", "not an active provider of the register"))
    if errors:
        raise InvalidInput("Some references are unknown.", errors=errors)


async def _provider_status(session: AsyncSession, provider_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(provider_table.c.status).where(provider_table.c.id == provider_id)
    )


# --- visits and reviews --------------------------------------------------------------------------


async def add_visit(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """A visit or contact with the family. While the case is active (or in review) the next
    visit falls due 14 days after the latest one."""
    write = await case_for_change(session, caller, case_id, None)
    require_not_after("body.visited_on", values["visited_on"], caller.today)
    require_not_before_received(
        "body.visited_on", values["visited_on"], write.current["received_on"], "visit"
    )
    visit_id = new_id()
    await session.execute(
        insert(case_visit_table).values(
            id=visit_id,
            case_id=case_id,
            visited_on=values["visited_on"],
            kind=values["kind"],
            participants=values.get("participants") or [],
            notes=values.get("notes"),
            created_by=caller.principal.sub,
        )
    )
    changes: dict[str, Any] = {}
    if write.current["status"] in VISITED:
        due = next_visit_due(values["visited_on"])
        if write.current["visit_due_on"] is None or due > write.current["visit_due_on"]:
            changes["visit_due_on"] = due
    await write.save(changes, action="add_case_visit", audit_ids=_audited(write))
    return dict(
        (await session.execute(select(case_visit_table).where(case_visit_table.c.id == visit_id)))
        .mappings()
        .one()
    )


async def add_review(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """A progress review of the plan, with its outcome."""
    write = await case_for_change(session, caller, case_id, None)
    if write.current["status"] not in (S.ACTIVE, S.REVIEW):
        raise Conflict(
            "Progress is reviewed while accompaniment is under way.",
            extensions={"case_status": write.current["status"]},
        )
    require_not_after("body.reviewed_on", values["reviewed_on"], caller.today)
    require_not_before_received(
        "body.reviewed_on", values["reviewed_on"], write.current["received_on"], "review"
    )
    review_id = new_id()
    await session.execute(
        insert(case_review_table).values(
            id=review_id,
            case_id=case_id,
            reviewed_on=values["reviewed_on"],
            outcome=values["outcome"],
            notes=values.get("notes"),
            created_by=caller.principal.sub,
        )
    )
    await record(session, caller, "add_case_review", CASE, _audited(write))
    return dict(
        (
            await session.execute(
                select(case_review_table).where(case_review_table.c.id == review_id)
            )
        )
        .mappings()
        .one()
    )


# --- referrals -----------------------------------------------------------------------------------


async def refer(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """Refer the case to a provider (for a measure of its plan, or a service)."""
    write = await case_for_change(session, caller, case_id, None)
    if write.current["status"] not in PLANNED:
        raise Conflict(
            "A case is referred to providers once its plan is being made.",
            extensions={"case_status": write.current["status"]},
        )
    provider_id, service_code = values["provider_id"], values.get("service_code")
    if values.get("measure_id") is not None:
        measure = (
            await session.execute(
                select(case_measure_table.c.provider_id, case_measure_table.c.service_code).where(
                    case_measure_table.c.id == values["measure_id"],
                    case_measure_table.c.case_id == case_id,
                )
            )
        ).first()
        if measure is None:
            raise InvalidInput(
                "No such measure in this case.",
                errors=[FieldError("body.measure_id", "not a measure of this case")],
            )
        service_code = service_code or measure.service_code
    await _require_referable(
        session,
        provider_id,
        service_code,
        "body.service_code" if values.get("service_code") is not None else "body.measure_id",
    )
    # The case's row is locked (``case_for_change``): two referrals of one case are made one
    # after the other, so this check holds; the unique index holds it for any other writer.
    existing = await session.scalar(
        select(referral_table.c.id).where(
            referral_table.c.case_id == case_id,
            referral_table.c.provider_id == provider_id,
            func.coalesce(referral_table.c.service_code, "") == (service_code or ""),
            referral_table.c.status.in_(OPEN_REFERRAL_STATUSES),
        )
    )
    if existing is not None:
        need = f"service {service_code}" if service_code else "no named service"
        raise Conflict(
            f"The case already has an open referral to this provider for {need}: "
            f"referral {existing}. Close it first to refer again.",
            extensions={"existing_referral_id": str(existing)},
        )
    referral_id = new_id()
    await session.execute(
        insert(referral_table).values(
            id=referral_id,
            case_id=case_id,
            measure_id=values.get("measure_id"),
            provider_id=provider_id,
            service_code=service_code,
            note=values.get("note"),
            created_by=caller.principal.sub,
        )
    )
    await record(session, caller, "refer_case", REFERRAL, [referral_id, *_audited(write)])
    return await queries.referral_by_id(session, caller, referral_id)


async def _require_referable(
    session: AsyncSession, provider_id: uuid.UUID, service_code: str | None, service_field: str
) -> None:
    """422 unless the provider is active in the register and (when the referral names a
    service) offers that service now, naming the provider and the service."""
    provider = (
        await session.execute(
            select(
                provider_table.c.status, provider_table.c.full_name, provider_table.c.short_name
            ).where(provider_table.c.id == provider_id)
        )
    ).first()
    if provider is None:
        raise InvalidInput(
            "No such provider in the register.",
            errors=[FieldError("body.provider_id", "not a provider of the register")],
        )
    name = f"{provider.short_name or provider.full_name} ({provider_id})"
    if provider.status != "active":
        raise InvalidInput(
            f"The provider {name} is not active in the register (status {provider.status}).",
            errors=[FieldError("body.provider_id", f"not an active provider: {provider.status}")],
        )
    if service_code is None:
        return
    offered = await session.scalar(
        select(provider_service_table.c.service_code)
        .join(service_table, service_table.c.code == provider_service_table.c.service_code)
        .where(
            provider_service_table.c.provider_id == provider_id,
            provider_service_table.c.service_code == service_code,
            provider_service_table.c.active,
            service_table.c.active,
        )
    )
    if offered is None:
        raise InvalidInput(
            f"The provider {name} does not offer service {service_code}.",
            errors=[
                FieldError(
                    service_field, f"service {service_code} is not offered by provider {name}"
                )
            ],
            extensions={"provider_id": str(provider_id), "service_code": service_code},
        )


async def _pending_for_provider(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> VersionedWrite:
    """The referral, locked, when it is to the caller's provider and still pending."""
    principal = caller.principal
    write = await VersionedWrite.lock(
        session, caller, REFERRALS, referral_id, where=[visible_referrals(principal)]
    )
    if write is None:
        raise NotFound(queries.REFERRAL_NOT_FOUND)
    if principal.provider_id is None or write.current["provider_id"] != principal.provider_id:
        raise Forbidden("Only the provider a case is referred to accepts or declines.")
    if write.current["status"] != "pending":
        raise Conflict(f"The referral is {write.current['status']}, no longer pending.")
    return write


async def _family_of(session: AsyncSession, case_id: uuid.UUID) -> uuid.UUID:
    family_id = await session.scalar(
        select(case_table.c.family_id).where(case_table.c.id == case_id)
    )
    assert family_id is not None  # a referral's case exists
    return uuid.UUID(str(family_id))


async def accept(session: AsyncSession, caller: Caller, referral_id: uuid.UUID) -> dict[str, Any]:
    write = await _pending_for_provider(session, caller, referral_id)
    case_id = write.current["case_id"]
    family_id = await _family_of(session, case_id)
    await write.save(
        {"status": "accepted", "decided_at": func.now(), "decided_by": caller.principal.sub},
        action=None,
    )
    await grant_access(
        session, caller, family_id, write.current["provider_id"], GRANTED_BY_REFERRAL
    )
    await record(session, caller, "accept_referral", REFERRAL, [referral_id, case_id, family_id])
    return await queries.referral_by_id(session, caller, referral_id)


async def decline(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID, reason: str
) -> dict[str, Any]:
    write = await _pending_for_provider(session, caller, referral_id)
    await write.save(
        {
            "status": "declined",
            "decline_reason": reason,
            "decided_at": func.now(),
            "decided_by": caller.principal.sub,
        },
        action="decline_referral",
        audit_ids=[referral_id, write.current["case_id"]],
    )
    return await queries.referral_by_id(session, caller, referral_id)


async def close_referral(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    """Close a referral (the measure is done or dropped): the provider's access ends."""
    row = await queries.visible_referral(session, caller, referral_id)
    write = await case_for_change(session, caller, row["case_id"], None, open_only=False)
    if row["status"] in ("closed", "declined"):
        raise Conflict(f"The referral is already {row['status']}.")
    await _close(session, caller, [dict(row)], write.current["family_id"])
    await record(session, caller, "close_referral", REFERRAL, [referral_id, *_audited(write)])
    return await queries.referral_by_id(session, caller, referral_id)


async def close_case_referrals(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, family_id: uuid.UUID
) -> None:
    """Closing a case closes its open referrals."""
    rows = (
        (
            await session.execute(
                select(referral_table).where(
                    referral_table.c.case_id == case_id,
                    referral_table.c.status.in_(["pending", "accepted"]),
                )
            )
        )
        .mappings()
        .all()
    )
    await _close(session, caller, [dict(row) for row in rows], family_id)


async def _close(
    session: AsyncSession, caller: Caller, referrals: list[dict[str, Any]], family_id: uuid.UUID
) -> None:
    """Close ``referrals`` at once (a case's closing closes them all: one UPDATE), and end
    the grant each accepted one gave its provider unless another still holds it."""
    if not referrals:
        return
    ids = [r["id"] for r in referrals]
    closed = await session.execute(
        update(referral_table)
        .where(referral_table.c.id.in_(ids))
        .values(
            status="closed",
            closed_at=func.now(),
            updated_at=func.now(),
            version=referral_table.c.version + 1,
        )
        .returning(referral_table.c.id, referral_table.c.version)
    )
    for referral_id, version in closed:
        changed = ["status", "closed_at"]
        await note_change(session, REFERRAL, referral_id, version, changed, caller.principal.sub)
    for provider_id in {r["provider_id"] for r in referrals if r["status"] == "accepted"}:
        still_referred = await session.scalar(
            select(func.count())
            .select_from(referral_table)
            .join(case_table, case_table.c.id == referral_table.c.case_id)
            .where(
                referral_table.c.provider_id == provider_id,
                referral_table.c.status == "accepted",
                case_table.c.family_id == family_id,
            )
        )
        if still_referred:
            continue
        await session.execute(
            update(family_provider_access_table)
            .where(
                and_(
                    family_provider_access_table.c.provider_id == provider_id,
                    family_provider_access_table.c.family_id == family_id,
                    family_provider_access_table.c.reason == GRANTED_BY_REFERRAL,
                    family_provider_access_table.c.revoked_at.is_(None),
                )
            )
            .values(
                revoked_at=func.now(),
                revoked_on=caller.today,
                revoked_by=caller.principal.sub,
                revoke_reason="referral closed",
            )
        )


# --- a family's relocation and archiving (family writes its cases constrain) --------------------


async def relocate_family(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    """Move a family to another hromada with every one of its cases, in the caller's
    transaction: the family's record follows the family, and the old hromada keeps no reach
    into it (what it did stays in the audit log and in each case's history).

    The community officer of the hromada the family leaves moves it anywhere; the officer of
    the receiving hromada moves it into their own once one of its open cases has been
    transferred there (they reach the family through that case). Open cases are unassigned:
    their worker belongs to the old hromada, and the receiving officer assigns a local one;
    closed cases move as history. Each moved case gets its next version and a history entry
    (its status unchanged, ``details.relocation``). The family's provider links and the
    cases' referrals stay: they are the family's, wherever it lives."""
    principal = caller.principal
    receiving = None
    if principal.role is Role.COMMUNITY_OFFICER and principal.territory is not None:
        receiving = family_table.c.id.in_(
            select(case_table.c.family_id).where(
                case_table.c.hromada_code == principal.territory,
                case_table.c.status != S.CLOSED.value,
            )
        )
    left, address = await family_commands.relocate(
        session, caller, family_id, values, expected_version, receiving=receiving
    )
    moving = (
        (
            await session.execute(
                select(
                    case_table.c.id,
                    case_table.c.status,
                    case_table.c.oblast_code,
                    case_table.c.raion_code,
                    case_table.c.hromada_code,
                    case_table.c.worker_sub,
                )
                .where(
                    case_table.c.family_id == family_id,
                    case_table.c.hromada_code != address["hromada_code"],
                )
                .order_by(case_table.c.id)
                .with_for_update()
            )
        )
        .mappings()
        .all()
    )
    territory = {name: address[name] for name in ("oblast_code", "raion_code", "hromada_code")}
    versions: dict[uuid.UUID, int] = {}
    for closed in (False, True):
        ids = [row["id"] for row in moving if (row["status"] == S.CLOSED) is closed]
        if not ids:
            continue
        unassigned = dict.fromkeys(() if closed else ("worker_sub", "assigned_at", "assigned_by"))
        updated = await session.execute(
            update(case_table)
            .where(case_table.c.id.in_(ids))
            .values(
                **territory,
                **unassigned,
                version=case_table.c.version + 1,
                updated_at=func.now(),
            )
            .returning(case_table.c.id, case_table.c.version)
        )
        versions.update({case_id: version for case_id, version in updated})
    for row in moving:
        status = CaseStatus(row["status"])
        is_open = status is not S.CLOSED
        version = versions[row["id"]]
        changed = [name for name, value in territory.items() if row[name] != value]
        if is_open and row["worker_sub"] is not None:
            changed.append("worker_sub")
        await note_change(session, CASE, row["id"], version, changed, principal.sub)
        await note_transition(
            session,
            caller,
            row["id"],
            version,
            status,
            status,
            reason=f"family relocated: {values['reason']}",
            details={
                "relocation": True,
                "from_hromada": row["hromada_code"],
                "to_hromada": address["hromada_code"],
                "from_worker": row["worker_sub"],
                "to_worker": None if is_open else row["worker_sub"],
            },
        )
    moved = [row["id"] for row in moving]
    await record(session, caller, "relocate_family", FAMILY, [family_id, *moved])
    # The sending officer no longer reaches the family: the answer still shows it, once.
    (family,) = await families_by_id(session, caller, [family_id], confined=False)
    return {**family, "moved_cases": moved, "moved_from": left["hromada_code"]}


async def archive_family(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> dict[str, Any]:
    """Archive a family, which it may be only without an open case: a 409 names each open
    case (a social worker closes a case through its lifecycle, with its own closure reason;
    archiving does not close them on the way). The family is locked first, so a case opened
    meanwhile waits for it and then finds the family archived."""
    write = await family_commands.family_for_change(session, caller, family_id, expected_version)
    async with unconfined(session):  # its open cases wherever they are (transferred away)
        still_open = (
            (
                await session.execute(
                    select(case_table.c.id, case_table.c.status, case_table.c.hromada_code)
                    .where(
                        case_table.c.family_id == family_id,
                        case_table.c.status != S.CLOSED.value,
                    )
                    .order_by(case_table.c.received_on, case_table.c.id)
                )
            )
            .mappings()
            .all()
        )
    if still_open:
        raise Conflict(
            "The family has open cases; close them first: "
            + ", ".join(str(row["id"]) for row in still_open)
            + ".",
            extensions={
                "open_cases": [
                    {
                        "id": str(row["id"]),
                        "status": row["status"],
                        "hromada_code": row["hromada_code"],
                    }
                    for row in still_open
                ]
            },
        )
    return await family_commands.archive_family(session, caller, write, reason)


# --- deadlines that passed ----------------------------------------------------------------------


async def record_breaches(session: AsyncSession, today: date, limit: int) -> int:
    """Record each deadline of a case that has passed by ``today`` (``queries.DEADLINES``: the
    rules the list filters apply) once, at most ``limit`` of each deadline per call; the
    change feed announces each as an event of its case (its ``action`` the deadline). How
    many were recorded."""
    return await deadlines.record_breaches(
        session, case_deadline_breach_table, case_table, queries.DEADLINES, today, limit
    )
