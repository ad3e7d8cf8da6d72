"""What each role is shown of cases, referrals and service records: every field of every
answer, nested ones included, listed per role and endpoint. A provider (its staff, or its own
system) gets shapes of its own that list what it may see; a field added to a record shows up
here before it reaches anyone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from registry.api.schemas.base import PageOf
from registry.api.schemas.cases import CaseOut
from tests.integration import test_cases
from tests.integration.test_cases import CASES, MONDAY, Cases, S
from tests.support import bearer, create_provider, provider_body, token

#: The fixtures of the cases' tests (the application's clock, the case's social worker).
clock = test_cases.clock
case_worker = test_cases.case_worker

# --- the fields ----------------------------------------------------------------------------------


def fields(value: Any, prefix: str = "") -> set[str]:
    """Every key of ``value``, as dotted paths (``a.b``; a list's items as ``a[].b``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(prefix + key)
            found |= fields(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for item in value:
            found |= fields(item, prefix.removesuffix(".") + "[].")
    return found


def page(item_fields: set[str]) -> set[str]:
    return {"items", "next_cursor", *(f"items[].{name}" for name in item_fields)}


def nested(name: str, inner: set[str]) -> set[str]:
    return {name, *(f"{name}.{field}" for field in inner)}


REFERRAL = {
    "id",
    "case_id",
    "measure_id",
    "provider_id",
    "service_code",
    "note",
    "status",
    "decline_reason",
    "decided_at",
    "decided_by",
    "closed_at",
    "created_by",
    "created_at",
    "version",
}
#: The provider's referral: not the plan's measure, nor who in the hromada made it.
PROVIDER_REFERRAL = REFERRAL - {"measure_id", "created_by"}
MEASURE = {
    "id",
    "description",
    "service_code",
    "provider_id",
    "responsible",
    "due_on",
    "status",
    "version",
}
CASE = {
    "id",
    "family_id",
    "oblast_code",
    "hromada_code",
    "status",
    "suspended_from",
    "allowed_transitions",
    "source",
    "reporter",
    "reporter.kind",
    "reporter.name",
    "reporter.contact",
    "summary",
    "received_on",
    "worker_sub",
    "assigned_at",
    "assessment_due_on",
    "assessment_overdue",
    *nested(
        "assessment",
        {
            *nested("child_development", {"level", "notes"}),
            *nested("parenting_capacity", {"level", "notes"}),
            *nested("family_environment", {"level", "notes"}),
            "conclusions",
            "completed_at",
            "completed_by",
        },
    ),
    *nested("decision", {"decision", "reason", "decided_on", "decided_by"}),
    "accompaniment_until",
    "extension_reason",
    "duration_exceeded",
    "visit_due_on",
    "visit_overdue",
    "plan",
    "plan.goals",
    "plan.agreed_by",
    "plan.agreed_at",
    "plan.measures",
    *(f"plan.measures[].{name}" for name in MEASURE),
    "referrals",
    *(f"referrals[].{name}" for name in REFERRAL),
    "closure",
    "created_at",
    "updated_at",
    "version",
}
#: The provider's case: status, who works it, the family's minimal data (names, children's
#: ages, contact) and its own referrals.
PROVIDER_CASE = {
    "id",
    "status",
    "hromada_code",
    "worker_sub",
    "version",
    "family",
    "family.id",
    "family.phone",
    "family.address_line",
    "family.hromada_code",
    "family.settlement_code",
    "family.members",
    *(
        f"family.members[].{name}"
        for name in ("last_name", "first_name", "patronymic", "relation", "age")
    ),
    "referrals",
    *(f"referrals[].{name}" for name in PROVIDER_REFERRAL),
}
TRANSITION = {"version", "from_status", "to_status", "reason", "details", "actor", "at"}
PROVIDER_TRANSITION = {"version", "from_status", "to_status", "at"}
VISIT = {"id", "case_id", "visited_on", "kind", "participants", "notes", "created_by", "created_at"}
PROVIDER_VISIT = {"visited_on", "kind"}
REVIEW = {"id", "case_id", "reviewed_on", "outcome", "notes", "created_by", "created_at"}
PROVIDER_REVIEW = {"reviewed_on", "outcome"}
CASELOAD = {
    "as_of",
    "territory",
    "workers",
    *(
        f"workers[].{name}"
        for name in (
            "hromada_code",
            "worker_sub",
            "open_cases",
            "visits_overdue",
            "assessments_overdue",
            "duration_exceeded",
        )
    ),
    "hromadas",
    *(
        f"hromadas[].{name}"
        for name in (
            "hromada_code",
            "open_cases",
            "unassigned",
            "workers",
            "visits_overdue",
            "assessments_overdue",
            "duration_exceeded",
        )
    ),
}
#: A service record is the provider's own: it sees all of it, as the territory does.
RECORD = {
    "id",
    "provider_id",
    "external_ref",
    "family_id",
    "person_id",
    "service_code",
    "delivered_on",
    "units",
    "duration_minutes",
    "place",
    "outcome",
    "notes",
    "case_id",
    "hromada_code",
    "status",
    "void_reason",
    "voided_at",
    "change_reason",
    "created_at",
    "updated_at",
    "version",
}
RECORD_VERSION = {
    "version",
    *nested(
        "record",
        {
            "family_id",
            "person_id",
            "service_code",
            "delivered_on",
            "units",
            "duration_minutes",
            "place",
            "outcome",
            "notes",
            "case_id",
            "status",
            "void_reason",
        },
    ),
    "changed_by",
    "change_reason",
    "valid_from",
    "valid_to",
}

#: Per role, what each endpoint answers: its fields, or the status of a refusal.
CASE_SIDE: dict[str, set[str] | int] = {
    "list_cases": page(CASE),
    "get_case": CASE,
    "get_case_history": page(TRANSITION),
    "list_case_visits": page(VISIT),
    "list_case_reviews": page(REVIEW),
    "list_referrals": page(REFERRAL),
    "get_referral": REFERRAL,
    "get_caseload": CASELOAD,
}
PROVIDER_SIDE: dict[str, set[str] | int] = {
    "list_cases": page(PROVIDER_CASE),
    "get_case": PROVIDER_CASE,
    "get_case_history": page(PROVIDER_TRANSITION),
    "list_case_visits": page(PROVIDER_VISIT),
    "list_case_reviews": page(PROVIDER_REVIEW),
    "list_referrals": page(PROVIDER_REFERRAL),
    "get_referral": PROVIDER_REFERRAL,
    "get_caseload": 403,
    "list_service_records": page(RECORD),
    "get_service_record": RECORD,
    "get_service_record_history": page(RECORD_VERSION),
}
EXPECTED: dict[str, dict[str, set[str] | int]] = {
    "community_officer": {
        **CASE_SIDE,
        "list_service_records": page(RECORD),
        "get_service_record": RECORD,
        "get_service_record_history": page(RECORD_VERSION),
    },
    "social_worker": {
        **CASE_SIDE,  # no service-records:read
        "list_service_records": 403,
        "get_service_record": 403,
        "get_service_record_history": 403,
    },
    "provider_staff": PROVIDER_SIDE,
    "provider_system": PROVIDER_SIDE,
}


# --- the scenario --------------------------------------------------------------------------------


@pytest.fixture
async def scene(client, officer, case_worker, clock, make_token) -> dict[str, Any]:
    """An active case of Kyiv with its assessment, plan and measure, a visit and a review
    with notes, referred to a provider (accepted) and to another (pending), and a service
    record the provider submitted for it."""
    cases = Cases(client, officer, case_worker, clock)
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(client, admin, provider_body())
    other = await create_provider(client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    system = bearer(
        token(
            make_token,
            "integration",
            provider_id=provider["id"],
            scope="cases:read service-records:read service-records:write",
        )
    )
    case = await cases.reach(S.ACTIVE)
    url = f"{CASES}/{case['id']}"
    clock.advance(3)
    visit = await client.post(
        f"{url}/visits",
        json={
            "visited_on": clock.day.isoformat(),
            "kind": "home",
            "participants": ["мати", "син"],
            "notes": "мати говорила про борги",
        },
        headers=case_worker,
    )
    assert visit.status_code == 201, visit.text
    review = await client.post(
        f"{url}/reviews",
        json={"reviewed_on": clock.day.isoformat(), "outcome": "progressing", "notes": "краще"},
        headers=case_worker,
    )
    assert review.status_code == 201, review.text
    referrals = []
    for to in (provider, other):
        response = await client.post(
            f"{url}/referrals",
            json={"provider_id": to["id"], "service_code": "002.0", "note": "консультації"},
            headers=case_worker,
        )
        assert response.status_code == 201, response.text
        referrals.append(response.json())
    accepted = await client.post(f"/api/v1/referrals/{referrals[0]['id']}/accept", headers=staff)
    assert accepted.status_code == 200, accepted.text
    submitted = await client.post(
        "/api/v1/service-records",
        json={
            "family_id": case["family_id"],
            "service_code": "002.0",
            "place": "home",
            "delivered_on": (MONDAY + timedelta(days=1)).isoformat(),
            "outcome": "delivered",
            "notes": "перша консультація",
            "case_id": case["id"],
        },
        headers=staff,
    )
    assert submitted.status_code == 201, submitted.text
    return {
        "case": case,
        "referral": referrals[0],
        "record": submitted.json(),
        "accepted": accepted.json(),
        "callers": {
            "community_officer": officer,
            "social_worker": case_worker,
            "provider_staff": staff,
            "provider_system": system,
        },
    }


def _urls(scene: dict[str, Any]) -> dict[str, str]:
    case_url = f"{CASES}/{scene['case']['id']}"
    record_url = f"/api/v1/service-records/{scene['record']['id']}"
    return {
        "list_cases": CASES,
        "get_case": case_url,
        "get_case_history": f"{case_url}/history",
        "list_case_visits": f"{case_url}/visits",
        "list_case_reviews": f"{case_url}/reviews",
        "list_referrals": "/api/v1/referrals",
        "get_referral": f"/api/v1/referrals/{scene['referral']['id']}",
        "get_caseload": "/api/v1/caseload",
        "list_service_records": "/api/v1/service-records",
        "get_service_record": record_url,
        "get_service_record_history": f"{record_url}/history",
    }


@pytest.mark.parametrize("role", sorted(EXPECTED))
async def test_every_field_each_role_is_shown(client, scene, role):
    headers = scene["callers"][role]
    shown: dict[str, set[str] | int] = {}
    for name, url in _urls(scene).items():
        response = await client.get(url, headers=headers)
        if response.status_code != 200:
            shown[name] = response.status_code
            continue
        body = response.json()
        items = body.get("items") if isinstance(body, dict) else None
        assert items != [], (role, name, "an empty list shows no fields")
        shown[name] = fields(body)
    assert shown == EXPECTED[role]


async def test_what_the_provider_writes_is_answered_in_its_shapes(scene):
    assert fields(scene["accepted"]) == PROVIDER_REFERRAL
    assert fields(scene["record"]) == RECORD


async def test_a_provider_sees_only_its_own_referrals_of_a_case(client, scene):
    staff = scene["callers"]["provider_staff"]
    seen = (await client.get(f"{CASES}/{scene['case']['id']}", headers=staff)).json()
    assert [r["id"] for r in seen["referrals"]] == [scene["referral"]["id"]]
    listed = (await client.get("/api/v1/referrals", headers=staff)).json()["items"]
    assert [r["id"] for r in listed] == [scene["referral"]["id"]]


async def test_a_page_of_cases_shows_each_case_as_reading_it_does(client, scene, connection, clock):
    """The case list is one statement that reads the page with every part of its cases
    (assessment, plan, measures, referrals) and audits it: each case it lists is the case as
    its own read shows it, page after page by the cursor, and the event names what was
    listed."""
    officer = scene["callers"]["community_officer"]
    other = await Cases(client, officer, scene["callers"]["social_worker"], clock).open()
    first = await client.get(CASES, params={"limit": 1}, headers=officer)
    assert first.status_code == 200, first.text
    walked, body = [], first.json()
    while True:
        walked += body["items"]
        if body["next_cursor"] is None:
            break
        body = (
            await client.get(
                CASES, params={"limit": 1, "cursor": body["next_cursor"]}, headers=officer
            )
        ).json()
    whole = (await client.get(CASES, headers=officer)).json()
    assert whole["items"] == walked
    # (the page is written as the statement's rows render it, without a pass through its
    # model: it says exactly what the model would)
    assert whole == PageOf[CaseOut].model_validate(whole).model_dump(mode="json")
    assert [c["id"] for c in walked] == sorted([scene["case"]["id"], other["id"]])
    for listed in walked:
        read = (await client.get(f"{CASES}/{listed['id']}", headers=officer)).json()
        assert listed == read
    assert any(c["plan"] and c["plan"]["measures"] and c["assessment"] for c in walked)
    assert any(len(c["referrals"]) == 2 for c in walked)
    # A write answers the case it changed by the other road (``cases_by_id``): the same case.
    case = next(c for c in walked if c["plan"] and c["plan"]["measures"] and c["referrals"])
    measure = case["plan"]["measures"][0]
    written = await client.patch(
        f"{CASES}/{case['id']}/measures/{measure['id']}",
        json={"status": "in_progress"},
        headers={**scene["callers"]["social_worker"], "If-Match": f'"{case["version"]}"'},
    )
    assert written.status_code == 200, written.text
    assert written.json() == (await client.get(f"{CASES}/{case['id']}", headers=officer)).json()
    assert written.json()["plan"]["measures"][0]["status"] == "in_progress"

    event = (
        await connection.execute(
            text(
                "SELECT resource_type, resource_ids FROM audit_events "
                "WHERE action = 'list_cases' ORDER BY id DESC LIMIT 1"
            )
        )
    ).one()
    assert tuple(event) == ("case", [c["id"] for c in walked])


async def test_a_page_of_cases_keeps_the_filters_and_the_flags(client, scene, clock):
    officer = scene["callers"]["community_officer"]
    case_id = scene["case"]["id"]
    other = await Cases(client, officer, scene["callers"]["social_worker"], clock).open()
    expectations = {
        (("status", "active"),): [case_id],
        (("status", "referred"),): [other["id"]],
        (("family_id", other["family_id"]),): [other["id"]],
        (("worker", "nobody"),): [],
        (("provider_id", scene["referral"]["provider_id"]),): [case_id],
        (("visit_overdue", "false"), ("status", "active")): [case_id],
        (("visit_overdue", "true"),): [],
        (("assessment_overdue", "false"),): sorted([case_id, other["id"]]),
    }
    for params, ids in expectations.items():
        response = await client.get(CASES, params=dict(params), headers=officer)
        assert response.status_code == 200, (params, response.text)
        assert [c["id"] for c in response.json()["items"]] == ids, params
    refused = await client.get(CASES, params={"cursor": "bm90IGEgY3Vyc29y"}, headers=officer)
    assert refused.status_code == 422, refused.text
