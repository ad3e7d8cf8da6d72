"""The connection handling under the API: a pooled connection outlives its request unless the
request broke off in the middle of a statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from registry.db.engine import Database


@pytest.fixture
async def pooled(database_url: str) -> AsyncIterator[Database]:
    database = Database.connect(database_url, pool_size=1, max_overflow=0)
    yield database
    await database.dispose()


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
