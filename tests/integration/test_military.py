"""Servicemember-family support end to end: units and the eligibility gate, servicemembers
and their status, support cases through their lifecycle, the catalogue rule, and who sees
what."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import (
    BUCHA,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    assert_problem,
    bearer,
    create_provider,
    family,
    if_match,
    person,
    provider_body,
    token,
)

UNITS = "/api/v1/military-units"
SERVICEMEMBERS = "/api/v1/servicemembers"
SUPPORT_CASES = "/api/v1/support-cases"
MEASURES = "/api/v1/support-measures"
CRITERIA = [
    "in_register",
    "accompaniment_experience",
    "trained_staff",
    "psychologist",
    "mobile_team",
    "no_sanctions",
]
_numbers = iter(range(1000, 10000))


def unit_number(letter: str = "А") -> str:
    return f"{letter}{next(_numbers)}"


@pytest.fixture
def admin(make_token) -> dict[str, str]:
    return bearer(token(make_token, "ministry_admin"))


async def eligible_provider(client, admin, **overrides: Any) -> dict[str, Any]:
    return await create_provider(
        client, admin, provider_body(support_criteria_met=CRITERIA, **overrides)
    )


async def create_unit(client, admin, **overrides: Any) -> dict[str, Any]:
    body = {
        "number": unit_number(),
        "name": "Окрема бригада",
        "oblast_codes": [KYIV_OBLAST],
        "stage": "pilot",
        "joined_on": "2024-01-15",
        **overrides,
    }
    response = await client.post(UNITS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_flow_from_unit_to_closed_case(client, admin, make_token):
    provider = await eligible_provider(client, admin)
    unit = await create_unit(client, admin, provider_ids=[provider["id"]])
    assert [p["provider_id"] for p in unit["providers"]] == [provider["id"]]
    assert unit["providers"][0]["eligible"] is True
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))

    created = await client.post(
        SERVICEMEMBERS,
        json={"person": person(), "family": family(BUCHA), "status": "serving"},
        headers=liaison,
    )
    assert created.status_code == 201, created.text
    servicemember = created.json()
    assert servicemember["status"] == "serving"
    assert [s["status"] for s in servicemember["status_history"]] == ["serving"]

    opened = await client.post(
        SUPPORT_CASES,
        json={
            "servicemember_id": servicemember["id"],
            "summary": "Родина просить допомоги з документами",
            "provider_id": provider["id"],
            "worker_sub": "worker-1",
        },
        headers=liaison,
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["status"] == "open"
    assert case["allowed_transitions"] == ["active", "closed"]

    moved = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/transitions",
        json={"to": "active"},
        headers=if_match(liaison, case["version"]),
    )
    assert moved.status_code == 200, moved.text
    case = moved.json()

    status = await client.post(
        f"{SERVICEMEMBERS}/{servicemember['id']}/status",
        json={"status": "missing"},
        headers=liaison,
    )
    assert status.status_code == 201, status.text
    got = await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=liaison)
    assert got.status_code == 200, got.text
    planned = {m["measure_code"] for m in got.json()["measures"]}
    assert "missing_captured_family_support" in planned
    assert got.json()["servicemember"]["status"] == "missing"

    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    as_provider = await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=staff)
    assert as_provider.status_code == 200, as_provider.text
    assert "assigned_by" not in as_provider.json()
    contact = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/contacts", json={"channel": "phone"}, headers=staff
    )
    assert contact.status_code == 201, contact.text

    officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    as_hromada = await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=officer)
    assert as_hromada.status_code == 200, as_hromada.text
    assert "contacts" not in as_hromada.json()
    history = await client.get(f"{SUPPORT_CASES}/{case['id']}/history", headers=officer)
    assert history.status_code == 200, history.text
    assert all(step["kind"] != "servicemember_status" for step in history.json()["items"])
    full = await client.get(f"{SUPPORT_CASES}/{case['id']}/history", headers=liaison)
    assert any(step["kind"] == "servicemember_status" for step in full.json()["items"])

    other_unit = await create_unit(client, admin)
    stranger = bearer(token(make_token, "military_liaison", unit_id=other_unit["id"]))
    assert_problem(await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=stranger), 404)

    current = (await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=liaison)).json()
    closed = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/transitions",
        json={
            "to": "closed",
            "reason": "Підтримку завершено",
            "closure_reason": "support_completed",
        },
        headers=if_match(liaison, current["version"]),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["allowed_transitions"] == []

    for role in ("ministry_analyst", "auditor"):
        refused = await client.get(SUPPORT_CASES, headers=bearer(token(make_token, role)))
        assert_problem(refused, 403)
    _ = (KYIV, LVIV, LVIV_OBLAST, uuid)
