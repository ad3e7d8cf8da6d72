"""Bringing a database's schema to the latest Alembic revision, and telling whether it is."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return config


async def upgrade(
    engine: AsyncEngine,
    migrations_dir: Path,
    revision: str = "head",
    *,
    runtime_role: str | None = None,
    identifier_keys: object | None = None,
) -> None:
    """``runtime_role``: the role the migrations grant the API's rights to (by default the
    one the settings name). ``identifier_keys``: what seals the identifiers of rows that a
    migration finds in plaintext (``domain.shared.sealing.IdentifierKeys``; without it, the
    settings' keys)."""
    config = alembic_config(migrations_dir)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if runtime_role is not None:
            config.attributes["runtime_role"] = runtime_role
        config.attributes["identifier_keys"] = identifier_keys
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def pending_revision(engine: AsyncEngine, migrations_dir: Path) -> str | None:
    """What the schema lacks: ``None`` when it is at the head revision, else a sentence
    naming where it is and where the code needs it."""
    head = ScriptDirectory.from_config(alembic_config(migrations_dir)).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        at = await connection.run_sync(current)
    if at == head:
        return None
    where = f"at revision {at}" if at else "not migrated (no schema)"
    return f"the database is {where}; this version of the registry needs revision {head}"
