"""Test fixtures: a real PostgreSQL built by the migrations, one rolled-back transaction per
test, and a fresh database cloned from a template for tests that need real commits.

``REGISTRY_TEST_DATABASE_URL`` names the server and database to build; without it the
embedded cluster under the data directory is used (database ``registry_test``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.auth.keys import SigningKey, VerificationKeys, development_keys
from registry.auth.tokens import TokenVerifier, issue
from registry.bootstrap import prepare_database
from registry.db.embedded import EmbeddedPostgres
from registry.db.engine import Database
from registry.db.provision import asyncpg_dsn
from registry.logs import configure_logging
from registry.main import create_app
from registry.settings import Settings

# As in production: JSON lines, tracebacks as plain text (structlog's development renderer
# would format every local variable of a traceback, which takes seconds).
configure_logging("INFO", json=True)

ISSUER = "registry-test"
AUDIENCE = "registry"
KYIV = "UA80000000000093317"  # city with special status: oblast- and hromada-level
KYIV_OBLAST = "UA32000000000030281"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLAlchemy URL of the test database (not yet built)."""
    configured = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Settings().data_dir
    with EmbeddedPostgres(data_dir / "postgres-test") as server:
        yield server.url("registry_test")


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str) -> asyncpg.Connection:
    dsn, extra = asyncpg_dsn(_with_database(url, "postgres"))
    return await asyncpg.connect(dsn, **extra)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> str:
    """The test database, freshly migrated, and a template copy of it for ``fresh_database``."""
    name = make_url(server_url).database
    admin = await _admin(server_url)
    try:
        for database in (name, f"{name}_template"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
    await prepare_database(server_url, Settings().migrations_dir)
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}_template" TEMPLATE "{name}"')
    finally:
        await admin.close()
    return server_url


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(database_url, pool_size=2, max_overflow=2)
    yield db
    await db.dispose()


@pytest.fixture
async def connection(database: Database) -> AsyncIterator[AsyncConnection]:
    """One connection whose outer transaction is rolled back after the test."""
    async with database.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A database of its own, cloned from the migrated template, dropped afterwards."""
    base = make_url(database_url).database
    name = f"{base}_{uuid.uuid4().hex[:10]}"
    admin = await _admin(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}_template"')
    finally:
        await admin.close()
    yield _with_database(database_url, name)
    admin = await _admin(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def test_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, VerificationKeys]:
    """A key pair made for this test session, in the same way the development pair is."""
    return development_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def signing_key(test_keys: tuple[SigningKey, VerificationKeys]) -> SigningKey:
    return test_keys[0]


@pytest.fixture(scope="session")
def verifier(test_keys: tuple[SigningKey, VerificationKeys]) -> TokenVerifier:
    return TokenVerifier(test_keys[1], issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        data_dir=tmp_path_factory.mktemp("data"),
        max_body_bytes=64 * 1024,
    )


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def make_token(signing_key: SigningKey) -> TokenFactory:
    """``make_token("community_officer", territory=KYIV)``: a valid token for that role."""

    def factory(role: str, sub: str | None = None, **claims: Any) -> str:
        return issue(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=sub or f"test-{role}",
            role=role,
            **claims,
        )

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def app(settings: Settings, verifier: TokenVerifier) -> FastAPI:
    """One application for the session: making one, and its first request building the
    OpenAPI document, takes a third of a second. ``client`` gives it each test's database."""
    return create_app(settings, verifier=verifier, seal_audit=False)


@pytest.fixture
async def client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose every request works inside the test's rolled-back transaction."""
    app.state.database = Database.bound_to(connection)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield c
    finally:
        app.state.database = None


@dataclass
class Live:
    """A client of an application on a database of its own, where every request commits."""

    client: httpx.AsyncClient
    database: Database

    async def count(self, sql: str, **params: Any) -> int:
        async with self.database.engine.connect() as conn:
            return int(await conn.scalar(text(sql), params))


@pytest.fixture
async def live(fresh_database_url, settings, verifier) -> AsyncIterator[Live]:
    database = Database.connect(fresh_database_url, pool_size=4, max_overflow=4)
    app = create_app(settings, database=database, verifier=verifier, seal_audit=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield Live(c, database)
    finally:
        await database.dispose()
