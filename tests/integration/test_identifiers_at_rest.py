"""National identifiers at rest: the database holds RNOKPP, UNZR and IDP certificate numbers
only sealed (and RNOKPP and UNZR as keyed blind indexes); the API shows them opened, finds
families by them, and refuses them twice as before; a value altered or moved to another row
is refused loudly, never shown; ``registry keys rotate`` reseals everything under a new key,
after which the old key can go; migration 0010 seals the plaintext an existing database holds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.db.engine import Database
from registry.db.migrate import alembic_config, upgrade
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.commands import import_codifier
from registry.main import create_app
from registry.settings import Settings, get_settings
from tests.support import (
    BUCHA,
    FAMILIES,
    IDENTIFIER_KEYS,
    IDENTIFIER_KEYS_DOCUMENT,
    KYIV_OBLAST,
    PROBLEM_JSON,
    PROVIDERS,
    Live,
    bearer,
    create_database,
    create_family,
    drop_database,
    family,
    if_match,
    person,
    provider_body,
    rnokpp,
    run_cli,
    token,
    unzr,
)

IDP_CERTIFICATE = "IDP-0417-5523981"


def _url(family_id: str, *parts: str) -> str:
    return "/".join((FAMILIES, family_id, *parts))


def _traces(number: str) -> set[str]:
    """How a number would show in a row's text form: as itself, or inside a bytea in hex."""
    return {number, number.encode().hex()}


async def _every_row_as_text(connection: AsyncConnection) -> str:
    """Every row of every table of the registry's schema, as PostgreSQL writes it out."""
    tables = (
        await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        )
    ).scalars()
    rows = []
    for table in tables:
        rows.extend((await connection.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars())
    return "\n".join(rows)


async def _sealed_row(connection: AsyncConnection, person_id: str) -> dict[str, Any]:
    row = (
        (
            await connection.execute(
                text(
                    "SELECT rnokpp_sealed, rnokpp_index, unzr_sealed, unzr_index, "
                    "idp_certificate_sealed FROM persons WHERE id = :id"
                ),
                {"id": person_id},
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


# --- nothing readable in the database ------------------------------------------------------------


async def test_the_database_holds_no_identifier_in_plaintext(client, connection, worker):
    head = person(idp_certificate=IDP_CERTIFICATE)
    body = family(BUCHA, members=[head])
    response = await client.post(
        FAMILIES, json=body, headers={**worker, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    member = created["members"][0]
    # A change writes new numbers, noted in the history of changes.
    changed = {
        "rnokpp": rnokpp(head["birth_date"]),
        "unzr": unzr(head["birth_date"]),
        "idp_certificate": "IDP-9001-0000007",
    }
    updated = await client.patch(
        _url(created["id"], "members", member["id"]),
        json=changed,
        headers=if_match(worker, member["version"]),
    )
    assert updated.status_code == 200, updated.text

    dump = await _every_row_as_text(connection)
    numbers = [head["rnokpp"], head["unzr"], IDP_CERTIFICATE, *changed.values()]
    for number in numbers:
        for trace in _traces(number) | _traces(number.replace("-", "")):
            assert trace not in dump, f"{number} is readable in the database"
    # …while the caller got them, and the history names the fields that changed.
    assert {k: updated.json()[k] for k in changed} == changed
    noted = await connection.scalar(
        text(
            "SELECT changed_fields FROM record_changes WHERE resource_id = :id ORDER BY version "
            "DESC LIMIT 1"
        ),
        {"id": member["id"]},
    )
    assert set(noted) == set(changed)


async def test_a_value_is_sealed_for_its_row_and_column_under_the_active_key(
    client, connection, worker
):
    head = person(idp_certificate=IDP_CERTIFICATE)
    created = await create_family(client, worker, family(BUCHA, members=[head]))
    person_id = created["members"][0]["id"]
    row = await _sealed_row(connection, person_id)
    # The envelope names its key; the blind index is the keyed digest of the number.
    assert row["rnokpp_sealed"][:2] == bytes((1, len(IDENTIFIER_KEYS.active)))
    assert row["rnokpp_sealed"][2:8] == IDENTIFIER_KEYS.active.encode()
    assert row["rnokpp_index"] == IDENTIFIER_KEYS.blind_index("rnokpp", head["rnokpp"])
    assert row["unzr_index"] == IDENTIFIER_KEYS.blind_index("unzr", head["unzr"])
    assert (
        IDENTIFIER_KEYS.open_text(row["rnokpp_sealed"], "persons.rnokpp", person_id)
        == (head["rnokpp"])
    )
    assert IDENTIFIER_KEYS.open_text(
        row["idp_certificate_sealed"], "persons.idp_certificate", person_id
    ) == (IDP_CERTIFICATE)


async def test_a_stored_answer_is_sealed_and_replayed_as_it_was(client, connection, worker):
    key = str(uuid.uuid4())
    body = family(BUCHA)
    first = await client.post(FAMILIES, json=body, headers={**worker, "Idempotency-Key": key})
    actor, stored = (
        await connection.execute(
            text("SELECT actor, body FROM idempotency_keys WHERE key = :key"), {"key": key}
        )
    ).one()
    assert body["members"][0]["rnokpp"].encode() not in stored
    assert body["members"][0]["last_name"].encode() not in stored
    assert IDENTIFIER_KEYS.open(stored, "idempotency_keys.body", actor, key) == first.content
    replay = await client.post(FAMILIES, json=body, headers={**worker, "Idempotency-Key": key})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content


# --- the API works on them as before -------------------------------------------------------------


async def test_the_api_shows_the_identifiers_opened(client, worker):
    head = person(idp_certificate=IDP_CERTIFICATE)
    created = await create_family(client, worker, family(BUCHA, members=[head]))
    member = created["members"][0]
    expected = {"rnokpp": head["rnokpp"], "unzr": head["unzr"], "idp_certificate": IDP_CERTIFICATE}
    assert {k: member[k] for k in expected} == expected
    for path in (_url(created["id"]), _url(created["id"], "members", member["id"])):
        shown = (await client.get(path, headers=worker)).json()
        shown = shown["members"][0] if "members" in shown else shown
        assert {k: shown[k] for k in expected} == expected
    listed = (await client.get(FAMILIES, params={"hromada": BUCHA}, headers=worker)).json()
    (found,) = [f for f in listed["items"] if f["id"] == created["id"]]
    assert {k: found["members"][0][k] for k in expected} == expected


async def test_an_overseer_sees_them_opened_then_masked(client, worker, make_token):
    head = person(idp_certificate=IDP_CERTIFICATE)
    created = await create_family(client, worker, family(BUCHA, members=[head]))
    regional = bearer(token(make_token, "regional_officer", territory=KYIV_OBLAST))
    shown = (await client.get(_url(created["id"]), headers=regional)).json()["members"][0]
    assert shown["rnokpp"] == "********" + head["rnokpp"][-2:]
    assert shown["idp_certificate"] == "*" * (len(IDP_CERTIFICATE) - 2) + IDP_CERTIFICATE[-2:]


async def test_lookup_by_rnokpp_and_unzr_finds_the_family(client, worker):
    head = person()
    created = await create_family(client, worker, family(BUCHA, members=[head]))
    other = await create_family(client, worker, family(BUCHA))
    for name in ("rnokpp", "unzr"):
        found = await client.get(FAMILIES, params={name: head[name]}, headers=worker)
        assert found.status_code == 200, found.text
        assert [f["id"] for f in found.json()["items"]] == [created["id"]]
    nobody = await client.get(FAMILIES, params={"rnokpp": rnokpp("1990-01-01")}, headers=worker)
    assert nobody.json()["items"] == []
    assert other["id"] != created["id"]


async def test_the_same_rnokpp_twice_is_refused_as_before(client, worker):
    head = person()
    first = await create_family(client, worker, family(BUCHA, members=[head]))
    again = await client.post(
        FAMILIES, json=family(BUCHA, members=[person(rnokpp=head["rnokpp"])]), headers=worker
    )
    assert again.status_code == 409
    problem = again.json()
    assert problem["existing_family_id"] == first["id"]
    assert problem["errors"] == [
        {"field": "body.members.0.rnokpp", "message": "already registered for another person"}
    ]
    same_unzr = await client.post(
        _url(first["id"], "members"), json=person(unzr=head["unzr"]), headers=worker
    )
    assert same_unzr.status_code == 409


async def test_a_provider_rnokpp_is_sealed_found_twice_and_shown(client, connection, admin):
    body = provider_body(kind="natural_person", edrpou=None, rnokpp=rnokpp("1979-08-23"))
    created = await client.post(PROVIDERS, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["rnokpp"] == body["rnokpp"]
    row = (
        (
            await connection.execute(
                text("SELECT p::text AS dump, rnokpp_index FROM providers p WHERE id = :id"),
                {"id": created.json()["id"]},
            )
        )
        .mappings()
        .one()
    )
    assert not any(trace in row["dump"] for trace in _traces(body["rnokpp"]))
    assert row["rnokpp_index"] == IDENTIFIER_KEYS.blind_index("rnokpp", body["rnokpp"])
    again = await client.post(PROVIDERS, json={**body, "full_name": "Інша"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["existing_provider_id"] == created.json()["id"]


# --- a value altered or moved is refused ---------------------------------------------------------


async def _get_refused(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    with structlog.testing.capture_logs() as logs:
        response = await client.get(path, headers=headers)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:registry:problem:integrity-error"
    assert problem["title"] == "Stored data failed its integrity check"
    assert "members" not in problem
    (event,) = [log for log in logs if log["event"] == "sealed_value_rejected"]
    assert event["log_level"] == "error"
    return problem, event, response.text


async def test_a_sealed_value_moved_to_another_row_does_not_open(client, connection, worker):
    victim = person()
    holder = await create_family(client, worker, family(BUCHA, members=[victim]))
    target = await create_family(client, worker, family(BUCHA, members=[person(rnokpp=None)]))
    # Someone with the database copies a sealed number to a row of their choosing (with an
    # index of its own: the number's would clash with its holder's).
    await connection.execute(
        text(
            "UPDATE persons SET rnokpp_sealed = source.rnokpp_sealed, "
            "rnokpp_index = decode(repeat('00', 32), 'hex') FROM persons source "
            "WHERE source.id = :source AND persons.id = :target"
        ),
        {"source": holder["members"][0]["id"], "target": target["members"][0]["id"]},
    )
    for path in (_url(target["id"]), _url(target["id"], "members")):
        _, event, raw = await _get_refused(client, path, worker)
        assert victim["rnokpp"] not in raw
        assert event["place"] == "persons.rnokpp"
        assert event["key_id"] == IDENTIFIER_KEYS.active
        assert victim["rnokpp"] not in json.dumps(event)
    # The row it came from still opens.
    assert (await client.get(_url(holder["id"]), headers=worker)).status_code == 200


async def test_an_altered_sealed_value_is_detected(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA))
    person_id = created["members"][0]["id"]
    # One bit of the ciphertext flipped: it must not open as some other number.
    await connection.execute(
        text(
            "UPDATE persons SET unzr_sealed = set_byte(unzr_sealed, length(unzr_sealed) - 20, "
            "get_byte(unzr_sealed, length(unzr_sealed) - 20) # 1) WHERE id = :id"
        ),
        {"id": person_id},
    )
    _, event, _ = await _get_refused(client, _url(created["id"]), worker)
    assert event["place"] == "persons.unzr"
    assert "integrity" in event["reason"]


# --- rotation ------------------------------------------------------------------------------------


def _keys_document(active: str, *key_ids: str, new: dict[str, str]) -> dict[str, Any]:
    """The tests' keys document with ``new`` keys added, keeping only ``key_ids``."""
    keys = {**IDENTIFIER_KEYS_DOCUMENT["keys"], **new}
    return {
        "active": active,
        "keys": {key_id: keys[key_id] for key_id in key_ids},
        "index_key": IDENTIFIER_KEYS_DOCUMENT["index_key"],
    }


async def _cli(*argv: str, capsys: Any) -> tuple[object, Any]:
    """``registry *argv`` (in a thread: it runs its own event loop): its exit code and the
    JSON it printed."""
    capsys.readouterr()  # what the application logged before
    code = await asyncio.to_thread(run_cli, *argv)
    out = capsys.readouterr().out
    return code, json.loads(out[out.index("{\n") :])


@pytest.fixture
async def app_client(settings, verifier) -> AsyncIterator[Any]:
    """``open(database, keys)``: a client of an application on ``database`` with ``keys``."""
    clients: list[httpx.AsyncClient] = []

    async def open_client(database: Database, keys: IdentifierKeys) -> httpx.AsyncClient:
        app = create_app(
            settings, database=database, verifier=verifier, identifier_keys=keys, seal_audit=False
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://registry.test")
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()


async def test_keys_rotate_reseals_everything_and_the_old_key_can_go(
    live: Live, cli_database, worker, admin, app_client, monkeypatch, capsys, tmp_path
):
    key = str(uuid.uuid4())
    members = [person(idp_certificate=IDP_CERTIFICATE), person(relation="spouse")]
    first = await live.client.post(
        FAMILIES,
        json=family(BUCHA, members=members),
        headers={**worker, "Idempotency-Key": key},
    )
    assert first.status_code == 201
    others = [await create_family(live.client, worker, family(BUCHA)) for _ in range(3)]
    provider = await live.client.post(
        PROVIDERS,
        json=provider_body(kind="natural_person", edrpou=None, rnokpp=rnokpp("1968-03-02")),
        headers=admin,
    )
    assert provider.status_code == 201, provider.text

    new_key = base64.b64encode(b"\x07" * 32).decode()
    old = IDENTIFIER_KEYS.active
    only_new = IdentifierKeys.from_document(
        _keys_document("test-2", "test-2", new={"test-2": new_key})
    )
    # Before the rotation, a process that knows only the new key cannot read the records.
    before = await app_client(live.database, only_new)
    refused = await before.get(_url(first.json()["id"]), headers=worker)
    assert refused.status_code == 500
    assert refused.json()["type"] == "urn:registry:problem:integrity-error"

    both = tmp_path / "rotating.json"
    both.write_text(json.dumps(_keys_document("test-2", old, "test-2", new={"test-2": new_key})))
    monkeypatch.setenv("REGISTRY_IDENTIFIER_KEYS_FILE", str(both))
    get_settings.cache_clear()
    code, summary = await _cli("keys", "rotate", "--batch-size", "2", capsys=capsys)
    assert code == 0
    assert summary["active_key"] == "test-2"
    persons = 2 + 3  # each family of `others` has one member
    assert summary["persons"] == {
        "rows_read": persons,
        "rows_resealed": persons,
        "values_resealed": 2 * persons + 1,  # RNOKPP and UNZR each, one IDP certificate
    }
    assert summary["providers"]["values_resealed"] == 1
    assert summary["idempotency_keys"]["rows_resealed"] == 1
    assert summary["rejected"] == []

    async with live.database.engine.connect() as connection:
        prefixes = (
            await connection.execute(
                text(
                    "SELECT DISTINCT substring(v FROM 3 FOR 6) FROM (SELECT rnokpp_sealed AS v "
                    "FROM persons UNION ALL SELECT unzr_sealed FROM persons UNION ALL "
                    "SELECT idp_certificate_sealed FROM persons UNION ALL SELECT rnokpp_sealed "
                    "FROM providers UNION ALL SELECT body FROM idempotency_keys) sealed "
                    "WHERE v IS NOT NULL"
                )
            )
        ).scalars()
        assert set(prefixes) == {b"test-2"}
        versions = (await connection.execute(text("SELECT DISTINCT version FROM persons"))).all()
        assert versions == [(1,)]  # the records did not change: same version, same ETag

    # With the old key gone, everything still opens, the stored answer too.
    after = await app_client(live.database, only_new)
    shown = (await after.get(_url(first.json()["id"]), headers=worker)).json()
    assert sorted((m["rnokpp"], m["unzr"], m["idp_certificate"]) for m in shown["members"]) == (
        sorted((m["rnokpp"], m["unzr"], m.get("idp_certificate")) for m in members)
    )
    for created in others:
        assert (await after.get(_url(created["id"]), headers=worker)).status_code == 200
    found = await after.get(FAMILIES, params={"rnokpp": members[1]["rnokpp"]}, headers=worker)
    assert [f["id"] for f in found.json()["items"]] == [first.json()["id"]]
    replay = await after.post(
        FAMILIES,
        json=family(BUCHA, members=members),
        headers={**worker, "Idempotency-Key": key},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert (await after.get(f"{PROVIDERS}/{provider.json()['id']}", headers=admin)).json()[
        "rnokpp"
    ] == provider.json()["rnokpp"]

    # A second run finds nothing left to do.
    code, again = await _cli("keys", "rotate", capsys=capsys)
    assert code == 0
    assert again["persons"]["rows_resealed"] == 0
    assert again["idempotency_keys"]["rows_resealed"] == 0


async def test_keys_rotate_lists_what_does_not_open_and_fails(
    live: Live, cli_database, worker, monkeypatch, capsys, tmp_path
):
    created = await create_family(live.client, worker, family(BUCHA))
    person_id = created["members"][0]["id"]
    async with live.database.transaction() as session:
        await session.execute(
            text("UPDATE persons SET unzr_sealed = unzr_sealed || '\\x00'::bytea WHERE id = :id"),
            {"id": person_id},
        )
    # With nothing to rotate, the run still opens every value: it finds the altered one.
    code, summary = await _cli("keys", "rotate", capsys=capsys)
    assert code == 1
    assert summary["rejected"] == [{"table": "persons", "key": [person_id]}]
    assert summary["persons"]["rows_resealed"] == 0

    rotating = tmp_path / "rotating.json"
    new_key = base64.b64encode(b"\x09" * 32).decode()
    rotating.write_text(
        json.dumps(
            _keys_document("test-3", IDENTIFIER_KEYS.active, "test-3", new={"test-3": new_key})
        )
    )
    monkeypatch.setenv("REGISTRY_IDENTIFIER_KEYS_FILE", str(rotating))
    get_settings.cache_clear()
    code, summary = await _cli("keys", "rotate", capsys=capsys)
    assert code == 1
    assert summary["rejected"] == [{"table": "persons", "key": [person_id]}]
    assert summary["persons"]["rows_resealed"] == 0


def test_keys_rotate_refuses_an_unusable_keys_file(cli_database, monkeypatch, tmp_path):
    broken = tmp_path / "keys.json"
    broken.write_text(json.dumps({"active": "a", "keys": {"a": "c2hvcnQ="}, "index_key": "x"}))
    monkeypatch.setenv("REGISTRY_IDENTIFIER_KEYS_FILE", str(broken))
    get_settings.cache_clear()
    assert run_cli("keys", "rotate") == "registry: key a must be 32 bytes (AES-256)"
    assert run_cli("keys", "rotate", "--batch-size", "0") == 2


# --- migration 0010 on a database with data ------------------------------------------------------


@pytest.fixture
async def database_before_sealing(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """A new database migrated to the revision before 0010, with the codifier: its URL and
    that revision."""
    name = f"registry_we_premigration_{uuid.uuid4().hex[:8]}"
    url = await create_database(database_url, name, template="template0")
    settings = Settings()
    script = ScriptDirectory.from_config(alembic_config(settings.migrations_dir))
    previous = script.get_revision("0010").down_revision
    assert isinstance(previous, str)
    database = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        await upgrade(database.engine, settings.migrations_dir, previous)
        async with database.transaction() as session:
            await import_codifier(session)
    finally:
        await database.dispose()
    yield url, previous
    await drop_database(url)


async def test_migration_seals_the_plaintext_of_an_existing_database(
    database_before_sealing, settings, verifier, app_client, worker, admin
):
    url, previous = database_before_sealing
    family_id, person_ids, provider_id = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()], uuid.uuid4()
    head = person(idp_certificate=IDP_CERTIFICATE)
    spouse = person(relation="spouse", unzr=None)
    provider_rnokpp = rnokpp("1979-08-23")
    answer = json.dumps({"members": [{"rnokpp": head["rnokpp"]}]}).encode()
    database = Database.connect(url, pool_size=2, max_overflow=0)
    try:
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO families (id, oblast_code, raion_code, hromada_code, created_by) "
                    "SELECT :id, r.parent_code, h.parent_code, h.code, 'before' "
                    "FROM territories h JOIN territories r ON r.code = h.parent_code "
                    "WHERE h.code = :bucha"
                ),
                {"id": family_id, "bucha": BUCHA},
            )
            for person_id, member in zip(person_ids, (head, spouse), strict=True):
                await session.execute(
                    text(
                        "INSERT INTO persons (id, family_id, oblast_code, last_name, first_name, "
                        "name_key, latin_key, birth_date, sex, relation, rnokpp, unzr, "
                        "idp_certificate) SELECT :id, f.id, f.oblast_code, 'Шевченко', 'Оксана', "
                        "'шевченко оксана', 'shevchenko oksana', :born, 'female', :relation, "
                        ":rnokpp, :unzr, :idp FROM families f WHERE f.id = :family"
                    ),
                    {
                        "id": person_id,
                        "family": family_id,
                        "born": date.fromisoformat(member["birth_date"]),
                        "relation": member["relation"],
                        "rnokpp": member["rnokpp"],
                        "unzr": member["unzr"],
                        "idp": member.get("idp_certificate"),
                    },
                )
            await session.execute(
                text(
                    "INSERT INTO providers (id, kind, sector, rnokpp, full_name, name_key, "
                    "oblast_code, hromada_code, created_by) SELECT :id, 'natural_person', "
                    "'non_state', :rnokpp, 'Коваль Ірина', 'коваль ірина', f.oblast_code, "
                    "f.hromada_code, 'before' FROM families f WHERE f.id = :family"
                ),
                {"id": provider_id, "rnokpp": provider_rnokpp, "family": family_id},
            )
            await session.execute(
                text(
                    "INSERT INTO idempotency_keys (actor, key, fingerprint, status_code, body) "
                    "VALUES ('someone', 'k-1', 'f', 201, :body)"
                ),
                {"body": answer},
            )

        await upgrade(database.engine, settings.migrations_dir, identifier_keys=IDENTIFIER_KEYS)

        async with database.engine.connect() as connection:
            dump = await _every_row_as_text(connection)
            for number in (head["rnokpp"], head["unzr"], spouse["rnokpp"], provider_rnokpp):
                assert not any(trace in dump for trace in _traces(number)), number
            columns = set(
                (
                    await connection.execute(
                        text(
                            "SELECT table_name || '.' || column_name FROM "
                            "information_schema.columns WHERE table_schema = 'public'"
                        )
                    )
                ).scalars()
            )
            assert not {"persons.rnokpp", "persons.unzr", "persons.idp_certificate"} & columns
            assert "providers.rnokpp" not in columns
            spouse_row = await _sealed_row(connection, str(person_ids[1]))
            assert spouse_row["unzr_sealed"] is None
            assert spouse_row["unzr_index"] is None
            assert spouse_row["idp_certificate_sealed"] is None
            assert spouse_row["rnokpp_index"] == IDENTIFIER_KEYS.blind_index(
                "rnokpp", spouse["rnokpp"]
            )
            body = await connection.scalar(text("SELECT body FROM idempotency_keys"))
            assert IDENTIFIER_KEYS.open(body, "idempotency_keys.body", "someone", "k-1") == answer

        client = await app_client(database, IDENTIFIER_KEYS)
        shown = (await client.get(_url(str(family_id)), headers=worker)).json()
        assert sorted((m["rnokpp"], m["unzr"], m["idp_certificate"]) for m in shown["members"]) == (
            sorted(
                [(head["rnokpp"], head["unzr"], IDP_CERTIFICATE), (spouse["rnokpp"], None, None)]
            )
        )
        found = await client.get(FAMILIES, params={"unzr": head["unzr"]}, headers=worker)
        assert [f["id"] for f in found.json()["items"]] == [str(family_id)]
        twice = await client.post(
            FAMILIES, json=family(BUCHA, members=[person(rnokpp=head["rnokpp"])]), headers=worker
        )
        assert twice.status_code == 409
        provider = await client.get(f"{PROVIDERS}/{provider_id}", headers=admin)
        assert provider.json()["rnokpp"] == provider_rnokpp

        # And back: the downgrade opens them into the plaintext columns again.
        from alembic import command

        config = alembic_config(settings.migrations_dir)

        def downgrade(connection: Any) -> None:
            config.attributes["connection"] = connection
            config.attributes["identifier_keys"] = IDENTIFIER_KEYS
            command.downgrade(config, previous)

        async with database.engine.begin() as connection:
            await connection.run_sync(downgrade)
            restored = (
                await connection.execute(
                    text("SELECT rnokpp, unzr, idp_certificate FROM persons ORDER BY relation")
                )
            ).all()
            assert restored == [
                (head["rnokpp"], head["unzr"], IDP_CERTIFICATE),
                (spouse["rnokpp"], None, None),
            ]
            assert await connection.scalar(text("SELECT body FROM idempotency_keys")) == answer
    finally:
        await database.dispose()
