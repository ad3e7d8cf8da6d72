"""The database under the API: the migrated schema is the one the table models declare, and a
pooled connection outlives its request unless the request broke off in the middle of a
statement."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy.engine import Connection

from registry.db.engine import Database
from registry.db.migrate import alembic_config
from registry.settings import Settings


@pytest.fixture
async def pooled(database_url: str) -> AsyncIterator[Database]:
    database = Database.connect(database_url, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


async def test_the_table_models_match_the_migrations(database: Database) -> None:
    """`alembic check` on the migrated test database: a model changed without a migration,
    or a migration (an index, a constraint) the models do not declare, fails here."""
    config = alembic_config(Settings().migrations_dir)

    def check(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.check(config)

    async with database.engine.connect() as connection:
        with warnings.catch_warnings():
            # Reflection knows no xid8 (audit_events.xid); the models declare it.
            warnings.filterwarnings("ignore", message=".*xid8.*")
            await connection.run_sync(check)


async def _backend(database: Database) -> int:
    async with database.statement_connection() as connection:
        pid: int = await connection.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_a_statement_connection_goes_back_to_the_pool(pooled: Database) -> None:
    first = await _backend(pooled)
    assert await _backend(pooled) == first
    assert pooled.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_failed_statement_discards_its_connection(pooled: Database) -> None:
    before = await _backend(pooled)
    with pytest.raises(Exception, match="division by zero"):
        async with pooled.statement_connection() as connection:
            await connection.fetchval("SELECT 1 / 0")
    assert await _backend(pooled) != before
    assert pooled.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_cancelled_statement_leaves_a_usable_pool(pooled: Database) -> None:
    """A client that hangs up mid-request cancels the statement; the next request still gets
    a working connection (the pool has just one)."""

    async def slow() -> None:
        async with pooled.statement_connection() as connection:
            await connection.fetchval("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(_backend(pooled), timeout=10) > 0
    assert pooled.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
