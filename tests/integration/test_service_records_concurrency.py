"""Providers' systems retry: twenty identical submissions at once, on a database where every
request really commits, store one record."""

from __future__ import annotations

import asyncio

from tests.conftest import bearer
from tests.factories import KYIV, create_family, create_provider, family, provider_body, token
from tests.integration.test_service_records import RECORDS, record

SUBMISSIONS = 20


async def _served(live, make_token) -> tuple[dict[str, str], str]:
    """Provider staff headers, and a family linked to their provider."""
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    provider = await create_provider(live.client, admin, provider_body())
    created = await create_family(live.client, officer, family(KYIV))
    linked = await live.client.post(f"/api/v1/families/{created['id']}/providers",
                                    json={"provider_id": provider["id"]}, headers=officer)
    assert linked.status_code == 201
    return bearer(token(make_token, "provider_staff", provider_id=provider["id"])), created["id"]


async def test_one_idempotency_key_twenty_times_at_once_is_one_record(live, make_token):
    staff, family_id = await _served(live, make_token)
    headers = {**staff, "Idempotency-Key": "retry-storm-1"}
    answers = await asyncio.gather(*(
        live.client.post(RECORDS, json=record(family_id), headers=headers)
        for _ in range(SUBMISSIONS)))

    assert {a.status_code for a in answers} == {201}, {a.text for a in answers}
    assert len({a.content for a in answers}) == 1
    assert await live.count("SELECT count(*) FROM service_records") == 1


async def test_one_external_reference_twenty_times_at_once_is_one_record(live, make_token):
    staff, family_id = await _served(live, make_token)
    body = record(family_id, external_ref="crm-42")
    answers = await asyncio.gather(*(
        live.client.post(RECORDS, json=body, headers=staff) for _ in range(SUBMISSIONS)))

    statuses = sorted(a.status_code for a in answers)
    # one creates it; the others find it (200, unchanged) or, having raced the first
    # insert, are told to submit again (409) — never a second row, never a 500
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, [a.text for a in answers]
    assert await live.count("SELECT count(*) FROM service_records") == 1
