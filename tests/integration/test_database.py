"""The database under the API: the migrated schema is the one the table models declare, and a
pooled connection outlives its request unless the request broke off in the middle of a
statement."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import Integer, Text, column, select, values
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.db.engine import Database
from registry.db.migrate import alembic_config
from registry.db.statements import once_per_parent
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


async def test_a_parent_is_sent_once_with_each_of_its_children_after_it(
    connection: AsyncConnection,
) -> None:
    """``once_per_parent``: a parent's columns on its first row only (NULL on its other
    children's rows, which the driver does not decode), every child on a row of its own in
    order, and a parent without children still on a row."""
    parents = values(column("id", Integer), column("name", Text), name="parents").data(
        [(1, "first"), (2, "childless"), (3, "third")]
    )
    children = values(
        column("parent_id", Integer), column("child", Text), column("place", Integer), name="c"
    ).data([(3, "c", 2), (1, "b", 2), (1, "a", 1), (3, "d", 1), (1, "z", 3)])
    joined = select(parents.c.id, parents.c.name, children.c.child, children.c.place).select_from(
        parents.outerjoin(children, children.c.parent_id == parents.c.id)
    )
    statement = once_per_parent(joined, ["id", "name"], order=["id"], child_order=["place"])

    rows = (await connection.execute(statement)).all()

    assert [tuple(row) for row in rows] == [
        (1, "first", "a", 1),
        (None, None, "b", 2),
        (None, None, "z", 3),
        (2, "childless", None, None),
        (3, "third", "d", 1),
        (None, None, "c", 2),
    ]
