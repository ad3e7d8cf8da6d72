"""Providers' systems retry: twenty identical submissions at once, on a database where every
request really commits, store one record."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from sqlalchemy import text

from tests.support import (
    BATCH,
    KYIV,
    RECORDS,
    Live,
    bearer,
    create_family,
    create_provider,
    family,
    provider_body,
    record,
    token,
)

SUBMISSIONS = 20


async def _served(live, make_token) -> tuple[dict[str, str], str, str]:
    """Provider staff headers, a family linked to their provider, and the provider's id."""
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    provider = await create_provider(live.client, admin, provider_body())
    created = await create_family(live.client, officer, family(KYIV))
    linked = await live.client.post(
        f"/api/v1/families/{created['id']}/providers",
        json={"provider_id": provider["id"]},
        headers=officer,
    )
    assert linked.status_code == 201
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    return staff, created["id"], provider["id"]


async def test_one_idempotency_key_twenty_times_at_once_is_one_record(live, make_token):
    staff, family_id, _ = await _served(live, make_token)
    headers = {**staff, "Idempotency-Key": "retry-storm-1"}
    answers = await asyncio.gather(
        *(
            live.client.post(RECORDS, json=record(family_id), headers=headers)
            for _ in range(SUBMISSIONS)
        )
    )

    assert {a.status_code for a in answers} == {201}, {a.text for a in answers}
    assert len({a.content for a in answers}) == 1
    assert await live.count("SELECT count(*) FROM service_records") == 1


async def test_one_external_reference_twenty_times_at_once_is_one_record(live, make_token):
    staff, family_id, _ = await _served(live, make_token)
    body = record(family_id, external_ref="crm-42")
    answers = await asyncio.gather(
        *(live.client.post(RECORDS, json=body, headers=staff) for _ in range(SUBMISSIONS))
    )

    statuses = sorted(a.status_code for a in answers)
    # one creates it; the others find it (200, unchanged) or, having raced the first
    # insert, are told to submit again (409) — never a second row, never a 500
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, [a.text for a in answers]
    assert await live.count("SELECT count(*) FROM service_records") == 1


async def _submit_while_taken(
    live: Live, make_token: Any, path: str, body: Callable[[str], Any]
) -> tuple[httpx.Response, int]:
    """Submit ``body(family_id)`` while another transaction holds an uncommitted record with
    the external reference "taken": the submission finds no such record, writes, and waits on
    the unique index until the other transaction commits. Returns the answer and how many
    records there are then."""
    staff, family_id, provider_id = await _served(live, make_token)
    async with live.database.engine.connect() as other:
        await other.begin()
        await other.execute(
            text("""
            INSERT INTO service_records (id, provider_id, external_ref, family_id, oblast_code,
                hromada_code, service_code, delivered_on, units, place, outcome, changed_by)
            VALUES (:id, :provider_id, 'taken', :family_id, :kyiv, :kyiv, '002.0', :today, 1,
                    'home', 'delivered', 'another request')"""),
            {
                "id": uuid.uuid4(),
                "provider_id": uuid.UUID(provider_id),
                "family_id": uuid.UUID(family_id),
                "kyiv": KYIV,
                "today": date.today(),
            },
        )
        submission = asyncio.create_task(
            live.client.post(path, json=body(family_id), headers=staff)
        )
        while not await live.count(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "current_database() AND wait_event_type = 'Lock'"
        ):
            assert not submission.done(), submission.result().text
            await asyncio.sleep(0.02)
        await other.commit()
    return await submission, await live.count("SELECT count(*) FROM service_records")


async def test_a_reference_taken_while_one_record_is_written_is_a_409(live, make_token):
    answer, stored = await _submit_while_taken(
        live, make_token, RECORDS, lambda family_id: record(family_id, external_ref="taken")
    )
    assert answer.status_code == 409, answer.text
    assert stored == 1


async def test_a_reference_taken_while_a_batch_is_written_rejects_that_record_only(
    live, make_token
):
    answer, stored = await _submit_while_taken(
        live,
        make_token,
        BATCH,
        lambda family_id: {
            "records": [
                record(family_id, external_ref="free"),
                record(family_id, external_ref="taken"),
                record(family_id),
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["status"], r["outcome"]) for r in results] == [
        ("accepted", "created"),
        ("rejected", None),
        ("accepted", "created"),
    ]
    assert results[1]["errors"] == [
        {
            "field": "records.1.external_ref",
            "message": "submitted at the same time by another request; submit again",
        }
    ]
    assert stored == 3
