"""Servicemember-family support: the flow end to end, units of the programme, the eligibility
gate providers pass to be assigned to a unit (and what happens when they stop passing it), and
the catalogue of support measures."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.support import (
    BUCHA,
    KYIV,
    KYIV_OBLAST,
    LVIV_OBLAST,
    PROVIDERS,
    SERVICEMEMBERS,
    SUPPORT_CASES,
    SUPPORT_CRITERIA,
    SUPPORT_CRITERIA_CODES,
    SUPPORT_MEASURES,
    UNITS,
    assert_problem,
    bearer,
    create_provider,
    create_servicemember,
    create_unit,
    eligible_provider,
    error_fields,
    family,
    if_match,
    open_support_case,
    person,
    provider_body,
    token,
    unit_body,
    unit_number,
)


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


# --- units ----------------------------------------------------------------------------------------


async def _count(connection, sql: str, **params: Any) -> int:
    return int((await connection.execute(text(sql), params)).scalar_one())


async def test_a_unit_is_created_listed_read_and_patched(client, admin):
    created = await create_unit(client, admin, oblast_codes=[LVIV_OBLAST, KYIV_OBLAST, KYIV_OBLAST])
    assert created["oblast_codes"] == sorted({LVIV_OBLAST, KYIV_OBLAST})
    assert (created["stage"], created["joined_on"], created["left_on"]) == (
        "pilot",
        "2024-01-15",
        None,
    )
    assert created["version"] == 1
    assert created["providers"] == []

    got = await client.get(f"{UNITS}/{created['id']}", headers=admin)
    assert got.status_code == 200, got.text
    assert got.json() == created
    assert got.headers["etag"] == '"1"'

    listed = await client.get(UNITS, headers=admin, params={"limit": 200})
    assert created["id"] in {u["id"] for u in listed.json()["items"]}
    by_oblast = await client.get(UNITS, headers=admin, params={"oblast": LVIV_OBLAST})
    assert created["id"] in {u["id"] for u in by_oblast.json()["items"]}
    by_stage = await client.get(UNITS, headers=admin, params={"stage": "expansion"})
    assert created["id"] not in {u["id"] for u in by_stage.json()["items"]}

    patched = await client.patch(
        f"{UNITS}/{created['id']}",
        json={"name": "Нова назва", "stage": "expansion", "left_on": "2025-01-01"},
        headers=if_match(admin, 1),
    )
    assert patched.status_code == 200, patched.text
    unit = patched.json()
    assert (unit["name"], unit["stage"], unit["left_on"], unit["version"]) == (
        "Нова назва",
        "expansion",
        "2025-01-01",
        2,
    )
    assert patched.headers["etag"] == '"2"'


async def test_a_unit_patch_needs_a_current_if_match(client, admin):
    created = await create_unit(client, admin)
    url = f"{UNITS}/{created['id']}"
    assert_problem(await client.patch(url, json={"name": "X"}, headers=admin), 428)
    ok = await client.patch(url, json={"name": "X"}, headers=if_match(admin, 1))
    assert ok.status_code == 200, ok.text
    assert_problem(await client.patch(url, json={"name": "Y"}, headers=if_match(admin, 1)), 412)
    assert (await client.get(url, headers=admin)).json()["name"] == "X"


@pytest.mark.parametrize(
    "number", ["A1234", "А123", "А12345", "Б1234", "а1234", "в1234", "B1234", ""]
)
async def test_a_unit_number_is_cyrillic_a_or_v_and_four_digits(client, connection, admin, number):
    before = await _count(connection, "SELECT count(*) FROM military_units")
    response = await client.post(UNITS, json=unit_body(number=number), headers=admin)
    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.number"}
    assert "^" not in problem["detail"] + str(problem["errors"])  # words, not the pattern
    assert await _count(connection, "SELECT count(*) FROM military_units") == before


@pytest.mark.parametrize("letter", ["А", "В"])
async def test_both_letters_are_designations(client, admin, letter):
    number = unit_number(letter)
    assert (await create_unit(client, admin, number=number))["number"] == number


async def test_a_taken_number_is_409_on_create_and_on_patch(client, connection, admin):
    first = await create_unit(client, admin)
    assert_problem(
        await client.post(UNITS, json=unit_body(number=first["number"]), headers=admin), 409
    )
    second = await create_unit(client, admin)
    taken = await client.patch(
        f"{UNITS}/{second['id']}", json={"number": first["number"]}, headers=if_match(admin, 1)
    )
    assert_problem(taken, 409)
    got = (await client.get(f"{UNITS}/{second['id']}", headers=admin)).json()
    assert (got["number"], got["version"]) == (second["number"], 1)


@pytest.mark.parametrize(
    "extra",
    [
        {"location": "Бахмут"},
        {"strength": 1200},
        {"deployment": "front"},
        {"commander": "Петренко"},
    ],
)
async def test_what_would_help_an_enemy_is_refused(client, connection, admin, extra):
    before = await _count(connection, "SELECT count(*) FROM military_units")
    body = unit_body(**extra)
    problem = assert_problem(await client.post(UNITS, json=body, headers=admin), 422)
    assert error_fields(problem) == {f"body.{next(iter(extra))}"}
    assert await _count(connection, "SELECT count(*) FROM military_units") == before
    created = await create_unit(client, admin)
    patch = await client.patch(f"{UNITS}/{created['id']}", json=extra, headers=if_match(admin, 1))
    assert_problem(patch, 422)
    assert (await client.get(f"{UNITS}/{created['id']}", headers=admin)).json() == created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"oblast_codes": [BUCHA]}, "body.oblast_codes.0"),
        ({"oblast_codes": [KYIV_OBLAST, "UA99000000000000000"]}, "body.oblast_codes.1"),
        ({"oblast_codes": []}, "body.oblast_codes"),
        ({"joined_on": "2024-01-15", "left_on": "2024-01-14"}, "body.left_on"),
        ({"joined_on": (date.today() + timedelta(days=1)).isoformat()}, "body.joined_on"),
        ({"stage": "Pilot"}, "body.stage"),
    ],
)
async def test_an_invalid_unit_is_422(client, connection, admin, overrides, field):
    before = await _count(connection, "SELECT count(*) FROM military_units")
    response = await client.post(UNITS, json=unit_body(**overrides), headers=admin)
    assert field in error_fields(assert_problem(response, 422))
    assert await _count(connection, "SELECT count(*) FROM military_units") == before


async def test_a_patch_is_checked_like_a_creation(client, admin):
    created = await create_unit(client, admin)
    url = f"{UNITS}/{created['id']}"
    for patch, field in (
        ({"oblast_codes": [BUCHA]}, "body.oblast_codes.0"),
        ({"left_on": "2024-01-01"}, "body.left_on"),
        ({"joined_on": (date.today() + timedelta(days=3)).isoformat()}, "body.joined_on"),
        ({"number": "A1234"}, "body.number"),
        ({"name": None}, "body.name"),
    ):
        response = await client.patch(url, json=patch, headers=if_match(admin, 1))
        assert field in error_fields(assert_problem(response, 422)), patch
    assert (await client.get(url, headers=admin)).json() == created


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("military_liaison", {"unit_id": str(uuid.UUID(int=7))}),
        ("community_officer", {"territory": KYIV}),
        ("provider_staff", {"provider_id": str(uuid.UUID(int=8))}),
        ("ministry_analyst", {}),
        ("regional_officer", {"territory": KYIV_OBLAST}),
        ("auditor", {}),
    ],
)
async def test_only_the_ministry_creates_and_changes_units(
    client, connection, admin, make_token, role, claims
):
    headers = bearer(token(make_token, role, **claims))
    before = await _count(connection, "SELECT count(*) FROM military_units")
    assert_problem(await client.post(UNITS, json=unit_body(), headers=headers), 403)
    assert await _count(connection, "SELECT count(*) FROM military_units") == before
    created = await create_unit(client, admin)
    patch = await client.patch(
        f"{UNITS}/{created['id']}", json={"name": "X"}, headers=if_match(headers, 1)
    )
    assert_problem(patch, 403)
    assert (await client.get(f"{UNITS}/{created['id']}", headers=admin)).json() == created


# --- the eligibility gate -------------------------------------------------------------------------


async def _criteria(client, admin) -> list[str]:
    items = (await client.get(SUPPORT_CRITERIA, headers=admin)).json()["items"]
    return [c["code"] for c in items if c["active"]]


async def test_the_criteria_are_the_six_of_the_programme(client, admin):
    assert sorted(await _criteria(client, admin)) == sorted(SUPPORT_CRITERIA_CODES)


def _refusal(response, provider_id: str) -> dict[str, Any]:
    problem = assert_problem(response, 422)
    assert [i["provider_id"] for i in problem["ineligible"]] == [provider_id]
    return problem


@pytest.mark.parametrize("missing", SUPPORT_CRITERIA_CODES)
async def test_each_criterion_missing_fails_the_gate(client, admin, missing):
    assert missing in await _criteria(client, admin)
    provider = await create_provider(
        client,
        admin,
        provider_body(support_criteria_met=[c for c in SUPPORT_CRITERIA_CODES if c != missing]),
    )
    response = await client.post(
        UNITS, json=unit_body(provider_ids=[provider["id"]]), headers=admin
    )
    problem = _refusal(response, provider["id"])
    assert problem["ineligible"][0]["reasons"] == ["criteria_not_met"]
    assert error_fields(problem) == {"body.provider_ids.0"}
    assert any(missing in e["message"] for e in problem["errors"])

    unit = await create_unit(client, admin)
    patched = await client.patch(
        f"{UNITS}/{unit['id']}", json={"provider_ids": [provider["id"]]}, headers=if_match(admin, 1)
    )
    assert _refusal(patched, provider["id"])["ineligible"][0]["reasons"] == ["criteria_not_met"]
    assert (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json() == unit


async def _excluded(client, admin) -> dict[str, Any]:
    provider = await eligible_provider(client, admin)
    response = await client.post(
        f"{PROVIDERS}/{provider['id']}/status",
        json={"to": "excluded", "reason": "порушення стандартів"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _pending(client, admin) -> dict[str, Any]:
    return await create_provider(
        client, admin, provider_body(support_criteria_met=SUPPORT_CRITERIA_CODES), activate=False
    )


async def _state(client, admin) -> dict[str, Any]:
    return await eligible_provider(client, admin, sector="state")


async def _communal(client, admin) -> dict[str, Any]:
    return await eligible_provider(client, admin, sector="communal")


async def _never_verified(client, admin) -> dict[str, Any]:
    return await create_provider(client, admin, provider_body())


@pytest.mark.parametrize(
    ("make", "reasons"),
    [
        (_pending, ["not_active"]),
        (_excluded, ["not_active"]),
        (_state, ["not_non_state"]),
        (_communal, ["not_non_state"]),
        (_never_verified, ["criteria_not_met", "criteria_not_verified"]),
    ],
)
async def test_the_gate_names_why_a_provider_fails_it(client, connection, admin, make, reasons):
    provider = await make(client, admin)
    before = await _count(connection, "SELECT count(*) FROM military_unit_providers")
    response = await client.post(
        UNITS, json=unit_body(provider_ids=[provider["id"]]), headers=admin
    )
    assert _refusal(response, provider["id"])["ineligible"][0]["reasons"] == reasons
    unit = await create_unit(client, admin)
    patched = await client.patch(
        f"{UNITS}/{unit['id']}", json={"provider_ids": [provider["id"]]}, headers=if_match(admin, 1)
    )
    assert _refusal(patched, provider["id"])["ineligible"][0]["reasons"] == reasons
    assert (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json() == unit
    assert await _count(connection, "SELECT count(*) FROM military_unit_providers") == before


async def test_criteria_met_but_not_verified_fail_the_gate(client, connection, admin):
    provider = await eligible_provider(client, admin)
    await connection.execute(
        text(
            "UPDATE providers SET support_verified_at = NULL, support_verified_by = NULL "
            "WHERE id = :id"
        ),
        {"id": provider["id"]},
    )
    response = await client.post(
        UNITS, json=unit_body(provider_ids=[provider["id"]]), headers=admin
    )
    assert _refusal(response, provider["id"])["ineligible"][0]["reasons"] == [
        "criteria_not_verified"
    ]


async def test_an_unknown_provider_is_422_and_nothing_is_stored(client, connection, admin):
    good = await eligible_provider(client, admin)
    unknown = str(uuid.uuid4())
    units_before = await _count(connection, "SELECT count(*) FROM military_units")
    response = await client.post(
        UNITS, json=unit_body(provider_ids=[good["id"], unknown]), headers=admin
    )
    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.provider_ids.1"}
    assert await _count(connection, "SELECT count(*) FROM military_units") == units_before

    unit = await create_unit(client, admin)
    patched = await client.patch(
        f"{UNITS}/{unit['id']}",
        json={"provider_ids": [good["id"], unknown]},
        headers=if_match(admin, 1),
    )
    assert error_fields(assert_problem(patched, 422)) == {"body.provider_ids.1"}
    assert (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json() == unit


async def test_one_ineligible_provider_refuses_the_whole_assignment(client, admin):
    good = await eligible_provider(client, admin)
    bad = await _pending(client, admin)
    unit = await create_unit(client, admin)
    patched = await client.patch(
        f"{UNITS}/{unit['id']}",
        json={"provider_ids": [good["id"], bad["id"]], "name": "Інша"},
        headers=if_match(admin, 1),
    )
    problem = _refusal(patched, bad["id"])
    assert error_fields(problem) == {"body.provider_ids.1"}
    assert (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json() == unit


# --- a provider that stops passing the gate -------------------------------------------------------


async def _assigned_case(client, admin, make_token) -> tuple[dict, dict, dict, dict]:
    """An eligible provider assigned to a unit, and an open case of the unit assigned to it:
    (provider, unit, liaison headers, case)."""
    provider = await eligible_provider(client, admin)
    unit = await create_unit(client, admin, provider_ids=[provider["id"]])
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    servicemember = await create_servicemember(client, liaison)
    case = await open_support_case(
        client, liaison, servicemember["id"], provider_id=provider["id"], worker_sub="worker-1"
    )
    assert case["provider_ineligible"] is False
    return provider, unit, liaison, case


async def _ids(client, url: str, headers, **params) -> set[str]:
    response = await client.get(url, headers=headers, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def _exclude(client, admin, provider) -> None:
    response = await client.post(
        f"{PROVIDERS}/{provider['id']}/status",
        json={"to": "excluded", "reason": "порушення"},
        headers=admin,
    )
    assert response.status_code == 200, response.text


async def _drop_a_criterion(client, admin, provider) -> None:
    current = (await client.get(f"{PROVIDERS}/{provider['id']}", headers=admin)).json()
    response = await client.patch(
        f"{PROVIDERS}/{provider['id']}",
        json={"support_criteria_met": SUPPORT_CRITERIA_CODES[:-1]},
        headers=if_match(admin, current["version"]),
    )
    assert response.status_code == 200, response.text


async def _take_off_the_unit(client, admin, provider, unit) -> None:
    current = (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json()
    response = await client.patch(
        f"{UNITS}/{unit['id']}",
        json={"provider_ids": []},
        headers=if_match(admin, current["version"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["providers"] == []


@pytest.mark.parametrize("lapse", ["excluded", "criteria_changed", "taken_off"])
async def test_a_provider_that_lapses_is_flagged_and_its_open_cases_listed(
    client, admin, make_token, lapse
):
    provider, unit, liaison, case = await _assigned_case(client, admin, make_token)
    other_provider = await eligible_provider(client, admin)
    if lapse == "excluded":
        await _exclude(client, admin, provider)
    elif lapse == "criteria_changed":
        await _drop_a_criterion(client, admin, provider)
    else:
        await _take_off_the_unit(client, admin, provider, unit)

    shown = (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json()
    if lapse != "taken_off":
        assert [(p["provider_id"], p["eligible"]) for p in shown["providers"]] == [
            (provider["id"], False)
        ]
    unit_cases = f"{UNITS}/{unit['id']}/cases"
    for headers in (liaison, admin):
        assert case["id"] in await _ids(client, unit_cases, headers, provider_ineligible="true")
        assert case["id"] not in await _ids(
            client, unit_cases, headers, provider_ineligible="false"
        )
        assert case["id"] in await _ids(client, SUPPORT_CASES, headers, provider_ineligible="true")
        assert case["id"] not in await _ids(
            client, SUPPORT_CASES, headers, provider_ineligible="false"
        )
    got = (await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=liaison)).json()
    assert got["provider_ineligible"] is True

    # It receives no new cases: not when one is opened, nor by assignment.
    servicemember = await create_servicemember(client, liaison)
    refused = await client.post(
        SUPPORT_CASES,
        json={"servicemember_id": servicemember["id"], "provider_id": provider["id"]},
        headers=liaison,
    )
    assert error_fields(assert_problem(refused, 422)) == {"body.provider_id"}
    fresh = await open_support_case(client, liaison, servicemember["id"])
    assigned = await client.post(
        f"{SUPPORT_CASES}/{fresh['id']}/assignment",
        json={"provider_id": provider["id"], "worker_sub": "worker-2"},
        headers=if_match(liaison, fresh["version"]),
    )
    assert error_fields(assert_problem(assigned, 422)) == {"body.provider_id"}
    # Nor keeps the lapsed case by re-assigning it to itself with another worker.
    kept = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/assignment",
        json={"provider_id": provider["id"], "worker_sub": "worker-9"},
        headers=if_match(liaison, got["version"]),
    )
    assert_problem(kept, 422)

    # Reassigned to an eligible provider of the unit, it leaves the list.
    current = (await client.get(f"{UNITS}/{unit['id']}", headers=admin)).json()
    wanted = [p["provider_id"] for p in current["providers"]] + [other_provider["id"]]
    added = await client.patch(
        f"{UNITS}/{unit['id']}",
        json={"provider_ids": wanted},
        headers=if_match(admin, current["version"]),
    )
    assert added.status_code == 200, added.text
    moved = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/assignment",
        json={"provider_id": other_provider["id"], "worker_sub": "worker-3"},
        headers=if_match(liaison, got["version"]),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["provider_ineligible"] is False
    assert case["id"] not in await _ids(client, unit_cases, liaison, provider_ineligible="true")


async def test_a_closed_case_of_a_lapsed_provider_is_not_listed(client, admin, make_token):
    provider, _unit, liaison, case = await _assigned_case(client, admin, make_token)
    closed = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/transitions",
        json={"to": "closed", "reason": "дубль", "closure_reason": "duplicate"},
        headers=if_match(liaison, case["version"]),
    )
    assert closed.status_code == 200, closed.text
    await _exclude(client, admin, provider)
    assert case["id"] not in await _ids(client, SUPPORT_CASES, admin, provider_ineligible="true")
    assert case["id"] in await _ids(client, SUPPORT_CASES, admin, provider_ineligible="false")


# --- the catalogue --------------------------------------------------------------------------------

SEEDED = {
    "psychosocial_support",
    "family_communication",
    "documents_help",
    "state_bodies_representation",
    "payments_information",
    "legal_aid",
    "authorities_liaison",
    "mobilisation_support",
    "missing_captured_family_support",
    "bereavement_support",
}
STATUSES = {"mobilised", "serving", "missing", "captured", "fallen", "demobilised"}


def measure_body(**overrides: Any) -> dict[str, Any]:
    return {
        "code": f"test_{uuid.uuid4().hex[:8]}",
        "name_uk": "Відпочинок для дітей",
        "name_en": "Holidays for children",
        "statuses": ["fallen", "missing"],
        **overrides,
    }


async def _codes(client, headers, **params) -> set[str]:
    response = await client.get(SUPPORT_MEASURES, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {m["code"] for m in response.json()["items"]}


async def test_the_ten_seeded_measures_are_listed_with_their_statuses(client, admin):
    response = await client.get(SUPPORT_MEASURES, headers=admin)
    measures = {m["code"]: m for m in response.json()["items"]}
    assert set(measures) >= SEEDED
    for code in SEEDED:
        assert measures[code]["statuses"], code
        assert set(measures[code]["statuses"]) <= STATUSES
        assert measures[code]["active"] is True
    assert measures["mobilisation_support"]["statuses"] == ["mobilised"]
    assert measures["bereavement_support"]["statuses"] == ["fallen"]


async def test_the_ministry_adds_a_measure(client, admin):
    body = measure_body(statuses=["missing", "fallen", "missing"])
    response = await client.post(SUPPORT_MEASURES, json=body, headers=admin)
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["statuses"] == ["missing", "fallen"]  # in the order of the statuses
    assert (added["active"], added["retired_on"], added["version"]) == (True, None, 1)
    assert response.headers["location"] == f"{SUPPORT_MEASURES}/{body['code']}"
    assert body["code"] in await _codes(client, admin)
    got = await client.get(f"{SUPPORT_MEASURES}/{body['code']}", headers=admin)
    assert got.json() == added


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "Bad-Code"}, "body.code"),
        ({"code": "x"}, "body.code"),
        ({"code": "1abc"}, "body.code"),
        ({"statuses": []}, "body.statuses"),
        ({"statuses": ["wounded"]}, "body.statuses.0"),
        ({"name_uk": ""}, "body.name_uk"),
        ({"location": "x"}, "body.location"),
    ],
)
async def test_an_invalid_measure_is_422(client, admin, overrides, field):
    body = measure_body(**overrides)
    problem = assert_problem(await client.post(SUPPORT_MEASURES, json=body, headers=admin), 422)
    assert field in error_fields(problem)
    if "code" not in overrides:
        assert body["code"] not in await _codes(client, admin, include_retired="true")


async def test_a_code_in_the_catalogue_is_409(client, admin):
    assert_problem(
        await client.post(SUPPORT_MEASURES, json=measure_body(code="legal_aid"), headers=admin),
        409,
    )


async def test_a_retired_measure_is_listed_only_on_request_and_planned_no_more(
    client, admin, make_token
):
    body = measure_body(statuses=["missing"])
    added = (await client.post(SUPPORT_MEASURES, json=body, headers=admin)).json()
    url = f"{SUPPORT_MEASURES}/{body['code']}"
    assert_problem(await client.patch(url, json={"retired": True}, headers=admin), 428)
    retired = await client.patch(url, json={"retired": True}, headers=if_match(admin, 1))
    assert retired.status_code == 200, retired.text
    assert (retired.json()["active"], retired.json()["version"]) == (False, 2)
    assert retired.json()["retired_on"] == date.today().isoformat()
    assert_problem(
        await client.patch(url, json={"retired": False}, headers=if_match(admin, 1)), 412
    )

    assert body["code"] not in await _codes(client, admin)
    assert body["code"] in await _codes(client, admin, include_retired="true")
    assert (await client.get(url, headers=admin)).json()["active"] is False

    _provider, _unit, liaison, case = await _assigned_case(client, admin, make_token)
    planned = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/measures",
        json={"measure_code": body["code"], "due_on": date.today().isoformat()},
        headers=liaison,
    )
    assert error_fields(assert_problem(planned, 422)) == {"body.measure_code"}
    changed = await client.post(
        f"{SERVICEMEMBERS}/{case['servicemember']['id']}/status",
        json={"status": "missing"},
        headers=liaison,
    )
    assert changed.status_code == 201, changed.text
    got = (await client.get(f"{SUPPORT_CASES}/{case['id']}", headers=liaison)).json()
    codes = {m["measure_code"] for m in got["measures"]}
    assert body["code"] not in codes
    assert "missing_captured_family_support" in codes
    _ = added


async def test_a_reinstated_measure_is_listed_again(client, admin):
    body = measure_body()
    await client.post(SUPPORT_MEASURES, json=body, headers=admin)
    url = f"{SUPPORT_MEASURES}/{body['code']}"
    await client.patch(url, json={"retired": True}, headers=if_match(admin, 1))
    back = await client.patch(url, json={"retired": False}, headers=if_match(admin, 2))
    assert (back.json()["active"], back.json()["retired_on"]) == (True, None)
    assert body["code"] in await _codes(client, admin)


ROLES = [
    ("military_liaison", {"unit_id": str(uuid.UUID(int=7))}),
    ("community_officer", {"territory": KYIV}),
    ("social_worker", {"territory": BUCHA}),
    ("provider_staff", {"provider_id": str(uuid.UUID(int=8))}),
    ("ministry_analyst", {}),
    ("regional_officer", {"territory": KYIV_OBLAST}),
]


@pytest.mark.parametrize(("role", "claims"), ROLES)
async def test_only_the_ministry_keeps_the_catalogue_anyone_reads_it(
    client, admin, make_token, role, claims
):
    headers = bearer(token(make_token, role, **claims))
    assert await _codes(client, headers) >= SEEDED
    got = await client.get(f"{SUPPORT_MEASURES}/legal_aid", headers=headers)
    assert got.status_code == 200, got.text
    body = measure_body()
    assert_problem(await client.post(SUPPORT_MEASURES, json=body, headers=headers), 403)
    assert body["code"] not in await _codes(client, admin, include_retired="true")
    version = got.json()["version"]
    patched = await client.patch(
        f"{SUPPORT_MEASURES}/legal_aid", json={"retired": True}, headers=if_match(headers, version)
    )
    assert_problem(patched, 403)
    assert "legal_aid" in await _codes(client, admin)


async def test_the_auditor_does_not_read_the_catalogue(client, make_token):
    auditor = bearer(token(make_token, "auditor"))
    assert_problem(await client.get(SUPPORT_MEASURES, headers=auditor), 403)
    assert_problem(await client.get(f"{SUPPORT_MEASURES}/legal_aid", headers=auditor), 403)


async def test_an_unknown_measure_is_404(client, admin):
    assert_problem(await client.get(f"{SUPPORT_MEASURES}/no_such_measure", headers=admin), 404)
    patched = await client.patch(
        f"{SUPPORT_MEASURES}/no_such_measure", json={"retired": True}, headers=if_match(admin, 1)
    )
    assert_problem(patched, 404)


async def test_an_empty_patch_is_422(client, admin, make_token):
    unit = await create_unit(client, admin)
    assert_problem(
        await client.patch(f"{UNITS}/{unit['id']}", json={}, headers=if_match(admin, 1)), 422
    )
    measure = (await client.get(f"{SUPPORT_MEASURES}/legal_aid", headers=admin)).json()
    assert_problem(
        await client.patch(
            f"{SUPPORT_MEASURES}/legal_aid", json={}, headers=if_match(admin, measure["version"])
        ),
        422,
    )
    provider = await eligible_provider(client, admin)
    unit = await create_unit(client, admin, provider_ids=[provider["id"]])
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    servicemember = await create_servicemember(client, liaison)
    case = await open_support_case(client, liaison, servicemember["id"])
    planned = await client.post(
        f"{SUPPORT_CASES}/{case['id']}/measures",
        json={"measure_code": "legal_aid", "due_on": date.today().isoformat()},
        headers=liaison,
    )
    case = planned.json()
    response = await client.patch(
        f"{SUPPORT_CASES}/{case['id']}/measures/{case['measures'][0]['id']}",
        json={},
        headers=if_match(liaison, case["version"]),
    )
    assert_problem(response, 422)
