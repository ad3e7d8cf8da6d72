"""Servicemembers and their support cases: recording a servicemember (a person of the registry
or a new family), the append-only status history and transfers, the support case's lifecycle
(every move allowed and forbidden), assignment, measures and contacts, the programme's rule
(a status change plans the catalogue's measures in every open case), deadlines on the
application's clock, and idempotent creation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.api.schemas.base import PageOf
from registry.api.schemas.military import SupportCaseSummary
from registry.settings import Settings
from tests.support import (
    BUCHA,
    FAMILIES,
    SERVICEMEMBERS,
    SUPPORT_CASES,
    SUPPORT_MEASURES,
    UNITS,
    Clock,
    SupportWorld,
    assert_problem,
    bearer,
    clock_set_to,
    create_family,
    create_servicemember,
    create_unit,
    eligible_provider,
    error_fields,
    family,
    if_match,
    open_support_case,
    person,
    support_world,
    token,
    unit_body,
)

MONDAY = date(2026, 3, 2)


@pytest.fixture
def clock(app) -> Iterator[Clock]:
    with clock_set_to(app, MONDAY) as clock:
        yield clock


@pytest.fixture
async def world(client, admin, make_token) -> SupportWorld:
    return await support_world(client, admin, make_token)


def case_url(case: dict[str, Any], *rest: str) -> str:
    return "/".join([SUPPORT_CASES, case["id"], *rest])


def sm_url(servicemember: dict[str, Any], *rest: str) -> str:
    return "/".join([SERVICEMEMBERS, servicemember["id"], *rest])


async def get(client, url: str, headers) -> dict[str, Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def count(connection, sql: str, **params: Any) -> int:
    return int((await connection.execute(text(sql), params)).scalar_one())


# --- servicemembers -------------------------------------------------------------------------------


async def test_a_member_of_a_family_of_the_registry_becomes_a_servicemember(
    client, admin, make_token
):
    officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    registered = await create_family(client, officer, family(BUCHA))
    member = registered["members"][0]
    assert member["is_servicemember"] is False
    unit = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))

    response = await client.post(
        SERVICEMEMBERS, json={"person_id": member["id"], "status": "mobilised"}, headers=liaison
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["person"]["id"], created["family_id"], created["unit_id"]) == (
        member["id"],
        registered["id"],
        unit["id"],
    )
    assert (created["status"], created["status_effective_on"]) == (
        "mobilised",
        date.today().isoformat(),
    )
    assert response.headers["location"] == f"{SERVICEMEMBERS}/{created['id']}"
    assert [u["unit_id"] for u in created["unit_history"]] == [unit["id"]]

    again = await get(client, f"{FAMILIES}/{registered['id']}", officer)
    assert again["members"][0]["is_servicemember"] is True
    assert again["version"] == registered["version"]  # the person changed, not the family


async def test_a_new_person_comes_with_a_new_family(client, admin, make_token, connection):
    unit = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    families_before = await count(connection, "SELECT count(*) FROM families")
    created = await create_servicemember(
        client, liaison, BUCHA, person=person(first_name="Андрій", relation="head")
    )
    assert created["person"]["first_name"] == "Андрій"
    assert await count(connection, "SELECT count(*) FROM families") == families_before + 1
    officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    registered = await get(client, f"{FAMILIES}/{created['family_id']}", officer)
    [servicemember] = [m for m in registered["members"] if m["id"] == created["person"]["id"]]
    assert servicemember["is_servicemember"] is True
    assert len(registered["members"]) == 2  # the servicemember and the family's own member


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "serving"},
        {"person": "x"},
        {"person_id": str(uuid.uuid4()), "person": person(), "family": family(BUCHA)},
        {"person_id": str(uuid.uuid4()), "family": family(BUCHA)},
        {"person": person()},
        {"family": family(BUCHA)},
    ],
)
async def test_a_person_is_given_one_way(client, connection, admin, make_token, body):
    unit = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    before = await count(connection, "SELECT count(*) FROM servicemembers")
    assert_problem(await client.post(SERVICEMEMBERS, json=body, headers=liaison), 422)
    assert await count(connection, "SELECT count(*) FROM servicemembers") == before


async def test_an_unknown_person_is_422(client, admin, make_token):
    unit = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    response = await client.post(
        SERVICEMEMBERS, json={"person_id": str(uuid.uuid4())}, headers=liaison
    )
    assert error_fields(assert_problem(response, 422)) == {"body.person_id"}


async def test_the_same_person_twice_is_409(client, admin, make_token):
    officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    registered = await create_family(client, officer, family(BUCHA))
    person_id = registered["members"][0]["id"]
    unit = await create_unit(client, admin)
    other = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    first = await client.post(SERVICEMEMBERS, json={"person_id": person_id}, headers=liaison)
    assert first.status_code == 201, first.text
    for unit_id in (unit["id"], other["id"]):
        headers = bearer(token(make_token, "military_liaison", unit_id=unit_id))
        again = await client.post(SERVICEMEMBERS, json={"person_id": person_id}, headers=headers)
        assert_problem(again, 409)


async def test_a_liaison_records_servicemembers_of_their_own_unit_only(
    client, connection, admin, make_token
):
    unit = await create_unit(client, admin)
    other = await create_unit(client, admin)
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    before = await count(connection, "SELECT count(*) FROM families")
    for unit_id in (other["id"], str(uuid.uuid4())):
        response = await client.post(
            SERVICEMEMBERS,
            json={"person": person(), "family": family(BUCHA), "unit_id": unit_id},
            headers=liaison,
        )
        assert error_fields(assert_problem(response, 422)) == {"body.unit_id"}
    assert await count(connection, "SELECT count(*) FROM families") == before


async def test_a_unit_that_left_the_programme_records_no_one(client, admin, make_token):
    unit = await create_unit(client, admin, left_on=(date.today()).isoformat())
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    response = await client.post(
        SERVICEMEMBERS, json={"person": person(), "family": family(BUCHA)}, headers=liaison
    )
    assert_problem(response, 409)


async def test_a_status_in_the_future_is_422(client, world):
    future = (date.today() + timedelta(days=1)).isoformat()
    response = await client.post(
        SERVICEMEMBERS,
        json={"person": person(), "family": family(BUCHA), "effective_on": future},
        headers=world.liaison,
    )
    assert error_fields(assert_problem(response, 422)) == {"body.effective_on"}
    recorded = await client.post(
        sm_url(world.servicemember, "status"),
        json={"status": "missing", "effective_on": future},
        headers=world.liaison,
    )
    assert error_fields(assert_problem(recorded, 422)) == {"body.effective_on"}
    got = await get(client, sm_url(world.servicemember), world.liaison)
    assert got["status"] == "serving"
    assert len(got["status_history"]) == 1


async def test_the_status_history_is_appended_and_the_current_status_is_the_latest(
    client, connection, world
):
    today = date.today()
    sm = await create_servicemember(
        client, world.liaison, effective_on=(today - timedelta(days=60)).isoformat()
    )
    steps = [
        ("missing", today - timedelta(days=10), "missing"),
        ("captured", today - timedelta(days=2), "captured"),
        ("demobilised", today - timedelta(days=30), "captured"),  # back-dated: history only
        ("missing", today - timedelta(days=2), "missing"),  # the same day: the latest counts
    ]
    for status, effective_on, current in steps:
        response = await client.post(
            sm_url(sm, "status"),
            json={"status": status, "effective_on": effective_on.isoformat()},
            headers=world.liaison,
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == current
    got = await get(client, sm_url(sm), world.liaison)
    assert (got["status"], got["status_effective_on"]) == (
        "missing",
        (today - timedelta(days=2)).isoformat(),
    )
    assert [(h["status"], h["effective_on"]) for h in got["status_history"]] == [
        ("serving", (today - timedelta(days=60)).isoformat()),
        ("demobilised", (today - timedelta(days=30)).isoformat()),
        ("missing", (today - timedelta(days=10)).isoformat()),
        ("captured", (today - timedelta(days=2)).isoformat()),
        ("missing", (today - timedelta(days=2)).isoformat()),
    ]
    assert all(h["recorded_by"] == "test-military_liaison" for h in got["status_history"])
    # the runtime role may not change or remove an entry
    for sql in (
        "UPDATE servicemember_statuses SET status = 'fallen' WHERE servicemember_id = :id",
        "DELETE FROM servicemember_statuses WHERE servicemember_id = :id",
    ):
        await _refused_as_runtime(connection, sql, id=sm["id"])


async def _refused_as_runtime(connection, sql: str, **params: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    savepoint = await connection.begin_nested()
    try:
        await connection.execute(text("SET LOCAL ROLE registry_app"))
        with pytest.raises(DBAPIError):
            await connection.execute(text(sql), params)
    finally:
        await savepoint.rollback()


async def test_recording_the_current_status_again_is_409(client, world):
    response = await client.post(
        sm_url(world.servicemember, "status"), json={"status": "serving"}, headers=world.liaison
    )
    problem = assert_problem(response, 409)
    assert "serving" not in response.text
    assert problem["detail"]


async def test_a_status_change_checks_if_match_when_sent(client, world):
    sm = world.servicemember
    stale = await client.post(
        sm_url(sm, "status"),
        json={"status": "missing"},
        headers=if_match(world.liaison, sm["version"] + 5),
    )
    assert_problem(stale, 412)
    ok = await client.post(
        sm_url(sm, "status"),
        json={"status": "missing"},
        headers=if_match(world.liaison, sm["version"]),
    )
    assert ok.status_code == 201, ok.text
    assert ok.headers["etag"] == f'"{ok.json()["version"]}"'


async def test_a_transfer_keeps_the_history_and_moves_the_open_cases(
    client, admin, make_token, world
):
    new_unit = await create_unit(client, admin)
    new_liaison = bearer(token(make_token, "military_liaison", unit_id=new_unit["id"]))
    sm = world.servicemember
    moved = await client.post(
        sm_url(sm, "transfer"),
        json={"unit_id": new_unit["id"], "reason": "переведення"},
        headers=world.liaison,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["unit_id"] == new_unit["id"]

    got = await get(client, sm_url(sm), new_liaison)
    assert [(u["unit_id"], u["from_unit_id"]) for u in got["unit_history"]] == [
        (world.unit["id"], None),
        (new_unit["id"], world.unit["id"]),
    ]
    assert got["status_history"] == world.servicemember["status_history"]

    case = await get(client, case_url(world.case), new_liaison)
    assert case["unit_id"] == new_unit["id"]
    # The provider does not serve the new unit: the case is listed for reassignment.
    assert case["provider_ineligible"] is True
    history = await get(client, case_url(world.case, "history"), new_liaison)
    assert history["items"][-1]["kind"] == "transfer"

    assert_problem(await client.get(case_url(world.case), headers=world.liaison), 404)
    assert_problem(await client.get(sm_url(sm), headers=world.liaison), 404)
    listed = await client.get(SUPPORT_CASES, headers=world.liaison)
    assert world.case["id"] not in {c["id"] for c in listed.json()["items"]}
    assert world.case["id"] in {
        c["id"] for c in (await client.get(SUPPORT_CASES, headers=new_liaison)).json()["items"]
    }


async def test_a_transfer_to_the_same_or_an_unknown_unit_is_refused(client, world):
    sm = world.servicemember
    same = await client.post(
        sm_url(sm, "transfer"), json={"unit_id": world.unit["id"]}, headers=world.liaison
    )
    assert_problem(same, 409)
    unknown = await client.post(
        sm_url(sm, "transfer"), json={"unit_id": str(uuid.uuid4())}, headers=world.liaison
    )
    assert error_fields(assert_problem(unknown, 422)) == {"body.unit_id"}


# --- the support case's lifecycle -----------------------------------------------------------------

STATES = ("open", "active", "suspended", "closed")
ALLOWED = {
    ("open", "active"),
    ("open", "closed"),
    ("active", "suspended"),
    ("active", "closed"),
    ("suspended", "active"),
    ("suspended", "closed"),
}
REASONS = {"reason": "рішення", "closure_reason": "support_completed"}


async def move(client, headers, case, to: str, **extra: Any) -> httpx.Response:
    body = {"to": to, **extra}
    return await client.post(
        case_url(case, "transitions"), json=body, headers=if_match(headers, case["version"])
    )


async def reach(client, world: SupportWorld, status: str) -> dict[str, Any]:
    case = world.case
    path = {
        "open": [],
        "active": ["active"],
        "suspended": ["active", "suspended"],
        "closed": ["closed"],
    }[status]
    for to in path:
        extra = {"reason": "рішення"} if to != "active" else {}
        if to == "closed":
            extra["closure_reason"] = "duplicate"
        response = await move(client, world.liaison, case, to, **extra)
        assert response.status_code == 200, response.text
        case = response.json()
    assert case["status"] == status
    return case


@pytest.mark.parametrize(("current", "to"), [(a, b) for a in STATES for b in STATES])
async def test_every_transition(client, world, current, to):
    case = await reach(client, world, current)
    response = await move(client, world.liaison, case, to, **REASONS)
    if (current, to) not in ALLOWED:
        problem = assert_problem(response, 409)
        if current != "closed":
            assert problem["allowed"] == sorted(b for a, b in ALLOWED if a == current)
        got = await get(client, case_url(case), world.liaison)
        assert (got["status"], got["version"]) == (current, case["version"])
        return
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["status"], moved["version"]) == (to, case["version"] + 1)
    assert moved["allowed_transitions"] == sorted(b for a, b in ALLOWED if a == to)
    assert response.headers["etag"] == f'"{moved["version"]}"'
    if to == "closed":
        assert moved["closure"]["reason"] == "support_completed"
    last = (await get(client, case_url(case, "history"), world.liaison))["items"][-1]
    assert (last["kind"], last["from_status"], last["to_status"]) == ("transition", current, to)


async def test_a_closed_case_answers_409_naming_no_move(client, world):
    case = await reach(client, world, "closed")
    for to in STATES:
        problem = assert_problem(await move(client, world.liaison, case, to, **REASONS), 409)
        assert problem.get("allowed", []) == []


async def test_activation_needs_a_provider_and_a_worker(client, world):
    sm = await create_servicemember(client, world.liaison)
    case = await open_support_case(client, world.liaison, sm["id"])
    problem = assert_problem(await move(client, world.liaison, case, "active"), 409)
    assert problem["allowed"] == ["active", "closed"]
    assert (await get(client, case_url(case), world.liaison))["status"] == "open"


@pytest.mark.parametrize(
    ("path", "to", "extra", "field"),
    [
        (["active"], "suspended", {}, "body.reason"),
        (["active"], "closed", {"closure_reason": "duplicate"}, "body.reason"),
        ([], "closed", {"closure_reason": "duplicate"}, "body.reason"),
        ([], "closed", {"reason": "дубль"}, "body.closure_reason"),
        (["active"], "closed", {"reason": "дубль"}, "body.closure_reason"),
        ([], "closed", {"reason": "x", "closure_reason": "no_such"}, "body.closure_reason"),
    ],
)
async def test_suspending_and_closing_need_their_reasons(client, world, path, to, extra, field):
    case = await reach(client, world, "active" if path else "open")
    response = await move(client, world.liaison, case, to, **extra)
    assert field in error_fields(assert_problem(response, 422))
    assert (await get(client, case_url(case), world.liaison))["version"] == case["version"]


async def test_a_transition_needs_a_current_if_match(client, world):
    url = case_url(world.case, "transitions")
    assert_problem(await client.post(url, json={"to": "active"}, headers=world.liaison), 428)
    stale = await client.post(
        url, json={"to": "active"}, headers=if_match(world.liaison, world.case["version"] + 1)
    )
    assert_problem(stale, 412)


async def test_a_servicemember_has_one_open_case(client, world):
    response = await client.post(
        SUPPORT_CASES, json={"servicemember_id": world.servicemember["id"]}, headers=world.liaison
    )
    assert assert_problem(response, 409)["existing_case_id"] == world.case["id"]
    await reach(client, world, "closed")
    again = await open_support_case(client, world.liaison, world.servicemember["id"])
    assert again["id"] != world.case["id"]


async def test_a_case_is_not_opened_in_the_future_or_for_another_units_servicemember(
    client, admin, make_token, world
):
    future = (date.today() + timedelta(days=1)).isoformat()
    sm = await create_servicemember(client, world.liaison)
    response = await client.post(
        SUPPORT_CASES,
        json={"servicemember_id": sm["id"], "opened_on": future},
        headers=world.liaison,
    )
    assert error_fields(assert_problem(response, 422)) == {"body.opened_on"}
    other = await create_unit(client, admin)
    stranger = bearer(token(make_token, "military_liaison", unit_id=other["id"]))
    response = await client.post(
        SUPPORT_CASES, json={"servicemember_id": sm["id"]}, headers=stranger
    )
    assert error_fields(assert_problem(response, 422)) == {"body.servicemember_id"}


async def test_a_worker_is_named_with_their_provider(client, world):
    sm = await create_servicemember(client, world.liaison)
    response = await client.post(
        SUPPORT_CASES,
        json={"servicemember_id": sm["id"], "worker_sub": "worker-1"},
        headers=world.liaison,
    )
    assert error_fields(assert_problem(response, 422)) == {"body.provider_id"}


# --- assignment -----------------------------------------------------------------------------------


async def test_assignment_goes_to_an_eligible_provider_of_the_cases_unit(
    client, admin, make_token, world
):
    sm = await create_servicemember(client, world.liaison)
    case = await open_support_case(client, world.liaison, sm["id"])
    outsider = await eligible_provider(client, admin)  # eligible, not assigned to the unit
    url = case_url(case, "assignment")
    for provider_id in (outsider["id"], str(uuid.uuid4())):
        response = await client.post(
            url,
            json={"provider_id": provider_id, "worker_sub": "worker-1"},
            headers=if_match(world.liaison, case["version"]),
        )
        assert error_fields(assert_problem(response, 422)) == {"body.provider_id"}
    assert_problem(
        await client.post(
            url,
            json={"provider_id": world.provider["id"], "worker_sub": "worker-1"},
            headers=world.liaison,
        ),
        428,
    )
    assigned = await client.post(
        url,
        json={"provider_id": world.provider["id"], "worker_sub": "worker-7", "reason": "вільна"},
        headers=if_match(world.liaison, case["version"]),
    )
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert (body["provider_id"], body["worker_sub"], body["assigned_by"]) == (
        world.provider["id"],
        "worker-7",
        "test-military_liaison",
    )
    event = (await get(client, case_url(case, "history"), world.liaison))["items"][-1]
    assert (event["kind"], event["details"]) == (
        "assignment",
        {"provider_id": world.provider["id"], "worker_sub": "worker-7"},
    )
    activated = await move(client, world.liaison, body, "active")
    assert activated.status_code == 200, activated.text


async def test_the_ministry_assigns_too(client, admin, world):
    response = await client.post(
        case_url(world.case, "assignment"),
        json={"provider_id": world.provider["id"], "worker_sub": "worker-5"},
        headers=if_match(admin, world.case["version"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["worker_sub"] == "worker-5"


# --- measures and contacts ------------------------------------------------------------------------


async def plan(client, world, case, **overrides: Any) -> httpx.Response:
    body = {"measure_code": "legal_aid", "due_on": date.today().isoformat(), **overrides}
    return await client.post(case_url(case, "measures"), json=body, headers=world.liaison)


async def test_a_measure_is_planned_then_delivered_and_final(client, world):
    planned = await plan(client, world, world.case, responsible="юрист")
    assert planned.status_code == 201, planned.text
    case = planned.json()
    [measure] = case["measures"]
    assert (measure["measure_code"], measure["status"], measure["origin"]) == (
        "legal_aid",
        "planned",
        "planned",
    )
    assert case["version"] == world.case["version"] + 1
    url = case_url(case, "measures", measure["id"])
    staff = world.liaison

    assert_problem(await client.patch(url, json={"status": "delivered"}, headers=staff), 428)
    no_day = await client.patch(
        url, json={"status": "delivered"}, headers=if_match(staff, case["version"])
    )
    assert error_fields(assert_problem(no_day, 422)) == {"body.delivered_on"}
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = await client.patch(
        url,
        json={"status": "delivered", "delivered_on": tomorrow},
        headers=if_match(staff, case["version"]),
    )
    assert error_fields(assert_problem(future, 422)) == {"body.delivered_on"}
    delivered = await client.patch(
        url,
        json={"status": "delivered", "delivered_on": date.today().isoformat(), "outcome": "ок"},
        headers=if_match(staff, case["version"]),
    )
    assert delivered.status_code == 200, delivered.text
    case = delivered.json()
    [measure] = case["measures"]
    assert (measure["status"], measure["delivered_on"], measure["outcome"]) == (
        "delivered",
        date.today().isoformat(),
        "ок",
    )
    for patch in ({"status": "cancelled"}, {"due_on": date.today().isoformat()}):
        final = await client.patch(url, json=patch, headers=if_match(staff, case["version"]))
        assert_problem(final, 409)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_on": "2020-01-01"}, "body.due_on"),
        ({"measure_code": "no_such_measure"}, "body.measure_code"),
        ({"measure_code": "Bad"}, "body.measure_code"),
    ],
)
async def test_an_invalid_planned_measure_is_422(client, world, overrides, field):
    response = await plan(client, world, world.case, **overrides)
    assert error_fields(assert_problem(response, 422)) == {field}
    got = await get(client, case_url(world.case), world.liaison)
    assert (got["measures"], got["version"]) == ([], world.case["version"])


async def test_an_unknown_measure_of_a_case_is_404(client, world):
    url = case_url(world.case, "measures", str(uuid.uuid4()))
    response = await client.patch(
        url, json={"status": "cancelled"}, headers=if_match(world.liaison, world.case["version"])
    )
    assert_problem(response, 404)


async def test_a_closed_case_takes_no_measure_or_contact(client, world):
    case = await reach(client, world, "closed")
    assert_problem(await plan(client, world, case), 409)
    contact = await client.post(
        case_url(case, "contacts"), json={"channel": "phone"}, headers=world.liaison
    )
    assert_problem(contact, 409)


async def test_contacts_are_recorded_newest_first(client, world):
    today = date.today()
    sm = await create_servicemember(client, world.liaison)
    case = await open_support_case(
        client, world.liaison, sm["id"], opened_on=(today - timedelta(days=5)).isoformat()
    )
    for day, channel in ((today - timedelta(days=1), "visit"), (today, "phone")):
        response = await client.post(
            case_url(case, "contacts"),
            json={"channel": channel, "contacted_on": day.isoformat(), "notes": "говорили"},
            headers=world.liaison,
        )
        assert response.status_code == 201, response.text
    case = response.json()
    assert [(c["channel"], c["contacted_on"]) for c in case["contacts"]] == [
        ("phone", today.isoformat()),
        ("visit", (today - timedelta(days=1)).isoformat()),
    ]
    assert case["last_contact_on"] == today.isoformat()
    assert case["contact_due_on"] == (today + timedelta(days=30)).isoformat()
    for body, field in (
        ({"channel": "pigeon"}, "body.channel"),
        ({"channel": "phone", "contacted_on": (today + timedelta(days=1)).isoformat()}, None),
        ({"channel": "phone", "contacted_on": "2020-01-01"}, "body.contacted_on"),
    ):
        response = await client.post(
            case_url(world.case, "contacts"), json=body, headers=world.liaison
        )
        assert error_fields(assert_problem(response, 422)) == {field or "body.contacted_on"}


# --- the programme's rule -------------------------------------------------------------------------


async def catalogue_for(client, headers, status: str) -> set[str]:
    items = (await client.get(SUPPORT_MEASURES, headers=headers)).json()["items"]
    return {m["code"] for m in items if m["active"] and status in m["statuses"]}


@pytest.mark.parametrize("status", ["missing", "captured", "fallen"])
async def test_a_status_change_plans_the_catalogue_in_every_open_case(client, admin, world, status):
    liaison = world.liaison
    # A closed case of the servicemember stays as it was; the open one (a second case)
    # gets the status and the measures.
    closed = await reach(client, world, "closed")
    open_case = await open_support_case(client, liaison, world.servicemember["id"])
    already = await plan(client, world, open_case, measure_code="legal_aid")
    assert already.status_code == 201, already.text
    open_case = already.json()
    retired = {
        "code": f"retired_{uuid.uuid4().hex[:6]}",
        "name_uk": "Стара",
        "name_en": "Old",
        "statuses": [status],
    }
    assert (await client.post(SUPPORT_MEASURES, json=retired, headers=admin)).status_code == 201
    assert (
        await client.patch(
            f"{SUPPORT_MEASURES}/{retired['code']}",
            json={"retired": True},
            headers=if_match(admin, 1),
        )
    ).status_code == 200
    expected = await catalogue_for(client, admin, status)
    assert "legal_aid" in expected
    assert retired["code"] not in expected

    response = await client.post(
        sm_url(world.servicemember, "status"), json={"status": status}, headers=liaison
    )
    assert response.status_code == 201, response.text

    got = await get(client, case_url(open_case), liaison)
    assert got["servicemember"]["status"] == status
    assert got["version"] == open_case["version"] + 1
    by_code: dict[str, list[dict[str, Any]]] = {}
    for measure in got["measures"]:
        by_code.setdefault(measure["measure_code"], []).append(measure)
    assert set(by_code) == expected
    assert [m["origin"] for m in by_code["legal_aid"]] == ["planned"]  # not planned twice
    for code in expected - {"legal_aid"}:
        [measure] = by_code[code]
        assert (measure["status"], measure["origin"]) == ("planned", "status_change")
    history = (await get(client, case_url(open_case, "history"), liaison))["items"]
    event = history[-1]
    assert (event["kind"], event["servicemember_status"], event["version"]) == (
        "servicemember_status",
        status,
        got["version"],
    )
    assert sorted(event["details"]["measures_planned"]) == sorted(expected - {"legal_aid"})

    after = await get(client, case_url(closed), liaison)
    assert (after["version"], after["measures"]) == (closed["version"], [])
    closed_history = (await get(client, case_url(closed, "history"), liaison))["items"]
    assert all(e["kind"] != "servicemember_status" for e in closed_history)


async def test_a_back_dated_status_plans_nothing(client, world):
    response = await client.post(
        sm_url(world.servicemember, "status"),
        json={"status": "missing", "effective_on": "2020-01-01"},
        headers=world.liaison,
    )
    assert response.status_code == 201, response.text
    got = await get(client, case_url(world.case), world.liaison)
    assert (got["measures"], got["version"]) == ([], world.case["version"])


# --- deadlines ------------------------------------------------------------------------------------


def test_the_deadlines_are_settings_with_the_programmes_defaults():
    settings = Settings()
    assert (settings.support_first_contact_days, settings.support_contact_interval_days) == (3, 30)


async def overdue_ids(client, world, flag: str) -> set[str]:
    ids = set()
    for url in (SUPPORT_CASES, f"{UNITS}/{world.unit['id']}/cases"):
        response = await client.get(url, headers=world.liaison, params={"contact_overdue": flag})
        assert response.status_code == 200, response.text
        ids |= {c["id"] for c in response.json()["items"]}
    return ids


async def test_the_first_contact_is_due_within_three_days(client, admin, make_token, clock):
    world = await support_world(client, admin, make_token)
    assert (world.case["opened_on"], world.case["contact_due_on"]) == (
        MONDAY.isoformat(),
        (MONDAY + timedelta(days=3)).isoformat(),
    )
    clock.advance(3)
    case = await get(client, case_url(world.case), world.liaison)
    assert case["contact_overdue"] is False
    assert world.case["id"] in await overdue_ids(client, world, "false")
    assert world.case["id"] not in await overdue_ids(client, world, "true")
    clock.advance(1)
    case = await get(client, case_url(world.case), world.liaison)
    assert case["contact_overdue"] is True
    assert world.case["id"] in await overdue_ids(client, world, "true")
    assert world.case["id"] not in await overdue_ids(client, world, "false")

    contact = await client.post(
        case_url(world.case, "contacts"), json={"channel": "visit"}, headers=world.liaison
    )
    assert contact.status_code == 201, contact.text
    case = contact.json()
    assert (case["last_contact_on"], case["contact_due_on"], case["contact_overdue"]) == (
        clock.day.isoformat(),
        (clock.day + timedelta(days=30)).isoformat(),
        False,
    )
    clock.advance(30)
    assert (await get(client, case_url(world.case), world.liaison))["contact_overdue"] is False
    clock.advance(1)
    assert (await get(client, case_url(world.case), world.liaison))["contact_overdue"] is True


async def test_a_suspended_case_is_never_overdue(client, admin, make_token, clock):
    world = await support_world(client, admin, make_token)
    case = await reach(client, world, "suspended")
    clock.advance(100)
    got = await get(client, case_url(case), world.liaison)
    assert got["contact_overdue"] is False
    assert case["id"] in await overdue_ids(client, world, "false")
    assert case["id"] not in await overdue_ids(client, world, "true")
    resumed = await move(client, world.liaison, got, "active")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["contact_due_on"] == (clock.day + timedelta(days=3)).isoformat()


async def test_a_closed_case_is_never_overdue(client, admin, make_token, clock):
    world = await support_world(client, admin, make_token)
    case = await reach(client, world, "closed")
    clock.advance(100)
    assert (await get(client, case_url(case), world.liaison))["contact_overdue"] is False


# --- idempotent creation --------------------------------------------------------------------------


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def _replays(client, url: str, body: dict[str, Any], headers) -> dict[str, Any]:
    key = str(uuid.uuid4())
    first = await client.post(url, json=body, headers=keyed(headers, key))
    assert first.status_code == 201, first.text
    replay = await client.post(url, json=body, headers=keyed(headers, key))
    assert replay.status_code == 201, replay.text
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["etag"] == first.headers["etag"]
    return dict(first.json())


async def test_creating_is_idempotent(client, connection, admin, world):
    counts = (
        "SELECT (SELECT count(*) FROM military_units) + (SELECT count(*) FROM servicemembers)"
        " + (SELECT count(*) FROM support_cases) + (SELECT count(*) FROM support_measures)"
    )
    before = await count(connection, counts)
    await _replays(client, UNITS, unit_body(), admin)
    measure = {"code": f"m_{uuid.uuid4().hex[:8]}", "name_uk": "М", "name_en": "M"}
    await _replays(client, SUPPORT_MEASURES, {**measure, "statuses": ["fallen"]}, admin)
    sm = await _replays(
        client, SERVICEMEMBERS, {"person": person(), "family": family(BUCHA)}, world.liaison
    )
    await _replays(client, SUPPORT_CASES, {"servicemember_id": sm["id"]}, world.liaison)
    assert await count(connection, counts) == before + 4


async def test_a_servicemember_who_moved_on_is_not_shown_to_the_former_unit(
    client, admin, make_token, world
):
    """A case closed before the transfer stays the former unit's, but it would show the
    servicemember as they stand now (a status the new unit records): the former unit, which
    no longer finds the servicemember, no longer finds that case either."""
    closed = await reach(client, world, "closed")
    new_unit = await create_unit(client, admin)
    new_liaison = bearer(token(make_token, "military_liaison", unit_id=new_unit["id"]))
    moved = await client.post(
        sm_url(world.servicemember, "transfer"),
        json={"unit_id": new_unit["id"]},
        headers=world.liaison,
    )
    assert moved.status_code == 200, moved.text
    captured = await client.post(
        sm_url(world.servicemember, "status"), json={"status": "captured"}, headers=new_liaison
    )
    assert captured.status_code == 201, captured.text

    for path in (case_url(closed), case_url(closed, "history"), sm_url(world.servicemember)):
        assert_problem(await client.get(path, headers=world.liaison), 404)
    for url in (SUPPORT_CASES, f"{UNITS}/{world.unit['id']}/cases"):
        listed = await client.get(url, headers=world.liaison)
        assert listed.status_code == 200, listed.text
        assert "captured" not in listed.text
        assert closed["id"] not in {c["id"] for c in listed.json()["items"]}
    transition = await client.post(
        case_url(closed, "transitions"),
        json={"to": "active"},
        headers=if_match(world.liaison, closed["version"]),
    )
    assert_problem(transition, 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("contacts", {"channel": "phone"}),
        ("measures", {"measure_code": "legal_aid", "due_on": date.today().isoformat()}),
    ],
)
async def test_a_contact_or_a_planned_measure_checks_if_match_when_sent(client, world, path, body):
    url = case_url(world.case, path)
    stale = await client.post(
        url, json=body, headers=if_match(world.liaison, world.case["version"] + 3)
    )
    assert_problem(stale, 412)
    current = await client.post(
        url, json=body, headers=if_match(world.liaison, world.case["version"])
    )
    assert current.status_code == 201, current.text
    assert current.json()["version"] == world.case["version"] + 1


async def test_the_case_list_pages_every_case_once_in_its_summary_shape_and_audits_each(
    client, connection, world
):
    # The list answers without its model (the liaison's hot page): what it sends must be
    # exactly ``SupportCaseSummary``, the summary of each case read by id, and the audit
    # must name every case listed and its servicemember, in order.
    for _ in range(2):
        sm = await create_servicemember(client, world.liaison)
        await open_support_case(client, world.liaison, sm["id"])
    pages, url = [], f"{SUPPORT_CASES}?limit=2"
    while url:
        response = await client.get(url, headers=world.liaison)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else ""
    listed = [case for page in pages for case in page["items"]]

    assert [len(page["items"]) for page in pages] == [2, 1]
    assert [case["id"] for case in listed] == sorted(case["id"] for case in listed)
    for page in pages:
        assert page == PageOf[SupportCaseSummary].model_validate(page).model_dump(mode="json")
    for case in listed:
        whole = (await client.get(case_url(case), headers=world.liaison)).json()
        assert case == {key: whole[key] for key in case}
    audited = (
        (
            await connection.execute(
                text(
                    "SELECT resource_ids FROM audit_events WHERE action = 'list_support_cases' "
                    "ORDER BY id"
                )
            )
        )
        .scalars()
        .all()
    )
    assert audited == [
        [i for case in page["items"] for i in (case["id"], case["servicemember"]["id"])]
        for page in pages
    ]
