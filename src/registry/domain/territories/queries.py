"""Reading the codifier, and validating codes wherever a record accepts one."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

import asyncpg
from sqlalchemy import Text, bindparam, literal, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.engine import driver_connection
from registry.db.like import contains
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.db.statements import compile_statement
from registry.domain.territories.rules import is_code, normalize_name
from registry.domain.territories.tables import territory_table
from registry.errors import FieldError, InvalidInput, NotFound

_COLUMNS = (
    territory_table.c.code,
    territory_table.c.name,
    territory_table.c.category,
    territory_table.c.level,
    territory_table.c.parent_code,
)
_UNIT = compile_statement(
    select(*_COLUMNS).where(territory_table.c.code == bindparam("code", type_=Text))
)


async def list_territories(
    session: AsyncSession,
    page: PageRequest,
    *,
    parent: str | None = None,
    category: str | None = None,
    q: str | None = None,
) -> Page[RowMapping]:
    statement = select(*_COLUMNS)
    if parent is not None:
        await require_territory(session, "query.parent", parent)
        statement = statement.where(territory_table.c.parent_code == parent)
    if category is not None:
        statement = statement.where(territory_table.c.category == category)
    if q:
        statement = statement.where(contains(territory_table.c.search_name, normalize_name(q)))
    rows = (
        (await session.execute(keyset(statement, [territory_table.c.code], page))).mappings().all()
    )
    return page_of(rows, page, key=lambda row: (row["code"],))


async def get_territory(session: AsyncSession, code: str) -> dict[str, Any]:
    """The unit with its ancestors, broadest first."""
    chain = (
        select(*_COLUMNS, literal(0).label("depth"))
        .where(territory_table.c.code == code)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(*_COLUMNS, (chain.c.depth + 1).label("depth")).join_from(
            territory_table, chain, territory_table.c.code == chain.c.parent_code
        )
    )
    statement = select(
        chain.c.code, chain.c.name, chain.c.category, chain.c.level, chain.c.parent_code
    ).order_by(chain.c.depth.desc())
    rows = (await session.execute(statement)).mappings().all()
    if not rows:
        raise NotFound(f"No territory has the code {code}.")
    unit = dict(rows[-1])
    unit["ancestors"] = [dict(row) for row in rows[:-1]]
    return unit


#: How long a unit found in the codifier is taken as read without asking the database again.
#: The codifier changes only when a new edition is imported, which upserts units and never
#: deletes one: a code once found stays valid, and a unit's name or category changed by an
#: edition is seen within this time. Codes not found are asked for every time.
KNOWN_UNIT_SECONDS = 300.0


class _KnownUnits:
    """The units this process has found in the codifier, with when each was read: checking
    a code on every request (a list by hromada, a family's address) would otherwise cost a
    statement of its own, as much as the rest of a page's reading."""

    def __init__(self) -> None:
        self._units: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def get(self, code: str) -> Mapping[str, Any] | None:
        known = self._units.get(code)
        if known is None or time.monotonic() - known[0] > KNOWN_UNIT_SECONDS:
            return None
        return known[1]

    def keep(self, row: Mapping[str, Any]) -> None:
        # Bounded by the codifier itself (about 30 000 units): only found codes are kept.
        self._units[row["code"]] = (time.monotonic(), row)

    def clear(self) -> None:
        self._units.clear()


known_units = _KnownUnits()


async def require_territory(
    reader: AsyncSession | asyncpg.Connection,
    field: str,
    code: str,
    categories: Collection[str] | None = None,
) -> Mapping[str, Any]:
    """The unit ``code`` names, or a 422 on ``field``: wrong shape, unknown, or wrong category.
    A unit found recently is not read again (``KNOWN_UNIT_SECONDS``). Read on the driver's
    connection, the handler's own (the fast path) or its session's (the codifier is the same
    in or out of the session's transaction)."""
    if not is_code(code):
        raise InvalidInput(
            "A KATOTTG code is UA followed by 17 digits.",
            errors=[FieldError(field, "not a KATOTTG code (UA + 17 digits)")],
        )
    row = known_units.get(code)
    if row is None:
        connection = (
            reader if isinstance(reader, asyncpg.Connection) else await driver_connection(reader)
        )
        found = await connection.fetchrow(_UNIT.sql, *_UNIT.arguments(code=code))
        if found is not None:
            row = dict(found)
            known_units.keep(row)
    if row is None:
        raise InvalidInput(
            "The KATOTTG code is not in the codifier.",
            errors=[FieldError(field, "no such code in the KATOTTG codifier")],
        )
    if categories is not None and row["category"] not in categories:
        wanted = ", ".join(sorted(categories))
        raise InvalidInput(
            f"The territory must be of category {wanted}.",
            errors=[FieldError(field, f"category {row['category']} where {wanted} is required")],
        )
    return row


async def locate_address(
    session: AsyncSession,
    hromada_code: str,
    settlement_code: str | None,
    *,
    field: str = "body.hromada_code",
) -> dict[str, Any]:
    """An address's oblast, raion, hromada and settlement codes (what records keep to be
    confined by territory); 422 (naming ``field``) when the hromada is not one, or the
    settlement does not lie inside it."""
    await require_territory(session, field, hromada_code, {"H", "K"})
    ancestors = await _ancestors(session, hromada_code)
    address = {
        "oblast_code": next(code for code, category in ancestors if category in "OK"),
        "raion_code": next((code for code, category in ancestors if category == "P"), None),
        "hromada_code": hromada_code,
        "settlement_code": settlement_code,
    }
    if settlement_code is not None:
        await require_territory(session, "body.settlement_code", settlement_code)
        inside = any(code == hromada_code for code, _ in await _ancestors(session, settlement_code))
        if not inside or settlement_code == hromada_code:
            raise InvalidInput(
                "The settlement must lie inside the hromada.",
                errors=[FieldError("body.settlement_code", "not inside the given hromada")],
            )
    return address


async def _ancestors(session: AsyncSession, code: str) -> list[tuple[str, str]]:
    """``code`` and its ancestors, as (code, category)."""
    unit = await get_territory(session, code)
    return [(t["code"], t["category"]) for t in (*unit["ancestors"], unit)]
