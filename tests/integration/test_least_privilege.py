"""Least privilege in the database: the API runs as the runtime role, which the migrations
grant what the API needs and nothing more: it cannot change or remove audit events, delete
records, or change the schema; `registry serve` can run as it without migrating."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.auth.audit_keys import AuditKeyRing, AuditSigner
from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.cli import _serving_url, _token
from registry.db.engine import Database
from registry.db.provision import as_role, asyncpg_dsn
from registry.db.reach import (
    NATIONAL,
    NOWHERE,
    ROW_SECURITY_PROBE,
    Reach,
    set_reach,
    switch_row_security,
    unconfined,
)
from registry.domain.audit.commands import seal
from registry.domain.audit.queries import verify
from registry.domain.families.tables import family_table, person_table
from registry.domain.shared.reach import reach_of
from registry.errors import Conflict
from registry.main import create_app
from registry.settings import Settings, get_settings
from tests.support import (
    BUCHA,
    BUCHA_RAION,
    FAMILIES,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    RUNTIME_ROLE,
    assert_problem,
    bearer,
    create_database,
    create_family,
    create_provider,
    drop_database,
    family,
    if_match,
    person,
    provider_body,
    run_cli,
    start_cli,
    token,
)

#: How long a starting or stopping server may keep the test waiting.
WAIT_SECONDS = 120


async def _connect_as_runtime(url: str) -> asyncpg.Connection:
    dsn, extra = asyncpg_dsn(as_role(url, RUNTIME_ROLE))
    return await asyncpg.connect(dsn, **extra)


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the runtime role itself to the test database, in a transaction
    rolled back at the end."""
    connection = await _connect_as_runtime(database_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def _refused(connection: asyncpg.Connection, statement: str) -> str:
    """The error ``statement`` meets (in a savepoint, so the test's transaction lives on)."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
        async with connection.transaction():
            await connection.execute(statement)
    return str(refused.value)


# --- what the runtime role may not do ----------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "UPDATE audit_events SET block_id = NULL",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_blocks SET digest = '\\x00'::bytea",
        "DELETE FROM audit_blocks",
        "TRUNCATE audit_blocks CASCADE",
    ],
)
async def test_the_runtime_role_cannot_change_or_remove_audit_events(runtime, statement):
    await runtime.execute(
        "INSERT INTO audit_events (actor, role, action, resource_type, resource_ids, outcome) "
        "VALUES ('writer', 'social_worker', 'read', 'family', '{}', 'success')"
    )
    assert "permission denied for table audit_" in await _refused(runtime, statement)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("DROP TABLE families", "must be owner of table families"),
        ("DROP TABLE audit_events", "must be owner of table audit_events"),
        ("ALTER TABLE audit_events DISABLE TRIGGER USER", "must be owner of table audit_events"),
        ("ALTER TABLE families ADD COLUMN note text", "must be owner of table families"),
        ("CREATE TABLE notes (id integer)", "permission denied for schema public"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "for schema public"),
        ("TRUNCATE families CASCADE", "permission denied for table families"),
        ("DELETE FROM persons", "permission denied for table persons"),
        ("DELETE FROM service_records", "permission denied for table service_records"),
        ("UPDATE record_changes SET actor = 'mallory'", "for table record_changes"),
        ("UPDATE case_transitions SET actor = 'mallory'", "for table case_transitions"),
        ("UPDATE territories SET name = 'x'", "permission denied for table territories"),
        ("INSERT INTO alembic_version VALUES ('x')", "permission denied for table alembic_"),
        ("SELECT setval('audit_event_ids', 1)", "permission denied for sequence"),
    ],
)
async def test_the_runtime_role_cannot_change_the_schema_or_delete_records(
    runtime, statement, refusal
):
    assert refusal in await _refused(runtime, statement)


async def test_the_runtime_role_owns_nothing_and_cannot_grant_itself_more(runtime):
    owned = await runtime.fetchval(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
        "WHERE rolname = current_user)"
    )
    assert owned == 0
    attributes = await runtime.fetchrow(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
        "WHERE rolname = current_user"
    )
    assert not any(attributes.values())


async def test_a_grant_by_the_runtime_role_grants_nothing(runtime):
    # PostgreSQL answers a GRANT by a role without grant options with a warning only.
    await runtime.execute(f'GRANT DELETE ON audit_events TO "{RUNTIME_ROLE}"')
    assert not await runtime.fetchval("SELECT has_table_privilege('audit_events', 'DELETE')")


async def test_every_table_grants_the_runtime_role_what_its_kind_allows(connection):
    """The rule for every table at the head revision, so that a later migration's table is
    held to it too: audit and history tables read and appended, reference data read, the
    rest read and written (personal or not: ``friendly_communities`` is among them); DELETE
    only of stored idempotent answers; never TRUNCATE, REFERENCES or TRIGGER."""
    rows = (
        await connection.execute(
            text(
                "SELECT c.relname, array_agg(p.privilege ORDER BY p.privilege) "
                "FILTER (WHERE has_table_privilege(:role, c.oid, p.privilege)) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', "
                "'REFERENCES', 'TRIGGER']) AS p(privilege) "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') "
                "GROUP BY c.relname"
            ),
            {"role": RUNTIME_ROLE},
        )
    ).all()
    granted = {name: set(privileges or ()) for name, privileges in rows}
    append_only = {
        "record_changes",
        "case_transitions",
        "case_visits",
        "case_reviews",
        "provider_status_changes",
        "service_record_versions",
        "servicemember_statuses",
        "servicemember_units",
        "support_case_history",
        "support_case_contacts",
        "programme_distributions",
        "programme_distribution_items",
        "programme_reversals",
        "aid_receipts",
        "friendly_community_steps",
        "webhook_deliveries",
        # recorded by the worker (as the runtime role), never changed
        "case_deadline_breaches",
        "support_case_deadline_breaches",
    }
    read_only = {
        "alembic_version",
        "territories",
        "reference_imports",
        "recipient_categories",
        "hardship_factors",
        "support_criteria",
        # written by the tracked tables' triggers, with the owner's rights (migration 0015)
        "change_events",
        # written by the counted tables' triggers and the fold, with the owner's rights (0019)
        "report_counts",
        "report_count_changes",
    }
    assert {"families", "persons", "audit_events", "audit_blocks"} <= set(granted)
    for name, privileges in granted.items():
        if name.startswith("audit_") or name in append_only:
            expected = {"SELECT", "INSERT"}
        elif name in read_only:
            expected = {"SELECT"}
        elif name == "idempotency_keys":
            expected = {"SELECT", "INSERT", "UPDATE", "DELETE"}
        else:
            expected = {"SELECT", "INSERT", "UPDATE"}
        assert privileges == expected, name


async def test_only_the_runtime_role_may_stamp_audit_events(connection):
    """The sealer's stamping goes through a SECURITY DEFINER function: executable by the
    runtime role, not by PUBLIC (every other role)."""
    grantees = (
        await connection.execute(
            text(
                "SELECT coalesce(r.rolname, 'PUBLIC') FROM pg_proc p "
                "CROSS JOIN aclexplode(p.proacl) AS acl "
                "LEFT JOIN pg_roles r ON r.oid = acl.grantee "
                "WHERE p.oid = 'audit_stamp_block(bigint, bigint[])'::regprocedure "
                "AND acl.privilege_type = 'EXECUTE'"
            )
        )
    ).scalars()
    assert RUNTIME_ROLE in set(grantees)
    assert "PUBLIC" not in set(grantees)


# --- what the runtime role does: the API's work --------------------------------------------------


async def test_the_tests_application_runs_as_the_runtime_role(connection: AsyncConnection):
    """Every unit of work of the tests' application (``client``) runs as the runtime role,
    and the test's own connection is the owner's again after it."""
    database = Database.bound_to(connection, acting_role=RUNTIME_ROLE)
    async with database.transaction() as session:
        assert await session.scalar(select(func.current_user())) == RUNTIME_ROLE
    async with database.statement_connection() as driver:
        assert await driver.fetchval("SELECT current_user") == RUNTIME_ROLE
    assert await connection.scalar(select(func.current_user())) != RUNTIME_ROLE


async def test_the_api_and_the_sealer_work_as_the_runtime_role(live, make_token):
    """Registering and reading a family through an application connected as the runtime
    role, then sealing its audit events as that role: the chain verifies."""
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    created = await live.client.post(FAMILIES, json=family(), headers=officer)
    assert created.status_code == 201, created.text
    family_id = created.json()["id"]
    read = await live.client.get(f"{FAMILIES}/{family_id}", headers=officer)
    assert read.status_code == 200
    listed = await live.client.get(FAMILIES, params={"hromada": KYIV}, headers=officer)
    assert [item["id"] for item in listed.json()["items"]] == [family_id]

    url = live.database.engine.url.render_as_string(hide_password=False)
    runtime = Database.connect(as_role(url, RUNTIME_ROLE), pool_size=1, max_overflow=0)
    signer = AuditSigner(Ed25519PrivateKey.generate())
    try:
        sealed = 0
        # An event seals once every transaction older than it has ended, in the whole
        # cluster (other databases' too): on a shared server that can take a moment.
        for _ in range(300):
            async with runtime.transaction() as session:
                assert await session.scalar(select(func.current_user())) == RUNTIME_ROLE
                sealed += await seal(session, 1000, signer)
            if sealed >= 2:
                break
            await asyncio.sleep(0.1)
        assert sealed >= 2
    finally:
        await runtime.dispose()
    async with live.database.transaction() as session:
        report = await verify(session, AuditKeyRing.of(signer.public_key))
        unsealed = await session.scalar(
            text("SELECT count(*) FROM audit_events WHERE block_id IS NULL")
        )
    assert report.intact
    assert unsealed == 0


# --- serving without migrating -------------------------------------------------------------


@pytest.fixture
def serve_environment(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("REGISTRY_MIGRATE_ON_START", "false")
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRY_LOG_JSON", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_serve_without_migrating_refuses_an_unmigrated_database(
    database_url, serve_environment, monkeypatch
):
    empty = await create_database(
        database_url, f"registry_wd_empty_{uuid.uuid4().hex[:8]}", template="template0"
    )
    try:
        monkeypatch.setenv("REGISTRY_DATABASE_URL", empty)
        exit_code = await asyncio.to_thread(run_cli, "serve", "--port", "0")
        assert isinstance(exit_code, str), exit_code
        assert "not migrated" in exit_code
        assert "run `registry migrate` as the schema's owner" in exit_code
        dsn, extra = asyncpg_dsn(empty)
        check = await asyncpg.connect(dsn, **extra)
        try:
            assert await check.fetchval("SELECT to_regclass('alembic_version')") is None
            assert (
                await check.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                == 0
            )
        finally:
            await check.close()
    finally:
        await drop_database(empty)


async def test_serve_without_migrating_leaves_an_old_schema_as_it_is(
    fresh_database_url, serve_environment, monkeypatch
):
    dsn, extra = asyncpg_dsn(fresh_database_url)
    owner = await asyncpg.connect(dsn, **extra)
    try:
        head = await owner.fetchval("SELECT version_num FROM alembic_version")
        await owner.execute("UPDATE alembic_version SET version_num = '0007'")
        monkeypatch.setenv("REGISTRY_DATABASE_URL", fresh_database_url)
        exit_code = await asyncio.to_thread(run_cli, "serve", "--port", "0")
        assert isinstance(exit_code, str), exit_code
        assert f"is at revision 0007; this version of the registry needs revision {head}" in (
            exit_code
        )
        assert await owner.fetchval("SELECT version_num FROM alembic_version") == "0007"
    finally:
        await owner.close()


async def test_serve_runs_as_the_runtime_role_without_migrating(fresh_database_url, tmp_path):
    """The production shape: the schema migrated by the owner beforehand, `registry serve`
    given only the runtime role's URL and REGISTRY_MIGRATE_ON_START=false."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": as_role(fresh_database_url, RUNTIME_ROLE),
        "REGISTRY_MIGRATE_ON_START": "false",
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_LOG_JSON": "true",
    }
    process = await start_cli("serve", "--port", "0", env=env)
    events: list[dict] = []
    try:
        while not any(e["event"] == "listening" for e in events):
            line = await asyncio.wait_for(process.stdout.readline(), WAIT_SECONDS)
            assert line, (await process.stderr.read()).decode()
            events.append(json.loads(line))
        (listening,) = [e for e in events if e["event"] == "listening"]
        settings = Settings(data_dir=tmp_path)
        officer = bearer(_token(settings, Role.COMMUNITY_OFFICER, territory=KYIV))
        async with httpx.AsyncClient(base_url=listening["address"], trust_env=False) as client:
            created = await client.post(FAMILIES, json=family(), headers=officer)
            assert created.status_code == 201, created.text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), WAIT_SECONDS)
    (role,) = [e for e in events if e["event"] == "serving_as_role"]
    assert role["role"] == RUNTIME_ROLE
    assert "database ready" not in json.dumps(events)  # it did not migrate


def test_the_embedded_server_is_served_as_the_runtime_role():
    """`registry serve` with no database URL migrates the embedded cluster as its superuser
    and serves as the runtime role, over the same socket (which the cluster trusts)."""
    settings = Settings(database_url=None, db_runtime_role="registry_app")
    embedded = "postgresql+asyncpg://postgres@/registry?host=/data/postgres"
    serving = make_url(_serving_url(embedded, settings))
    assert (serving.username, serving.password) == ("registry_app", None)
    assert (serving.database, serving.query["host"]) == ("registry", "/data/postgres")
    external = "postgresql+asyncpg://owner:secret@db:5432/registry"
    assert _serving_url(external, Settings(database_url=external)) == external
    runtime = "postgresql+asyncpg://registry_app:other@db:5432/registry"
    assert (
        _serving_url(external, Settings(database_url=external, runtime_database_url=runtime))
        == runtime
    )


# --- row-level security: a forgotten WHERE clause still finds nothing outside reach -------------


@dataclass
class Secured:
    """A database of its own with row-level security switched on (as `registry migrate`
    does with REGISTRY_DB_ROW_SECURITY=true), an application on it as the runtime role, and
    a family registered through it in Kyiv, Bucha and Lviv (Lviv's linked to a provider)."""

    owner: Database
    runtime: Database
    client: httpx.AsyncClient
    families: dict[str, str]
    provider_id: uuid.UUID

    async def ids_seen(self, reach: Reach | None, table: str = "families") -> set[str]:
        """The family ids the runtime role sees in ``table`` in a transaction of ``reach``
        (``None``: none set)."""
        column = "id" if table == "families" else "family_id"
        async with self.runtime.engine.begin() as connection:
            if reach is not None:
                await connection.execute(set_reach(reach))
            rows = await connection.exec_driver_sql(f"SELECT {column} FROM {table}")
            return {str(family_id) for family_id in rows.scalars()}


@pytest.fixture
async def secured(fresh_database_url, settings, verifier, make_token) -> AsyncIterator[Secured]:
    owner = Database.connect(fresh_database_url, pool_size=2, max_overflow=0)
    runtime = Database.connect(as_role(fresh_database_url, RUNTIME_ROLE), pool_size=2)
    try:
        async with owner.engine.begin() as connection:
            switched = await switch_row_security(connection, True)
        assert {"families", "persons"} <= set(switched)
        assert await runtime.detect_row_security(ROW_SECURITY_PROBE)
        assert not await owner.detect_row_security(ROW_SECURITY_PROBE)
        app = create_app(settings, database=runtime, verifier=verifier, seal_audit=False)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            families = {}
            for hromada in (KYIV, BUCHA, LVIV):
                officer = bearer(token(make_token, "community_officer", territory=hromada))
                families[hromada] = (await create_family(c, officer, family(hromada)))["id"]
            admin = bearer(token(make_token, "ministry_admin"))
            provider = await create_provider(c, admin)
            lviv = bearer(token(make_token, "community_officer", territory=LVIV))
            linked = await c.post(
                f"{FAMILIES}/{families[LVIV]}/providers",
                json={"provider_id": provider["id"]},
                headers=lviv,
            )
            assert linked.status_code == 201, linked.text
            yield Secured(owner, runtime, c, families, uuid.UUID(provider["id"]))
    finally:
        await runtime.dispose()
        await owner.dispose()


async def test_without_a_reach_the_runtime_role_sees_no_personal_row(secured):
    assert await secured.ids_seen(None) == set()
    assert await secured.ids_seen(None, "persons") == set()
    assert await secured.ids_seen(NOWHERE) == set()
    # The owner (migrations, the command line's jobs) is not held to it.
    async with secured.owner.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM families")) == 3


async def test_each_reach_sees_only_its_families_and_their_members(secured):
    kyiv, bucha, lviv = (secured.families[code] for code in (KYIV, BUCHA, LVIV))
    for reach, expected in [
        (Reach(territory=KYIV), {kyiv}),
        (Reach(territory=BUCHA), {bucha}),
        (Reach(territory=KYIV_OBLAST), {bucha}),  # Kyiv city is not in Kyiv oblast
        (Reach(territory=LVIV_OBLAST), {lviv}),
        (Reach(provider_id=secured.provider_id), {lviv}),
        (Reach(provider_id=uuid.uuid4()), set()),
        (NATIONAL, {kyiv, bucha, lviv}),
    ]:
        assert await secured.ids_seen(reach) == expected, reach
        assert await secured.ids_seen(reach, "persons") == expected, reach


async def test_a_write_outside_reach_finds_nothing_and_a_row_put_outside_is_refused(secured):
    bucha = secured.families[BUCHA]
    async with secured.runtime.engine.connect() as connection:
        async with connection.begin():
            await connection.execute(set_reach(Reach(territory=KYIV)))
            changed = await connection.execute(
                text("UPDATE families SET phone = '+380440000000' WHERE id = :id"), {"id": bucha}
            )
            assert changed.rowcount == 0
        async with connection.begin():
            await connection.execute(set_reach(Reach(territory=KYIV)))
            with pytest.raises(DBAPIError, match="new row violates row-level security policy"):
                await connection.execute(
                    text(
                        "INSERT INTO families (id, oblast_code, raion_code, hromada_code, "
                        "created_by) VALUES (gen_random_uuid(), :oblast, :raion, :hromada, 'x')"
                    ),
                    {"oblast": KYIV_OBLAST, "raion": BUCHA_RAION, "hromada": BUCHA},
                )
            await connection.rollback()


async def test_a_query_that_forgot_its_confinement_returns_nothing_outside_reach(secured):
    """The domain's tables queried with no confinement clause, in a unit of work and on the
    fast path's connection of a Kyiv officer: the database keeps the other hromadas'
    families and members out."""
    officer = Principal.from_claims(
        {"sub": "officer", "role": "community_officer", "territory": KYIV}
    )
    kyiv = {uuid.UUID(secured.families[KYIV])}
    async with secured.runtime.transaction(reach=lambda: reach_of(officer)) as session:
        assert set((await session.execute(select(family_table.c.id))).scalars()) == kyiv
        members = select(person_table.c.family_id)
        assert set((await session.execute(members)).scalars()) == kyiv
    async with secured.runtime.statement_connection(reach=reach_of(officer)) as connection:
        assert {row["id"] for row in await connection.fetch("SELECT id FROM families")} == kyiv


async def test_unconfined_reaches_beyond_for_the_block_only(secured):
    """What a command reads beyond its caller's reach on purpose (``unconfined``): every
    family inside the block, the caller's own again after it, also after a refusal."""
    officer = Principal.from_claims(
        {"sub": "officer", "role": "community_officer", "territory": KYIV}
    )
    everything = {uuid.UUID(family_id) for family_id in secured.families.values()}
    kyiv = {uuid.UUID(secured.families[KYIV])}
    ids = select(family_table.c.id)
    async with secured.runtime.transaction(reach=lambda: reach_of(officer)) as session:
        async with unconfined(session):
            assert set((await session.execute(ids)).scalars()) == everything
            async with unconfined(session):  # nested: still beyond
                assert set((await session.execute(ids)).scalars()) == everything
            async with session.begin_nested():  # a savepoint keeps the block's reach
                assert set((await session.execute(ids)).scalars()) == everything
            assert set((await session.execute(ids)).scalars()) == everything
        assert set((await session.execute(ids)).scalars()) == kyiv
        with pytest.raises(Conflict):
            async with unconfined(session):
                raise Conflict("refused inside")
        assert set((await session.execute(ids)).scalars()) == kyiv


async def test_the_api_works_within_reach_under_row_level_security(secured, make_token):
    kyiv = bearer(token(make_token, "community_officer", territory=KYIV))
    own = await secured.client.get(f"{FAMILIES}/{secured.families[KYIV]}", headers=kyiv)
    assert own.status_code == 200
    assert len(own.json()["members"]) == 1
    other = await secured.client.get(f"{FAMILIES}/{secured.families[BUCHA]}", headers=kyiv)
    assert other.status_code == 404
    listed = await secured.client.get(FAMILIES, params={"hromada": KYIV}, headers=kyiv)
    assert [item["id"] for item in listed.json()["items"]] == [secured.families[KYIV]]
    # A name search's three statements all run within the reach (the families of the three
    # hromadas have members of the same name).
    name = own.json()["members"][0]["last_name"]
    searched = await secured.client.get(FAMILIES, params={"q": name}, headers=kyiv)
    assert [item["id"] for item in searched.json()["items"]] == [secured.families[KYIV]]
    staff = bearer(token(make_token, "provider_staff", provider_id=str(secured.provider_id)))
    served = await secured.client.get(f"{FAMILIES}/{secured.families[LVIV]}", headers=staff)
    assert served.status_code == 200, served.text


async def test_what_a_command_does_beyond_reach_on_purpose_works_under_it(secured, make_token):
    """An identifier registered outside the caller's reach is a 409 that says so (the
    command looks it up nationally), and a relocation moves a family out of its officer's
    reach and answers with it once (both ``unconfined``)."""
    kyiv = bearer(token(make_token, "community_officer", territory=KYIV))
    lviv = bearer(token(make_token, "community_officer", territory=LVIV))
    bucha = bearer(token(make_token, "community_officer", territory=BUCHA))
    lviv_family = await secured.client.get(f"{FAMILIES}/{secured.families[LVIV]}", headers=lviv)
    number = lviv_family.json()["members"][0]["rnokpp"]
    refused = await secured.client.post(
        FAMILIES, json=family(KYIV, members=[person(rnokpp=number)]), headers=kyiv
    )
    assert "already registered outside your reach" in assert_problem(refused, 409)["detail"]

    family_id = secured.families[KYIV]
    current = await secured.client.get(f"{FAMILIES}/{family_id}", headers=kyiv)
    moved = await secured.client.post(
        f"{FAMILIES}/{family_id}/relocation",
        json={"to_hromada_code": BUCHA, "reason": "родина переїхала"},
        headers=if_match(kyiv, current.json()["version"]),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["hromada_code"] == BUCHA
    assert (await secured.client.get(f"{FAMILIES}/{family_id}", headers=kyiv)).status_code == 404
    assert (await secured.client.get(f"{FAMILIES}/{family_id}", headers=bucha)).status_code == 200


async def test_servicemember_family_support_works_within_reach_under_row_level_security(
    secured, make_token
):
    """A unit's liaison reaches its servicemembers, their families and support cases (the
    database's ``registry.unit`` reach) and nothing of another unit's; the provider reaches
    the cases assigned to it and the family's hromada its coordination view; a transfer
    moves a case from one unit's reach to the other's."""
    client = secured.client
    admin = bearer(token(make_token, "ministry_admin"))
    criteria = (await client.get("/api/v1/support-criteria", headers=admin)).json()["items"]
    provider = await create_provider(
        client, admin, provider_body(support_criteria_met=[c["code"] for c in criteria])
    )
    units = []
    for number in ("А7001", "В7002"):
        created = await client.post(
            "/api/v1/military-units",
            json={
                "number": number,
                "name": "Бригада",
                "oblast_codes": [LVIV_OBLAST],
                "stage": "pilot",
                "joined_on": "2024-01-15",
                "provider_ids": [provider["id"]],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        units.append(created.json()["id"])
    liaison = bearer(token(make_token, "military_liaison", unit_id=units[0]))
    other_liaison = bearer(token(make_token, "military_liaison", unit_id=units[1]))
    recorded = await client.post(
        "/api/v1/servicemembers",
        json={"person": person(), "family": family(LVIV), "status": "serving"},
        headers=liaison,
    )
    assert recorded.status_code == 201, recorded.text
    servicemember = recorded.json()
    opened = await client.post(
        "/api/v1/support-cases",
        json={
            "servicemember_id": servicemember["id"],
            "provider_id": provider["id"],
            "worker_sub": "worker-1",
        },
        headers=liaison,
    )
    assert opened.status_code == 201, opened.text
    case_url = f"/api/v1/support-cases/{opened.json()['id']}"
    changed = await client.post(
        f"/api/v1/servicemembers/{servicemember['id']}/status",
        json={"status": "missing"},
        headers=liaison,
    )
    assert changed.status_code == 201, changed.text
    planned = (await client.get(case_url, headers=liaison)).json()["measures"]
    assert planned, "the status change planned the catalogue's measures under row security"

    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    lviv = bearer(token(make_token, "community_officer", territory=LVIV))
    kyiv = bearer(token(make_token, "community_officer", territory=KYIV))
    assert (await client.get(case_url, headers=staff)).status_code == 200
    assert (await client.get(case_url, headers=lviv)).status_code == 200
    assert (await client.get(case_url, headers=kyiv)).status_code == 404
    assert (await client.get(case_url, headers=other_liaison)).status_code == 404

    family_id = servicemember["family_id"]
    first, second = (Reach(unit_id=uuid.UUID(unit)) for unit in units)
    for table in ("support_cases", "servicemembers"):
        assert await secured.ids_seen(first, table) == {family_id}
        assert await secured.ids_seen(second, table) == set()
        assert await secured.ids_seen(NOWHERE, table) == set()
    assert family_id in await secured.ids_seen(first)  # the family itself, by its servicemember
    assert family_id not in await secured.ids_seen(second)

    current = await client.get(f"/api/v1/servicemembers/{servicemember['id']}", headers=liaison)
    moved = await client.post(
        f"/api/v1/servicemembers/{servicemember['id']}/transfer",
        json={"unit_id": units[1]},
        headers=if_match(liaison, current.json()["version"]),
    )
    assert moved.status_code == 200, moved.text
    assert (await client.get(case_url, headers=liaison)).status_code == 404
    assert (await client.get(case_url, headers=other_liaison)).status_code == 200
    assert await secured.ids_seen(second, "support_cases") == {family_id}


async def test_the_service_starts_while_the_database_is_unreachable(settings, verifier):
    """Whether row-level security applies is asked at startup; a database that does not
    answer yet leaves the reach set on every unit of work (harmless where it is not
    enforced) rather than keeping the service from starting."""
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://registry_app@127.0.0.1:9/registry"}
    )
    app = create_app(unreachable, verifier=verifier, seal_audit=False)
    async with app.router.lifespan_context(app):
        assert app.state.database.row_security is True
