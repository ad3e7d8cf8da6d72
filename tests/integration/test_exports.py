"""Bulk exports (issue 17 §3): requested through the API (202 and a status URL), written by the
worker's pass (``registry.worker.exports.run_once``, called here directly) into NDJSON files of
bounded size whose digests and sizes match what is served, downloaded with ``Range``, confined
and masked as the requester reads through the API, audited once per export, and expired."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.db.engine import Database
from registry.db.provision import as_role
from registry.main import ROW_SECURITY_PROBE
from registry.settings import Settings
from registry.worker import exports as export_pass
from tests.support import (
    BUCHA,
    FAMILIES,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    RUNTIME_ROLE,
    assert_problem,
    bearer,
    create_family,
    error_fields,
    family,
    token,
)

EXPORTS = "/api/v1/exports"
CASES = "/api/v1/cases"
CHANGES = "/api/v1/changes"
#: Small enough that a handful of families fills several files (a family of one member is
#: ≈ 1.2 KB as a line).
PORTION = 3000


@pytest.fixture
def pass_settings(app: Any) -> Settings:
    """The application's settings (so the worker writes where the API serves from), with
    small portions."""
    settings: Settings = app.state.settings
    return settings.model_copy(update={"export_portion_bytes": PORTION})


async def run_pass(app: Any, settings: Settings) -> int:
    return await export_pass.run_once(app.state.database, settings)


async def request(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(EXPORTS, json=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def ready(
    client: httpx.AsyncClient, app: Any, settings: Settings, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    """An export requested, written by one pass, and its status read."""
    export = await request(client, headers, **body)
    assert await run_pass(app, settings) == 1
    response = await client.get(f"{EXPORTS}/{export['id']}", headers=headers)
    assert response.status_code == 200, response.text
    status = dict(response.json())
    assert status["status"] == "ready", status
    return status


async def download(
    client: httpx.AsyncClient, headers: dict[str, str], file: dict[str, Any]
) -> bytes:
    response = await client.get(file["href"], headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return response.content


async def lines(
    client: httpx.AsyncClient, headers: dict[str, str], export: dict[str, Any], kind: str
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for file in export["files"]:
        if file["type"] == kind:
            body = await download(client, headers, file)
            records += [json.loads(line) for line in body.decode().splitlines()]
    return records


def regional(make_token: Any, oblast: str = KYIV_OBLAST, **claims: Any) -> dict[str, str]:
    return bearer(token(make_token, "regional_officer", territory=oblast, **claims))


# --- the request ---------------------------------------------------------------------------------


async def test_a_request_is_accepted_with_a_status_url(client, admin):
    response = await client.post(EXPORTS, json={"types": ["family", "case"]}, headers=admin)
    assert response.status_code == 202, response.text
    export = response.json()
    assert response.headers["location"] == f"{EXPORTS}/{export['id']}"
    assert export["status"] == "pending"
    assert export["types"] == ["family", "case"]
    assert export["files"] == []
    assert export["counts"] == {}
    status = await client.get(response.headers["location"], headers=admin)
    assert status.status_code == 200
    assert status.json()["status"] == "pending"
    listed = await client.get(EXPORTS, headers=admin)
    assert [e["id"] for e in listed.json()["items"]] == [export["id"]]


async def test_the_same_idempotency_key_answers_the_first_request(client, admin, connection):
    headers = {**admin, "Idempotency-Key": "export-once"}
    first = await client.post(EXPORTS, json={"types": ["family"]}, headers=headers)
    again = await client.post(EXPORTS, json={"types": ["family"]}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert await connection.scalar(text("SELECT count(*) FROM exports")) == 1
    other = await client.post(EXPORTS, json={"types": ["case"]}, headers=headers)
    assert_problem(other, 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"types": ["family", "payments"]}, "body.types.1"),
        ({"types": []}, "body.types"),
        ({"types": ["family", "family"]}, "body.types"),
        ({"types": ["family"], "since": "yesterday"}, "body.since"),
        ({"types": ["family"], "since": "2026-01-01T00:00:00"}, "body.since"),
        ({"types": ["family"], "territory": "Kyiv"}, "body.territory"),
        ({"types": ["family"], "territory": "UA99999999999999999"}, "body.territory"),
        ({"types": ["family"], "format": "csv"}, "body.format"),
    ],
)
async def test_invalid_requests_are_422_and_create_nothing(client, admin, connection, body, field):
    response = await client.post(EXPORTS, json=body, headers=admin)
    assert field in error_fields(assert_problem(response, 422))
    assert await connection.scalar(text("SELECT count(*) FROM exports")) == 0


async def test_a_territory_beyond_reach_is_422(client, make_token, connection):
    officer = regional(make_token)
    response = await client.post(
        EXPORTS, json={"types": ["family"], "territory": LVIV}, headers=officer
    )
    assert "body.territory" in error_fields(assert_problem(response, 422))
    # Within reach: the oblast itself, a hromada of it.
    for inside in (KYIV_OBLAST, BUCHA):
        await request(client, officer, types=["family"], territory=inside)
    assert await connection.scalar(text("SELECT count(*) FROM exports")) == 2


async def test_three_unfinished_exports_at_most_per_requester(
    client, app, admin, make_token, pass_settings
):
    for _ in range(3):
        await request(client, admin, types=["family"])
    refused = await client.post(EXPORTS, json={"types": ["family"]}, headers=admin)
    assert "3 exports waiting or running" in assert_problem(refused, 409)["detail"]
    # Another caller is not held by them; and once one is done, the requester may ask again.
    other = bearer(token(make_token, "ministry_admin", sub="another-admin"))
    await request(client, other, types=["family"])
    assert await run_pass(app, pass_settings) == 1
    await request(client, admin, types=["family"])


async def test_who_may_export(client, make_token):
    analyst = bearer(token(make_token, "ministry_analyst"))
    assert_problem(await client.post(EXPORTS, json={"types": ["family"]}, headers=analyst), 403)
    social_worker = bearer(token(make_token, "social_worker", territory=BUCHA))
    assert_problem(
        await client.post(EXPORTS, json={"types": ["family"]}, headers=social_worker), 403
    )
    # An integration client needs exports:create and the read permission of every type.
    client_token = bearer(
        token(
            make_token,
            "integration",
            territory=KYIV_OBLAST,
            scope="exports:create families:read",
        )
    )
    await request(client, client_token, types=["family"])
    refused = await client.post(EXPORTS, json={"types": ["case"]}, headers=client_token)
    assert assert_problem(refused, 403)["record_type"] == "case"


# --- the worker's pass ---------------------------------------------------------------------------


async def test_files_are_portions_within_the_limit_whose_digests_match(
    client, app, admin, officer, pass_settings
):
    created = [
        await create_family(client, officer, family(KYIV, address_line=f"вул. Садова, {n}"))
        for n in range(7)
    ]
    export = await ready(client, app, pass_settings, admin, types=["family"], territory=KYIV)
    files = export["files"]
    assert len(files) >= 3
    exported: list[str] = []
    for number, file in enumerate(files, 1):
        assert file["number"] == number
        assert file["name"] == f"family-{number:05d}.ndjson"
        assert file["href"] == f"{EXPORTS}/{export['id']}/files/{number}"
        body = await download(client, admin, file)
        assert 0 < len(body) == file["bytes"] <= PORTION
        assert hashlib.sha256(body).hexdigest() == file["sha256"]
        records = body.decode().splitlines()
        assert len(records) == file["records"]
        exported += [json.loads(line)["id"] for line in records]
    assert exported == sorted(exported)  # by id, each once
    assert set(exported) == {f["id"] for f in created}
    assert export["counts"] == {"family": len(created)}
    assert export["as_of"] is not None
    assert export["expires_at"] is not None
    # Nothing more to do.
    assert await run_pass(app, pass_settings) == 0
    # The change feed from the export's moment: nothing yet, then what changes after it.
    feed = await client.get(CHANGES, params={"after": export["changes_after"]}, headers=admin)
    assert feed.status_code == 200, feed.text
    assert feed.json()["items"] == []
    later = await create_family(client, officer, family(KYIV))
    feed = await client.get(CHANGES, params={"after": export["changes_after"]}, headers=admin)
    assert {e["resource_id"] for e in feed.json()["items"]} >= {later["id"]}
    assert not {e["resource_id"] for e in feed.json()["items"]} & set(exported)


async def test_a_record_larger_than_a_portion_fails_the_export(
    client, app, admin, officer, pass_settings
):
    await create_family(client, officer, family(KYIV))
    export = await request(client, admin, types=["family"])
    tiny = pass_settings.model_copy(update={"export_portion_bytes": 1024})
    long_family = family(KYIV, address_line="вул. " + "Довга " * 40)
    await create_family(client, officer, long_family)
    assert await run_pass(app, tiny) == 1
    status = (await client.get(f"{EXPORTS}/{export['id']}", headers=admin)).json()
    assert status["status"] == "failed"
    assert "larger than a portion" in status["error"]
    assert status["files"] == []
    assert not export_pass.export_directory(tiny, export["id"]).exists()


async def test_range_requests(client, app, admin, officer, pass_settings):
    for _ in range(2):
        await create_family(client, officer, family(KYIV))
    export = await ready(client, app, pass_settings, admin, types=["family"])
    file = export["files"][0]
    whole = await download(client, admin, file)
    size = len(whole)

    first = await client.get(file["href"], headers={**admin, "Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.content == whole[:100]

    rest = await client.get(file["href"], headers={**admin, "Range": "bytes=100-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert first.content + rest.content == whole

    suffix = await client.get(file["href"], headers={**admin, "Range": "bytes=-50"})
    assert suffix.status_code == 206
    assert suffix.content == whole[-50:]
    assert suffix.headers["content-range"] == f"bytes {size - 50}-{size - 1}/{size}"

    beyond = await client.get(file["href"], headers={**admin, "Range": f"bytes={size}-"})
    assert_problem(beyond, 416)
    assert beyond.headers["content-range"] == f"bytes */{size}"

    # A range of another file version (If-Range not its ETag) is the whole file.
    stale = await client.get(
        file["href"], headers={**admin, "Range": "bytes=0-9", "If-Range": '"0000"'}
    )
    assert stale.status_code == 200
    assert stale.content == whole
    assert first.headers["etag"] == f'"{file["sha256"]}"'


async def test_an_export_holds_only_the_requesters_reach(client, app, make_token, pass_settings):
    kyiv_region, lviv_region = regional(make_token), regional(make_token, LVIV_OBLAST)
    inside = [
        await create_family(
            client, bearer(token(make_token, "community_officer", territory=h)), family(h)
        )
        for h in (BUCHA, IRPIN)
    ]
    outside = await create_family(
        client, bearer(token(make_token, "community_officer", territory=LVIV)), family(LVIV)
    )
    export = await ready(client, app, pass_settings, kyiv_region, types=["family"])
    ids = {record["id"] for record in await lines(client, kyiv_region, export, "family")}
    assert ids == {f["id"] for f in inside}
    assert outside["id"] not in ids

    # Narrowed to one hromada of the oblast.
    bucha = await ready(client, app, pass_settings, kyiv_region, types=["family"], territory=BUCHA)
    assert [r["id"] for r in await lines(client, kyiv_region, bucha, "family")] == [inside[0]["id"]]

    # The export is its requester's: anyone else (another oblast's officer; the same subject
    # with another reach) gets a 404, for its status and its files.
    same_sub_elsewhere = regional(make_token, LVIV_OBLAST, sub="regional-officer-1")
    for stranger in (lviv_region, same_sub_elsewhere):
        assert_problem(await client.get(f"{EXPORTS}/{export['id']}", headers=stranger), 404)
        assert_problem(await client.get(export["files"][0]["href"], headers=stranger), 404)
        listed = await client.get(EXPORTS, headers=stranger)
        assert export["id"] not in {e["id"] for e in listed.json()["items"]}


async def test_lines_are_what_the_api_shows_the_requester(client, app, make_token, pass_settings):
    """Identifiers masked for a regional officer, in full for the hromada's officer, exactly
    as each reads the family through the API; a case likewise."""
    bucha_officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    created = await create_family(client, bucha_officer, family(BUCHA))
    case = await client.post(
        CASES,
        json={
            "family_id": created["id"],
            "source": "report",
            "summary": "дитина пропускає школу",
            "received_on": date.today().isoformat(),
        },
        headers=bucha_officer,
    )
    assert case.status_code == 201, case.text
    for reader in (regional(make_token), bucha_officer):
        export = await ready(client, app, pass_settings, reader, types=["family", "case"])
        [line] = await lines(client, reader, export, "family")
        through_api = await client.get(f"{FAMILIES}/{created['id']}", headers=reader)
        assert line == through_api.json()
        [case_line] = await lines(client, reader, export, "case")
        case_through_api = await client.get(f"{CASES}/{case.json()['id']}", headers=reader)
        assert case_line == case_through_api.json()
    member = created["members"][0]
    masked = (await client.get(f"{FAMILIES}/{created['id']}", headers=regional(make_token))).json()
    assert masked["members"][0]["rnokpp"] != member["rnokpp"]
    assert masked["members"][0]["rnokpp"].endswith(member["rnokpp"][-2:])


async def test_a_provider_system_exports_the_providers_view(client, app, make_token, pass_settings):
    """An integration client acting for a provider gets the provider's shape of each family
    (no identifiers, no circumstances), as through the API."""
    from tests.support import create_provider

    admin = bearer(token(make_token, "ministry_admin"))
    kyiv_officer = bearer(token(make_token, "community_officer", territory=KYIV))
    provider = await create_provider(client, admin)
    created = await create_family(client, kyiv_officer, family(KYIV))
    linked = await client.post(
        f"{FAMILIES}/{created['id']}/providers",
        json={"provider_id": provider["id"]},
        headers=kyiv_officer,
    )
    assert linked.status_code == 201, linked.text
    system = bearer(
        token(
            make_token,
            "integration",
            provider_id=provider["id"],
            scope="exports:create families:read",
        )
    )
    export = await ready(client, app, pass_settings, system, types=["family"])
    [line] = await lines(client, system, export, "family")
    assert line == (await client.get(f"{FAMILIES}/{created['id']}", headers=system)).json()
    assert "categories" not in line
    assert "rnokpp" not in line["members"][0]


async def test_one_audit_event_per_export(client, app, admin, officer, pass_settings, connection):
    for _ in range(4):
        await create_family(client, officer, family(KYIV))
    response = await client.post(
        EXPORTS,
        json={"types": ["family", "case"], "territory": KYIV},
        headers={**admin, "X-Request-ID": "export-audit-1", "X-Purpose": "annual reconciliation"},
    )
    assert response.status_code == 202
    export_id = response.json()["id"]
    before = await connection.scalar(text("SELECT count(*) FROM audit_events"))
    assert await run_pass(app, pass_settings) == 1
    events = (
        await connection.execute(
            text(
                "SELECT action, resource_type, resource_ids, actor, role, request_id, purpose "
                "FROM audit_events ORDER BY id OFFSET :n"
            ),
            {"n": before},
        )
    ).all()
    assert len(events) == 1
    action, resource_type, ids, _actor, role, request_id, purpose = events[0]
    assert (action, resource_type, role) == ("export_written", "export", "ministry_admin")
    assert request_id == "export-audit-1"
    assert purpose == "annual reconciliation"
    assert ids[0] == export_id
    status = (await client.get(f"{EXPORTS}/{export_id}", headers=admin)).json()
    assert "types=family,case" in ids
    assert f"territory={KYIV}" in ids
    assert "count.family=4" in ids
    assert "count.case=0" in ids
    for file in status["files"]:
        assert f"sha256={file['sha256']}" in next(
            i for i in ids if i.startswith(f"file={file['name']};")
        )


async def test_files_expire(client, app, admin, officer, pass_settings, connection):
    await create_family(client, officer, family(KYIV))
    export = await ready(client, app, pass_settings, admin, types=["family"])
    href = export["files"][0]["href"]
    directory = export_pass.export_directory(pass_settings, export["id"])
    assert directory.is_dir()
    # Past its expiry, a download is gone at once, before the worker has swept it.
    await connection.execute(
        text("UPDATE exports SET expires_at = now() - interval '1 minute' WHERE id = :id"),
        {"id": export["id"]},
    )
    assert_problem(await client.get(href, headers=admin), 410)
    assert await run_pass(app, pass_settings) == 1
    assert not directory.exists()
    status = (await client.get(f"{EXPORTS}/{export['id']}", headers=admin)).json()
    assert status["status"] == "expired"
    assert status["expired_at"] is not None
    assert_problem(await client.get(href, headers=admin), 410)


async def test_a_file_missing_from_disk_is_gone(client, app, admin, officer, pass_settings):
    await create_family(client, officer, family(KYIV))
    export = await ready(client, app, pass_settings, admin, types=["family"])
    shutil.rmtree(export_pass.export_directory(pass_settings, export["id"]))
    assert_problem(await client.get(export["files"][0]["href"], headers=admin), 410)
    assert_problem(await client.get(f"{EXPORTS}/{export['id']}/files/2", headers=admin), 404)


async def test_a_running_export_is_taken_once_and_again_when_its_worker_died(
    client, app, admin, pass_settings, connection
):
    from registry.domain.exports import commands

    export = await request(client, admin, types=["family"])
    database = app.state.database
    async with database.transaction() as session:
        claim = await commands.claim_next(session, lease_seconds=60)
    assert claim is not None
    assert claim.attempt == 1
    # Running with a live lease: no other worker takes it.
    async with database.transaction() as session:
        assert await commands.claim_next(session, lease_seconds=60) is None
    # Its worker fell silent past the lease: taken again, and the first claim is void.
    await connection.execute(
        text("UPDATE exports SET heartbeat_at = now() - interval '2 minutes' WHERE id = :id"),
        {"id": export["id"]},
    )
    async with database.transaction() as session:
        again = await commands.claim_next(session, lease_seconds=60)
    assert again is not None
    assert again.attempt == 2
    async with database.transaction() as session:
        assert not await commands.renew(session, claim)
        assert await commands.renew(session, again)


async def test_since_leaves_out_what_did_not_change(
    client, app, admin, officer, pass_settings, connection
):
    old = await create_family(client, officer, family(KYIV))
    await connection.execute(
        text("UPDATE families SET updated_at = now() - interval '10 days' WHERE id = :id"),
        {"id": old["id"]},
    )
    await connection.execute(
        text("UPDATE persons SET updated_at = now() - interval '10 days' WHERE family_id = :id"),
        {"id": old["id"]},
    )
    new = await create_family(client, officer, family(KYIV))
    since = (await connection.scalar(text("SELECT now() - interval '1 day'"))).isoformat()
    export = await ready(client, app, pass_settings, admin, types=["family"], since=since)
    assert [r["id"] for r in await lines(client, admin, export, "family")] == [new["id"]]


async def test_service_records_and_support_cases_are_lines_as_the_api_shows_them(
    client, app, admin, make_token, pass_settings
):
    """Each reader's lines equal what each reads through the API: the ministry, the hromada's
    officer, the provider's system (its own records and the support cases assigned to it),
    the unit's system (its cases)."""
    from tests.support import RECORDS, SUPPORT_CASES, record, support_world

    world = await support_world(client, admin, make_token, hromada=BUCHA)
    bucha_officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    served = await create_family(client, bucha_officer, family(BUCHA))
    linked = await client.post(
        f"{FAMILIES}/{served['id']}/providers",
        json={"provider_id": world.provider["id"]},
        headers=bucha_officer,
    )
    assert linked.status_code == 201, linked.text
    staff = bearer(token(make_token, "provider_staff", provider_id=world.provider["id"]))
    submitted = await client.post(RECORDS, json=record(served["id"]), headers=staff)
    assert submitted.status_code == 201, submitted.text
    provider_system = bearer(
        token(
            make_token,
            "integration",
            provider_id=world.provider["id"],
            scope="exports:create service-records:read military:read",
        )
    )
    unit_system = bearer(
        token(
            make_token,
            "integration",
            unit_id=world.unit["id"],
            scope="exports:create military:read",
        )
    )
    readers = {
        "ministry": (admin, ["service_record", "support_case"], 1, 1),
        "hromada": (bucha_officer, ["service_record", "support_case"], 1, 1),
        "provider": (provider_system, ["service_record", "support_case"], 1, 1),
        "unit": (unit_system, ["support_case"], 0, 1),
    }
    for name, (reader, types, records_seen, cases_seen) in readers.items():
        export = await ready(client, app, pass_settings, reader, types=types)
        assert export["counts"].get("service_record", 0) == records_seen, name
        assert export["counts"]["support_case"] == cases_seen, name
        for line in await lines(client, reader, export, "service_record"):
            through_api = await client.get(f"{RECORDS}/{line['id']}", headers=reader)
            assert line == through_api.json(), name
        for line in await lines(client, reader, export, "support_case"):
            through_api = await client.get(f"{SUPPORT_CASES}/{line['id']}", headers=reader)
            assert line == through_api.json(), name


# --- on a database where every transaction commits ---------------------------------------------


async def test_a_snapshot_is_read_only_and_sees_one_moment(fresh_database_url):
    """``Database.snapshot`` (what the pass reads an export in): REPEATABLE READ, read-only,
    its snapshot unmoved by a transaction committing meanwhile; the pooled connection is back
    to READ COMMITTED afterwards."""
    database = Database.connect(fresh_database_url, pool_size=1, max_overflow=0)
    other = Database.connect(fresh_database_url, pool_size=1, max_overflow=0)
    try:
        async with database.snapshot() as session:
            assert await session.scalar(text("SHOW transaction_isolation")) == "repeatable read"
            assert await session.scalar(text("SHOW transaction_read_only")) == "on"
            seen = await session.scalar(text("SELECT pg_current_snapshot()::text"))
            async with other.transaction() as writer:
                await writer.execute(text("SELECT pg_current_xact_id()"))  # commits an xid
            assert await session.scalar(text("SELECT pg_current_snapshot()::text")) == seen
        async with database.transaction() as session:
            assert await session.scalar(text("SHOW transaction_isolation")) == "read committed"
    finally:
        await database.dispose()
        await other.dispose()


async def test_the_pass_as_the_runtime_role_on_a_committing_database(
    live, fresh_database_url, settings, make_token
):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    created = [await create_family(live.client, officer, family(KYIV)) for _ in range(3)]
    export = await request(live.client, admin, types=["family", "case"])
    worker = Database.connect(as_role(fresh_database_url, RUNTIME_ROLE), pool_size=2)
    await worker.detect_row_security(ROW_SECURITY_PROBE)
    try:
        assert await export_pass.run_once(worker, settings) == 1
    finally:
        await worker.dispose()
    status = (await live.client.get(f"{EXPORTS}/{export['id']}", headers=admin)).json()
    assert status["status"] == "ready", status
    assert status["counts"] == {"family": 3, "case": 0}
    exported = await lines(live.client, admin, status, "family")
    assert sorted(r["id"] for r in exported) == sorted(f["id"] for f in created)
