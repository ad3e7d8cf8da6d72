"""The engine and the unit of work: one session, one transaction per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Connection, Select, event, exc, func, select
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

from registry.db.availability import unavailable
from registry.db.reach import REACH, REACH_OF, Reach, reach_query, set_reach

#: Where a session keeps the driver's connection it handed out (``driver_connection``).
_DRIVER = "driver_connection"


@dataclass(frozen=True, slots=True)
class Limits:
    """How long the database may keep its caller waiting. The PostgreSQL timeouts are in
    milliseconds (0: no limit; ``None``: whatever the server and role say, normally none);
    ``connection_timeout_seconds`` bounds the wait for a connection, from the pool or newly
    opened. The API sets all of them short (a request fails fast with a 503); the command
    line's jobs (migrations, imports, sealing) keep these defaults and are never cut short."""

    statement_timeout_ms: int | None = None
    lock_timeout_ms: int | None = None
    idle_in_transaction_timeout_ms: int | None = None
    connection_timeout_seconds: float = 30.0

    def server_settings(self) -> dict[str, str]:
        """The timeouts as the session settings a connection starts with."""
        timeouts = {
            "statement_timeout": self.statement_timeout_ms,
            "lock_timeout": self.lock_timeout_ms,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_timeout_ms,
        }
        return {name: str(value) for name, value in timeouts.items() if value is not None}


class _ReachingSession(Session):
    """A session that sets the caller's reach (``info[REACH_OF]``, a function giving it) as
    its transaction begins: the caller is known by the first statement, not necessarily
    when the session is made."""


@event.listens_for(_ReachingSession, "after_begin")
def _set_reach(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    reach_of: Callable[[], Reach] | None = session.info.get(REACH_OF)
    # A savepoint (``begin_nested``) begins inside the transaction, whose reach stands: set
    # again there, it would undo an ``unconfined`` block the savepoint is part of.
    if reach_of is not None and not transaction.nested:
        reach = session.info[REACH] = reach_of()
        connection.execute(set_reach(reach))


class Database:
    """Owns the engine and hands out sessions; the API makes one per request. What the
    database cannot serve now (a timeout, a lost connection) comes out of a session or a
    statement connection as ``ServiceUnavailable``.

    ``row_security``: whether the database enforces the caller's reach on this role (see
    ``db.reach``), found out by ``detect_row_security``; then every unit of work given a
    reach sets it."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        bound: AsyncConnection | None = None,
        limits: Limits | None = None,
        acting_role: str | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits or Limits()
        self._sessions = sessions
        self._bound = bound
        self._acting_role = acting_role
        self.row_security = False

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 0,
        pooled: bool = True,
        limits: Limits | None = None,
    ) -> Database:
        """``pooled=False`` opens a connection per session: for callers that run on more
        than one event loop (a pooled asyncpg connection belongs to its loop)."""
        limits = limits or Limits()
        options: dict[str, Any] = {
            "connect_args": {
                "server_settings": {
                    "application_name": "registry",
                    "timezone": "UTC",
                    **limits.server_settings(),
                },
                "timeout": limits.connection_timeout_seconds,
            },
            # An error's text would otherwise carry the statement's parameters (names,
            # identifiers) into the log of an unexpected failure.
            "hide_parameters": True,
        }
        if pooled:
            engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=limits.connection_timeout_seconds,
                **options,
            )
        else:
            engine = create_async_engine(url, poolclass=NullPool, **options)
        event.listen(engine.sync_engine, "checkout", _replace_if_closed)
        return cls(
            engine,
            async_sessionmaker(engine, expire_on_commit=False, sync_session_class=_ReachingSession),
            limits=limits,
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

    async def detect_row_security(self, table: str) -> bool:
        """Whether row-level security applies to this database's role on ``table`` (the
        runtime role, RLS switched on; never the owner or a superuser): ``row_security``."""
        async with self.transaction() as session:
            self.row_security = bool(await session.scalar(select(func.row_security_active(table))))
        return self.row_security

    def session(self) -> AsyncSession:
        return self._sessions()

    @asynccontextmanager
    async def transaction(
        self, reach: Callable[[], Reach] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error. ``reach``
        gives the caller's reach (called as the transaction begins), set for row-level
        security where the database enforces it."""
        session = self._sessions()
        try:
            async with session:
                if reach is not None and self.row_security:
                    session.info[REACH_OF] = reach
                try:
                    if self._acting_role is not None:
                        await session.execute(_set_role(self._acting_role))
                    yield session
                    if self._acting_role is not None:
                        await session.execute(_set_role("none"))
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        except Exception as error:
            closed = _connection_closed(session)
            if (refusal := unavailable(error, connection_closed=closed)) is not None:
                raise refusal from error
            raise

    @asynccontextmanager
    async def snapshot(
        self, reach: Callable[[], Reach] | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A read-only transaction that sees one moment throughout (REPEATABLE READ): for a
        job that reads much in many statements and must read it as of one moment (an export
        read in batches). Bound to a test's connection, it is a savepoint of the test's
        transaction (which sees what the test wrote)."""
        async with self.transaction(reach) as session:
            if self._bound is None:
                # The first use of the session's connection: it begins the transaction so.
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            yield session

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
        driver: asyncpg.Connection | None = None
        try:
            if self._bound is not None:
                raw = await self._bound.get_raw_connection()
                in_test: asyncpg.Connection = raw.driver_connection
                driver = in_test
                async with in_test.transaction():
                    if self._acting_role is not None:
                        await in_test.execute(
                            "SELECT set_config('role', $1, true)", self._acting_role
                        )
                    if reach is not None:
                        await in_test.execute(reach_query(reach))
                    yield in_test
                    if self._acting_role is not None:
                        await in_test.execute("SELECT set_config('role', 'none', true)")
                return
            # The pool's connection itself, not a SQLAlchemy Connection around it: a third of
            # the cost of the checkout and return, on the most frequent requests.
            pooled = await self.engine.raw_connection()
            connection: asyncpg.Connection = pooled.driver_connection
            driver = connection
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
        except Exception as error:
            closed = driver is not None and driver.is_closed()
            if (refusal := unavailable(error, connection_closed=closed)) is not None:
                raise refusal from error
            raise

    async def reachable(self) -> bool:
        """Whether a statement can run now: a connection is had (from the pool, or newly
        opened) and answers, all within the wait a request is allowed for a connection. The
        readiness probe: it fails as soon as a request would."""
        try:
            async with asyncio.timeout(self.limits.connection_timeout_seconds):
                async with self.engine.connect() as connection:
                    await connection.scalar(select(1))
        except Exception:  # any failure to reach the database means "not ready"
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The driver's connection under ``session``, inside the session's transaction: for what
    SQLAlchemy lacks (COPY) or makes slow (prepared statements whose rows skip the ORM)."""
    pooled = await (await session.connection()).get_raw_connection()
    driver: asyncpg.Connection = pooled.driver_connection
    # Errors met on it pass SQLAlchemy by: the unit of work looks at it to tell a lost
    # connection from a bug.
    session.info[_DRIVER] = driver
    return driver


async def transaction_connection(session: AsyncSession) -> asyncpg.Connection:
    """``driver_connection``, with the session's transaction begun on it. SQLAlchemy's
    asyncpg adapter sends BEGIN only with its own first statement, so a statement run on the
    driver's connection before any of the session's runs (and commits) on its own: fine for a
    unit of work of one statement (the family list's read-and-audit), wrong for several
    (an idempotency claim, a lock taken by ``FOR UPDATE``, a write and its audit). Begun here
    as the adapter itself would."""
    driver = await driver_connection(session)
    pooled = await (await session.connection()).get_raw_connection()
    adapted: Any = pooled.dbapi_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
    return driver


def _connection_closed(session: AsyncSession) -> bool:
    """Whether the driver's connection the session handed out has been closed."""
    driver: asyncpg.Connection | None = session.info.get(_DRIVER)
    return driver is not None and driver.is_closed()


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """At checkout, a connection the server ended while it sat in the pool (a restart, a
    terminated backend) is one the driver already knows is closed: the pool replaces it,
    without the round trip a ping would cost every request."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the connection was closed while in the pool")


def _set_role(role: str) -> Select[tuple[str]]:
    """``SET LOCAL ROLE role`` (``none``: back to the session's own)."""
    return select(func.set_config("role", role, True))
