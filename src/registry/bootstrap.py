"""Migrate a database and load its reference data: what `registry migrate` does."""

from __future__ import annotations

import time
from pathlib import Path

from registry.db.engine import Database
from registry.db.migrate import upgrade
from registry.db.provision import create_database_if_missing
from registry.db.reach import switch_row_security
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.commands import import_codifier


async def prepare_database(
    url: str,
    migrations_dir: Path,
    *,
    runtime_role: str | None = None,
    row_security: bool = False,
    identifier_keys: IdentifierKeys | None = None,
) -> dict[str, float | int | None]:
    """Create (if missing), migrate, switch row-level security on or off, and import
    reference data; returns timings. Run as the schema's owner; ``runtime_role`` is the role
    the migrations grant the API's rights to; ``identifier_keys`` seal what a migration finds
    in plaintext (default: the settings')."""
    timings: dict[str, float | int | None] = {}
    await create_database_if_missing(url)
    database = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        started = time.perf_counter()
        await upgrade(
            database.engine,
            migrations_dir,
            runtime_role=runtime_role,
            identifier_keys=identifier_keys,
        )
        timings["migrate_seconds"] = round(time.perf_counter() - started, 2)
        async with database.engine.begin() as connection:
            switched = await switch_row_security(connection, row_security)
        timings["row_security_tables"] = len(switched) if row_security else 0
        started = time.perf_counter()
        async with database.transaction() as session:
            timings["territories_imported"] = await import_codifier(session)
        timings["territories_seconds"] = round(time.perf_counter() - started, 2)
    finally:
        await database.dispose()
    return timings
