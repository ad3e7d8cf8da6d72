"""Reading community programmes: programmes with what they allocated, the item catalogue,
balances per hromada, enrolments, distributions with their items and reversals, aid stock and
receipts.

Every query is confined by ``access``; every read of enrolments, distributions, balances and
stock is audited (a family's enrolment and amounts are personal data; a hromada's balances
say what its families received).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.programmes.access import (
    require_distribution_reader,
    require_enrolment_reader,
    require_territorial_reader,
    visible_distributions,
    visible_programmes,
    within_territory,
)
from registry.domain.programmes.rules import MONEY_KINDS, allowed_moves, money_text
from registry.domain.programmes.tables import (
    aid_item_table,
    aid_receipt_table,
    aid_stock_table,
    allocation_table,
    distribution_item_table,
    distribution_table,
    enrolment_table,
    programme_table,
    reversal_table,
)
from registry.domain.shared.caller import Caller
from registry.errors import NotFound

PROGRAMME = "programme"
AID_ITEM = "aid_item"
ALLOCATION = "programme_allocation"
ENROLMENT = "programme_enrolment"
DISTRIBUTION = "programme_distribution"
AID_RECEIPT = "aid_receipt"
AID_STOCK = "aid_stock"
PROGRAMME_NOT_FOUND = "No programme with this id is within your reach."
ITEM_NOT_FOUND = "No aid item with this id."
ENROLMENT_NOT_FOUND = "No enrolment with this id in this programme is within your reach."
DISTRIBUTION_NOT_FOUND = "No distribution with this id in this programme is within your reach."
ALLOCATION_NOT_FOUND = "The programme allocates nothing to this hromada within your reach."


def as_money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": money_text(amount), "currency": currency}


# --- programmes -------------------------------------------------------------------------------


def allocated_value(programme_id: Any) -> Any:
    """What a programme has allocated, in its currency: the money lines, and the items at
    their unit value (an item is valued in the programme's currency: ``commands``)."""
    return (
        select(
            func.coalesce(
                func.sum(
                    allocation_table.c.allocated
                    * func.coalesce(aid_item_table.c.unit_value, Decimal(1))
                ),
                Decimal(0),
            )
        )
        .select_from(allocation_table)
        .outerjoin(aid_item_table, aid_item_table.c.id == allocation_table.c.item_id)
        .where(allocation_table.c.programme_id == programme_id)
        .scalar_subquery()
    )


def _render_programme(row: Any) -> dict[str, Any]:
    allocated = Decimal(row["allocated"])
    return {
        **{k: row[k] for k in ("id", "funder", "name", "kind", "currency", "starts_on", "ends_on")},
        **{k: row[k] for k in ("status", "eligibility", "created_at", "updated_at", "version")},
        "budget": as_money(row["budget"], row["currency"]),
        "allocated": as_money(allocated, row["currency"]),
        "unallocated": as_money(row["budget"] - allocated, row["currency"]),
        "allowed_moves": list(allowed_moves(row["status"])),
    }


async def programmes_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    statement = select(
        programme_table, allocated_value(programme_table.c.id).label("allocated")
    ).where(programme_table.c.id.in_(ids), visible_programmes(caller.principal))
    by_id = {
        row["id"]: _render_programme(row) for row in (await session.execute(statement)).mappings()
    }
    return [by_id[i] for i in ids if i in by_id]


async def get_programme(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID
) -> dict[str, Any]:
    found = await programmes_by_id(session, caller, [programme_id])
    if not found:
        raise NotFound(PROGRAMME_NOT_FOUND)
    await record(session, caller, "read_programme", PROGRAMME, [programme_id])
    return found[0]


async def require_programme(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    """The programme's row, or 404 (a provider sees only those that distributed to it)."""
    statement = select(programme_table).where(
        programme_table.c.id == programme_id, visible_programmes(caller.principal)
    )
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound(PROGRAMME_NOT_FOUND)
    return dict(row)


async def list_programmes(
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    status: str | None,
    kind: str | None,
) -> Page[dict[str, Any]]:
    statement = select(programme_table.c.id).where(visible_programmes(caller.principal))
    if status is not None:
        statement = statement.where(programme_table.c.status == status)
    if kind is not None:
        statement = statement.where(programme_table.c.kind == kind)
    ids = (await session.execute(keyset(statement, [programme_table.c.id], page))).scalars().all()
    result = page_of(list(ids), page, key=lambda programme_id: (programme_id,))
    programmes = await programmes_by_id(session, caller, result.items)
    await record(session, caller, "list_programmes", PROGRAMME, [p["id"] for p in programmes])
    return Page(programmes, result.next_after)


# --- the item catalogue -----------------------------------------------------------------------


def _render_item(row: Any) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "name", "unit", "active", "created_at")},
        "unit_value": as_money(row["unit_value"], row["currency"]),
    }


async def items(session: AsyncSession, include_retired: bool) -> list[dict[str, Any]]:
    statement = select(aid_item_table).order_by(aid_item_table.c.name, aid_item_table.c.id)
    if not include_retired:
        statement = statement.where(aid_item_table.c.active)
    return [_render_item(row) for row in (await session.execute(statement)).mappings()]


async def item(session: AsyncSession, item_id: uuid.UUID) -> dict[str, Any]:
    row = (
        (await session.execute(select(aid_item_table).where(aid_item_table.c.id == item_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(ITEM_NOT_FOUND)
    return _render_item(row)


# --- balances ---------------------------------------------------------------------------------


async def balances(
    session: AsyncSession,
    caller: Caller,
    programme: dict[str, Any],
    hromada_code: str | None = None,
) -> list[dict[str, Any]]:
    """Per hromada: allocated, distributed, reversed and remaining, for the money and for
    each item, as the balance rows hold them (a test holds them equal to the ledger)."""
    require_territorial_reader(caller.principal, "a programme's allocations")
    statement = (
        select(
            allocation_table,
            aid_item_table.c.name.label("item_name"),
            aid_item_table.c.unit.label("item_unit"),
        )
        .outerjoin(aid_item_table, aid_item_table.c.id == allocation_table.c.item_id)
        .where(
            allocation_table.c.programme_id == programme["id"],
            within_territory(caller.principal, allocation_table),
        )
        .order_by(
            allocation_table.c.hromada_code,
            allocation_table.c.item_id.nulls_first(),
        )
    )
    if hromada_code is not None:
        statement = statement.where(allocation_table.c.hromada_code == hromada_code)
    by_hromada: dict[str, dict[str, Any]] = {}
    for row in (await session.execute(statement)).mappings():
        entry = by_hromada.setdefault(
            row["hromada_code"],
            {"hromada_code": row["hromada_code"], "amount": None, "items": []},
        )
        remaining = row["allocated"] - row["distributed"] + row["reversed"]
        if row["item_id"] is None:
            entry["amount"] = {
                "currency": programme["currency"],
                **{
                    name: money_text(row[name]) for name in ("allocated", "distributed", "reversed")
                },
                "remaining": money_text(remaining),
            }
        else:
            entry["items"].append(
                {
                    "item_id": row["item_id"],
                    "name": row["item_name"],
                    "unit": row["item_unit"],
                    **{name: int(row[name]) for name in ("allocated", "distributed", "reversed")},
                    "remaining": int(remaining),
                }
            )
    await record(session, caller, "read_programme_allocations", ALLOCATION, [programme["id"]])
    return list(by_hromada.values())


# --- enrolments -------------------------------------------------------------------------------

_ENROLMENT_FIELDS = (
    "id",
    "programme_id",
    "family_id",
    "hromada_code",
    "status",
    "enrolled_on",
    "enrolled_by",
    "withdrawn_on",
    "withdrawal_reason",
    "withdrawn_by",
    "created_at",
    "updated_at",
    "version",
)


async def enrolments_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    statement = select(*(enrolment_table.c[name] for name in _ENROLMENT_FIELDS)).where(
        enrolment_table.c.id.in_(ids), within_territory(caller.principal, enrolment_table)
    )
    by_id = {row["id"]: dict(row) for row in (await session.execute(statement)).mappings()}
    return [by_id[i] for i in ids if i in by_id]


async def get_enrolment(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID, enrolment_id: uuid.UUID
) -> dict[str, Any]:
    require_enrolment_reader(caller.principal)
    found = await enrolments_by_id(session, caller, [enrolment_id])
    if not found or found[0]["programme_id"] != programme_id:
        raise NotFound(ENROLMENT_NOT_FOUND)
    await record(
        session,
        caller,
        "read_programme_enrolment",
        ENROLMENT,
        [enrolment_id, found[0]["family_id"]],
    )
    return found[0]


@dataclass(frozen=True, slots=True)
class EnrolmentFilter:
    status: str | None = None
    hromada_code: str | None = None
    family_id: uuid.UUID | None = None


async def list_enrolments(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    page: PageRequest,
    where: EnrolmentFilter,
) -> Page[dict[str, Any]]:
    require_enrolment_reader(caller.principal)
    await require_programme(session, caller, programme_id)
    statement = select(enrolment_table.c.id).where(
        enrolment_table.c.programme_id == programme_id,
        within_territory(caller.principal, enrolment_table),
    )
    for column, value in (
        (enrolment_table.c.status, where.status),
        (enrolment_table.c.hromada_code, where.hromada_code),
        (enrolment_table.c.family_id, where.family_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    ids = (await session.execute(keyset(statement, [enrolment_table.c.id], page))).scalars().all()
    result = page_of(list(ids), page, key=lambda enrolment_id: (enrolment_id,))
    enrolments = await enrolments_by_id(session, caller, result.items)
    await record(
        session,
        caller,
        "list_programme_enrolments",
        ENROLMENT,
        [i for e in enrolments for i in (e["id"], e["family_id"])],
    )
    return Page(enrolments, result.next_after)


# --- distributions ----------------------------------------------------------------------------


async def distributions_by_id(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    where: Sequence[ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    if not ids:
        return []
    statement = (
        select(
            distribution_table,
            reversal_table.c.reason.label("reversal_reason"),
            reversal_table.c.reversed_on,
            reversal_table.c.reversed_by,
            reversal_table.c.recorded_at.label("reversal_recorded_at"),
        )
        .outerjoin(reversal_table, reversal_table.c.distribution_id == distribution_table.c.id)
        .where(distribution_table.c.id.in_(ids), visible_distributions(caller.principal), *where)
    )
    rows = (await session.execute(statement)).mappings().all()
    lines: dict[uuid.UUID, list[dict[str, Any]]] = {}
    item_rows = await session.execute(
        select(
            distribution_item_table.c.distribution_id,
            distribution_item_table.c.item_id,
            distribution_item_table.c.quantity,
            aid_item_table.c.name,
            aid_item_table.c.unit,
        )
        .join(aid_item_table, aid_item_table.c.id == distribution_item_table.c.item_id)
        .where(distribution_item_table.c.distribution_id.in_([row["id"] for row in rows]))
        .order_by(distribution_item_table.c.distribution_id, aid_item_table.c.name)
    )
    for line in item_rows.mappings():
        lines.setdefault(line["distribution_id"], []).append(
            {k: line[k] for k in ("item_id", "name", "unit", "quantity")}
        )
    by_id = {row["id"]: _render_distribution(row, lines.get(row["id"], [])) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _render_distribution(row: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    reversal = (
        None
        if row["reversed_on"] is None
        else {
            "reason": row["reversal_reason"],
            "reversed_on": row["reversed_on"],
            "reversed_by": row["reversed_by"],
            "recorded_at": row["reversal_recorded_at"],
        }
    )
    return {
        **{
            k: row[k]
            for k in (
                "id",
                "programme_id",
                "hromada_code",
                "family_id",
                "enrolment_id",
                "provider_id",
                "distributed_on",
                "handed_over_by",
                "receipt_reference",
                "recorded_by",
                "recorded_at",
            )
        },
        "amount": None if row["amount"] is None else as_money(row["amount"], row["currency"]),
        "items": items,
        "reversal": reversal,
    }


def _audited_ids(distributions: Sequence[dict[str, Any]]) -> list[Any]:
    return [i for d in distributions for i in (d["id"], d["family_id"]) if i is not None]


async def get_distribution(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID, distribution_id: uuid.UUID
) -> dict[str, Any]:
    require_distribution_reader(caller.principal)
    found = await distributions_by_id(
        session, caller, [distribution_id], [distribution_table.c.programme_id == programme_id]
    )
    if not found:
        raise NotFound(DISTRIBUTION_NOT_FOUND)
    await record(session, caller, "read_programme_distribution", DISTRIBUTION, _audited_ids(found))
    return found[0]


@dataclass(frozen=True, slots=True)
class DistributionFilter:
    hromada_code: str | None = None
    family_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    reversed: bool | None = None


async def list_distributions(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    page: PageRequest,
    where: DistributionFilter,
) -> Page[dict[str, Any]]:
    require_distribution_reader(caller.principal)
    await require_programme(session, caller, programme_id)
    statement = select(distribution_table.c.id).where(
        distribution_table.c.programme_id == programme_id,
        visible_distributions(caller.principal),
    )
    for column, value in (
        (distribution_table.c.hromada_code, where.hromada_code),
        (distribution_table.c.family_id, where.family_id),
        (distribution_table.c.provider_id, where.provider_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if where.reversed is not None:
        reversed_ = (
            select(reversal_table.c.distribution_id)
            .where(reversal_table.c.distribution_id == distribution_table.c.id)
            .exists()
        )
        statement = statement.where(reversed_ if where.reversed else ~reversed_)
    ids = (
        (await session.execute(keyset(statement, [distribution_table.c.id], page))).scalars().all()
    )
    result = page_of(list(ids), page, key=lambda distribution_id: (distribution_id,))
    distributions = await distributions_by_id(session, caller, result.items)
    await record(
        session, caller, "list_programme_distributions", DISTRIBUTION, _audited_ids(distributions)
    )
    return Page(distributions, result.next_after)


# --- aid stock --------------------------------------------------------------------------------


async def stock(
    session: AsyncSession, caller: Caller, hromada_code: str | None, item_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    require_territorial_reader(caller.principal, "aid stock")
    statement = (
        select(
            aid_stock_table.c.hromada_code,
            aid_stock_table.c.item_id,
            aid_item_table.c.name,
            aid_item_table.c.unit,
            aid_stock_table.c.received,
            aid_stock_table.c.handed_out,
            (aid_stock_table.c.received - aid_stock_table.c.handed_out).label("on_hand"),
            aid_stock_table.c.updated_at,
        )
        .join(aid_item_table, aid_item_table.c.id == aid_stock_table.c.item_id)
        .where(within_territory(caller.principal, aid_stock_table))
        .order_by(aid_stock_table.c.hromada_code, aid_item_table.c.name)
    )
    if hromada_code is not None:
        statement = statement.where(aid_stock_table.c.hromada_code == hromada_code)
    if item_id is not None:
        statement = statement.where(aid_stock_table.c.item_id == item_id)
    rows = [dict(row) for row in (await session.execute(statement)).mappings()]
    await record(
        session,
        caller,
        "read_aid_stock",
        AID_STOCK,
        sorted({row["item_id"] for row in rows}, key=str),
    )
    return rows


_RECEIPT_FIELDS = (
    "id",
    "hromada_code",
    "item_id",
    "quantity",
    "source",
    "received_on",
    "programme_id",
    "recorded_by",
    "recorded_at",
)


async def receipts_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    statement = select(*(aid_receipt_table.c[name] for name in _RECEIPT_FIELDS)).where(
        aid_receipt_table.c.id.in_(ids), within_territory(caller.principal, aid_receipt_table)
    )
    by_id = {row["id"]: dict(row) for row in (await session.execute(statement)).mappings()}
    return [by_id[i] for i in ids if i in by_id]


async def list_receipts(
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    hromada_code: str | None,
    item_id: uuid.UUID | None,
) -> Page[dict[str, Any]]:
    require_territorial_reader(caller.principal, "aid receipts")
    statement = select(aid_receipt_table.c.id).where(
        within_territory(caller.principal, aid_receipt_table)
    )
    if hromada_code is not None:
        statement = statement.where(aid_receipt_table.c.hromada_code == hromada_code)
    if item_id is not None:
        statement = statement.where(aid_receipt_table.c.item_id == item_id)
    ids = (await session.execute(keyset(statement, [aid_receipt_table.c.id], page))).scalars().all()
    result = page_of(list(ids), page, key=lambda receipt_id: (receipt_id,))
    receipts = await receipts_by_id(session, caller, result.items)
    await record(session, caller, "list_aid_receipts", AID_RECEIPT, [r["id"] for r in receipts])
    return Page(receipts, result.next_after)


def money_kind(programme: Mapping[str, Any]) -> bool:
    return programme["kind"] in MONEY_KINDS


def allocation_not_found() -> NotFound:
    return NotFound(ALLOCATION_NOT_FOUND)
