"""Reading servicemember-family support: units with their assigned providers and whether each
still passes the gate, the catalogue of measures, servicemembers with their histories, and
support cases with their measures, contacts, deadlines and history.

Every query is confined by ``access``; every read of a servicemember or a support case (a
servicemember's status is among the most sensitive facts the registry holds) is audited.
What a caller who is neither the unit's side nor the ministry sees is narrower: the current
status, never its history (``access.sees_status_history``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    not_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, array
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.db.engine import driver_connection
from registry.db.pagination import Page, PageRequest, id_after, keyset, page_of
from registry.db.reach import unconfined
from registry.db.statements import Compiled, compile_statement, in_constants
from registry.domain.audit.commands import audit_arguments, audit_insert, record
from registry.domain.families.tables import family_table, person_table
from registry.domain.military.access import (
    for_provider,
    sees_status_history,
    visible_servicemembers,
    visible_support_cases,
    visible_units,
)
from registry.domain.military.rules import (
    CONTACTED,
    OPEN_STATUSES,
    Deadline,
    SupportCaseStatus,
    allowed_transitions,
)
from registry.domain.military.tables import (
    military_unit_table,
    servicemember_status_table,
    servicemember_table,
    servicemember_unit_table,
    support_case_contact_table,
    support_case_event_table,
    support_case_measure_table,
    support_case_table,
    support_measure_table,
    unit_provider_table,
)
from registry.domain.providers.tables import provider_table, support_criterion_table
from registry.domain.shared.caller import Caller
from registry.domain.shared.deadlines import Deadlines
from registry.errors import NotFound

MILITARY_UNIT = "military_unit"
SERVICEMEMBER = "servicemember"
SUPPORT_CASE = "support_case"
SUPPORT_MEASURE = "support_measure"
SUPPORT_CASE_MEASURE = "support_case_measure"
SUPPORT_CASE_CONTACT = "support_case_contact"
UNIT_NOT_FOUND = "No military unit with this id is within your reach."
SERVICEMEMBER_NOT_FOUND = "No servicemember with this id is within your reach."
CASE_NOT_FOUND = "No support case with this id is within your reach."
MEASURE_NOT_FOUND = "No support measure with this code."


# --- the eligibility gate, in SQL ---------------------------------------------------------------


def provider_eligible() -> ColumnElement[bool]:
    """Whether the provider row (``provider_table``) passes the gate now: active, non_state,
    every active criterion of /support-criteria met, and verified (``rules.ineligibility``
    says the same in words, for a refusal)."""
    criteria = func.array(
        select(support_criterion_table.c.code.cast(Text))
        .where(support_criterion_table.c.active)
        .scalar_subquery()
    )
    return and_(
        provider_table.c.status == "active",
        provider_table.c.sector == "non_state",
        provider_table.c.support_verified_at.is_not(None),
        provider_table.c.support_verified_by.is_not(None),
        provider_table.c.support_criteria_met.contains(criteria),
    )


def provider_ineligible_for_case() -> ColumnElement[bool]:
    """An open support case whose provider no longer may receive the unit's cases: it fails
    the gate, or it is no longer assigned to the case's unit (taken off, or the servicemember
    moved to a unit it does not serve)."""
    standing = exists().where(
        unit_provider_table.c.unit_id == support_case_table.c.unit_id,
        unit_provider_table.c.provider_id == support_case_table.c.provider_id,
        unit_provider_table.c.ended_on.is_(None),
    )
    eligible = exists().where(
        provider_table.c.id == support_case_table.c.provider_id, provider_eligible()
    )
    return and_(
        in_constants(support_case_table.c.status, [s.value for s in OPEN_STATUSES]),
        support_case_table.c.provider_id.is_not(None),
        not_(and_(standing, eligible)),
    )


def contact_overdue(today: date) -> ColumnElement[bool]:
    return and_(
        in_constants(support_case_table.c.status, [s.value for s in CONTACTED]),
        support_case_table.c.contact_due_on < today,
    )


#: Each deadline of a support case: the column of its due day and whether it has passed as of
#: a day, by the very clause the ``contact_overdue`` filter and flag apply, so the worker's
#: breaches (``commands.record_breaches``) and the lists call a case overdue by one rule.
DEADLINES: Deadlines = {
    Deadline.CONTACT_OVERDUE: (support_case_table.c.contact_due_on, contact_overdue),
}


# --- units ------------------------------------------------------------------------------------


async def units_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], *, confined: bool = True
) -> list[dict[str, Any]]:
    if not ids:
        return []
    statement = select(military_unit_table).where(military_unit_table.c.id.in_(ids))
    if confined:
        statement = statement.where(visible_units(caller.principal))
    rows = (await session.execute(statement)).mappings().all()
    providers = await _unit_providers(session, [row["id"] for row in rows])
    by_id = {row["id"]: {**row, "providers": providers.get(row["id"], [])} for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _unit_providers(
    session: AsyncSession, unit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each unit's standing assignments, with whether the provider still passes the gate."""
    statement = (
        select(
            unit_provider_table.c.unit_id,
            unit_provider_table.c.provider_id,
            func.coalesce(provider_table.c.short_name, provider_table.c.full_name).label("name"),
            unit_provider_table.c.assigned_on,
            provider_eligible().label("eligible"),
        )
        .join(provider_table, provider_table.c.id == unit_provider_table.c.provider_id)
        .where(
            unit_provider_table.c.unit_id.in_(unit_ids), unit_provider_table.c.ended_on.is_(None)
        )
        .order_by(unit_provider_table.c.assigned_on, unit_provider_table.c.provider_id)
    )
    providers: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in (await session.execute(statement)).mappings():
        providers.setdefault(row["unit_id"], []).append(
            {k: row[k] for k in ("provider_id", "name", "assigned_on", "eligible")}
        )
    return providers


async def get_unit(session: AsyncSession, caller: Caller, unit_id: uuid.UUID) -> dict[str, Any]:
    found = await units_by_id(session, caller, [unit_id])
    if not found:
        raise NotFound(UNIT_NOT_FOUND)
    return found[0]


async def list_units(
    session: AsyncSession, caller: Caller, page: PageRequest, stage: str | None, oblast: str | None
) -> Page[dict[str, Any]]:
    statement = select(military_unit_table.c.id).where(visible_units(caller.principal))
    if stage is not None:
        statement = statement.where(military_unit_table.c.stage == stage)
    if oblast is not None:
        statement = statement.where(military_unit_table.c.oblast_codes.any_() == oblast)
    ids = (
        (await session.execute(keyset(statement, [military_unit_table.c.id], page))).scalars().all()
    )
    result = page_of(list(ids), page, key=lambda unit_id: (unit_id,))
    return Page(await units_by_id(session, caller, result.items), result.next_after)


# --- the catalogue ----------------------------------------------------------------------------


async def measures(session: AsyncSession, include_retired: bool) -> list[dict[str, Any]]:
    statement = select(support_measure_table).order_by(
        support_measure_table.c.sort_order, support_measure_table.c.code
    )
    if not include_retired:
        statement = statement.where(support_measure_table.c.active)
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def measure(session: AsyncSession, code: str) -> dict[str, Any]:
    row = (
        (
            await session.execute(
                select(support_measure_table).where(support_measure_table.c.code == code)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(MEASURE_NOT_FOUND)
    return dict(row)


# --- servicemembers ---------------------------------------------------------------------------

_PERSON = (
    person_table.c.last_name,
    person_table.c.first_name,
    person_table.c.patronymic,
    person_table.c.birth_date,
)


async def servicemembers_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], *, confined: bool = True
) -> list[dict[str, Any]]:
    """The visible servicemembers among ``ids`` as the caller may see them (not audited)."""
    if not ids:
        return []
    statement = (
        select(servicemember_table, *_PERSON)
        .join(person_table, person_table.c.id == servicemember_table.c.person_id)
        .where(servicemember_table.c.id.in_(ids))
    )
    if confined:
        statement = statement.where(visible_servicemembers(caller.principal))
    async with unconfined(session, not confined):
        rows = (await session.execute(statement)).mappings().all()
        full = sees_status_history(caller.principal)
        histories = await _histories(session, [row["id"] for row in rows]) if full else {}
    by_id = {row["id"]: _render_servicemember(row, histories.get(row["id"])) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _histories(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, list[dict[str, Any]]]]:
    histories: dict[uuid.UUID, dict[str, list[dict[str, Any]]]] = {
        i: {"status_history": [], "unit_history": []} for i in ids
    }
    for row in (
        await session.execute(
            select(servicemember_status_table)
            .where(servicemember_status_table.c.servicemember_id.in_(ids))
            .order_by(
                servicemember_status_table.c.effective_on, servicemember_status_table.c.version
            )
        )
    ).mappings():
        histories[row["servicemember_id"]]["status_history"].append(
            {k: row[k] for k in ("version", "status", "effective_on", "recorded_by", "recorded_at")}
        )
    for row in (
        await session.execute(
            select(servicemember_unit_table)
            .where(servicemember_unit_table.c.servicemember_id.in_(ids))
            .order_by(servicemember_unit_table.c.version)
        )
    ).mappings():
        histories[row["servicemember_id"]]["unit_history"].append(
            {
                k: row[k]
                for k in (
                    "version",
                    "unit_id",
                    "from_unit_id",
                    "effective_on",
                    "reason",
                    "recorded_by",
                    "recorded_at",
                )
            }
        )
    return histories


def _render_servicemember(
    row: Any, histories: dict[str, list[dict[str, Any]]] | None
) -> dict[str, Any]:
    shown = {
        "id": row["id"],
        "person": {
            "id": row["person_id"],
            "last_name": row["last_name"],
            "first_name": row["first_name"],
            "patronymic": row["patronymic"],
            "birth_date": row["birth_date"],
        },
        "family_id": row["family_id"],
        "unit_id": row["unit_id"],
        "status": row["status"],
        "status_effective_on": row["status_effective_on"],
        "version": row["version"],
    }
    if histories is not None:
        shown.update(
            histories,
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
    return shown


async def get_servicemember(
    session: AsyncSession, caller: Caller, servicemember_id: uuid.UUID
) -> dict[str, Any]:
    found = await servicemembers_by_id(session, caller, [servicemember_id])
    if not found:
        raise NotFound(SERVICEMEMBER_NOT_FOUND)
    await record(
        session,
        caller,
        "get_servicemember",
        SERVICEMEMBER,
        [servicemember_id, found[0]["family_id"]],
    )
    return found[0]


async def list_servicemembers(
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    unit_id: uuid.UUID | None,
    family_id: uuid.UUID | None,
) -> Page[dict[str, Any]]:
    statement = select(servicemember_table.c.id).where(visible_servicemembers(caller.principal))
    if unit_id is not None:
        statement = statement.where(servicemember_table.c.unit_id == unit_id)
    if family_id is not None:
        statement = statement.where(servicemember_table.c.family_id == family_id)
    ids = (
        (await session.execute(keyset(statement, [servicemember_table.c.id], page))).scalars().all()
    )
    result = page_of(list(ids), page, key=lambda servicemember_id: (servicemember_id,))
    found = await servicemembers_by_id(session, caller, result.items)
    await record(session, caller, "list_servicemembers", SERVICEMEMBER, [s["id"] for s in found])
    return Page(found, result.next_after)


# --- support cases ----------------------------------------------------------------------------


def case_columns(today: date) -> tuple[Any, ...]:
    """A support case's columns as stored, with its flags as of ``today``."""
    return (
        *support_case_table.columns,
        contact_overdue(today).label("contact_overdue"),
        provider_ineligible_for_case().label("provider_ineligible"),
    )


@dataclass(frozen=True, slots=True)
class SupportCaseFilter:
    status: str | None = None
    unit_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    servicemember_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    worker: str | None = None
    contact_overdue: bool | None = None
    provider_ineligible: bool | None = None


def _cases_with_servicemembers(today: Any) -> Select[Any]:
    """Support cases (``case_columns``) with their servicemembers as they stand now."""
    return (
        select(
            *case_columns(today),
            servicemember_table.c.person_id,
            servicemember_table.c.status.label("servicemember_status"),
            servicemember_table.c.status_effective_on,
            *_PERSON[:3],
        )
        .join(
            servicemember_table, servicemember_table.c.id == support_case_table.c.servicemember_id
        )
        .join(person_table, person_table.c.id == servicemember_table.c.person_id)
    )


async def _case_rows(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], confined: bool
) -> list[dict[str, Any]]:
    statement = _cases_with_servicemembers(caller.today).where(support_case_table.c.id.in_(ids))
    if confined:
        statement = statement.where(visible_support_cases(caller.principal))
    rows = (await session.execute(statement)).mappings().all()
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _servicemember_of(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["servicemember_id"],
        "person_id": row["person_id"],
        "last_name": row["last_name"],
        "first_name": row["first_name"],
        "patronymic": row["patronymic"],
        "status": row["servicemember_status"],
        "status_effective_on": row["status_effective_on"],
    }


def _summary_of(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            k: row[k]
            for k in (
                "id",
                "unit_id",
                "family_id",
                "status",
                "opened_on",
                "provider_id",
                "worker_sub",
                "last_contact_on",
                "contact_due_on",
                "contact_overdue",
                "provider_ineligible",
                "version",
            )
        },
        "servicemember": _servicemember_of(row),
    }


async def support_cases_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], *, confined: bool = True
) -> list[dict[str, Any]]:
    """The visible support cases among ``ids``, whole, as the caller may see them (not
    audited: the caller records the action)."""
    async with unconfined(session, not confined):
        rows = await _case_rows(session, caller, ids, confined)
        if not rows:
            return []
        case_ids = [row["id"] for row in rows]
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
        planned: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for row in (
            await session.execute(
                select(support_case_measure_table)
                .where(support_case_measure_table.c.case_id.in_(case_ids))
                .order_by(support_case_measure_table.c.due_on, support_case_measure_table.c.id)
            )
        ).mappings():
            planned.setdefault(row["case_id"], []).append(dict(row))
        contacts: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for row in (
            await session.execute(
                select(support_case_contact_table)
                .where(support_case_contact_table.c.case_id.in_(case_ids))
                .order_by(
                    support_case_contact_table.c.contacted_on.desc(),
                    support_case_contact_table.c.id,
                )
            )
        ).mappings():
            contacts.setdefault(row["case_id"], []).append(dict(row))
    return [
        _render_case(
            caller,
            row,
            families[row["family_id"]],
            planned.get(row["id"], []),
            contacts.get(row["id"], []),
        )
        for row in rows
    ]


def _render_case(
    caller: Caller,
    row: dict[str, Any],
    family: dict[str, Any],
    planned: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
) -> dict[str, Any]:
    principal = caller.principal
    status = SupportCaseStatus(row["status"])
    shown = {
        **_summary_of(row),
        "summary": row["summary"],
        "closure": (
            {"reason": row["closure_reason"], "closed_at": row["closed_at"]}
            if row["closure_reason"]
            else None
        ),
        "allowed_transitions": sorted(allowed_transitions(status)),
    }
    if sees_status_history(principal) or for_provider(principal):
        # The case's own workers: the family's contact, the whole plan, every contact.
        shown["family"] = family
        shown["measures"] = [_render_measure(m) for m in planned]
        shown["contacts"] = [
            {
                k: c[k]
                for k in ("id", "contacted_on", "channel", "notes", "created_by", "created_at")
            }
            for c in contacts
        ]
        if sees_status_history(principal):
            shown.update(
                assigned_at=row["assigned_at"],
                assigned_by=row["assigned_by"],
                created_by=row["created_by"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
        return shown
    # A hromada's read-only view, to coordinate local services: what is planned and done,
    # when; not the workers' notes, the family's contact details, or the contacts' notes.
    shown.pop("summary")
    shown["family"] = {"id": family["id"], "hromada_code": family["hromada_code"]}
    shown["measures"] = [
        {k: m[k] for k in ("id", "measure_code", "status", "due_on", "delivered_on")}
        for m in planned
    ]
    return shown


def _render_measure(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: row[k]
        for k in (
            "id",
            "measure_code",
            "status",
            "origin",
            "responsible",
            "due_on",
            "delivered_on",
            "outcome",
            "notes",
            "delivered_by",
            "created_by",
            "created_at",
            "updated_at",
            "version",
        )
    }


async def get_support_case(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID
) -> dict[str, Any]:
    found = await support_cases_by_id(session, caller, [case_id])
    if not found:
        raise NotFound(CASE_NOT_FOUND)
    case = found[0]
    await record(
        session,
        caller,
        "get_support_case",
        SUPPORT_CASE,
        [case_id, case["servicemember"]["id"], case["family_id"]],
    )
    return case


async def list_support_cases(
    connection: asyncpg.Connection, caller: Caller, page: PageRequest, where: SupportCaseFilter
) -> Page[dict[str, Any]]:
    """A page of the support cases within reach, as ``SupportCaseSummary`` (a test holds the
    page a fixed point of it), read and audited in one statement on the driver connection
    (``db.statements``), as the family and case lists are."""
    values: dict[str, Any] = {
        name: getattr(where, name) for name in _CASE_FILTERS if getattr(where, name) is not None
    }
    flags = tuple(
        (name, value) for name in _CASE_FLAGS if (value := getattr(where, name)) is not None
    )
    if page.after is not None:
        values["after_id"] = id_after(page.after)
    principal = caller.principal
    compiled = _support_case_page(
        _SupportCasePageShape(
            confinement=principal.confinement,
            filters=tuple(name for name in _CASE_FILTERS if name in values),
            flags=flags,
            after=page.after is not None,
        )
    )
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
    cases = [_summary_of(dict(row)) for row in rows]
    return page_of(cases, page, key=lambda case: (case["id"],))


async def list_unit_support_cases(
    session: AsyncSession,
    caller: Caller,
    unit_id: uuid.UUID,
    page: PageRequest,
    where: SupportCaseFilter,
) -> Page[dict[str, Any]]:
    """``list_support_cases`` of the unit, which must be within reach (404 otherwise), in the
    same transaction."""
    await get_unit(session, caller, unit_id)
    return await list_support_cases(
        await driver_connection(session), caller, page, replace(where, unit_id=unit_id)
    )


#: What the support-case list filters by equality (parameters named as the filter).
_CASE_FILTERS = {
    "status": support_case_table.c.status,
    "unit_id": support_case_table.c.unit_id,
    "provider_id": support_case_table.c.provider_id,
    "servicemember_id": support_case_table.c.servicemember_id,
    "family_id": support_case_table.c.family_id,
    "worker": support_case_table.c.worker_sub,
}
#: The flags it filters by (true: the condition holds; false: it does not), as of ``today``.
_CASE_FLAGS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "contact_overdue": contact_overdue,
    "provider_ineligible": lambda today: provider_ineligible_for_case(),
}


@dataclass(frozen=True, slots=True)
class _SupportCasePageShape:
    """What decides the SQL of a page of support cases: the caller's reach, which filters
    and flags are given (their values are parameters) and whether it starts after a cursor."""

    confinement: Principal
    filters: tuple[str, ...]
    flags: tuple[tuple[str, bool], ...]
    after: bool


@functools.lru_cache(maxsize=1024)
def _support_case_page(shape: _SupportCasePageShape) -> Compiled:
    """One statement for a page of support cases (one more than the page, to know whether a
    next one exists) with their flags and servicemembers, and the audit event listing each
    case returned and its servicemember. Built once per shape; the SQL is the same for every
    caller of a reach, so the server keeps one plan."""
    today: Any = bindparam("today", type_=Date)
    statement = _cases_with_servicemembers(today).where(
        visible_support_cases(shape.confinement),
        *(
            _CASE_FILTERS[name] == bindparam(name, type_=_CASE_FILTERS[name].type)
            for name in shape.filters
        ),
        *(
            _CASE_FLAGS[name](today)
            if flag
            else not_(func.coalesce(_CASE_FLAGS[name](today), literal(False)))
            for name, flag in shape.flags
        ),
    )
    if shape.after:
        statement = statement.where(support_case_table.c.id > bindparam("after_id", type_=Uuid))
    found = (
        statement.order_by(support_case_table.c.id)
        .limit(bindparam("fetch", type_=Integer))
        .cte("found")
    )
    listed = (
        select(found.c.id, found.c.servicemember_id)
        .order_by(found.c.id)
        .limit(bindparam("limit", type_=Integer))
    ).subquery("listed")
    # Each case, then its servicemember, in page order (ids hold no comma).
    pairs = func.string_agg(
        func.concat_ws(",", listed.c.id, listed.c.servicemember_id),
        aggregate_order_by(literal(","), listed.c.id),
    )
    listed_ids = select(
        func.coalesce(
            func.string_to_array(pairs, literal(",")),
            cast(array([], type_=Text), ARRAY(Text)),
        )
    ).scalar_subquery()
    audit = audit_insert("list_support_cases", SUPPORT_CASE, listed_ids).cte("audit")
    return compile_statement(select(found).order_by(found.c.id).add_cte(audit))


async def history(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every step of the case. Anyone but the unit's side and the ministry sees its
    transitions and assignments only (when, from which status to which): not the
    servicemember's status changes recorded on it, nor who did what and why."""
    if not await _case_rows(session, caller, [case_id], True):
        raise NotFound(CASE_NOT_FOUND)
    full = sees_status_history(caller.principal)
    columns = (
        [c for c in support_case_event_table.columns if c.name != "case_id"]
        if full
        else [
            support_case_event_table.c[name]
            for name in ("version", "kind", "from_status", "to_status", "at")
        ]
    )
    statement = (
        select(*columns)
        .where(
            support_case_event_table.c.case_id == case_id,
            true() if full else support_case_event_table.c.kind != "servicemember_status",
        )
        .order_by(support_case_event_table.c.version)
    )
    rows = [dict(row) for row in (await session.execute(statement)).mappings()]
    await record(session, caller, "get_support_case_history", SUPPORT_CASE, [case_id])
    return rows
