"""Getting a ready database: the configured server or the embedded one, created if missing,
migrated, with the reference data imported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from registry.db.embedded import EmbeddedPostgres

EMBEDDED_DATABASE = "registry"


@contextmanager
def database_url(configured: str | None, data_dir: Path) -> Iterator[str]:
    """``configured`` as is, or the embedded cluster's URL while the block runs."""
    if configured is not None:
        yield configured
        return
    with EmbeddedPostgres(data_dir / "postgres") as server:
        yield server.url(EMBEDDED_DATABASE)


def as_role(url: str, role: str) -> str:
    """``url`` connecting as ``role`` (no password): for a server that trusts local
    connections, as the embedded one does."""
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> tuple[str, dict[str, str]]:
    """A plain libpq DSN and connect arguments for asyncpg, from a SQLAlchemy URL."""
    parsed = make_url(url)
    query = dict(parsed.query)
    host = query.pop("host", None)
    dsn = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    return dsn, ({"host": str(host)} if host else {})


async def create_database_if_missing(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    assert name, "the URL names no database"
    dsn, extra = asyncpg_dsn(url.replace(f"/{name}", "/postgres", 1))
    connection = await asyncpg.connect(dsn, **extra)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
