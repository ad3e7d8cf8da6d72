"""Who sees and works what of servicemember-family support, role by role: the exact fields
each role reads of a support case and a servicemember, the 404 outside one's reach on every
operation, the 403 of those who read but do not work; and that every read is audited, every
refusal too, and that a servicemember's status is never logged nor named in an error."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import (
    BUCHA,
    IRPIN,
    KYIV_OBLAST,
    SERVICEMEMBERS,
    SUPPORT_CASES,
    SUPPORT_MEASURES,
    UNITS,
    SupportWorld,
    assert_problem,
    bearer,
    create_unit,
    eligible_provider,
    family,
    if_match,
    person,
    support_world,
    token,
    unit_body,
)


@pytest.fixture
async def world(client, admin, make_token) -> SupportWorld:
    """A case of a family of Bucha with a measure planned and a contact recorded."""
    world = await support_world(client, admin, make_token)
    planned = await client.post(
        f"{SUPPORT_CASES}/{world.case['id']}/measures",
        json={"measure_code": "legal_aid", "due_on": date.today().isoformat()},
        headers=world.liaison,
    )
    assert planned.status_code == 201, planned.text
    contact = await client.post(
        f"{SUPPORT_CASES}/{world.case['id']}/contacts",
        json={"channel": "phone", "notes": "мати просить юриста"},
        headers=world.liaison,
    )
    assert contact.status_code == 201, contact.text
    world.case = contact.json()
    return world


def headers_of(make_token, role: str, sub: str | None = None, **claims: Any) -> dict[str, str]:
    if sub is not None:
        claims["sub"] = sub
    return bearer(token(make_token, role, **claims))


# --- the shapes each role reads -------------------------------------------------------------------

SUMMARY = {
    "id",
    "unit_id",
    "family_id",
    "servicemember",
    "status",
    "opened_on",
    "provider_id",
    "worker_sub",
    "last_contact_on",
    "contact_due_on",
    "contact_overdue",
    "provider_ineligible",
    "version",
}
CASE_SERVICEMEMBER = {
    "id",
    "person_id",
    "last_name",
    "first_name",
    "patronymic",
    "status",
    "status_effective_on",
}
PROVIDER_CASE = SUMMARY | {
    "summary",
    "family",
    "measures",
    "contacts",
    "closure",
    "allowed_transitions",
}
FULL_CASE = PROVIDER_CASE | {"assigned_at", "assigned_by", "created_by", "created_at", "updated_at"}
HROMADA_CASE = SUMMARY | {"family", "measures", "closure", "allowed_transitions"}
FAMILY_CONTACT = {"id", "phone", "address_line", "hromada_code", "settlement_code"}
FAMILY_PLACE = {"id", "hromada_code"}
MEASURE = {
    "id",
    "measure_code",
    "status",
    "origin",
    "responsible",
    "due_on",
    "delivered_on",
    "outcome",
    "notes",
    "delivered_by",
    "created_by",
    "created_at",
    "updated_at",
    "version",
}
MEASURE_BRIEF = {"id", "measure_code", "status", "due_on", "delivered_on"}
CONTACT = {"id", "contacted_on", "channel", "notes", "created_by", "created_at"}
BRIEF_SERVICEMEMBER = {
    "id",
    "person",
    "family_id",
    "unit_id",
    "status",
    "status_effective_on",
    "version",
}
FULL_SERVICEMEMBER = BRIEF_SERVICEMEMBER | {
    "status_history",
    "unit_history",
    "created_by",
    "created_at",
    "updated_at",
}
PERSON = {"id", "last_name", "first_name", "patronymic", "birth_date"}
FULL_STEP = {
    "version",
    "kind",
    "from_status",
    "to_status",
    "reason",
    "servicemember_status",
    "details",
    "actor",
    "at",
}
STEP = {"version", "kind", "from_status", "to_status", "at"}

#: role → (support case, family, measure, servicemember, history step) as that role reads them
SHAPES = {
    "liaison": (FULL_CASE, FAMILY_CONTACT, MEASURE, FULL_SERVICEMEMBER, FULL_STEP),
    "ministry_admin": (FULL_CASE, FAMILY_CONTACT, MEASURE, FULL_SERVICEMEMBER, FULL_STEP),
    "provider_staff": (PROVIDER_CASE, FAMILY_CONTACT, MEASURE, BRIEF_SERVICEMEMBER, STEP),
    "community_officer": (HROMADA_CASE, FAMILY_PLACE, MEASURE_BRIEF, BRIEF_SERVICEMEMBER, STEP),
    "social_worker": (HROMADA_CASE, FAMILY_PLACE, MEASURE_BRIEF, BRIEF_SERVICEMEMBER, STEP),
}


def reader(make_token, world: SupportWorld, role: str) -> dict[str, str]:
    if role == "liaison":
        return world.liaison
    if role == "ministry_admin":
        return headers_of(make_token, "ministry_admin")
    if role == "provider_staff":
        return headers_of(make_token, "provider_staff", provider_id=world.provider["id"])
    return headers_of(make_token, role, territory=BUCHA)


@pytest.mark.parametrize("role", list(SHAPES))
async def test_each_role_reads_its_own_shape(client, make_token, world, role):
    headers = reader(make_token, world, role)
    case_keys, family_keys, measure_keys, servicemember_keys, step_keys = SHAPES[role]

    got = await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=headers)
    assert got.status_code == 200, got.text
    case = got.json()
    assert set(case) == case_keys
    assert set(case["servicemember"]) == CASE_SERVICEMEMBER
    assert set(case["family"]) == family_keys
    assert [set(m) for m in case["measures"]] == [measure_keys]
    if "contacts" in case_keys:
        assert [set(c) for c in case["contacts"]] == [CONTACT]
        assert case["contacts"][0]["notes"] == "мати просить юриста"
        assert case["family"]["phone"] == "+380441234567"
    if "contacts" not in case_keys:
        assert "мати просить юриста" not in got.text
    assert ("+380441234567" in got.text) == ("phone" in family_keys)

    listed = await client.get(SUPPORT_CASES, headers=headers)
    assert listed.status_code == 200, listed.text
    [summary] = [c for c in listed.json()["items"] if c["id"] == world.case["id"]]
    assert set(summary) == SUMMARY

    got = await client.get(f"{SERVICEMEMBERS}/{world.servicemember['id']}", headers=headers)
    assert got.status_code == 200, got.text
    servicemember = got.json()
    assert set(servicemember) == servicemember_keys
    assert set(servicemember["person"]) == PERSON
    listed = await client.get(SERVICEMEMBERS, headers=headers, params={"limit": 200})
    assert listed.status_code == 200, listed.text
    [item] = [s for s in listed.json()["items"] if s["id"] == world.servicemember["id"]]
    assert set(item) == servicemember_keys

    history = await client.get(f"{SUPPORT_CASES}/{world.case['id']}/history", headers=headers)
    assert history.status_code == 200, history.text
    assert history.json()["items"]
    assert all(set(step) == step_keys for step in history.json()["items"])


async def test_only_the_units_side_and_the_ministry_see_the_status_changes_on_a_case(
    client, make_token, world
):
    changed = await client.post(
        f"{SERVICEMEMBERS}/{world.servicemember['id']}/status",
        json={"status": "captured"},
        headers=world.liaison,
    )
    assert changed.status_code == 201, changed.text
    for role in SHAPES:
        headers = reader(make_token, world, role)
        history = await client.get(f"{SUPPORT_CASES}/{world.case['id']}/history", headers=headers)
        kinds = [step["kind"] for step in history.json()["items"]]
        sees = role in ("liaison", "ministry_admin")
        assert ("servicemember_status" in kinds) == sees, role
        got = await client.get(f"{SERVICEMEMBERS}/{world.servicemember['id']}", headers=headers)
        assert got.json()["status"] == "captured"  # everyone sees the status as it stands
        assert ("status_history" in got.json()) == sees


# --- a liaison of another unit --------------------------------------------------------------------


def operations(world: SupportWorld) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """Every operation on the world's unit, servicemember and case: (method, path, body,
    the resource a refusal names)."""
    case = f"{SUPPORT_CASES}/{world.case['id']}"
    sm = f"{SERVICEMEMBERS}/{world.servicemember['id']}"
    measure_id = world.case["measures"][0]["id"] if world.case.get("measures") else uuid.uuid4()
    return [
        ("GET", f"{UNITS}/{world.unit['id']}", None, "military_unit"),
        ("GET", f"{UNITS}/{world.unit['id']}/cases", None, "support_case"),
        ("GET", sm, None, "servicemember"),
        ("POST", f"{sm}/status", {"status": "missing"}, "servicemember"),
        ("POST", f"{sm}/transfer", {"unit_id": world.unit["id"]}, "servicemember"),
        ("GET", case, None, "support_case"),
        ("GET", f"{case}/history", None, "support_case"),
        ("POST", f"{case}/transitions", {"to": "active"}, "support_case"),
        (
            "POST",
            f"{case}/assignment",
            {"provider_id": world.provider["id"], "worker_sub": "w"},
            "support_case",
        ),
        (
            "POST",
            f"{case}/measures",
            {"measure_code": "legal_aid", "due_on": date.today().isoformat()},
            "support_case_measure",
        ),
        (
            "PATCH",
            f"{case}/measures/{measure_id}",
            {"status": "cancelled"},
            "support_case_measure",
        ),
        ("POST", f"{case}/contacts", {"channel": "phone"}, "support_case_contact"),
    ]


async def call(
    client, method: str, path: str, body: dict[str, Any] | None, headers, version: int
) -> httpx.Response:
    return await client.request(method, path, json=body, headers=if_match(headers, version))


async def events(connection, actor: str) -> list[dict[str, Any]]:
    rows = await connection.execute(
        text(
            "SELECT action, resource_type, resource_ids, outcome, role FROM audit_events "
            "WHERE actor = :actor ORDER BY id"
        ),
        {"actor": actor},
    )
    return [dict(row) for row in rows.mappings()]


async def test_a_liaison_of_another_unit_finds_nothing_and_is_audited(
    client, connection, admin, make_token, world
):
    other = await create_unit(client, admin)
    sub = f"stranger-{uuid.uuid4().hex[:8]}"
    stranger = headers_of(make_token, "military_liaison", sub=sub, unit_id=other["id"])
    for method, path, body, _ in operations(world):
        response = await call(client, method, path, body, stranger, world.case["version"])
        assert_problem(response, 404)
    denied = await events(connection, sub)
    assert [(e["resource_type"], e["outcome"]) for e in denied] == [
        (resource, "denied") for *_, resource in operations(world)
    ]
    gets = {e["action"]: e for e in denied}
    assert gets["get_support_case"]["resource_ids"] == [world.case["id"]]
    assert gets["get_servicemember"]["resource_ids"] == [world.servicemember["id"]]

    for url, params in (
        (SUPPORT_CASES, {}),
        (SUPPORT_CASES, {"unit_id": world.unit["id"]}),
        (SERVICEMEMBERS, {}),
        (SERVICEMEMBERS, {"unit_id": world.unit["id"]}),
        (UNITS, {}),
    ):
        listed = await client.get(url, headers=stranger, params=params)
        assert listed.status_code == 200, listed.text
        ids = {item["id"] for item in listed.json()["items"]}
        assert not ids & {world.case["id"], world.servicemember["id"], world.unit["id"]}

    # Nothing changed.
    got = (await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=world.liaison)).json()
    assert (got["version"], got["status"]) == (world.case["version"], "open")


async def test_a_liaison_works_its_own_units_servicemembers_and_cases(client, world):
    versions = {"case": world.case["version"], "servicemember": world.servicemember["version"]}
    for method, path, body, _ in operations(world):
        if path.endswith("/transfer"):
            continue  # to its own unit: 409
        of = "servicemember" if path.startswith(SERVICEMEMBERS) else "case"
        if of == "case":  # a status change records itself on the case too
            case = await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=world.liaison)
            versions["case"] = case.json()["version"]
        response = await call(client, method, path, body, world.liaison, versions[of])
        assert response.status_code in (200, 201), (path, response.text)
        if method != "GET" and not path.startswith(UNITS):
            versions[of] = response.json()["version"]


async def test_an_integration_client_of_a_unit_acts_as_its_liaison(
    client, admin, make_token, world
):
    scopes = "military:read military:write"
    own = headers_of(make_token, "integration", unit_id=world.unit["id"], scope=scopes)
    got = await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=own)
    assert got.status_code == 200, got.text
    assert set(got.json()) == FULL_CASE
    other = await create_unit(client, admin)
    foreign = headers_of(make_token, "integration", unit_id=other["id"], scope=scopes)
    assert_problem(await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=foreign), 404)


# --- a provider -----------------------------------------------------------------------------------


async def test_the_provider_works_its_cases_but_neither_opens_nor_assigns(
    client, make_token, world
):
    staff = headers_of(make_token, "provider_staff", provider_id=world.provider["id"])
    case = f"{SUPPORT_CASES}/{world.case['id']}"
    version = world.case["version"]
    contact = await client.post(f"{case}/contacts", json={"channel": "visit"}, headers=staff)
    assert contact.status_code == 201, contact.text
    version = contact.json()["version"]
    planned = await client.post(
        f"{case}/measures",
        json={"measure_code": "documents_help", "due_on": date.today().isoformat()},
        headers=staff,
    )
    assert planned.status_code == 201, planned.text
    version = planned.json()["version"]
    moved = await call(client, "POST", f"{case}/transitions", {"to": "active"}, staff, version)
    assert moved.status_code == 200, moved.text
    assert set(moved.json()) == PROVIDER_CASE
    version = moved.json()["version"]

    refusals = [
        ("POST", SUPPORT_CASES, {"servicemember_id": world.servicemember["id"]}),
        ("POST", f"{case}/assignment", {"provider_id": world.provider["id"], "worker_sub": "w"}),
        ("POST", f"{SERVICEMEMBERS}/{world.servicemember['id']}/status", {"status": "missing"}),
        (
            "POST",
            f"{SERVICEMEMBERS}/{world.servicemember['id']}/transfer",
            {"unit_id": world.unit["id"]},
        ),
        ("POST", SERVICEMEMBERS, {"person": person(), "family": family(BUCHA)}),
        ("POST", UNITS, unit_body()),
        ("PATCH", f"{UNITS}/{world.unit['id']}", {"name": "X"}),
    ]
    for method, path, body in refusals:
        assert_problem(await call(client, method, path, body, staff, version), 403)


async def test_another_provider_finds_nothing(client, admin, make_token, world):
    other = await eligible_provider(client, admin)
    staff = headers_of(make_token, "provider_staff", provider_id=other["id"])
    for method, path, body, _ in operations(world):
        if path.startswith(UNITS):
            continue  # a unit is found by the providers assigned to it, checked below
        response = await call(client, method, path, body, staff, world.case["version"])
        assert_problem(response, 404)
    assert_problem(await client.get(f"{UNITS}/{world.unit['id']}", headers=staff), 404)
    for url in (SUPPORT_CASES, SERVICEMEMBERS, UNITS):
        listed = await client.get(url, headers=staff)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == []


async def test_a_provider_reassigned_away_loses_the_case(client, admin, make_token, world):
    second = await eligible_provider(client, admin)
    unit = (await client.get(f"{UNITS}/{world.unit['id']}", headers=admin)).json()
    patched = await client.patch(
        f"{UNITS}/{world.unit['id']}",
        json={"provider_ids": [world.provider["id"], second["id"]]},
        headers=if_match(admin, unit["version"]),
    )
    assert patched.status_code == 200, patched.text
    moved = await call(
        client,
        "POST",
        f"{SUPPORT_CASES}/{world.case['id']}/assignment",
        {"provider_id": second["id"], "worker_sub": "worker-2"},
        world.liaison,
        world.case["version"],
    )
    assert moved.status_code == 200, moved.text
    former = headers_of(make_token, "provider_staff", provider_id=world.provider["id"])
    assert_problem(await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=former), 404)
    new = headers_of(make_token, "provider_staff", provider_id=second["id"])
    got = await client.get(f"{SUPPORT_CASES}/{world.case['id']}", headers=new)
    assert got.status_code == 200, got.text


# --- the family's hromada -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["community_officer", "social_worker"])
async def test_the_hromada_reads_and_never_writes(client, make_token, world, role):
    headers = headers_of(make_token, role, territory=BUCHA)
    case = f"{SUPPORT_CASES}/{world.case['id']}"
    sm = f"{SERVICEMEMBERS}/{world.servicemember['id']}"
    for path in (case, f"{case}/history", SUPPORT_CASES, sm, SERVICEMEMBERS):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    unit_cases = await client.get(f"{UNITS}/{world.unit['id']}/cases", headers=headers)
    assert world.case["id"] in {c["id"] for c in unit_cases.json()["items"]}
    for method, path, body, _ in operations(world):
        if method == "GET":
            continue
        response = await call(client, method, path, body, headers, world.case["version"])
        assert_problem(response, 403)
    for method, path, body in (
        ("POST", SUPPORT_CASES, {"servicemember_id": world.servicemember["id"]}),
        ("POST", SERVICEMEMBERS, {"person": person(), "family": family(BUCHA)}),
    ):
        assert_problem(await call(client, method, path, body, headers, 1), 403)


@pytest.mark.parametrize("role", ["community_officer", "social_worker"])
async def test_another_hromada_finds_nothing(client, make_token, world, role):
    headers = headers_of(make_token, role, territory=IRPIN)
    for path in (
        f"{SUPPORT_CASES}/{world.case['id']}",
        f"{SUPPORT_CASES}/{world.case['id']}/history",
        f"{SERVICEMEMBERS}/{world.servicemember['id']}",
    ):
        assert_problem(await client.get(path, headers=headers), 404)
    for url in (SUPPORT_CASES, SERVICEMEMBERS, f"{UNITS}/{world.unit['id']}/cases"):
        listed = await client.get(url, headers=headers, params={"limit": 200})
        assert listed.status_code == 200, listed.text
        ids = {item["id"] for item in listed.json()["items"]}
        assert world.case["id"] not in ids
        assert world.servicemember["id"] not in ids


# --- the ministry ---------------------------------------------------------------------------------


async def test_the_ministry_reads_and_manages_but_does_not_work_cases(
    client, admin, make_token, world
):
    case = f"{SUPPORT_CASES}/{world.case['id']}"
    sm = f"{SERVICEMEMBERS}/{world.servicemember['id']}"
    for path in (case, f"{case}/history", SUPPORT_CASES, sm, SERVICEMEMBERS, UNITS):
        response = await client.get(path, headers=admin)
        assert response.status_code == 200, (path, response.text)
    version = world.case["version"]
    for method, path, body in (
        ("POST", SUPPORT_CASES, {"servicemember_id": world.servicemember["id"]}),
        ("POST", f"{case}/transitions", {"to": "active"}),
        ("POST", f"{case}/contacts", {"channel": "phone"}),
        ("POST", f"{case}/measures", {"measure_code": "legal_aid", "due_on": "2026-12-31"}),
        ("POST", f"{sm}/status", {"status": "missing"}),
        ("POST", SERVICEMEMBERS, {"person": person(), "family": family(BUCHA)}),
    ):
        assert_problem(await call(client, method, path, body, admin, version), 403)
    assigned = await call(
        client,
        "POST",
        f"{case}/assignment",
        {"provider_id": world.provider["id"], "worker_sub": "worker-4"},
        admin,
        version,
    )
    assert assigned.status_code == 200, assigned.text
    other = await create_unit(client, admin)
    moved = await call(
        client,
        "POST",
        f"{sm}/transfer",
        {"unit_id": other["id"]},
        admin,
        world.servicemember["version"],
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["unit_id"] == other["id"]


# --- those who have nothing to do with it ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "claims"),
    [("ministry_analyst", {}), ("auditor", {}), ("regional_officer", {"territory": KYIV_OBLAST})],
)
async def test_others_are_refused_every_military_operation(
    client, connection, make_token, world, role, claims
):
    sub = f"{role}-{uuid.uuid4().hex[:8]}"
    headers = headers_of(make_token, role, sub=sub, **claims)
    every = [
        *((m, p, b) for m, p, b, _ in operations(world)),
        ("GET", UNITS, None),
        ("POST", UNITS, unit_body()),
        ("PATCH", f"{UNITS}/{world.unit['id']}", {"name": "X"}),
        ("GET", SERVICEMEMBERS, None),
        ("POST", SERVICEMEMBERS, {"person": person(), "family": family(BUCHA)}),
        ("GET", SUPPORT_CASES, None),
        ("POST", SUPPORT_CASES, {"servicemember_id": world.servicemember["id"]}),
        (
            "POST",
            SUPPORT_MEASURES,
            {"code": "xx", "name_uk": "x", "name_en": "x", "statuses": ["fallen"]},
        ),
        ("PATCH", f"{SUPPORT_MEASURES}/legal_aid", {"retired": True}),
    ]
    for method, path, body in every:
        response = await call(client, method, path, body, headers, world.case["version"])
        assert_problem(response, 403)
    assert len(await events(connection, sub)) == len(every)
    assert all(e["outcome"] == "denied" for e in await events(connection, sub))


# --- audit ----------------------------------------------------------------------------------------


async def test_every_read_of_a_servicemember_or_a_case_is_audited(
    client, connection, make_token, world
):
    for role in SHAPES:
        sub = f"{role}-{uuid.uuid4().hex[:8]}"
        headers = reader(make_token, world, role)
        if role == "liaison":
            headers = headers_of(make_token, "military_liaison", sub=sub, unit_id=world.unit["id"])
        elif role == "provider_staff":
            headers = headers_of(make_token, role, sub=sub, provider_id=world.provider["id"])
        elif role == "ministry_admin":
            headers = headers_of(make_token, role, sub=sub)
        else:
            headers = headers_of(make_token, role, sub=sub, territory=BUCHA)
        case, sm = world.case["id"], world.servicemember["id"]
        for path in (
            f"{SUPPORT_CASES}/{case}",
            f"{SUPPORT_CASES}/{case}/history",
            SUPPORT_CASES,
            f"{UNITS}/{world.unit['id']}/cases",
            f"{SERVICEMEMBERS}/{sm}",
            SERVICEMEMBERS,
        ):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, (role, path, response.text)
        audited = [
            (
                e["action"],
                e["resource_type"],
                e["outcome"],
                case in e["resource_ids"] or sm in e["resource_ids"],
            )
            for e in await events(connection, sub)
        ]
        assert audited == [
            ("get_support_case", "support_case", "success", True),
            ("get_support_case_history", "support_case", "success", True),
            ("list_support_cases", "support_case", "success", True),
            ("list_support_cases", "support_case", "success", True),
            ("get_servicemember", "servicemember", "success", True),
            ("list_servicemembers", "servicemember", "success", True),
        ], role


async def test_the_status_is_never_logged_nor_named_in_an_error(
    client, admin, make_token, world, capsys
):
    capsys.readouterr()
    sm = f"{SERVICEMEMBERS}/{world.servicemember['id']}"
    changed = await client.post(f"{sm}/status", json={"status": "captured"}, headers=world.liaison)
    assert changed.status_code == 201, changed.text
    again = await client.post(f"{sm}/status", json={"status": "captured"}, headers=world.liaison)
    problem = assert_problem(again, 409)
    assert "captured" not in json.dumps(problem)
    for path in (sm, SERVICEMEMBERS, f"{SUPPORT_CASES}/{world.case['id']}", SUPPORT_CASES):
        assert (await client.get(path, headers=world.liaison)).status_code == 200
    stale = await client.post(
        f"{sm}/status", json={"status": "fallen"}, headers=if_match(world.liaison, 99)
    )
    assert "fallen" not in json.dumps(assert_problem(stale, 412))
    other = await create_unit(client, admin)
    stranger = headers_of(make_token, "military_liaison", unit_id=other["id"])
    refused = await client.post(f"{sm}/status", json={"status": "fallen"}, headers=stranger)
    assert "fallen" not in json.dumps(assert_problem(refused, 404))
    logged = capsys.readouterr()
    for status in ("captured", "fallen"):
        assert status not in logged.out
        assert status not in logged.err
