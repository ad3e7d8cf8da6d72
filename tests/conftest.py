"""Test fixtures: a real PostgreSQL built by the migrations, one rolled-back transaction per
test, and a fresh database cloned from a template for tests that need real commits. The
helpers they use (and the tests share) are in ``tests/support.py``.

``REGISTRY_TEST_DATABASE_URL`` names the server and database to build; without it the
embedded cluster under the data directory is used (database ``registry_test``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import logs
from registry.auth.keys import SigningKey, VerificationKeys, development_keys
from registry.auth.tokens import TokenVerifier
from registry.bootstrap import prepare_database
from registry.db.embedded import EmbeddedPostgres
from registry.db.engine import Database
from registry.db.provision import as_role
from registry.logs import configure_logging
from registry.main import ROW_SECURITY_PROBE, create_app
from registry.settings import Settings, get_settings
from tests.support import (
    AUDIENCE,
    BUCHA,
    IDENTIFIER_KEYS,
    IDENTIFIER_KEYS_DOCUMENT,
    ISSUER,
    KYIV,
    RUNTIME_ROLE,
    Live,
    TokenFactory,
    bearer,
    clone_template,
    create_database,
    drop_database,
    template_of,
    token,
    token_factory,
)

# As in production: JSON lines, tracebacks as plain text (structlog's development renderer
# would format every local variable of a traceback, which takes seconds).
logs.CACHE_LOGGERS = False  # what a test captures must not depend on which ran before
configure_logging("INFO", json=True)


# --- databases ---------------------------------------------------------------------------------


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


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> str:
    """The test database, freshly migrated, and a template copy of it for ``fresh_database``."""
    name = make_url(server_url).database
    assert name is not None
    for database in (name, template_of(server_url)):
        await drop_database(server_url, database)
    settings = Settings()
    await prepare_database(
        server_url,
        settings.migrations_dir,
        runtime_role=RUNTIME_ROLE,
        row_security=settings.db_row_security,
    )
    await create_database(server_url, template_of(server_url), template=name)
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
    url = await clone_template(database_url)
    yield url
    await drop_database(url)


# --- keys, tokens and the callers the tests use ------------------------------------------------


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
def make_token(signing_key: SigningKey) -> TokenFactory:
    """``make_token("community_officer", territory=KYIV)``: a valid token for that role."""
    return token_factory(signing_key)


@pytest.fixture
def admin(make_token: TokenFactory) -> dict[str, str]:
    """A ministry administrator."""
    return bearer(token(make_token, "ministry_admin"))


@pytest.fixture
def officer(make_token: TokenFactory) -> dict[str, str]:
    """A community officer of Kyiv."""
    return bearer(token(make_token, "community_officer", territory=KYIV))


@pytest.fixture
def worker(make_token: TokenFactory) -> dict[str, str]:
    """A social worker of Bucha hromada."""
    return bearer(token(make_token, "social_worker", territory=BUCHA))


# --- the application ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys_file = tmp_path_factory.mktemp("identifier-keys") / "keys.json"
    keys_file.write_text(json.dumps(IDENTIFIER_KEYS_DOCUMENT))
    return Settings(
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        data_dir=tmp_path_factory.mktemp("data"),
        max_body_bytes=64 * 1024,
        # Counted, as in production, but against quotas no test reaches: the session shares
        # one application and its counters (tests/integration/test_rate_limits.py sets its own).
        rate_limit_per_subject="1000000/minute",
        rate_limit_per_address="1000000/minute",
        rate_limit_lookups="1000000/minute",
        identifier_keys_file=keys_file,
    )


@pytest.fixture(scope="session")
def app(settings: Settings, verifier: TokenVerifier) -> FastAPI:
    """One application for the session: making one, and its first request building the
    OpenAPI document, takes a third of a second. ``client`` gives it each test's database."""
    return create_app(
        settings, verifier=verifier, identifier_keys=IDENTIFIER_KEYS, seal_audit=False
    )


@pytest.fixture
async def client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """An API client whose every request works inside the test's rolled-back transaction."""
    app.state.database = Database.bound_to(connection, acting_role=RUNTIME_ROLE)
    await app.state.database.detect_row_security(ROW_SECURITY_PROBE)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield c
    finally:
        app.state.database = None


@pytest.fixture
async def live(fresh_database_url, settings, verifier) -> AsyncIterator[Live]:
    """The application on a database of its own, where every request commits. The
    application connects as the runtime role; ``Live.database`` is the owner's, for the
    test's own reads and writes."""
    database = Database.connect(fresh_database_url, pool_size=4, max_overflow=4)
    runtime = Database.connect(
        as_role(fresh_database_url, RUNTIME_ROLE), pool_size=4, max_overflow=4
    )
    await runtime.detect_row_security(ROW_SECURITY_PROBE)
    app = create_app(
        settings,
        database=runtime,
        verifier=verifier,
        identifier_keys=IDENTIFIER_KEYS,
        seal_audit=False,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield Live(c, database)
    finally:
        await runtime.dispose()
        await database.dispose()


@pytest.fixture
def cli_database(
    fresh_database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``registry`` (``support.run_cli``) pointed at a fresh database, sealing identifiers
    with the tests' keys. main() configures logging process-wide (onto the stdout of the
    moment), so the previous configuration is put back after."""
    monkeypatch.setenv("REGISTRY_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REGISTRY_IDENTIFIER_KEYS_FILE", str(settings.identifier_keys_file))
    monkeypatch.setenv("REGISTRY_LOG_JSON", "false")
    logging_before = structlog.get_config()
    get_settings.cache_clear()
    try:
        yield fresh_database_url
    finally:
        get_settings.cache_clear()
        structlog.configure(**logging_before)
