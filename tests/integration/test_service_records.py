"""Service records: submitted by a provider for the families referred to it, one at a time
(idempotent, upserted by the provider's own reference) or in batches, read within each
caller's reach, corrected by amendment and voided, never deleted."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from registry.api.schemas.service_records import NDJSON, BatchResult
from registry.domain.idempotency import COMPRESS_FROM, packed, unpacked
from tests.support import (
    BATCH,
    IRPIN,
    KYIV,
    RECORDS,
    assert_problem,
    bearer,
    create_family,
    create_provider,
    family,
    provider_body,
    record,
    token,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "registry"


@pytest.fixture
async def provider(client, admin) -> dict[str, Any]:
    """An active provider offering counselling (at home, online) and crisis intervention."""
    return await create_provider(
        client,
        admin,
        provider_body(
            services=[
                {"service_code": "002.0", "frequency": "periodic", "places": ["home", "online"]},
                {"service_code": "012.0", "frequency": "crisis", "places": ["home"]},
            ]
        ),
    )


@pytest.fixture
def staff(make_token, provider) -> dict[str, str]:
    return bearer(token(make_token, "provider_staff", provider_id=provider["id"]))


async def link(
    client: httpx.AsyncClient, officer: dict[str, str], family_id: str, provider_id: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/families/{family_id}/providers",
        json={"provider_id": provider_id, "reason": "referred"},
        headers=officer,
    )


@pytest.fixture
async def served(client, officer, provider) -> dict[str, Any]:
    """A Kyiv family linked to the provider."""
    created = await create_family(client, officer, family(KYIV))
    assert (await link(client, officer, created["id"], provider["id"])).status_code == 201
    return created


async def count(connection, sql: str = "SELECT count(*) FROM service_records") -> int:
    return int((await connection.execute(text(sql))).scalar_one())


# --- one record ----------------------------------------------------------------------------------


async def test_a_provider_records_a_service_for_a_family_referred_to_it(
    client, staff, served, provider
):
    member = served["members"][0]["id"]
    response = await client.post(
        RECORDS, json=record(served["id"], person_id=member, external_ref="crm-1"), headers=staff
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["provider_id"] == provider["id"]
    assert created["person_id"] == member
    assert created["hromada_code"] == KYIV
    assert (created["version"], created["status"]) == (1, "active")
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{RECORDS}/{created['id']}"

    got = await client.get(response.headers["Location"], headers=staff)
    assert got.status_code == 200
    assert got.json() == created


async def test_every_broken_rule_is_reported_and_nothing_is_written(
    client, staff, served, connection, officer
):
    stranger = await create_family(client, officer, family(KYIV))  # not linked
    cases = {
        "family_id": record(stranger["id"]),
        "service_code": record(served["id"], service_code="015.1"),
        "place": record(served["id"], place="residential"),
        "delivered_on": record(
            served["id"], delivered_on=(date.today() + timedelta(days=1)).isoformat()
        ),
        "person_id": record(served["id"], person_id=stranger["members"][0]["id"]),
    }
    for field, body in cases.items():
        response = await client.post(RECORDS, json=body, headers=staff)
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == [f"body.{field}"], field

    everything_wrong = record(stranger["id"], service_code="015.1", delivered_on="2019-12-31")
    problem = assert_problem(await client.post(RECORDS, json=everything_wrong, headers=staff), 422)
    assert {e["field"] for e in problem["errors"]} == {
        "body.family_id",
        "body.service_code",
        "body.delivered_on",
    }
    assert await count(connection) == 0


async def test_references_to_rows_that_do_not_exist_are_refused(
    client, admin, staff, served, connection
):
    """service_records has no foreign keys (migration 0006): the submission itself proves every
    row a record points at, for one record, in a batch, and in an amendment."""
    missing = str(uuid.uuid4())
    etag = (await client.get("/api/v1/services/012.0", headers=admin)).headers["ETag"]
    deactivated = await client.patch(
        "/api/v1/services/012.0", json={"active": False}, headers={**admin, "If-Match": etag}
    )
    assert deactivated.status_code == 200, deactivated.text
    cases = {
        "family_id": record(missing),
        "person_id": record(served["id"], person_id=missing),
        "case_id": record(served["id"], case_id=missing),
        "service_code": record(served["id"], service_code="999.9"),
    }
    for field, body in cases.items():
        problem = assert_problem(await client.post(RECORDS, json=body, headers=staff), 422)
        assert [e["field"] for e in problem["errors"]] == [f"body.{field}"], field
    inactive = record(served["id"], service_code="012.0")
    problem = assert_problem(await client.post(RECORDS, json=inactive, headers=staff), 422)
    assert [e["field"] for e in problem["errors"]] == ["body.service_code"]

    batch = (
        await client.post(BATCH, json={"records": [*cases.values(), inactive]}, headers=staff)
    ).json()
    assert batch["accepted"] == 0
    assert [[e["field"] for e in r["errors"]] for r in batch["results"]] == [
        ["records.0.family_id"],
        ["records.1.person_id"],
        ["records.2.case_id"],
        ["records.3.service_code"],
        ["records.4.service_code"],
    ]
    assert await count(connection) == 0

    created = (await client.post(RECORDS, json=record(served["id"]), headers=staff)).json()
    for field, value in {
        "family_id": missing,
        "person_id": missing,
        "case_id": missing,
        "service_code": "999.9",
    }.items():
        amended = await client.post(
            f"{RECORDS}/{created['id']}/amendments",
            json={"reason": "x", field: value},
            headers={**staff, "If-Match": '"1"'},
        )
        assert [e["field"] for e in assert_problem(amended, 422)["errors"]] == [f"body.{field}"], (
            field
        )


def test_rows_service_records_point_at_are_never_deleted():
    """What lets service_records go without foreign keys (migration 0006): nothing in the
    application deletes or truncates the rows they point at. Adding such code means
    putting the keys back first."""
    tables = ("providers", "services", "families", "persons", "cases")
    models = ("Provider", "Service", "Family", "Person", "Case")
    deleting = re.compile(
        r"(DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+(ONLY\s+)?(" + "|".join(tables) + r")\b"
        r"|\bdelete\((" + "|".join(models) + r")\b"
        r"|\b(" + "|".join(models) + r")\.__table__\.delete\(",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(SRC)}: {match.group(0)}"
        for path in sorted(SRC.rglob("*.py"))
        for match in deleting.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
    assert deleting.search("await session.execute(delete(Family).where(x))")
    assert deleting.search('text("DELETE FROM persons WHERE id = :id")')


async def test_shape_errors_are_422_before_anything_else(client, staff, served):
    bad = record(served["id"], units=0, place="garden", outcome=None, unknown=1)
    problem = assert_problem(await client.post(RECORDS, json=bad, headers=staff), 422)
    assert {e["field"] for e in problem["errors"]} >= {
        "body.units",
        "body.place",
        "body.outcome",
        "body.unknown",
    }


@pytest.mark.parametrize(
    ("field", "value"), [("units", True), ("units", "2"), ("duration_minutes", False)]
)
async def test_a_number_is_a_json_number(client, connection, staff, served, field, value):
    """``"units": true`` is not one unit, nor ``"2"`` two: strict types, nothing stored."""
    before = await connection.scalar(text("SELECT count(*) FROM service_records"))
    response = await client.post(
        RECORDS, json=record(served["id"], **{field: value}), headers=staff
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == [f"body.{field}"]
    assert await connection.scalar(text("SELECT count(*) FROM service_records")) == before


async def test_only_an_active_provider_submits(client, admin, make_token, served, officer):
    pending = await create_provider(client, admin, provider_body(), activate=False)
    headers = bearer(token(make_token, "provider_staff", provider_id=pending["id"]))
    response = await client.post(RECORDS, json=record(served["id"]), headers=headers)
    assert "not active" in assert_problem(response, 403)["detail"]
    # a token naming no provider of the register at all
    ghost = bearer(token(make_token, "provider_staff", provider_id=str(uuid.uuid4())))
    assert_problem(await client.post(RECORDS, json=record(served["id"]), headers=ghost), 403)


async def test_only_providers_submit(client, make_token, admin, officer, served):
    for headers in (
        admin,
        officer,
        bearer(token(make_token, "social_worker", territory=KYIV)),
        bearer(token(make_token, "integration", scope="service-records:write reach:national")),
    ):
        assert_problem(await client.post(RECORDS, json=record(served["id"]), headers=headers), 403)


async def test_an_integration_client_of_a_provider_submits_for_it(
    client, make_token, provider, served
):
    system = bearer(
        token(
            make_token,
            "integration",
            provider_id=provider["id"],
            scope="service-records:write service-records:read",
        )
    )
    response = await client.post(RECORDS, json=record(served["id"]), headers=system)
    assert response.status_code == 201, response.text
    assert response.json()["provider_id"] == provider["id"]
    listed = (await client.get(RECORDS, headers=system)).json()["items"]
    assert [r["id"] for r in listed] == [response.json()["id"]]


# --- who reads what ------------------------------------------------------------------------------


async def test_reads_are_confined_to_the_provider_and_the_territory(
    client, make_token, admin, staff, served
):
    created = (await client.post(RECORDS, json=record(served["id"]), headers=staff)).json()
    url = f"{RECORDS}/{created['id']}"
    other = await create_provider(client, admin, provider_body())
    readers = {
        "ministry_admin": (bearer(token(make_token, "ministry_admin")), 200),
        "kyiv officer": (bearer(token(make_token, "community_officer", territory=KYIV)), 200),
        "kyiv regional": (bearer(token(make_token, "regional_officer", territory=KYIV)), 200),
        "irpin officer": (bearer(token(make_token, "community_officer", territory=IRPIN)), 404),
        "other provider": (
            bearer(token(make_token, "provider_staff", provider_id=other["id"])),
            404,
        ),
        "social worker": (bearer(token(make_token, "social_worker", territory=KYIV)), 403),
        "analyst": (bearer(token(make_token, "ministry_analyst")), 403),
    }
    for name, (headers, status) in readers.items():
        response = await client.get(url, headers=headers)
        assert response.status_code == status, name
        listed = await client.get(RECORDS, headers=headers)
        if status == 403:
            assert listed.status_code == 403, name
        else:
            ids = [r["id"] for r in listed.json()["items"]]
            assert ids == ([created["id"]] if status == 200 else []), name
        for path in ("history",):
            assert (await client.get(f"{url}/{path}", headers=headers)).status_code == status


async def test_another_provider_cannot_correct_a_record(client, make_token, admin, staff, served):
    created = (await client.post(RECORDS, json=record(served["id"]), headers=staff)).json()
    other = await create_provider(client, admin, provider_body())
    headers = {
        **bearer(token(make_token, "provider_staff", provider_id=other["id"])),
        "If-Match": '"1"',
    }
    url = f"{RECORDS}/{created['id']}"
    assert (
        await client.post(f"{url}/amendments", json={"reason": "x", "units": 2}, headers=headers)
    ).status_code == 404
    assert (
        await client.post(f"{url}/void", json={"reason": "x"}, headers=headers)
    ).status_code == 404


# --- idempotency and the provider's own reference ------------------------------------------------


async def test_an_idempotency_key_replays_the_first_answer(client, staff, served, connection):
    headers = {**staff, "Idempotency-Key": "rec-0001"}
    first = await client.post(RECORDS, json=record(served["id"]), headers=headers)
    again = await client.post(RECORDS, json=record(served["id"]), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other_body = await client.post(RECORDS, json=record(served["id"], units=2), headers=headers)
    assert_problem(other_body, 409)
    assert await count(connection) == 1


async def test_a_batch_answer_is_kept_compressed_and_replayed_byte_for_byte(
    client, staff, served, connection
):
    """A batch's answer names every record (1.8 MB for ten thousand): its stored copy is
    compressed before it is sealed, and the replay is the first answer, byte for byte."""
    headers = {**staff, "Idempotency-Key": "batch-0001"}
    body = {"records": [record(served["id"], external_ref=f"b-{i}") for i in range(150)]}
    first = await client.post(BATCH, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 150
    assert len(first.content) > COMPRESS_FROM
    stored = (
        await connection.execute(
            text("SELECT length(body) FROM idempotency_keys WHERE key = 'batch-0001'")
        )
    ).scalar_one()
    assert stored < len(first.content) / 3

    again = await client.post(BATCH, json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.content) == (200, first.content)
    assert await count(connection) == 150


async def test_an_ndjson_batch_answer_is_the_models_json_and_replayed_byte_for_byte(
    client, staff, served, connection
):
    """The answer is written item by item (issue 18): its bytes are the ``BatchResult`` the
    model writes, and its stored copy replays them, also for NDJSON and rejected items."""
    headers = {**staff, "Idempotency-Key": "batch-ndjson", "Content-Type": NDJSON}
    items: list[Any] = [record(served["id"], external_ref=f"nd-{i}") for i in range(150)]
    items[7] = record(str(uuid.uuid4()), external_ref="nd-7")  # not referred
    items[9] = record(served["id"], units=0, external_ref="nd-9")  # shape
    items[11] = ["not", "an", "object"]
    lines = b"\n".join(orjson.dumps(item) for item in items)
    first = await client.post(BATCH, content=lines, headers=headers)
    assert first.status_code == 200, first.text
    assert len(first.content) > COMPRESS_FROM
    assert (
        first.content == BatchResult.model_validate_json(first.content).model_dump_json().encode()
    )
    answer = first.json()
    assert (answer["accepted"], answer["rejected"]) == (147, 3)
    assert [r["index"] for r in answer["results"]] == list(range(150))
    assert [answer["results"][i]["external_ref"] for i in (7, 9, 11)] == ["nd-7", "nd-9", None]

    again = await client.post(BATCH, content=lines, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.content) == (200, first.content)
    assert await count(connection) == 147


def test_a_stored_answer_unpacks_to_itself():
    short, long = b'{"id": 1}', orjson.dumps({"results": [{"index": i} for i in range(5000)]})
    assert packed(short) == short  # a record's answer is stored as it is
    assert packed(long) != long
    assert len(packed(long)) < len(long) / 3
    for body in (short, long):
        assert unpacked(packed(body)) == body


async def test_the_external_reference_upserts(client, staff, served, connection):
    body = record(served["id"], external_ref="visit/2025/17")
    first = await client.post(RECORDS, json=body, headers=staff)
    assert first.status_code == 201
    same = await client.post(RECORDS, json=body, headers=staff)
    assert same.status_code == 200
    assert same.json()["id"] == first.json()["id"]
    assert same.json()["version"] == 1

    changed = await client.post(RECORDS, json={**body, "units": 3}, headers=staff)
    assert changed.status_code == 200
    assert (changed.json()["id"], changed.json()["version"], changed.json()["units"]) == (
        first.json()["id"],
        2,
        3,
    )
    assert changed.headers["ETag"] == '"2"'
    history = (await client.get(f"{RECORDS}/{first.json()['id']}/history", headers=staff)).json()[
        "items"
    ]
    assert [(v["version"], v["record"]["units"]) for v in history] == [(1, 1), (2, 3)]
    assert history[0]["valid_to"] is not None
    assert history[1]["valid_to"] is None
    assert await count(connection) == 1


# --- batches -------------------------------------------------------------------------------------


async def test_a_batch_accepts_and_rejects_each_record_on_its_own(
    client, staff, served, connection
):
    stranger = str(uuid.uuid4())
    records = [
        record(served["id"], external_ref="b-1"),
        record(stranger, external_ref="b-2"),  # not referred
        record(served["id"], units=-1),  # shape
        record(served["id"], service_code="012.0", external_ref="b-4"),
        record(served["id"], external_ref="b-1"),  # repeated reference
        "not an object",
    ]
    response = await client.post(BATCH, json={"records": records}, headers=staff)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 4)
    statuses = [(r["index"], r["status"], r["outcome"]) for r in body["results"]]
    assert statuses == [
        (0, "accepted", "created"),
        (1, "rejected", None),
        (2, "rejected", None),
        (3, "accepted", "created"),
        (4, "rejected", None),
        (5, "rejected", None),
    ]
    errors = {r["index"]: [e["field"] for e in r["errors"]] for r in body["results"]}
    assert errors[1] == ["records.1.family_id"]
    assert errors[2] == ["records.2.units"]
    assert errors[4] == ["records.4.external_ref"]
    stored = {
        row[0]
        for row in (await connection.execute(text("SELECT id::text FROM service_records"))).all()
    }
    assert stored == {body["results"][0]["id"], body["results"][3]["id"]}


async def test_ndjson_batches_are_read_line_by_line(client, staff, served, connection):
    lines = (
        b"\n".join(orjson.dumps(record(served["id"], external_ref=f"n-{i}")) for i in range(50))
        + b"\n"
    )
    response = await client.post(
        BATCH, content=lines, headers={**staff, "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 50
    assert await count(connection) == 50
    # submitted again: the references name the same records, unchanged
    again = (
        await client.post(
            BATCH, content=lines, headers={**staff, "Content-Type": "application/x-ndjson"}
        )
    ).json()
    assert {r["outcome"] for r in again["results"]} == {"unchanged"}
    assert await count(connection) == 50


async def test_an_atomic_batch_stores_nothing_when_one_record_fails(
    client, staff, served, connection
):
    records = [record(served["id"]) for _ in range(5)] + [record(served["id"], place="phone")]
    response = await client.post(
        BATCH, params={"atomic": "true"}, json={"records": records}, headers=staff
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["records.5.place"]
    assert await count(connection) == 0
    audited = await count(
        connection, "SELECT count(*) FROM audit_events WHERE action = 'submit_service_record_batch'"
    )
    assert audited == 0

    fixed = await client.post(
        BATCH, params={"atomic": "true"}, json={"records": records[:5]}, headers=staff
    )
    assert fixed.json()["accepted"] == 5
    assert await count(connection) == 5


async def test_a_batch_is_one_audit_event_listing_every_record(client, staff, served, connection):
    body = (
        await client.post(BATCH, json={"records": [record(served["id"])] * 3}, headers=staff)
    ).json()
    (ids,) = (
        await connection.execute(
            text(
                "SELECT resource_ids FROM audit_events WHERE action = 'submit_service_record_batch'"
            )
        )
    ).one()
    assert set(ids) == {r["id"] for r in body["results"]} | {served["id"]}


async def test_malformed_batches_are_refused_whole(client, staff, served, connection):
    cases = [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"content": b"<x/>", "headers": {"Content-Type": "application/xml"}}, 415),
        ({"json": {"records": []}}, 422),
        ({"json": [record(served["id"])]}, 422),
        ({"json": {"records": [record(served["id"])], "extra": 1}}, 422),
        ({"content": b"{}\n" * 10_001, "headers": {"Content-Type": "application/x-ndjson"}}, 422),
    ]
    for kwargs, status in cases:
        headers = {**staff, **kwargs.pop("headers", {})}
        assert_problem(await client.post(BATCH, headers=headers, **kwargs), status)
    assert await count(connection) == 0


# --- corrections ---------------------------------------------------------------------------------


async def test_an_amendment_is_a_new_version_with_history(client, staff, served):
    created = (await client.post(RECORDS, json=record(served["id"]), headers=staff)).json()
    url = f"{RECORDS}/{created['id']}"

    assert_problem(
        await client.post(f"{url}/amendments", json={"reason": "typo", "units": 2}, headers=staff),
        428,
    )
    amended = await client.post(
        f"{url}/amendments",
        json={"reason": "two sessions, not one", "units": 2, "notes": "follow-up"},
        headers={**staff, "If-Match": '"1"'},
    )
    assert amended.status_code == 200, amended.text
    assert (amended.json()["version"], amended.json()["units"]) == (2, 2)
    assert amended.json()["change_reason"] == "two sessions, not one"
    assert amended.headers["ETag"] == '"2"'

    stale = await client.post(
        f"{url}/amendments",
        json={"reason": "again", "units": 4},
        headers={**staff, "If-Match": '"1"'},
    )
    assert assert_problem(stale, 412)["changed_fields"] == ["notes", "units"]
    unchanged = await client.post(
        f"{url}/amendments",
        json={"reason": "same", "units": 2},
        headers={**staff, "If-Match": '"2"'},
    )
    assert_problem(unchanged, 422)
    invalid = await client.post(
        f"{url}/amendments",
        json={"reason": "x", "place": "street"},
        headers={**staff, "If-Match": '"2"'},
    )
    assert [e["field"] for e in assert_problem(invalid, 422)["errors"]] == ["body.place"]
    null = await client.post(
        f"{url}/amendments",
        json={"reason": "x", "units": None},
        headers={**staff, "If-Match": '"2"'},
    )
    assert_problem(null, 422)

    history = (await client.get(f"{url}/history", headers=staff)).json()["items"]
    assert [(v["version"], v["record"]["units"], v["change_reason"]) for v in history] == [
        (1, 1, None),
        (2, 2, "two sessions, not one"),
    ]


async def test_a_voided_record_stays_and_cannot_change(client, staff, served, connection):
    created = (
        await client.post(RECORDS, json=record(served["id"], external_ref="v-1"), headers=staff)
    ).json()
    url = f"{RECORDS}/{created['id']}"
    voided = await client.post(
        f"{url}/void", json={"reason": "entered for the wrong family"}, headers=staff
    )
    assert voided.status_code == 200
    assert (voided.json()["status"], voided.json()["version"]) == ("voided", 2)
    assert voided.json()["void_reason"] == "entered for the wrong family"

    assert_problem(await client.post(f"{url}/void", json={"reason": "again"}, headers=staff), 409)
    assert_problem(
        await client.post(
            f"{url}/amendments",
            json={"reason": "x", "units": 5},
            headers={**staff, "If-Match": '"2"'},
        ),
        409,
    )
    resubmitted = await client.post(
        RECORDS, json=record(served["id"], external_ref="v-1"), headers=staff
    )
    assert [e["field"] for e in assert_problem(resubmitted, 422)["errors"]] == ["body.external_ref"]
    history = (await client.get(f"{url}/history", headers=staff)).json()["items"]
    assert [v["record"]["status"] for v in history] == ["active", "voided"]
    assert await count(connection) == 1
    listed = (await client.get(RECORDS, params={"status": "voided"}, headers=staff)).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]


# --- links between families and providers --------------------------------------------------------


async def test_revoking_the_link_ends_visibility(client, officer, staff, served, provider):
    """(What the provider may still report after the link ends is held by
    test_service_records_late.py.)"""
    assert (await client.get(f"/api/v1/families/{served['id']}", headers=staff)).status_code == 200
    relink = await link(client, officer, served["id"], provider["id"])
    assert relink.status_code == 200  # already linked: nothing changes

    revoked = await client.post(
        f"/api/v1/families/{served['id']}/providers/{provider['id']}/revoke",
        json={"reason": "services completed"},
        headers=officer,
    )
    assert revoked.status_code == 200
    assert (revoked.json()["active"], revoked.json()["revoke_reason"]) == (
        False,
        "services completed",
    )
    assert (await client.get(f"/api/v1/families/{served['id']}", headers=staff)).status_code == 404
    # a service delivered while the link stood is still reported (late reporting)
    late = await client.post(RECORDS, json=record(served["id"]), headers=staff)
    assert late.status_code == 201, late.text

    links = (
        await client.get(f"/api/v1/families/{served['id']}/providers", headers=officer)
    ).json()["items"]
    assert [(x["provider_id"], x["active"]) for x in links] == [(provider["id"], False)]
    assert (await link(client, officer, served["id"], provider["id"])).status_code == 201


async def test_only_community_officers_link_providers(client, make_token, officer, provider):
    created = await create_family(client, officer, family(KYIV))
    worker = bearer(token(make_token, "social_worker", territory=KYIV))
    assert_problem(await link(client, worker, created["id"], provider["id"]), 403)
    irpin = bearer(token(make_token, "community_officer", territory=IRPIN))
    assert_problem(await link(client, irpin, created["id"], provider["id"]), 404)
    unknown = await link(client, officer, created["id"], str(uuid.uuid4()))
    assert [e["field"] for e in assert_problem(unknown, 422)["errors"]] == ["body.provider_id"]


async def test_a_provider_outside_the_register_cannot_be_linked(client, admin, officer):
    pending = await create_provider(client, admin, provider_body(), activate=False)
    created = await create_family(client, officer, family(KYIV))
    assert_problem(await link(client, officer, created["id"], pending["id"]), 409)


def test_the_batch_documents_the_record_shape_of_its_items(app):
    """Generated clients get typed batch items (JSON and NDJSON) and typed results."""
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    operation = spec["paths"]["/api/v1/service-records/batch"]["post"]
    content = operation["requestBody"]["content"]
    record_ref = "#/components/schemas/ServiceRecordIn"
    assert content["application/json"]["schema"]["properties"]["records"]["items"]["$ref"] == (
        record_ref
    )
    assert content["application/x-ndjson"]["schema"]["items"]["$ref"] == record_ref
    assert set(schemas["ServiceRecordIn"]["properties"]) >= {"family_id", "service_code", "place"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/BatchResult"}
    assert schemas["BatchResult"]["properties"]["results"]["items"] == {
        "$ref": "#/components/schemas/BatchItemResult"
    }
    assert set(schemas["BatchItemResult"]["required"]) == {
        "index",
        "status",
        "id",
        "external_ref",
        "version",
        "outcome",
        "errors",
    }
