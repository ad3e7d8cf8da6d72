"""Bulk loading for ``bench/generate``: take a table's indexes and keys off before COPY, put the
very same definitions back afterwards, in parallel.

Building an index once over loaded rows is several times cheaper than maintaining it row by
row, and a foreign key validated by one join is far cheaper than a trigger per row. The
definitions are read from the catalog (``pg_get_indexdef``, ``pg_get_constraintdef``), so
whatever the migrations made, including tables added later, comes back exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

#: Per connection, for index builds: more memory keeps a GIN build from spilling.
MAINTENANCE_WORK_MEM = "1GB"


@dataclass
class SavedSchema:
    """What :func:`drop_keys_and_indexes` removed, in the order to put it back."""

    indexes: list[tuple[str, str, str]] = field(default_factory=list)  # (table, name, ddl)
    #: Primary keys and unique constraints: rebuilt as indexes, then attached to their table.
    key_constraints: list[tuple[str, str, str]] = field(default_factory=list)  # table, name, kind
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)  # table, name, def


async def drop_keys_and_indexes(
    connection: asyncpg.Connection, tables: Sequence[str]
) -> SavedSchema:
    """Drop every index, primary key, unique constraint and foreign key of ``tables`` (and
    the foreign keys of other tables that point at them); return their definitions.

    Partial indexes stay: their ``WHERE`` does not survive the trip through
    ``pg_get_indexdef`` unchanged (``status IN ('active', 'review')`` comes back with its
    array cast written differently, so the schema would no longer be the migrations'), and
    the few there are cover small tables."""
    saved = SavedSchema()
    table_oids = [await connection.fetchval("SELECT $1::regclass::oid", t) for t in tables]
    for row in await connection.fetch(
        """
        SELECT c.conrelid::regclass::text AS table_name, c.conname,
               pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        WHERE c.contype = 'f' AND (c.conrelid = ANY($1) OR c.confrelid = ANY($1))
        ORDER BY c.conrelid::regclass::text, c.conname
        """,
        table_oids,
    ):
        saved.foreign_keys.append((row["table_name"], row["conname"], row["definition"]))
    for row in await connection.fetch(
        """
        SELECT i.indrelid::regclass::text AS table_name, i.indexrelid::regclass::text AS name,
               pg_get_indexdef(i.indexrelid) AS ddl, c.contype::text AS contype
        FROM pg_index i
        LEFT JOIN pg_constraint c
               ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
              AND c.contype IN ('p', 'u')
        WHERE i.indrelid = ANY($1) AND i.indpred IS NULL
        ORDER BY i.indrelid::regclass::text, i.indexrelid::regclass::text
        """,
        table_oids,
    ):
        saved.indexes.append((row["table_name"], row["name"], row["ddl"]))
        if row["contype"] is not None:
            kind = "PRIMARY KEY" if row["contype"] == "p" else "UNIQUE"
            saved.key_constraints.append((row["table_name"], row["name"], kind))

    async with connection.transaction():
        for table, name, _ in saved.foreign_keys:
            await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for table, name, _ in saved.key_constraints:
            await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        constraint_indexes = {name for _, name, _ in saved.key_constraints}
        for _, name, _ in saved.indexes:
            if name not in constraint_indexes:
                await connection.execute(f'DROP INDEX "{name}"')
    return saved


async def restore_keys_and_indexes(
    dsn: str, saved: SavedSchema, *, parallel: int
) -> dict[str, float]:
    """Build the saved indexes on ``parallel`` connections (CREATE INDEX takes a SHARE lock,
    so builds on the same table run side by side), then attach the keys and put the foreign
    keys back, validated on ``parallel`` connections. Returns seconds per statement."""
    timings: dict[str, float] = {}
    # Biggest first, so the last build to finish is a short one.
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for _, name, ddl in sorted(saved.indexes, key=lambda i: _expected_cost(i[2]), reverse=True):
        queue.put_nowait((name, ddl))

    async def builder() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            while not queue.empty():
                name, ddl = queue.get_nowait()
                started = time.perf_counter()
                await connection.execute(ddl)
                timings[f"index {name}"] = round(time.perf_counter() - started, 2)
                print(f"    {name}: {timings[f'index {name}']:.1f} s", flush=True)
        finally:
            await connection.close()

    await asyncio.gather(*(builder() for _ in range(parallel)))

    connection = await asyncpg.connect(dsn)
    try:
        for table, name, kind in saved.key_constraints:
            await connection.execute(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {kind} USING INDEX "{name}"'
            )
        # Added unchecked (at once), then validated in parallel: a validation locks only its
        # own table against another validation, so each connection takes one table's keys.
        for table, name, definition in saved.foreign_keys:
            await connection.execute(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID'
            )
        sizes = {
            row["name"]: row["pages"]
            for row in await connection.fetch(
                "SELECT c.oid::regclass::text AS name, c.relpages AS pages FROM pg_class c "
                "WHERE c.oid::regclass::text = ANY($1)",
                list({table for table, _, _ in saved.foreign_keys}),
            )
        }
    finally:
        await connection.close()
    by_table: dict[str, list[str]] = {}
    for table, name, _ in saved.foreign_keys:
        by_table.setdefault(table, []).append(name)
    tables: asyncio.Queue[str] = asyncio.Queue()
    for table in sorted(by_table, key=lambda t: sizes.get(t, 0), reverse=True):
        tables.put_nowait(table)

    async def validator() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            while not tables.empty():
                table = tables.get_nowait()
                for name in by_table[table]:
                    started = time.perf_counter()
                    await connection.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
                    timings[f"foreign key {name}"] = round(time.perf_counter() - started, 2)
        finally:
            await connection.close()

    await asyncio.gather(*(validator() for _ in range(parallel)))
    return timings


def _expected_cost(ddl: str) -> int:
    """Trigram GIN indexes cost most, then other GIN, then btree."""
    return 2 if "gin_trgm_ops" in ddl else 1 if "USING gin" in ddl else 0


async def vacuum_analyze(dsn: str, tables: Sequence[str], *, parallel: int) -> None:
    """VACUUM ANALYZE the loaded tables: statistics for the planner, hint bits and the
    visibility map set now rather than by the first reads of the benchmark, and nothing left
    for autovacuum to start in the middle of a run."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for table in tables:
        queue.put_nowait(table)

    async def worker() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            while not queue.empty():
                await connection.execute(f"VACUUM (ANALYZE) {queue.get_nowait()}")
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(parallel)))
