"""The engine and the unit of work: one session, one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Connection, Select, event, func, select
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import NullPool
from sqlalchemy.util.concurrency import greenlet_spawn

from registry.db.reach import REACH, REACH_OF, Reach, reach_query, set_reach


class _ReachingSession(Session):
    """A session that sets the caller's reach (``info[REACH_OF]``, a function giving it) as
    its transaction begins: the caller is known by the first statement, not necessarily
    when the session is made."""


@event.listens_for(_ReachingSession, "after_begin")
def _set_reach(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    reach_of: Callable[[], Reach] | None = session.info.get(REACH_OF)
    if reach_of is not None:
        reach = session.info[REACH] = reach_of()
        connection.execute(set_reach(reach))


class Database:
    """Owns the engine and hands out sessions; the API makes one per request.

    ``row_security``: whether the database enforces the caller's reach on this role (see
    ``db.reach``), found out by ``detect_row_security``; then every unit of work given a
    reach sets it."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        bound: AsyncConnection | None = None,
        acting_role: str | None = None,
    ) -> None:
        self.engine = engine
        self._sessions = sessions
        self._bound = bound
        self._acting_role = acting_role
        self.row_security = False

    @classmethod
    def connect(
        cls, url: str, *, pool_size: int = 10, max_overflow: int = 5, pooled: bool = True
    ) -> Database:
        """``pooled=False`` opens a connection per session: for callers that run on more
        than one event loop (a pooled asyncpg connection belongs to its loop)."""
        options: dict[str, Any] = {
            "connect_args": {
                "server_settings": {"application_name": "registry", "timezone": "UTC"}
            },
            # An error's text would otherwise carry the statement's parameters (names,
            # identifiers) into the log of an unexpected failure.
            "hide_parameters": True,
        }
        if pooled:
            engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, **options
            )
        else:
            engine = create_async_engine(url, poolclass=NullPool, **options)
        return cls(
            engine,
            async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_ReachingSession),
        )

    @classmethod
    def bound_to(cls, connection: AsyncConnection, *, acting_role: str | None = None) -> Database:
        """Sessions that work inside ``connection``'s open transaction; a commit there only
        releases a savepoint. Tests use it to roll every test back. ``acting_role``: each
        unit of work runs as that role (``SET LOCAL ROLE``, undone when it ends), so that
        the tests' application has only the runtime role's rights while the test itself
        keeps the connection's."""
        return cls(
            connection.engine,
            async_sessionmaker(
                bind=connection,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
                sync_session_class=_ReachingSession,
            ),
            bound=connection,
            acting_role=acting_role,
        )

    def session(self) -> AsyncSession:
        return self._sessions()

    async def detect_row_security(self, table: str) -> bool:
        """Whether row-level security applies to this database's role on ``table`` (the
        runtime role, RLS switched on; never the owner or a superuser): ``row_security``."""
        async with self.transaction() as session:
            self.row_security = bool(await session.scalar(select(func.row_security_active(table))))
        return self.row_security

    @asynccontextmanager
    async def transaction(
        self, reach: Callable[[], Reach] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error. ``reach``
        gives the caller's reach (called as the transaction begins), set for row-level
        security where the database enforces it."""
        async with self._sessions() as session:
            if reach is not None and self.row_security:
                session.info[REACH_OF] = reach
            try:
                if self._acting_role is not None:
                    await session.execute(_set_role(self._acting_role))
                yield session
                if self._acting_role is not None:
                    await session.execute(_set_role("none"))
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def statement_connection(
        self, reach: Reach | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """The driver's connection, for one statement that is a whole unit of work by itself
        (PostgreSQL runs it atomically): no BEGIN and COMMIT round trips around it, unless
        the database enforces the caller's ``reach``, which lasts a transaction. Bound to a
        test's connection, the statement runs in a savepoint of the test's transaction."""
        if not self.row_security:
            reach = None
        if self._bound is not None:
            raw = await self._bound.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            async with driver.transaction():
                if self._acting_role is not None:
                    await driver.execute("SELECT set_config('role', $1, true)", self._acting_role)
                if reach is not None:
                    await driver.execute(reach_query(reach))
                yield driver
                if self._acting_role is not None:
                    await driver.execute("SELECT set_config('role', 'none', true)")
            return
        # The pool's connection itself, not a SQLAlchemy Connection around it: a third of the
        # cost of the checkout and return, on the most frequent requests.
        pooled = await self.engine.raw_connection()
        connection: asyncpg.Connection = pooled.driver_connection
        try:
            if reach is not None:
                await connection.execute("BEGIN; " + reach_query(reach))
                yield connection
                await connection.execute("COMMIT")
            else:
                yield connection
        except BaseException:
            # Interrupted mid-statement, the connection's state is unknown: not reused.
            await greenlet_spawn(pooled.invalidate)
            raise
        finally:
            await greenlet_spawn(pooled.close)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _set_role(role: str) -> Select[tuple[str]]:
    """``SET LOCAL ROLE role`` (``none``: back to the session's own)."""
    return select(func.set_config("role", role, True))


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The driver's connection under ``session``, inside the session's transaction: for what
    SQLAlchemy lacks (COPY) or makes slow (prepared statements whose rows skip the ORM)."""
    pooled = await (await session.connection()).get_raw_connection()
    driver: asyncpg.Connection = pooled.driver_connection
    return driver
