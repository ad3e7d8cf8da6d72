"""Failing fast and closed: a request that meets a lock held elsewhere, a slow statement, no
free connection, a lost connection or an audit write that fails answers a 503 problem with
``Retry-After`` within the configured limits, and changes nothing; ``/health/ready`` says so
as soon as requests would get it.

Each test runs the application on a database of its own (every request commits), with
limits far tighter than the defaults; the test's own connection, outside the application's
pool, holds the lock, the connection or the trigger. Without the limits a request would wait
for as long as the lock is held, and the test waits for an answer only ``PATIENCE`` seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from registry.db.engine import Database
from registry.db.provision import asyncpg_dsn
from registry.errors import PROBLEM_TYPE_PREFIX, ServiceUnavailable
from registry.main import create_app, request_database, request_limits
from registry.settings import Settings
from tests.support import (
    BUCHA,
    FAMILIES,
    assert_problem,
    bearer,
    create_family,
    family,
    if_match,
    run_cli,
    token,
)

LOCK_TIMEOUT_MS = 300
STATEMENT_TIMEOUT_MS = 300
#: Long enough that opening a connection on a loaded CI machine never reaches it; far below
#: the 30 s SQLAlchemy waits by default.
POOL_TIMEOUT_SECONDS = 2.0
#: How long a test waits for an answer: beyond every limit above even on a slow machine, and
#: far less than the lock or the connection is held (until the answer has come).
PATIENCE = 15.0
ORIGIN = "https://app.registry.example"

#: Limits under which nothing in a test fires unless the test makes it: each test tightens
#: the one it is about.
ROOMY = {
    "db_pool_size": 2,
    "db_max_overflow": 0,
    "db_pool_timeout_seconds": POOL_TIMEOUT_SECONDS,
    "db_statement_timeout_ms": 30_000,
    "db_lock_timeout_ms": 30_000,
    "db_idle_in_transaction_timeout_ms": 30_000,
}


@dataclass
class Served:
    """The application on a database of its own, and the test's own connection to it."""

    client: httpx.AsyncClient
    database: Database
    admin: asyncpg.Connection

    async def timed(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, float]:
        """The answer to one request, and the seconds it took; a request left waiting fails
        the test after ``PATIENCE`` seconds."""
        started = time.perf_counter()
        response = await asyncio.wait_for(self.client.request(method, url, **kwargs), PATIENCE)
        return response, time.perf_counter() - started

    async def locked(self, sql: str, *args: Any) -> asyncpg.transaction.Transaction:
        """A transaction of the test's own connection that has run ``sql`` (taking its
        locks); roll it back to release them."""
        transaction = self.admin.transaction()
        await transaction.start()
        await self.admin.execute(sql, *args)
        return transaction


@asynccontextmanager
async def serving(
    url: str, settings: Settings, verifier: Any, **limits: Any
) -> AsyncIterator[Served]:
    settings = settings.model_copy(update={**ROOMY, **limits})
    database = request_database(url, settings)
    app = create_app(settings, database=database, verifier=verifier, seal_audit=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    dsn, extra = asyncpg_dsn(url)
    admin = await asyncpg.connect(dsn, **extra)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield Served(c, database, admin)
    finally:
        await admin.close()
        await database.dispose()


def assert_unavailable(response: httpx.Response) -> None:
    """A 503 problem that says when to try again and names nothing of the database's."""
    body = assert_problem(response, 503)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "unavailable"
    assert body["title"] == "Service unavailable"
    assert int(response.headers["retry-after"]) > 0
    for leak in ("select", "update", "insert", "families", "audit_events", "$1", "sqlstate"):
        assert leak not in response.text.lower()


async def _family_as_created(served: Served, headers: dict[str, str], created: dict[str, Any]):
    """The family as it is now: unchanged since it was created."""
    response = await served.client.get(f"{FAMILIES}/{created['id']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.json()["phone"] == created["phone"]


# --- a lock held elsewhere ---------------------------------------------------------------------


async def test_a_change_to_a_locked_family_answers_503_within_the_lock_timeout(
    fresh_database_url, settings, verifier, worker
):
    async with serving(
        fresh_database_url, settings, verifier, db_lock_timeout_ms=LOCK_TIMEOUT_MS
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}"
        events_before = await served.admin.fetchval("SELECT count(*) FROM audit_events")
        lock = await served.locked("SELECT 1 FROM families WHERE id = $1 FOR UPDATE", created["id"])
        try:
            with capture_logs() as logs:
                response, took = await served.timed(
                    "PATCH", url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
                )
        finally:
            await lock.rollback()

        assert_unavailable(response)
        assert took >= LOCK_TIMEOUT_MS / 1000
        # One error line that says what failed, and nothing of the request's data.
        (line,) = [entry for entry in logs if entry["event"] == "database_unavailable"]
        assert line["log_level"] == "error"
        assert line["reason"] == "lock timeout"
        assert line["sqlstate"] == "55P03"
        assert created["id"] not in str(line)
        # Nothing changed, nothing was audited, and with the lock gone the change goes through.
        assert await served.admin.fetchval("SELECT count(*) FROM audit_events") == events_before
        await _family_as_created(served, worker, created)
        again = await served.client.patch(
            url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
        )
        assert again.status_code == 200, again.text


async def test_reads_of_a_locked_table_answer_503_within_the_lock_timeout(
    fresh_database_url, settings, verifier, worker
):
    async with serving(
        fresh_database_url, settings, verifier, db_lock_timeout_ms=LOCK_TIMEOUT_MS
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        lock = await served.locked("LOCK TABLE families IN ACCESS EXCLUSIVE MODE")
        try:
            # The fast path (one statement on the driver's connection) and a session's read.
            by_id, _ = await served.timed("GET", f"{FAMILIES}/{created['id']}", headers=worker)
            listed, _ = await served.timed("GET", FAMILIES, headers=worker)
        finally:
            await lock.rollback()

        assert_unavailable(by_id)
        assert_unavailable(listed)
        assert (await served.client.get(FAMILIES, headers=worker)).status_code == 200


# --- a slow statement --------------------------------------------------------------------------


async def test_a_slow_statement_answers_503_after_the_statement_timeout(
    fresh_database_url, settings, verifier, worker
):
    async with serving(
        fresh_database_url,
        settings,
        verifier,
        db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        db_lock_timeout_ms=0,
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}"
        # Every audit write (in the fast path's statement, and in a change's transaction)
        # takes ten seconds.
        await served.admin.execute(
            "CREATE FUNCTION slow_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(10); RETURN NEW; END $$;"
            "CREATE TRIGGER slow_audit BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION slow_audit()"
        )

        read, read_took = await served.timed("GET", url, headers=worker)
        changed, change_took = await served.timed(
            "PATCH", url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
        )

        assert_unavailable(read)
        assert_unavailable(changed)
        assert read_took < 10
        assert change_took < 10
        await served.admin.execute("DROP TRIGGER slow_audit ON audit_events")
        await _family_as_created(served, worker, created)


async def test_a_statement_waiting_on_a_lock_is_cut_by_the_statement_timeout_too(
    fresh_database_url, settings, verifier, worker
):
    """With no lock timeout, the statement timeout still bounds the wait."""
    async with serving(
        fresh_database_url,
        settings,
        verifier,
        db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        db_lock_timeout_ms=0,
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        lock = await served.locked("LOCK TABLE families IN ACCESS EXCLUSIVE MODE")
        try:
            with capture_logs() as logs:
                response, _ = await served.timed(
                    "GET", f"{FAMILIES}/{created['id']}", headers=worker
                )
        finally:
            await lock.rollback()

        assert_unavailable(response)
        assert [e["sqlstate"] for e in logs if e["event"] == "database_unavailable"] == ["57014"]


async def test_a_transaction_left_idle_is_ended_by_the_server(fresh_database_url):
    idle_ms = 300
    limits = request_limits(Settings(**{**ROOMY, "db_idle_in_transaction_timeout_ms": idle_ms}))
    database = Database.connect(fresh_database_url, pool_size=1, max_overflow=0, limits=limits)

    async def idle_then_use() -> None:
        async with database.transaction() as session:
            await session.execute(select(1))
            await asyncio.sleep(3 * idle_ms / 1000)
            await session.execute(select(1))

    try:
        with pytest.raises(ServiceUnavailable):
            await idle_then_use()
        # The pool recovers: the next transaction gets a live connection.
        async with database.transaction() as session:
            assert await session.scalar(select(1)) == 1
    finally:
        await database.dispose()


# --- no connection to be had -------------------------------------------------------------------


async def test_with_every_connection_in_use_requests_and_readiness_answer_503_within_the_pool_timeout(  # noqa: E501
    fresh_database_url, settings, verifier, worker
):
    async with serving(
        fresh_database_url, settings, verifier, db_pool_size=1, db_max_overflow=0
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}"
        async with served.database.engine.connect() as held:  # the pool's one connection
            await held.execute(select(1))
            by_id, by_id_took = await served.timed("GET", url, headers=worker)
            changed, _ = await served.timed(
                "PATCH", url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
            )
            ready, ready_took = await served.timed("GET", "/health/ready")

        assert_unavailable(by_id)
        assert_unavailable(changed)
        assert_unavailable(ready)
        for took in (by_id_took, ready_took):
            assert POOL_TIMEOUT_SECONDS * 0.9 <= took < PATIENCE
        # The connection back in the pool, everything answers again.
        assert (await served.client.get("/health/ready")).status_code == 200
        await _family_as_created(served, worker, created)


async def test_a_load_above_the_pool_waits_for_its_connections_and_opens_no_others(
    fresh_database_url, settings, verifier, worker
):
    # The pool as deployed (its overflow setting left at the default), only smaller: more
    # requests at once than it has connections wait for one, each answered, rather than
    # open a connection (a new backend) that is closed again on release.
    overflow = Settings.model_fields["db_max_overflow"].default
    async with serving(
        fresh_database_url, settings, verifier, db_pool_size=2, db_max_overflow=overflow
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        opened: list[object] = []
        event.listen(served.database.engine.sync_engine, "connect", lambda *_: opened.append(1))
        url = f"{FAMILIES}/{created['id']}"
        answers = await asyncio.gather(
            *(served.timed("GET", url, headers=worker) for _ in range(12)),
            *(served.timed("GET", FAMILIES, headers=worker) for _ in range(12)),
        )

    assert [response.status_code for response, _ in answers] == [200] * 24
    # At most the pool's two (the family's creation may have opened only one of them).
    assert len(opened) <= 2


async def test_with_the_database_gone_requests_and_readiness_answer_503_at_once(
    settings, verifier, worker, database_url
):
    # A port nothing listens on: every connection is refused.
    gone = make_url(database_url).set(host="127.0.0.1", port=1, query={})
    settings = settings.model_copy(update={**ROOMY, "cors_origins": [ORIGIN]})
    database = request_database(gone.render_as_string(hide_password=False), settings)
    app = create_app(settings, database=database, verifier=verifier, seal_audit=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            started = time.perf_counter()
            read = await asyncio.wait_for(
                c.get(FAMILIES, headers={**worker, "Origin": ORIGIN}), PATIENCE
            )
            ready = await asyncio.wait_for(c.get("/health/ready"), PATIENCE)
            took = time.perf_counter() - started
    finally:
        await database.dispose()

    assert_unavailable(read)
    assert_unavailable(ready)
    assert took < PATIENCE
    # A browser page may read when to try again.
    exposed = read.headers["access-control-expose-headers"].lower()
    assert "retry-after" in [name.strip() for name in exposed.split(",")]


# --- a lost connection -------------------------------------------------------------------------


async def _terminate_the_applications_connections(admin: asyncpg.Connection) -> None:
    """End every backend of the application on this database, and wait until they are gone."""
    query = (
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'registry'"
    )
    pids = [row["pid"] for row in await admin.fetch(query)]
    assert pids, "the application holds no connection"
    for pid in pids:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    for _ in range(100):
        if not await admin.fetch(query):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the backends did not end")


@pytest.mark.parametrize("path", ["by_id", "list"])
async def test_a_connection_the_server_ended_in_the_pool_is_replaced_unseen(
    fresh_database_url, settings, verifier, worker, path
):
    """No ping before each use (a round trip on every request): the driver already knows a
    connection the server ended (a restart, a terminated backend) is closed, and the pool
    replaces it when it is taken."""
    async with serving(
        fresh_database_url, settings, verifier, db_pool_size=1, db_max_overflow=0
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}" if path == "by_id" else FAMILIES
        assert (await served.client.get(url, headers=worker)).status_code == 200
        await _terminate_the_applications_connections(served.admin)
        await asyncio.sleep(0.2)  # the connection sits in the pool a while

        after, _ = await served.timed("GET", url, headers=worker)

        assert after.status_code == 200, after.text


#: A request of each kind of connection use: a change through the session (SQLAlchemy), a
#: list read on the session's driver connection, a read by id on the fast path.
REQUESTS = {
    "change": ("PATCH", "{family}", {"json": {"phone": "+380671112233"}, "if_match": True}),
    "list": ("GET", "", {}),
    "by_id": ("GET", "{family}", {}),
}


@pytest.mark.parametrize("kind", REQUESTS)
async def test_a_connection_killed_mid_request_answers_503_and_changes_nothing(
    fresh_database_url, settings, verifier, worker, kind
):
    async with serving(fresh_database_url, settings, verifier) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        method, path, options = REQUESTS[kind]
        url = FAMILIES + path.format(family=f"/{created['id']}")
        headers = if_match(worker, 1) if options.get("if_match") else worker
        lock = await served.locked("LOCK TABLE families IN ACCESS EXCLUSIVE MODE")
        try:
            request = asyncio.create_task(
                served.timed(method, url, json=options.get("json"), headers=headers)
            )
            waiting = (
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'registry' AND wait_event_type = 'Lock'"
            )
            for _ in range(200):
                if pids := [row["pid"] for row in await served.admin.fetch(waiting)]:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the request never waited on the lock")
            await served.admin.execute("SELECT pg_terminate_backend($1)", pids[0])
            response, _ = await request
        finally:
            await lock.rollback()

        assert_unavailable(response)
        await _family_as_created(served, worker, created)
        assert (await served.client.get(url, headers=worker)).status_code == 200


# --- an audit write that fails -----------------------------------------------------------------


async def test_an_audit_write_that_cannot_take_its_lock_answers_503_and_changes_nothing(
    fresh_database_url, settings, verifier, worker
):
    async with serving(
        fresh_database_url, settings, verifier, db_lock_timeout_ms=LOCK_TIMEOUT_MS
    ) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}"
        events_before = await served.admin.fetchval("SELECT count(*) FROM audit_events")
        # Reads of the audit log go on; nothing can be added to it.
        lock = await served.locked("LOCK TABLE audit_events IN SHARE MODE")
        try:
            read, _ = await served.timed("GET", url, headers=worker)
            changed, _ = await served.timed(
                "PATCH", url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
            )
        finally:
            await lock.rollback()

        # No audit, no answer: the read is not shown, the change is not made.
        assert_unavailable(read)
        assert_unavailable(changed)
        assert await served.admin.fetchval("SELECT count(*) FROM audit_events") == events_before
        await _family_as_created(served, worker, created)


async def test_an_audit_insert_the_server_refuses_answers_503_and_changes_nothing(
    fresh_database_url, settings, verifier, worker
):
    async with serving(fresh_database_url, settings, verifier) as served:
        created = await create_family(served.client, worker, family(BUCHA))
        url = f"{FAMILIES}/{created['id']}"
        # The audit log's disk is full.
        await served.admin.execute(
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$;"
            "CREATE TRIGGER disk_full BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION disk_full()"
        )

        read, _ = await served.timed("GET", url, headers=worker)
        changed, _ = await served.timed(
            "PATCH", url, json={"phone": "+380671112233"}, headers=if_match(worker, 1)
        )
        await served.admin.execute("DROP TRIGGER disk_full ON audit_events")

        assert_unavailable(read)
        assert_unavailable(changed)
        await _family_as_created(served, worker, created)


async def test_a_refusal_whose_audit_cannot_be_written_answers_503(
    fresh_database_url, settings, verifier, make_token
):
    """A 403 is recorded as a denied attempt; when that record cannot be written, the
    refusal is not answered either."""
    auditor = bearer(token(make_token, "auditor"))
    async with serving(
        fresh_database_url, settings, verifier, db_lock_timeout_ms=LOCK_TIMEOUT_MS
    ) as served:
        forbidden = await served.client.post(FAMILIES, json=family(BUCHA), headers=auditor)
        assert forbidden.status_code == 403, forbidden.text
        lock = await served.locked("LOCK TABLE audit_events IN SHARE MODE")
        try:
            response, _ = await served.timed("POST", FAMILIES, json=family(BUCHA), headers=auditor)
        finally:
            await lock.rollback()

        assert_unavailable(response)


# --- where the limits apply --------------------------------------------------------------------


async def test_the_api_connections_carry_the_limits_and_the_jobs_connections_do_not(
    fresh_database_url, settings, verifier
):
    configured = settings.model_copy(update={"database_url": fresh_database_url})
    app = create_app(configured, verifier=verifier, seal_audit=False)
    show = text(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
        "current_setting('idle_in_transaction_session_timeout')"
    )
    async with app.router.lifespan_context(app):
        api: Database = app.state.database
        async with api.engine.connect() as connection:
            assert tuple((await connection.execute(show)).one()) == ("5s", "2s", "10s")
        assert api.engine.pool.timeout() == 3.0

    job = Database.connect(fresh_database_url, pool_size=1, max_overflow=0)
    try:
        async with job.engine.connect() as connection:
            assert tuple((await connection.execute(show)).one()) == ("0", "0", "0")
    finally:
        await job.dispose()


def test_a_command_line_job_is_not_held_to_the_request_limits(cli_database, monkeypatch):
    """``registry migrate`` (migrations and the codifier's import) under limits no request
    could meet."""
    monkeypatch.setenv("REGISTRY_DB_STATEMENT_TIMEOUT_MS", "1")
    monkeypatch.setenv("REGISTRY_DB_LOCK_TIMEOUT_MS", "1")
    monkeypatch.setenv("REGISTRY_DB_POOL_TIMEOUT_SECONDS", "0.001")
    assert run_cli("migrate") == "returned without exiting"


def test_every_operation_on_the_database_documents_its_503(app):
    operations = [
        (path, method, operation["responses"])
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 50
    for path, method, responses in operations:
        if path == "/health/live":  # the only operation that does not touch the database
            assert "503" not in responses
            continue
        assert "503" in responses, f"{method} {path}"
        assert "Retry-After" in responses["503"]["headers"], f"{method} {path}"
