"""Reading aggregate reports: each is counted by PostgreSQL (``GROUP BY`` the territory's code
and the category) within the report's scope, then suppressed (``rules.protect``) and shaped
as tables of cells. Nothing of a record leaves this module but counts and sums.

Families and service records are counted from the counts kept as they are written
(``tables``: a million rows are not scanned per report); cases, providers, support cases and
programmes from their own tables. Those reads go beyond the caller's row-level reach
(``unconfined``): an analyst reaches no personal row at all, yet counts them. The report's
own scope (``access.Scope``) confines every statement first, as the rule for ``unconfined``
asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.reach import unconfined
from registry.domain.audit.commands import record
from registry.domain.cases.queries import assessment_overdue, duration_exceeded, visit_overdue
from registry.domain.cases.rules import OPEN, CaseStatus
from registry.domain.cases.tables import case_table
from registry.domain.classifier.tables import service_table
from registry.domain.families.tables import (
    family_table,
    hardship_factor_table,
    recipient_category_table,
)
from registry.domain.military.rules import MeasureStatus
from registry.domain.military.tables import (
    military_unit_table,
    support_case_measure_table,
    support_case_table,
    support_measure_table,
)
from registry.domain.programmes.rules import ProgrammeStatus, money_text
from registry.domain.programmes.tables import (
    aid_item_table,
    allocation_table,
    enrolment_table,
    programme_table,
)
from registry.domain.providers.rules import ProviderStatus, Sector
from registry.domain.providers.tables import provider_table
from registry.domain.reports.access import Scope, scope_of
from registry.domain.reports.rules import GroupBy, Protected, protect
from registry.domain.reports.tables import (
    ANY_CODE,
    FAMILIES,
    SERVICE_RECORDS,
    report_count_change_table,
    report_count_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import require_territory
from registry.domain.territories.tables import territory_table
from registry.errors import FieldError, InvalidInput

REPORT = "report"

#: The longest period of service records one report counts, in months.
MAX_MONTHS = 24


async def report_scope(
    session: AsyncSession, caller: Caller, group_by: GroupBy | None, territory: str | None
) -> Scope:
    """What a report counts (``access.scope_of``), ``territory`` checked against the
    codifier (422 when it names no unit)."""
    if territory is not None:
        await require_territory(session, "query.territory", territory)
    return scope_of(caller.principal, group_by, territory)


# --- shaping ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    name_uk: str | None = None
    name_en: str | None = None


def _cell(value: int | None) -> dict[str, Any]:
    return {"count": value, "suppressed": value is None}


def _group(table: Table, group_by: GroupBy) -> ColumnElement[str]:
    """The code of a row's unit at ``group_by``. Kyiv (a city with special status) has no
    raion: it is its own unit at every level."""
    if group_by is GroupBy.OBLAST:
        return table.c.oblast_code
    if group_by is GroupBy.RAION:
        return func.coalesce(table.c.raion_code, table.c.hromada_code)
    return table.c.hromada_code


async def _names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(
        select(territory_table.c.code, territory_table.c.name).where(
            territory_table.c.code.in_(wanted)
        )
    )
    return {code: name for code, name in rows.all()}


def _table(
    name: str,
    counts: str,
    columns: Sequence[Column],
    cells: Mapping[tuple[str, str], int],
    names: Mapping[str, str],
    k: int,
    row_totals: Mapping[str, int] | None = None,
    totals_mean: str = "",
) -> dict[str, Any]:
    """One table of a report: a row per unit that has anything to count, a cell per column,
    the margins, each suppressed as ``rules.protect`` decides. ``row_totals`` are given when
    a row's total is not the sum of its cells (one record under several columns)."""
    units = sorted({unit for unit, _ in cells} | set(row_totals or {}))
    keys = [column.key for column in columns]
    grid = [[cells.get((unit, key), 0) for key in keys] for unit in units]
    protected: Protected | None = None
    if units:
        protected = protect(
            grid, k, None if row_totals is None else [row_totals.get(unit, 0) for unit in units]
        )
    rows = []
    for i, unit in enumerate(units):
        assert protected is not None
        rows.append(
            {
                "territory": {"code": unit, "name": names.get(unit)},
                "cells": {key: _cell(protected.cell(i, j)) for j, key in enumerate(keys)},
                "total": _cell(protected.row_total(i)),
            }
        )
    return {
        "name": name,
        "counts": counts,
        "totals_mean": totals_mean or f"all {counts} of the row",
        "columns": [{"key": c.key, "name_uk": c.name_uk, "name_en": c.name_en} for c in columns],
        "rows": rows,
        "totals": {
            "cells": {
                key: _cell(0 if protected is None else protected.column_total(j))
                for j, key in enumerate(keys)
            },
            "total": _cell(0 if protected is None else protected.grand_total),
        },
    }


def _report(name: str, scope: Scope, caller: Caller, k: int, **content: Any) -> dict[str, Any]:
    return {
        "report": name,
        "as_of": caller.today,
        "territory": scope.territory,
        "group_by": scope.group_by.value,
        "min_cell": k,
        **content,
    }


async def _pairs(session: AsyncSession, statement: Select[Any]) -> dict[tuple[str, str], int]:
    """(unit, column) → count, from a statement selecting those three."""
    return {
        (unit, str(key)): int(count)
        for unit, key, count in (await session.execute(statement)).all()
        if unit is not None and key is not None
    }


async def _reference_columns(
    session: AsyncSession, table: Table, seen: Iterable[str]
) -> list[Column]:
    """The active codes of a reference list in its order, and any retired code still
    counted."""
    rows = (
        await session.execute(
            select(table.c.code, table.c.name_uk, table.c.name_en, table.c.active).order_by(
                table.c.sort_order, table.c.code
            )
        )
    ).all()
    seen = set(seen)
    return [Column(code, uk, en) for code, uk, en, active in rows if active or code in seen]


# --- families --------------------------------------------------------------------------------


_FAMILY_DIMENSIONS = (
    ("recipient_category", recipient_category_table),
    ("hardship_factor", hardship_factor_table),
)


def _kept_counts(scope: Scope, subject: str, kinds: Sequence[str] = ()) -> Select[Any]:
    """Per unit, kind and code, what is counted of ``subject`` (``tables``: the counts and
    the changes not folded into them yet), of ``kinds`` only when given."""
    parts = []
    for table in (report_count_table, report_count_change_table):
        part = select(
            _group(table, scope.group_by).label("unit"),
            table.c.kind,
            table.c.code,
            table.c.counted,
        ).where(table.c.subject == subject, *scope.clauses(table))
        if kinds:
            part = part.where(table.c.kind.in_(kinds))
        parts.append(part)
    kept = union_all(*parts).subquery("kept")
    total = func.sum(kept.c.counted)
    return (
        select(kept.c.unit, kept.c.kind, kept.c.code, total)
        .group_by(kept.c.unit, kept.c.kind, kept.c.code)
        .having(total != 0)
    )


async def _fold(session: AsyncSession) -> None:
    """The changes committed since the last read, folded into the counts (by another read
    now at it, if one is: what is left is read with the counts)."""
    await session.execute(select(func.report_counts_fold()))


async def families_report(
    session: AsyncSession, caller: Caller, scope: Scope, k: int
) -> dict[str, Any]:
    """Active families by recipient category and by hardship factor. A family is counted
    under each of its categories (factors); a row's total is the families with any. Read
    from the counts kept as families are written (``tables``), not from the families."""
    cells: dict[str, dict[tuple[str, str], int]] = {name: {} for name, _ in _FAMILY_DIMENSIONS}
    totals: dict[str, dict[str, int]] = {name: {} for name, _ in _FAMILY_DIMENSIONS}
    await _fold(session)
    rows = await session.execute(_kept_counts(scope, FAMILIES))
    for unit, kind, code, count in rows.all():
        if code == ANY_CODE:
            totals[kind][unit] = int(count)
        else:
            cells[kind][(unit, code)] = int(count)
    columns = {
        name: await _reference_columns(session, reference, (c for _, c in cells[name]))
        for name, reference in _FAMILY_DIMENSIONS
    }
    names = await _names(session, (u for by_unit in totals.values() for u in by_unit))
    await record(session, caller, "get_families_report", REPORT, [])
    return _report(
        "families",
        scope,
        caller,
        k,
        tables=[
            _table(
                name,
                "families",
                columns[name],
                cells[name],
                names,
                k,
                totals[name],
                f"families with at least one {name.replace('_', ' ')} (a family with several "
                "is counted under each, and once in the total)",
            )
            for name, _ in _FAMILY_DIMENSIONS
        ],
    )


# --- cases -----------------------------------------------------------------------------------

_OVERDUE = ("visit", "assessment", "duration")


async def cases_report(
    session: AsyncSession, caller: Caller, scope: Scope, k: int
) -> dict[str, Any]:
    """Cases by status, and open cases by the deadline they are past (as of today): a visit
    (every 14 days while active or under review), the assessment, the accompaniment's
    duration."""
    today = caller.today
    group = _group(case_table, scope.group_by)
    where = scope.clauses(case_table)
    async with unconfined(session):
        by_status = await _pairs(
            session,
            select(group, case_table.c.status, func.count())
            .where(*where)
            .group_by(group, case_table.c.status),
        )
        flags = {
            "visit": visit_overdue(today),
            "assessment": assessment_overdue(today),
            "duration": func.coalesce(duration_exceeded(today), literal(False)),
        }
        rows = (
            await session.execute(
                select(
                    group,
                    *(func.count().filter(flag) for flag in flags.values()),
                    func.count().filter(or_(*flags.values())),
                )
                .where(*where, case_table.c.status.in_([s.value for s in OPEN]))
                .group_by(group)
            )
        ).all()
        overdue: dict[tuple[str, str], int] = {}
        overdue_totals: dict[str, int] = {}
        for unit, *counts, any_overdue in rows:
            for key, count in zip(_OVERDUE, counts, strict=True):
                overdue[(unit, key)] = int(count)
            if any_overdue:
                overdue_totals[unit] = int(any_overdue)
        overdue = {key: count for key, count in overdue.items() if key[0] in overdue_totals}
        names = await _names(session, [u for u, _ in by_status] + list(overdue_totals))
    await record(session, caller, "get_cases_report", REPORT, [])
    return _report(
        "cases",
        scope,
        caller,
        k,
        tables=[
            _table("status", "cases", [Column(s.value) for s in CaseStatus], by_status, names, k),
            _table(
                "overdue",
                "open cases",
                [Column(key) for key in _OVERDUE],
                overdue,
                names,
                k,
                overdue_totals,
                "open cases past at least one deadline (a case past several is counted under "
                "each, and once in the total)",
            ),
        ],
    )


# --- service records --------------------------------------------------------------------------


def months(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s."""
    out = []
    month = first.replace(day=1)
    while month <= last:
        out.append(month)
        month = _next_month(month)
    return out


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_of(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The months a report of service records counts: by default the twelve months to this
    one. 422 for an end before the start, or more than ``MAX_MONTHS`` months."""
    end = (end or today).replace(day=1)
    start = (start or date(end.year - 1, end.month, 1)).replace(day=1)
    if start > end:
        raise InvalidInput(
            "The period ends before it starts.",
            errors=[FieldError("query.to_month", "must not be before from_month")],
        )
    if len(months(start, end)) > MAX_MONTHS:
        raise InvalidInput(
            f"A report counts at most {MAX_MONTHS} months.",
            errors=[FieldError("query.from_month", f"at most {MAX_MONTHS} months before to_month")],
        )
    return start, end


async def service_records_report(
    session: AsyncSession,
    caller: Caller,
    scope: Scope,
    k: int,
    start: date,
    end: date,
) -> dict[str, Any]:
    """Service records (not voided) by service code, one table per month of delivery, from
    ``start``'s month to ``end``'s, read from the counts kept as records are written
    (``tables``). Months are tables of their own (not columns): no total over the period is
    published beside them, so a month's hidden cells cannot be worked out from one."""
    periods = months(start, end)
    by_month: dict[str, dict[tuple[str, str], int]] = {m.strftime("%Y-%m"): {} for m in periods}
    await _fold(session)
    rows = await session.execute(_kept_counts(scope, SERVICE_RECORDS, list(by_month)))
    for unit, month, code, count in rows.all():
        by_month[month][(unit, code)] = int(count)
    codes = sorted({code for cells in by_month.values() for _, code in cells})
    services = {
        code: (uk, en)
        for code, uk, en in (
            await session.execute(
                select(
                    service_table.c.code, service_table.c.name_uk, service_table.c.name_en
                ).where(service_table.c.code.in_(codes))
            )
        ).all()
    }
    names = await _names(session, (u for cells in by_month.values() for u, _ in cells))
    await record(session, caller, "get_service_records_report", REPORT, [])
    columns = [Column(code, *services.get(code, (None, None))) for code in codes]
    return _report(
        "service_records",
        scope,
        caller,
        k,
        period={"from_month": start.strftime("%Y-%m"), "to_month": end.strftime("%Y-%m")},
        tables=[
            _table(month, "service records", columns, cells, names, k)
            for month, cells in by_month.items()
        ],
    )


# --- providers --------------------------------------------------------------------------------


async def providers_report(
    session: AsyncSession, caller: Caller, scope: Scope, k: int
) -> dict[str, Any]:
    """Providers by sector, one table per status, by the hromada they are registered in. A
    provider may be a natural person or an entrepreneur: small cells are suppressed here
    too."""
    group = _group(provider_table, scope.group_by)
    async with unconfined(session):
        rows = (
            await session.execute(
                select(group, provider_table.c.status, provider_table.c.sector, func.count())
                .where(*scope.clauses(provider_table))
                .group_by(group, provider_table.c.status, provider_table.c.sector)
            )
        ).all()
        by_status: dict[str, dict[tuple[str, str], int]] = {s.value: {} for s in ProviderStatus}
        for unit, status, sector, count in rows:
            by_status.setdefault(status, {})[(unit, sector)] = int(count)
        names = await _names(session, (u for cells in by_status.values() for u, _ in cells))
    await record(session, caller, "get_providers_report", REPORT, [])
    columns = [Column(s.value) for s in Sector]
    return _report(
        "providers",
        scope,
        caller,
        k,
        tables=[
            _table(status, "providers", columns, cells, names, k)
            for status, cells in by_status.items()
        ],
    )


# --- support cases ----------------------------------------------------------------------------


async def support_cases_report(
    session: AsyncSession, caller: Caller, scope: Scope, k: int, status: str | None
) -> dict[str, Any]:
    """Support cases of servicemembers' families, by the families' territory: per military
    unit, and per support measure planned or delivered (a case with several measures is
    counted under each, and once in the row's total)."""
    group = _group(family_table, scope.group_by)
    where = [*scope.clauses(family_table)]
    if status is not None:
        where.append(support_case_table.c.status == status)
    joined = support_case_table.join(
        family_table, family_table.c.id == support_case_table.c.family_id
    )
    async with unconfined(session):
        by_unit = await _pairs(
            session,
            select(group, military_unit_table.c.number, func.count())
            .select_from(
                joined.join(
                    military_unit_table, military_unit_table.c.id == support_case_table.c.unit_id
                )
            )
            .where(*where)
            .group_by(group, military_unit_table.c.number),
        )
        measured = joined.join(
            support_case_measure_table,
            and_(
                support_case_measure_table.c.case_id == support_case_table.c.id,
                support_case_measure_table.c.status != MeasureStatus.CANCELLED.value,
            ),
        )
        by_measure = await _pairs(
            session,
            select(
                group,
                support_case_measure_table.c.measure_code,
                func.count(func.distinct(support_case_table.c.id)),
            )
            .select_from(measured)
            .where(*where)
            .group_by(group, support_case_measure_table.c.measure_code),
        )
        measure_totals = {
            unit: int(count)
            for unit, count in (
                await session.execute(
                    select(group, func.count(func.distinct(support_case_table.c.id)))
                    .select_from(measured)
                    .where(*where)
                    .group_by(group)
                )
            ).all()
        }
        units = [
            Column(number, name)
            for number, name in (
                await session.execute(
                    select(military_unit_table.c.number, military_unit_table.c.name)
                    .where(military_unit_table.c.number.in_({n for _, n in by_unit}))
                    .order_by(military_unit_table.c.number)
                )
            ).all()
        ]
        measures = [
            Column(code, uk, en)
            for code, uk, en, active in (
                await session.execute(
                    select(
                        support_measure_table.c.code,
                        support_measure_table.c.name_uk,
                        support_measure_table.c.name_en,
                        support_measure_table.c.active,
                    ).order_by(support_measure_table.c.sort_order, support_measure_table.c.code)
                )
            ).all()
            if active or any(c == code for _, c in by_measure)
        ]
        names = await _names(session, [u for u, _ in by_unit] + list(measure_totals))
    await record(session, caller, "get_support_cases_report", REPORT, [])
    return _report(
        "support_cases",
        scope,
        caller,
        k,
        tables=[
            _table("unit", "support cases", units, by_unit, names, k),
            _table(
                "measure",
                "support cases",
                measures,
                by_measure,
                names,
                k,
                measure_totals,
                "support cases with at least one measure planned or delivered (a case with "
                "several is counted under each, and once in the total)",
            ),
        ],
    )


# --- programmes -------------------------------------------------------------------------------


def _money(amount: Decimal | None, currency: str) -> dict[str, Any]:
    return {
        "amount": None if amount is None else money_text(amount),
        "currency": currency,
        "suppressed": amount is None,
    }


async def programmes_report(
    session: AsyncSession, caller: Caller, scope: Scope, k: int, programme_id: uuid.UUID | None
) -> dict[str, Any]:
    """Per programme (not drafts) and unit: what was allocated and what was distributed net
    of reversals (items at their unit value, in the programme's currency), and the families
    enrolled. Allocations are public decisions and always shown; what was distributed in a
    unit with few families enrolled would tell what those families received, so it is
    hidden with their count, and the complements are chosen on the counts."""
    value = func.coalesce(aid_item_table.c.unit_value, Decimal(1))
    group = _group(allocation_table, scope.group_by)
    programme_filter = [programme_table.c.status != ProgrammeStatus.DRAFT.value]
    if programme_id is not None:
        programme_filter.append(programme_table.c.id == programme_id)
    async with unconfined(session):
        programmes = [
            dict(row)
            for row in (
                await session.execute(
                    select(
                        programme_table.c.id,
                        programme_table.c.name,
                        programme_table.c.currency,
                        programme_table.c.status,
                    )
                    .where(*programme_filter)
                    .order_by(programme_table.c.starts_on, programme_table.c.id)
                )
            ).mappings()
        ]
        ids = [p["id"] for p in programmes]
        money_rows = (
            await session.execute(
                select(
                    allocation_table.c.programme_id,
                    group,
                    func.sum(allocation_table.c.allocated * value),
                    func.sum(
                        (allocation_table.c.distributed - allocation_table.c.reversed) * value
                    ),
                )
                .select_from(
                    allocation_table.outerjoin(
                        aid_item_table, aid_item_table.c.id == allocation_table.c.item_id
                    )
                )
                .where(allocation_table.c.programme_id.in_(ids), *scope.clauses(allocation_table))
                .group_by(allocation_table.c.programme_id, group)
            )
        ).all()
        enrolment_group = _group(enrolment_table, scope.group_by)
        family_rows = (
            await session.execute(
                select(enrolment_table.c.programme_id, enrolment_group, func.count())
                .where(
                    enrolment_table.c.programme_id.in_(ids),
                    enrolment_table.c.status == "enrolled",
                    *scope.clauses(enrolment_table),
                )
                .group_by(enrolment_table.c.programme_id, enrolment_group)
            )
        ).all()
        money: dict[uuid.UUID, dict[str, tuple[Decimal, Decimal]]] = {i: {} for i in ids}
        for programme, unit, allocated, distributed in money_rows:
            money[programme][unit] = (Decimal(allocated), Decimal(distributed))
        families: dict[uuid.UUID, dict[str, int]] = {i: {} for i in ids}
        for programme, unit, count in family_rows:
            families[programme][unit] = int(count)
        names = await _names(
            session,
            [u for m in money.values() for u in m] + [u for f in families.values() for u in f],
        )
    await record(session, caller, "get_programmes_report", REPORT, [])
    return _report(
        "programmes",
        scope,
        caller,
        k,
        programmes=[_programme(p, money[p["id"]], families[p["id"]], names, k) for p in programmes],
    )


def _programme(
    programme: Mapping[str, Any],
    money: Mapping[str, tuple[Decimal, Decimal]],
    families: Mapping[str, int],
    names: Mapping[str, str],
    k: int,
) -> dict[str, Any]:
    currency = programme["currency"]
    units = sorted(set(money) | set(families))
    zero = (Decimal(0), Decimal(0))
    protected = protect([[families.get(u, 0)] for u in units], k) if units else None
    rows = []
    for i, unit in enumerate(units):
        assert protected is not None
        allocated, distributed = money.get(unit, zero)
        shown = protected.cell(i, 0) is not None
        rows.append(
            {
                "territory": {"code": unit, "name": names.get(unit)},
                "allocated": _money(allocated, currency),
                "distributed": _money(distributed if shown else None, currency),
                "families_enrolled": _cell(protected.cell(i, 0)),
            }
        )
    allocated_total = sum((m[0] for m in money.values()), Decimal(0))
    distributed_total = sum((m[1] for m in money.values()), Decimal(0))
    total_shown = protected is None or protected.column_total(0) is not None
    return {
        "programme": {
            "id": programme["id"],
            "name": programme["name"],
            "status": programme["status"],
            "currency": currency,
        },
        "rows": rows,
        "totals": {
            "allocated": _money(allocated_total, currency),
            "distributed": _money(distributed_total if total_shown else None, currency),
            "families_enrolled": _cell(
                sum(families.values()) if protected is None else protected.column_total(0)
            ),
        },
    }
