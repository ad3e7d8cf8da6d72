"""The caller's reach as the database's row-level security reads it.

Migration 0009's policies (and 0012's, for servicemember-family support) let the runtime
role see a personal row only within the reach set for the transaction: four settings,
``registry.national`` (``on``), ``registry.territory`` (a KATOTTG code: rows whose oblast,
raion or hromada it is), ``registry.provider`` (a provider's id: rows of the families it
serves, the support cases assigned to it) and ``registry.unit`` (a military unit's id: its
servicemembers, their families and support cases). Each is set with
``set_config(…, true)`` (``SET LOCAL``) and ends with the transaction: a transaction that
sets none sees no personal row at all, so a query that forgot its confinement returns
nothing outside the caller's reach instead of everything.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

#: A table under row-level security when it is switched on: the API and the worker ask it
#: whether the database enforces the reach on their role (``Database.detect_row_security``).
ROW_SECURITY_PROBE = "families"

#: ``Session.info`` keys: a function that gives the caller's reach, which the session calls
#: as its transaction begins (present only where the reach is enforced), and that reach.
REACH_OF = "reach_of"
REACH = "reach"
UNCONFINED = "unconfined"


@dataclass(frozen=True, slots=True)
class Reach:
    national: bool = False
    territory: str | None = None
    provider_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None

    def settings(self) -> tuple[str, str, str, str]:
        """The values of ``registry.national``, ``registry.territory``, ``registry.provider``,
        ``registry.unit`` ('' for none: what an unset setting reads as once the connection
        has used it)."""
        return (
            "on" if self.national else "",
            self.territory or "",
            str(self.provider_id) if self.provider_id else "",
            str(self.unit_id) if self.unit_id else "",
        )


NOWHERE = Reach()
NATIONAL = Reach(national=True)


def set_reach(reach: Reach) -> Select[tuple[str, str, str, str]]:
    """The statement that sets ``reach`` for the rest of the transaction."""
    national, territory, provider, unit = reach.settings()
    return select(
        func.set_config("registry.national", national, True),
        func.set_config("registry.territory", territory, True),
        func.set_config("registry.provider", provider, True),
        func.set_config("registry.unit", unit, True),
    )


def reach_query(reach: Reach) -> str:
    """``set_reach`` as SQL text with literal values (quoted; a territory code and a UUID at
    most), to send after ``BEGIN`` in one simple query: one round trip before a statement
    that is a whole unit of work."""
    national, territory, provider, unit = (_literal(value) for value in reach.settings())
    return (
        f"SELECT set_config('registry.national', {national}, true), "
        f"set_config('registry.territory', {territory}, true), "
        f"set_config('registry.provider', {provider}, true), "
        f"set_config('registry.unit', {unit}, true)"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def reach_enforced(session: AsyncSession) -> bool:
    """Whether ``session``'s transaction is held to its caller's reach."""
    return REACH_OF in session.info


@asynccontextmanager
async def unconfined(session: AsyncSession, when: bool = True) -> AsyncIterator[None]:
    """National reach for the block (``when`` it is wanted), then the transaction's own
    again: for what a command must read or write beyond the caller's reach, once the
    application's own confinement has admitted it (is this identifier registered anywhere?
    the cases a relocation moves; the record a transfer has just moved out of reach, and
    the answer that shows it). Nothing to do where the reach is not enforced; blocks nest."""
    if not when or REACH_OF not in session.info or session.info.get(UNCONFINED):
        yield
        return
    await session.connection()  # the transaction begins: the caller's reach is set
    reach: Reach = session.info[REACH]
    session.info[UNCONFINED] = True
    await session.execute(set_reach(NATIONAL))
    try:
        yield
    except BaseException:
        session.info[UNCONFINED] = False
        # A refusal inside leaves the transaction usable: its reach is the caller's again.
        # A failed statement has aborted it: nothing more runs in it, whatever its reach.
        with contextlib.suppress(DBAPIError):
            await session.execute(set_reach(reach))
        raise
    session.info[UNCONFINED] = False
    await session.execute(set_reach(reach))


async def switch_row_security(connection: AsyncConnection, enabled: bool) -> list[str]:
    """Switch row-level security on (or off) for every table migration 0009 gave a ``reach``
    policy: what ``registry migrate`` does by ``REGISTRY_DB_ROW_SECURITY``, as the owner.
    The tables switched, by name."""
    tables = list(
        (
            await connection.exec_driver_sql(
                "SELECT DISTINCT tablename FROM pg_policies "
                "WHERE schemaname = 'public' AND policyname = 'reach' ORDER BY tablename"
            )
        ).scalars()
    )
    switch = "ENABLE" if enabled else "DISABLE"
    for table in tables:
        await connection.exec_driver_sql(f'ALTER TABLE "{table}" {switch} ROW LEVEL SECURITY')
    return tables
