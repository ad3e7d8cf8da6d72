"""Bringing a database's schema to the latest Alembic revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
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
    identifier_keys: object | None = None,
) -> None:
    """``identifier_keys``: what seals the identifiers of rows that a migration finds in
    plaintext (``domain.shared.sealing.IdentifierKeys``; without it, the settings' keys)."""
    config = alembic_config(migrations_dir)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        config.attributes["identifier_keys"] = identifier_keys
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
