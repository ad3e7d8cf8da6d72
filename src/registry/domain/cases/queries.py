"""Reading cases and their referrals: one case with what is inside it, lists with the
deadline filters managers need, the transition history, visits and reviews, the caseload,
and the referrals to providers. Every query is confined by ``access`` (``visible_cases``,
``visible_referrals``); every read of a case or a referral is audited."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    not_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, array
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.db.engine import driver_connection
from registry.db.pagination import Page, PageRequest, id_after, keyset, page_of
from registry.db.reach import unconfined
from registry.db.statements import Compiled, compile_statement, in_constants
from registry.domain.audit.commands import audit_arguments, audit_insert, record
from registry.domain.cases.access import (
    for_provider,
    require_caseload_reader,
    visible_cases,
    visible_referrals,
)
from registry.domain.cases.rules import (
    ASSESSMENT_DOMAINS,
    OPEN,
    VISITED,
    CaseStatus,
    Deadline,
    allowed_transitions,
)
from registry.domain.cases.tables import (
    case_assessment_table,
    case_measure_table,
    case_plan_table,
    case_review_table,
    case_table,
    case_transition_table,
    case_visit_table,
    referral_table,
)
from registry.domain.families.tables import family_table, person_table
from registry.domain.shared.caller import Caller
from registry.domain.shared.deadlines import Deadlines
from registry.domain.shared.territory import within
from registry.domain.territories.queries import require_territory
from registry.errors import NotFound

CASE = "case"
REFERRAL = "referral"
NOT_FOUND = "No case with this id is within your reach."
REFERRAL_NOT_FOUND = "No referral with this id is within your reach."


def _status_in(statuses: Sequence[str]) -> ColumnElement[bool]:
    """The case's status among ``statuses``, written into the SQL: a deadline clause then
    compiles into a prepared statement (``db.statements``)."""
    return in_constants(case_table.c.status, statuses)


def _completed_assessment() -> ColumnElement[bool]:
    return exists().where(
        case_assessment_table.c.case_id == case_table.c.id,
        case_assessment_table.c.completed_at.is_not(None),
    )


def visit_overdue(today: date) -> ColumnElement[bool]:
    return and_(_status_in([s.value for s in VISITED]), case_table.c.visit_due_on < today)


def assessment_overdue(today: date) -> ColumnElement[bool]:
    return and_(
        _status_in([CaseStatus.REFERRED.value, CaseStatus.ASSESSMENT.value]),
        case_table.c.assessment_due_on < today,
        not_(_completed_assessment()),
    )


def duration_exceeded(today: date) -> ColumnElement[bool]:
    return and_(_status_in([s.value for s in OPEN]), case_table.c.accompaniment_until < today)


#: Each deadline of a case: the column of its due day and whether it has passed as of a day,
#: by the very clauses the list filters and the caseload apply, so the worker's breaches
#: (``commands.record_breaches``) and the lists call a case overdue by one rule.
DEADLINES: Deadlines = {
    Deadline.VISIT_OVERDUE: (case_table.c.visit_due_on, visit_overdue),
    Deadline.ASSESSMENT_OVERDUE: (case_table.c.assessment_due_on, assessment_overdue),
    Deadline.DURATION_EXCEEDED: (case_table.c.accompaniment_until, duration_exceeded),
}


def case_columns(today: date) -> tuple[Any, ...]:
    """A case's columns as stored, with its deadline flags as of ``today``."""
    return (
        *case_table.columns,
        visit_overdue(today).label("visit_overdue"),
        assessment_overdue(today).label("assessment_overdue"),
        func.coalesce(duration_exceeded(today), literal(False)).label("duration_exceeded"),
    )


async def case_rows(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    *,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The visible cases among ``ids`` as stored, with their deadline flags (``confined``
    off only to answer a change the caller just made that took the case out of reach)."""
    statement = select(*case_columns(caller.today)).where(case_table.c.id.in_(ids))
    if confined:
        statement = statement.where(visible_cases(caller.principal))
    rows = (await session.execute(statement)).mappings().all()
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def cases_by_id(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    *,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The visible cases among ``ids``, each as the API shows it to this caller (not
    audited: the caller records the action)."""
    # Unconfined here, unconfined in the database too (its row-level security, if on).
    async with unconfined(session, not confined):
        return await _cases_as_shown(session, caller, ids, confined)


async def _cases_as_shown(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], confined: bool
) -> list[dict[str, Any]]:
    rows = await case_rows(session, caller, ids, confined=confined)
    if not rows:
        return []
    case_ids = [row["id"] for row in rows]
    if for_provider(caller.principal):
        return await _as_provider_sees(session, caller, rows)
    assessments = {
        row["case_id"]: dict(row)
        for row in (
            await session.execute(
                select(case_assessment_table).where(case_assessment_table.c.case_id.in_(case_ids))
            )
        ).mappings()
    }
    plans = {
        row["case_id"]: dict(row)
        for row in (
            await session.execute(
                select(case_plan_table).where(case_plan_table.c.case_id.in_(case_ids))
            )
        ).mappings()
    }
    measures: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (
        await session.execute(
            select(case_measure_table)
            .where(case_measure_table.c.case_id.in_(case_ids))
            .order_by(case_measure_table.c.due_on, case_measure_table.c.id)
        )
    ).mappings():
        measures.setdefault(row["case_id"], []).append({key: row[key] for key in _MEASURE_KEYS})
    referrals = await _referrals_of(session, case_ids)
    return [
        _render(
            row,
            assessments.get(row["id"]),
            plans.get(row["id"]),
            measures.get(row["id"], []),
            [
                {key: referral[key] for key in _REFERRAL_KEYS}
                for referral in referrals.get(row["id"], [])
            ],
        )
        for row in rows
    ]


#: What a provider sees of a referral to it: all of it but the measure of the plan it serves
#: (the provider does not see the plan) and who in the hromada made it (the case's worker is
#: its contact).
PROVIDER_REFERRAL_COLUMNS = tuple(
    column
    for column in referral_table.columns
    if column.name not in ("measure_id", "created_by", "updated_at")
)


def referral_columns(caller: Caller) -> tuple[Any, ...]:
    """The columns of a referral the caller sees."""
    if for_provider(caller.principal):
        return PROVIDER_REFERRAL_COLUMNS
    return tuple(referral_table.columns)


async def _referrals_of(
    session: AsyncSession, case_ids: Sequence[uuid.UUID], provider_id: uuid.UUID | None = None
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    columns = referral_table.columns if provider_id is None else PROVIDER_REFERRAL_COLUMNS
    statement = (
        select(*columns)
        .where(referral_table.c.case_id.in_(case_ids))
        .order_by(referral_table.c.created_at, referral_table.c.id)
    )
    if provider_id is not None:
        statement = statement.where(referral_table.c.provider_id == provider_id)
    referrals: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await session.execute(statement)).mappings():
        referrals.setdefault(row["case_id"], []).append(dict(row))
    return referrals


#: What a case shows of each of its parts: exactly the keys of the answer (of a measure and a
#: referral) or what the answer is made of (an assessment, a plan). Their rows hold more (whose
#: case, who wrote them and when, kept for the record and its history), which the list's
#: statement does not read: the driver decodes only what is shown (``_with_parts``).
_MEASURE_KEYS = tuple(
    column.name
    for column in case_measure_table.columns
    if column.name not in ("case_id", "created_by", "created_at", "updated_at")
)
_REFERRAL_KEYS = tuple(
    column.name for column in referral_table.columns if column.name != "updated_at"
)
#: Each domain of the assessment with the columns of its level and notes.
_ASSESSMENT_DOMAIN_COLUMNS = tuple(
    (domain, f"{domain}_level", f"{domain}_notes") for domain in ASSESSMENT_DOMAINS
)
_ASSESSMENT_KEYS = (
    *(name for _, level, notes in _ASSESSMENT_DOMAIN_COLUMNS for name in (level, notes)),
    "conclusions",
    "completed_at",
    "completed_by",
)
_PLAN_KEYS = ("goals", "agreed_by", "agreed_at")
#: The keys of the answer a case shows as stored (the others are grouped: reporter, decision,
#: closure).
_CASE_KEYS = (
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


def _render(
    row: Mapping[str, Any],
    assessment: Mapping[str, Any] | None,
    plan: Mapping[str, Any] | None,
    measures: list[dict[str, Any]],
    referrals: list[dict[str, Any]],
) -> dict[str, Any]:
    """The case as the API shows it, from its row with flags (``case_columns``) and its parts:
    the assessment and plan by their keys (``_ASSESSMENT_KEYS``, ``_PLAN_KEYS``), the measures
    and referrals as shown (``_MEASURE_KEYS``, ``_REFERRAL_KEYS``)."""
    shown = {key: row[key] for key in _CASE_KEYS}
    shown["reporter"] = (
        {
            "kind": row["reporter_kind"],
            "name": row["reporter_name"],
            "contact": row["reporter_contact"],
        }
        if row["reporter_kind"] or row["reporter_name"]
        else None
    )
    shown["decision"] = (
        {
            "decision": row["decision"],
            "reason": row["decision_reason"],
            "decided_on": row["decided_on"],
            "decided_by": row["decided_by"],
        }
        if row["decision"]
        else None
    )
    shown["closure"] = (
        {
            "reason": row["closure_reason"],
            "outcome": row["closure_outcome"],
            "closed_at": row["closed_at"],
        }
        if row["closure_reason"]
        else None
    )
    shown["assessment"] = _render_assessment(assessment) if assessment else None
    shown["plan"] = (
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
    )
    shown["referrals"] = referrals
    shown["allowed_transitions"] = list(_shown_transitions(row["status"], row["suspended_from"]))
    return shown


@functools.cache
def _shown_transitions(status: str, suspended_from: str | None) -> tuple[CaseStatus, ...]:
    """The steps a case in ``status`` may take, in order (a handful of statuses: kept)."""
    return tuple(
        sorted(
            allowed_transitions(
                CaseStatus(status), CaseStatus(suspended_from) if suspended_from else None
            )
        )
    )


def _render_assessment(row: Mapping[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        domain: ({"level": row[level], "notes": row[notes]} if row[level] or row[notes] else None)
        for domain, level, notes in _ASSESSMENT_DOMAIN_COLUMNS
    }
    shown["conclusions"] = row["conclusions"]
    shown["completed_at"] = row["completed_at"]
    shown["completed_by"] = row["completed_by"]
    return shown


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
                select(
                    family_table.c.id,
                    family_table.c.phone,
                    family_table.c.address_line,
                    family_table.c.hromada_code,
                    family_table.c.settlement_code,
                ).where(family_table.c.id.in_(family_ids))
            )
        ).mappings()
    }
    members: dict[uuid.UUID, list[dict[str, Any]]] = {}
    age = func.date_part("year", func.age(person_table.c.birth_date)).cast(
        type_=person_table.c.version.type
    )
    for row in (
        await session.execute(
            select(
                person_table.c.family_id,
                person_table.c.last_name,
                person_table.c.first_name,
                person_table.c.patronymic,
                person_table.c.relation,
                case((age < 18, age), else_=None).label("age"),
            )
            .where(person_table.c.family_id.in_(family_ids), person_table.c.status == "active")
            .order_by(person_table.c.family_id, person_table.c.birth_date)
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


async def get_case(session: AsyncSession, caller: Caller, case_id: uuid.UUID) -> dict[str, Any]:
    """The case as the caller sees it, audited. For everyone but a provider's staff, one
    statement reads and audits it on the session's driver connection (``_case_read``), as
    the case list does; a provider's staff see only what their referral needs."""
    if not for_provider(caller.principal):
        connection = await driver_connection(session)
        compiled = _case_read(caller.principal.confinement)
        row = await connection.fetchrow(
            compiled.sql,
            *compiled.arguments(case_id=case_id, today=caller.today, **audit_arguments(caller)),
        )
        if row is None:
            raise NotFound(NOT_FOUND)
        return _render_row(row)
    found = await cases_by_id(session, caller, [case_id])
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
    session: AsyncSession, caller: Caller, page: PageRequest, where: CaseFilter
) -> Page[dict[str, Any]]:
    if where.hromada is not None:
        await require_territory(session, "query.hromada", where.hromada, {"H", "K"})
    if for_provider(caller.principal):
        return await _list_cases_for_provider(session, caller, page, where)
    values: dict[str, Any] = {
        name: getattr(where, name) for name in _CASE_FILTERS if getattr(where, name) is not None
    }
    flags = tuple(
        (name, value) for name in DEADLINE_FLAGS if (value := getattr(where, name)) is not None
    )
    if page.after is not None:
        values["after_id"] = id_after(page.after)
    principal = caller.principal
    compiled = _case_page(
        _CasePageShape(
            confinement=principal.confinement,
            filters=tuple(name for name in _CASE_FILTERS if name in values),
            flags=flags,
            after=page.after is not None,
        )
    )
    # The driver's connection, inside the session's transaction: one prepared statement reads
    # the page with every part of its cases and writes the audit event of what it returns.
    connection = await driver_connection(session)
    rows = await connection.fetch(
        compiled.sql,
        *compiled.arguments(
            **values,
            today=caller.today,
            fetch=page.limit + 1,
            limit=page.limit,
            **audit_arguments(caller),
        ),
    )
    # (the row past the page only tells that a next page exists: it is not rendered)
    found = page_of(rows, page, key=lambda row: (row["id"],))
    return Page([_render_row(row) for row in found.items], found.next_after)


#: What the case list filters by equality (parameters named as the filter); ``provider_id``
#: is the cases with a pending or accepted referral to that provider.
_CASE_FILTERS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "status": lambda value: case_table.c.status == value,
    "hromada": lambda value: case_table.c.hromada_code == value,
    "worker": lambda value: case_table.c.worker_sub == value,
    "family_id": lambda value: case_table.c.family_id == value,
    "provider_id": lambda value: case_table.c.id.in_(
        select(referral_table.c.case_id).where(
            referral_table.c.provider_id == value,
            referral_table.c.status.in_(
                [literal_column("'pending'"), literal_column("'accepted'")]
            ),
        )
    ),
}
_CASE_FILTER_TYPES: dict[str, Any] = {
    "status": String,
    "hromada": String,
    "worker": Text,
    "family_id": Uuid,
    "provider_id": Uuid,
}
#: The deadline flags the list filters by (true: overdue; false: not overdue).
DEADLINE_FLAGS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "visit_overdue": visit_overdue,
    "assessment_overdue": assessment_overdue,
    "duration_exceeded": duration_exceeded,
}


@dataclass(frozen=True, slots=True)
class _CasePageShape:
    """What decides the SQL of a page of cases: the caller's reach, which filters and flags
    are given (their values are parameters) and whether it starts after a cursor."""

    confinement: Principal
    filters: tuple[str, ...]
    flags: tuple[tuple[str, bool], ...]
    after: bool


@functools.lru_cache(maxsize=1024)
def _case_page(shape: _CasePageShape) -> Compiled:
    """One statement for a page of cases as their workers and officers see them: the cases
    (one more than the page, to know whether a next one exists) with their deadline flags,
    each with its assessment, plan, measures and referrals (whole rows, decoded by the
    driver), and the audit event listing the cases returned. Built once per shape; the SQL is
    the same for every caller of a role and territory, so the server keeps one plan."""
    today: Any = bindparam("today", type_=Date)
    statement = select(*case_columns(today)).where(
        visible_cases(shape.confinement),
        *(
            _CASE_FILTERS[name](bindparam(name, type_=_CASE_FILTER_TYPES[name]))
            for name in shape.filters
        ),
        *(
            DEADLINE_FLAGS[name](today)
            if flag
            else not_(func.coalesce(DEADLINE_FLAGS[name](today), literal(False)))
            for name, flag in shape.flags
        ),
    )
    if shape.after:
        statement = statement.where(case_table.c.id > bindparam("after_id", type_=Uuid))
    found = (
        statement.order_by(case_table.c.id).limit(bindparam("fetch", type_=Integer)).cte("found")
    )
    listed = (
        select(found.c.id).order_by(found.c.id).limit(bindparam("limit", type_=Integer))
    ).subquery("listed")
    listed_ids = select(
        func.coalesce(
            func.array_agg(aggregate_order_by(cast(listed.c.id, Text), listed.c.id)),
            cast(array([], type_=Text), ARRAY(Text)),
        )
    ).scalar_subquery()
    audit = audit_insert("list_cases", CASE, listed_ids).cte("audit")
    return compile_statement(_with_parts(found).order_by(found.c.id).add_cte(audit))


def _with_parts(found: Any) -> Select[Any]:
    """The cases of ``found`` (a CTE of ``case_columns``) each with its parts, reading only
    the columns the answer shows: whether it has an assessment and its columns
    (``_ASSESSMENT_KEYS``), whether it has a plan and its columns (``_PLAN_KEYS``), each as
    plain columns of the case's row (one of each at most); then its measures and referrals,
    each an array of rows of their shown columns (``_MEASURE_KEYS``, ``_REFERRAL_KEYS``),
    which the driver decodes as tuples that ``_render_row`` names."""

    def shown(table: Any, keys: tuple[str, ...]) -> Any:
        return func.row(*(table.c[key] for key in keys))

    measures = (
        select(
            func.array_agg(
                aggregate_order_by(
                    shown(case_measure_table, _MEASURE_KEYS),
                    case_measure_table.c.due_on,
                    case_measure_table.c.id,
                )
            )
        )
        .where(case_measure_table.c.case_id == found.c.id)
        .scalar_subquery()
    )
    referrals = (
        select(
            func.array_agg(
                aggregate_order_by(
                    shown(referral_table, _REFERRAL_KEYS),
                    referral_table.c.created_at,
                    referral_table.c.id,
                )
            )
        )
        .where(referral_table.c.case_id == found.c.id)
        .scalar_subquery()
    )
    return select(
        found,
        case_assessment_table.c.case_id.is_not(None).label("has_assessment"),
        *(case_assessment_table.c[key] for key in _ASSESSMENT_KEYS),
        case_plan_table.c.case_id.is_not(None).label("has_plan"),
        *(case_plan_table.c[key] for key in _PLAN_KEYS),
        measures.label("measures"),
        referrals.label("referrals"),
    ).select_from(
        found.outerjoin(
            case_assessment_table, case_assessment_table.c.case_id == found.c.id
        ).outerjoin(case_plan_table, case_plan_table.c.case_id == found.c.id)
    )


@functools.lru_cache(maxsize=1024)
def _case_read(confinement: Principal) -> Compiled:
    """One statement that reads a visible case with its parts and writes the audit event of
    the read (the case and its family), only when the case is returned. Cached by the
    caller's reach, as the page statement is."""
    today: Any = bindparam("today", type_=Date)
    found = (
        select(*case_columns(today))
        .where(case_table.c.id == bindparam("case_id", type_=Uuid), visible_cases(confinement))
        .cte("found")
    )
    audit = audit_insert(
        "get_case",
        CASE,
        array([cast(found.c.id, Text), cast(found.c.family_id, Text)]),
        source=found,
    ).cte("audit")
    return compile_statement(_with_parts(found).add_cte(audit))


def _render_row(row: asyncpg.Record) -> dict[str, Any]:
    """A row of ``_with_parts`` as the API shows the case (``_render``). The assessment's and
    the plan's columns are read by name from the case's own row (no case column shares their
    names; the views test holds a write's answer, read by the other road, equal to it)."""
    return _render(
        row,
        row if row["has_assessment"] else None,
        row if row["has_plan"] else None,
        [dict(zip(_MEASURE_KEYS, measure, strict=True)) for measure in row["measures"] or ()],
        [dict(zip(_REFERRAL_KEYS, referral, strict=True)) for referral in row["referrals"] or ()],
    )


async def _list_cases_for_provider(
    session: AsyncSession, caller: Caller, page: PageRequest, where: CaseFilter
) -> Page[dict[str, Any]]:
    """A provider's staff see another shape of a case (``_as_provider_sees``): listed as
    before, in several statements."""
    today = caller.today
    statement = select(case_table.c.id).where(visible_cases(caller.principal))
    for column, value in (
        (case_table.c.status, where.status),
        (case_table.c.hromada_code, where.hromada),
        (case_table.c.worker_sub, where.worker),
        (case_table.c.family_id, where.family_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if where.provider_id is not None:
        statement = statement.where(
            case_table.c.id.in_(
                select(referral_table.c.case_id).where(
                    referral_table.c.provider_id == where.provider_id,
                    referral_table.c.status.in_(["pending", "accepted"]),
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
    ids = (await session.execute(keyset(statement, [case_table.c.id], page))).scalars().all()
    result = page_of(list(ids), page, key=lambda case_id: (case_id,))
    cases = await cases_by_id(session, caller, result.items)
    await record(session, caller, "list_cases", CASE, [c["id"] for c in cases])
    return Page(cases, result.next_after)


async def _case_part(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, statement: Select[Any], action: str
) -> list[dict[str, Any]]:
    """The rows of a part of a visible case (404 otherwise), audited as ``action``."""
    if not await case_rows(session, caller, [case_id]):
        raise NotFound(NOT_FOUND)
    rows = (await session.execute(statement)).mappings().all()
    await record(session, caller, action, CASE, [case_id])
    return [dict(row) for row in rows]


# What a provider sees of a case's parts: when and what kind, never the text the case's
# workers wrote (the reasons of its steps, the version-1 reason being the case's summary;
# notes of visits and reviews), who took part, or who did what.
_PROVIDER_HISTORY = ("version", "from_status", "to_status", "at")
_PROVIDER_VISIT = ("visited_on", "kind")
_PROVIDER_REVIEW = ("reviewed_on", "outcome")


def _part_columns(caller: Caller, table: Any, provider_sees: Sequence[str]) -> list[Any]:
    if for_provider(caller.principal):
        return [table.c[name] for name in provider_sees]
    return list(table.columns)


async def history(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every step of the case (a provider: when it moved from which status to which)."""
    columns = _part_columns(caller, case_transition_table, _PROVIDER_HISTORY)
    statement = (
        select(*(c for c in columns if c.name != "case_id"))
        .where(case_transition_table.c.case_id == case_id)
        .order_by(case_transition_table.c.version)
    )
    return await _case_part(session, caller, case_id, statement, "get_case_history")


async def visits(session: AsyncSession, caller: Caller, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The case's visits, latest first (a provider: their days and kinds)."""
    statement = (
        select(*_part_columns(caller, case_visit_table, _PROVIDER_VISIT))
        .where(case_visit_table.c.case_id == case_id)
        .order_by(case_visit_table.c.visited_on.desc(), case_visit_table.c.id)
    )
    return await _case_part(session, caller, case_id, statement, "list_case_visits")


async def reviews(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The case's progress reviews, latest first (a provider: their days and outcomes)."""
    statement = (
        select(*_part_columns(caller, case_review_table, _PROVIDER_REVIEW))
        .where(case_review_table.c.case_id == case_id)
        .order_by(case_review_table.c.reviewed_on.desc(), case_review_table.c.id)
    )
    return await _case_part(session, caller, case_id, statement, "list_case_reviews")


async def caseload(session: AsyncSession, caller: Caller, territory: str | None) -> dict[str, Any]:
    """Per social worker: open cases, overdue visits and assessments; per hromada: totals
    and unassigned cases. Only cases the caller may see count; not a provider's view (403)."""
    require_caseload_reader(caller.principal)
    today = caller.today
    statement_filter = [
        visible_cases(caller.principal),
        case_table.c.status.in_([s.value for s in OPEN]),
    ]
    if territory is not None:
        await require_territory(session, "query.territory", territory)
        statement_filter.append(within(case_table, territory))
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
                select(case_table.c.hromada_code, case_table.c.worker_sub, *counts)
                .where(*statement_filter, case_table.c.worker_sub.is_not(None))
                .group_by(case_table.c.hromada_code, case_table.c.worker_sub)
                .order_by(case_table.c.hromada_code, case_table.c.worker_sub)
            )
        )
        .mappings()
        .all()
    )
    hromadas = (
        (
            await session.execute(
                select(
                    case_table.c.hromada_code,
                    *counts,
                    func.count().filter(case_table.c.worker_sub.is_(None)).label("unassigned"),
                    func.count(func.distinct(case_table.c.worker_sub)).label("workers"),
                )
                .where(*statement_filter)
                .group_by(case_table.c.hromada_code)
                .order_by(case_table.c.hromada_code)
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


# --- referrals ---------------------------------------------------------------------------------


async def referral_by_id(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    """A referral just written, as the caller sees it (not audited: the caller records the
    action)."""
    return dict(
        (
            await session.execute(
                select(*referral_columns(caller)).where(referral_table.c.id == referral_id)
            )
        )
        .mappings()
        .one()
    )


async def visible_referral(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    """The referral's row if the caller may see it (404 otherwise); not audited."""
    row = (
        (
            await session.execute(
                select(*referral_columns(caller)).where(
                    referral_table.c.id == referral_id, visible_referrals(caller.principal)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(REFERRAL_NOT_FOUND)
    return dict(row)


async def get_referral(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    row = await visible_referral(session, caller, referral_id)
    await record(session, caller, "get_referral", REFERRAL, [referral_id, row["case_id"]])
    return dict(row)


@dataclass(frozen=True, slots=True)
class ReferralFilter:
    status: str | None = None
    case_id: uuid.UUID | None = None


async def list_referrals(
    session: AsyncSession, caller: Caller, page: PageRequest, where: ReferralFilter
) -> Page[dict[str, Any]]:
    statement = select(*referral_columns(caller)).where(visible_referrals(caller.principal))
    if where.status is not None:
        statement = statement.where(referral_table.c.status == where.status)
    if where.case_id is not None:
        statement = statement.where(referral_table.c.case_id == where.case_id)
    rows = (await session.execute(keyset(statement, [referral_table.c.id], page))).mappings().all()
    result = page_of([dict(row) for row in rows], page, key=lambda row: (row["id"],))
    await record(
        session,
        caller,
        "list_referrals",
        REFERRAL,
        [*(r["id"] for r in result.items), *{r["case_id"] for r in result.items}],
    )
    return result
