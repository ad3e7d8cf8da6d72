"""Reading cases: one case with what is inside it, lists with the deadline filters managers
need, the transition history, and the caseload. Every query is confined by
``access.visible_cases``; every read of a case is audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.roles import Role
from registry.db.base import table_of
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.cases.access import visible_cases
from registry.domain.cases.lifecycle import OPEN, VISITED, CaseStatus, allowed_transitions
from registry.domain.cases.tables import (
    Case,
    CaseAssessment,
    CaseMeasure,
    CasePlan,
    CaseReview,
    CaseTransition,
    CaseVisit,
    Referral,
)
from registry.domain.families.tables import Family, Person
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import require_territory
from registry.errors import NotFound

CASE = "case"
_c = Case.__table__.c  # type: ignore[attr-defined]
_t = CaseTransition.__table__.c  # type: ignore[attr-defined]
_as = CaseAssessment.__table__.c  # type: ignore[attr-defined]
_pl = CasePlan.__table__.c  # type: ignore[attr-defined]
_m = CaseMeasure.__table__.c  # type: ignore[attr-defined]
_ref = Referral.__table__.c  # type: ignore[attr-defined]
_vis = CaseVisit.__table__.c  # type: ignore[attr-defined]
_rev = CaseReview.__table__.c  # type: ignore[attr-defined]
_f = Family.__table__.c  # type: ignore[attr-defined]
_p = Person.__table__.c  # type: ignore[attr-defined]
NOT_FOUND = "No case with this id is within your reach."

ASSESSMENT_DOMAINS = ("child_development", "parenting_capacity", "family_environment")


def _completed_assessment() -> Any:
    return exists().where(_as.case_id == _c.id, _as.completed_at.is_not(None))


def visit_overdue(today: date) -> Any:
    return and_(_c.status.in_([s.value for s in VISITED]), _c.visit_due_on < today)


def assessment_overdue(today: date) -> Any:
    return and_(
        _c.status.in_([CaseStatus.REFERRED.value, CaseStatus.ASSESSMENT.value]),
        _c.assessment_due_on < today,
        not_(_completed_assessment()),
    )


def duration_exceeded(today: date) -> Any:
    return and_(_c.status.in_([s.value for s in OPEN]), _c.accompaniment_until < today)


def _case_columns(today: date) -> tuple[Any, ...]:
    return (
        *Case.__table__.columns,  # type: ignore[attr-defined]
        visit_overdue(today).label("visit_overdue"),
        assessment_overdue(today).label("assessment_overdue"),
        func.coalesce(duration_exceeded(today), literal(False)).label("duration_exceeded"),
    )


async def case_rows(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    today: date,
    *,
    lock: bool = False,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The visible cases among ``ids`` as stored, with their deadline flags (``confined``
    off only to answer a change the caller just made that took the case out of reach)."""
    statement = select(*_case_columns(today)).where(_c.id.in_(ids))
    if confined:
        statement = statement.where(visible_cases(caller.principal))
    if lock:
        statement = statement.with_for_update(of=Case)
    rows = (await session.execute(statement)).mappings().all()
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def cases_by_id(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    today: date,
    *,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The visible cases among ``ids``, each as the API shows it to this caller (not
    audited: the caller records the action)."""
    rows = await case_rows(session, caller, ids, today, confined=confined)
    if not rows:
        return []
    case_ids = [row["id"] for row in rows]
    if caller.principal.role is Role.PROVIDER_STAFF:
        return await _as_provider_sees(session, caller, rows)
    assessments = {
        row["case_id"]: dict(row)
        for row in (
            await session.execute(select(table_of(CaseAssessment)).where(_as.case_id.in_(case_ids)))
        ).mappings()
    }
    plans = {
        row["case_id"]: dict(row)
        for row in (
            await session.execute(select(table_of(CasePlan)).where(_pl.case_id.in_(case_ids)))
        ).mappings()
    }
    measures: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (
        await session.execute(
            select(table_of(CaseMeasure)).where(_m.case_id.in_(case_ids)).order_by(_m.due_on, _m.id)
        )
    ).mappings():
        measures.setdefault(row["case_id"], []).append(dict(row))
    referrals = await _referrals_of(session, case_ids)
    return [
        _render(
            row,
            assessments.get(row["id"]),
            plans.get(row["id"]),
            measures.get(row["id"], []),
            referrals.get(row["id"], []),
        )
        for row in rows
    ]


async def _referrals_of(
    session: AsyncSession, case_ids: Sequence[uuid.UUID], provider_id: uuid.UUID | None = None
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    statement = (
        select(table_of(Referral))
        .where(_ref.case_id.in_(case_ids))
        .order_by(_ref.created_at, _ref.id)
    )
    if provider_id is not None:
        statement = statement.where(_ref.provider_id == provider_id)
    referrals: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await session.execute(statement)).mappings():
        referrals.setdefault(row["case_id"], []).append(dict(row))
    return referrals


def _render(
    row: dict[str, Any],
    assessment: dict[str, Any] | None,
    plan: dict[str, Any] | None,
    measures: list[dict[str, Any]],
    referrals: list[dict[str, Any]],
) -> dict[str, Any]:
    status = CaseStatus(row["status"])
    suspended_from = CaseStatus(row["suspended_from"]) if row["suspended_from"] else None
    return {
        **{
            k: row[k]
            for k in (
                "id",
                "family_id",
                "oblast_code",
                "hromada_code",
                "status",
                "suspended_from",
                "source",
                "summary",
                "received_on",
                "worker_sub",
                "assigned_at",
                "assessment_due_on",
                "accompaniment_until",
                "extension_reason",
                "visit_due_on",
                "created_at",
                "updated_at",
                "version",
                "visit_overdue",
                "assessment_overdue",
                "duration_exceeded",
            )
        },
        "reporter": (
            {
                "kind": row["reporter_kind"],
                "name": row["reporter_name"],
                "contact": row["reporter_contact"],
            }
            if row["reporter_kind"] or row["reporter_name"]
            else None
        ),
        "decision": (
            {
                "decision": row["decision"],
                "reason": row["decision_reason"],
                "decided_on": row["decided_on"],
                "decided_by": row["decided_by"],
            }
            if row["decision"]
            else None
        ),
        "closure": (
            {
                "reason": row["closure_reason"],
                "outcome": row["closure_outcome"],
                "closed_at": row["closed_at"],
            }
            if row["closure_reason"]
            else None
        ),
        "assessment": _render_assessment(assessment) if assessment else None,
        "plan": (
            {
                "goals": plan["goals"],
                "agreed_by": plan["agreed_by"],
                "agreed_at": plan["agreed_at"],
                "measures": measures,
            }
            if plan
            else (
                {"goals": [], "agreed_by": None, "agreed_at": None, "measures": measures}
                if measures
                else None
            )
        ),
        "referrals": referrals,
        "allowed_transitions": sorted(allowed_transitions(status, suspended_from)),
    }


def _render_assessment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            domain: (
                {"level": row[f"{domain}_level"], "notes": row[f"{domain}_notes"]}
                if row[f"{domain}_level"] or row[f"{domain}_notes"]
                else None
            )
            for domain in ASSESSMENT_DOMAINS
        },
        "conclusions": row["conclusions"],
        "completed_at": row["completed_at"],
        "completed_by": row["completed_by"],
    }


async def _as_provider_sees(
    session: AsyncSession, caller: Caller, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What a provider's staff see of a case referred to them: its status, who works it,
    their own referrals, and the family's minimal data (names, children's ages, contact)."""
    family_ids = list({row["family_id"] for row in rows})
    families = {
        row["id"]: dict(row)
        for row in (
            await session.execute(
                select(_f.id, _f.phone, _f.address_line, _f.hromada_code, _f.settlement_code).where(
                    _f.id.in_(family_ids)
                )
            )
        ).mappings()
    }
    members: dict[uuid.UUID, list[dict[str, Any]]] = {}
    age = func.date_part("year", func.age(_p.birth_date)).cast(type_=_p.version.type)
    for row in (
        await session.execute(
            select(
                _p.family_id,
                _p.last_name,
                _p.first_name,
                _p.patronymic,
                _p.relation,
                case((age < 18, age), else_=None).label("age"),
            )
            .where(_p.family_id.in_(family_ids), _p.status == "active")
            .order_by(_p.family_id, _p.birth_date)
        )
    ).mappings():
        members.setdefault(row["family_id"], []).append(
            {k: row[k] for k in ("last_name", "first_name", "patronymic", "relation", "age")}
        )
    referrals = await _referrals_of(
        session, [row["id"] for row in rows], caller.principal.provider_id
    )
    return [
        {
            "id": row["id"],
            "status": row["status"],
            "hromada_code": row["hromada_code"],
            "worker_sub": row["worker_sub"],
            "version": row["version"],
            "family": {**families[row["family_id"]], "members": members.get(row["family_id"], [])},
            "referrals": referrals.get(row["id"], []),
        }
        for row in rows
    ]


async def get_case(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, today: date
) -> dict[str, Any]:
    found = await cases_by_id(session, caller, [case_id], today)
    if not found:
        raise NotFound(NOT_FOUND)
    await record(
        session,
        caller,
        "get_case",
        CASE,
        [case_id, found[0].get("family_id") or found[0]["family"]["id"]],
    )
    return found[0]


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: str | None = None
    hromada: str | None = None
    worker: str | None = None
    provider_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    visit_overdue: bool | None = None
    assessment_overdue: bool | None = None
    duration_exceeded: bool | None = None


async def list_cases(
    session: AsyncSession, caller: Caller, page: PageRequest, where: CaseFilter, today: date
) -> Page[dict[str, Any]]:
    if where.hromada is not None:
        await require_territory(session, "query.hromada", where.hromada, {"H", "K"})
    statement = select(_c.id).where(visible_cases(caller.principal))
    for column, value in (
        (_c.status, where.status),
        (_c.hromada_code, where.hromada),
        (_c.worker_sub, where.worker),
        (_c.family_id, where.family_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if where.provider_id is not None:
        statement = statement.where(
            _c.id.in_(
                select(_ref.case_id).where(
                    _ref.provider_id == where.provider_id, _ref.status.in_(["pending", "accepted"])
                )
            )
        )
    for flag, condition in (
        (where.visit_overdue, visit_overdue(today)),
        (where.assessment_overdue, assessment_overdue(today)),
        (where.duration_exceeded, duration_exceeded(today)),
    ):
        if flag is not None:
            statement = statement.where(
                condition if flag else not_(func.coalesce(condition, literal(False)))
            )
    ids = (await session.execute(keyset(statement, [_c.id], page))).scalars().all()
    result = page_of(list(ids), page, key=lambda case_id: (case_id,))
    cases = await cases_by_id(session, caller, result.items, today)
    await record(session, caller, "list_cases", CASE, [c["id"] for c in cases])
    return Page(cases, result.next_after)


async def history(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, today: date
) -> list[dict[str, Any]]:
    if not await case_rows(session, caller, [case_id], today):
        raise NotFound(NOT_FOUND)
    rows = (
        (
            await session.execute(
                select(
                    _t.version, _t.from_status, _t.to_status, _t.reason, _t.details, _t.actor, _t.at
                )
                .where(_t.case_id == case_id)
                .order_by(_t.version)
            )
        )
        .mappings()
        .all()
    )
    await record(session, caller, "get_case_history", CASE, [case_id])
    return [dict(row) for row in rows]


async def visits(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, today: date
) -> list[dict[str, Any]]:
    if not await case_rows(session, caller, [case_id], today):
        raise NotFound(NOT_FOUND)
    rows = (
        (
            await session.execute(
                select(table_of(CaseVisit))
                .where(_vis.case_id == case_id)
                .order_by(_vis.visited_on.desc(), _vis.id)
            )
        )
        .mappings()
        .all()
    )
    await record(session, caller, "list_case_visits", CASE, [case_id])
    return [dict(row) for row in rows]


async def reviews(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, today: date
) -> list[dict[str, Any]]:
    if not await case_rows(session, caller, [case_id], today):
        raise NotFound(NOT_FOUND)
    rows = (
        (
            await session.execute(
                select(table_of(CaseReview))
                .where(_rev.case_id == case_id)
                .order_by(_rev.reviewed_on.desc(), _rev.id)
            )
        )
        .mappings()
        .all()
    )
    await record(session, caller, "list_case_reviews", CASE, [case_id])
    return [dict(row) for row in rows]


async def caseload(
    session: AsyncSession, caller: Caller, territory: str | None, today: date
) -> dict[str, Any]:
    """Per social worker: open cases, overdue visits and assessments; per hromada: totals
    and unassigned cases. Only cases the caller may see count."""
    statement_filter = [visible_cases(caller.principal), _c.status.in_([s.value for s in OPEN])]
    if territory is not None:
        await require_territory(session, "query.territory", territory)
        statement_filter.append(
            or_(
                _c.oblast_code == territory,
                _c.raion_code == territory,
                _c.hromada_code == territory,
            )
        )
    counts = (
        func.count().label("open_cases"),
        func.count().filter(visit_overdue(today)).label("visits_overdue"),
        func.count().filter(assessment_overdue(today)).label("assessments_overdue"),
        func.count()
        .filter(func.coalesce(duration_exceeded(today), literal(False)))
        .label("duration_exceeded"),
    )
    workers = (
        (
            await session.execute(
                select(_c.hromada_code, _c.worker_sub, *counts)
                .where(*statement_filter, _c.worker_sub.is_not(None))
                .group_by(_c.hromada_code, _c.worker_sub)
                .order_by(_c.hromada_code, _c.worker_sub)
            )
        )
        .mappings()
        .all()
    )
    hromadas = (
        (
            await session.execute(
                select(
                    _c.hromada_code,
                    *counts,
                    func.count().filter(_c.worker_sub.is_(None)).label("unassigned"),
                    func.count(func.distinct(_c.worker_sub)).label("workers"),
                )
                .where(*statement_filter)
                .group_by(_c.hromada_code)
                .order_by(_c.hromada_code)
            )
        )
        .mappings()
        .all()
    )
    await record(session, caller, "get_caseload", CASE, [])
    return {
        "as_of": today,
        "territory": territory,
        "workers": [dict(row) for row in workers],
        "hromadas": [dict(row) for row in hromadas],
    }
