"""A family's moves and endings: relocation to another hromada moves the family with all its
cases in one operation (its reach follows it: the old hromada keeps none), by the sending or
the receiving hromada's community officer; archiving is refused while a case is open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import (
    BUCHA,
    BUCHA_CITY,
    BUCHA_RAION,
    FAMILIES,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    RECORDS,
    VORZEL,
    assert_problem,
    bearer,
    clock_set_to,
    create_family,
    create_provider,
    error_fields,
    family,
    if_match,
    person,
    record,
    token,
)

CASES = "/api/v1/cases"
TODAY = date(2026, 3, 2)


@pytest.fixture(autouse=True)
def clock(app) -> Iterator[None]:
    """The application's clock on a fixed day (restored afterwards)."""
    with clock_set_to(app, TODAY):
        yield


def officer_of(make_token: Any, hromada: str, sub: str | None = None) -> dict[str, str]:
    return bearer(token(make_token, "community_officer", sub=sub, territory=hromada))


def worker_of(make_token: Any, hromada: str, sub: str) -> dict[str, str]:
    return bearer(token(make_token, "social_worker", sub=sub, territory=hromada))


def relocation(family_id: str) -> str:
    return f"{FAMILIES}/{family_id}/relocation"


async def open_case(
    client: httpx.AsyncClient, headers: dict[str, str], family_id: str
) -> dict[str, Any]:
    response = await client.post(
        CASES,
        json={"family_id": family_id, "source": "application", "summary": "потреба в супроводі"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def case_step(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case: dict[str, Any],
    path: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    response = await client.post(
        f"{CASES}/{case['id']}/{path}", json=body, headers=if_match(headers, case["version"])
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def close(
    client: httpx.AsyncClient, headers: dict[str, str], case: dict[str, Any]
) -> dict[str, Any]:
    return await case_step(
        client,
        headers,
        case,
        "transitions",
        {"to": "closed", "reason": "мету досягнуто", "closure_reason": "goals_achieved"},
    )


async def version_of(client: httpx.AsyncClient, headers: dict[str, str], family_id: str) -> int:
    response = await client.get(f"{FAMILIES}/{family_id}", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


@pytest.fixture
async def kyiv_family(client, officer) -> dict[str, Any]:
    """A family of Kyiv, registered by Kyiv's community officer (``officer``)."""
    return await create_family(client, officer, family(KYIV))


# --- the walk: Kyiv → Lviv -------------------------------------------------------------------


async def test_a_family_moves_from_kyiv_to_lviv_with_its_cases_and_is_worked_there(
    client, connection, make_token, officer, kyiv_family
):
    kyiv_worker = worker_of(make_token, KYIV, "kyiv-worker")
    lviv_officer = officer_of(make_token, LVIV, "lviv-officer")
    lviv_worker = worker_of(make_token, LVIV, "lviv-worker")
    family_id = kyiv_family["id"]
    # an earlier case, closed in Kyiv, and the open one, worked by a Kyiv social worker
    earlier = await close(client, officer, await open_case(client, officer, family_id))
    current = await open_case(client, officer, family_id)
    current = await case_step(client, officer, current, "assignment", {"worker_sub": "kyiv-worker"})
    # a provider serves the family
    provider = await create_provider(client, bearer(token(make_token, "ministry_admin")))
    linked = await client.post(
        f"{FAMILIES}/{family_id}/providers", json={"provider_id": provider["id"]}, headers=officer
    )
    assert linked.status_code == 201, linked.text
    # Lviv does not reach the family yet
    assert (await client.get(f"{FAMILIES}/{family_id}", headers=lviv_officer)).status_code == 404

    response = await client.post(
        relocation(family_id),
        json={
            "to_hromada_code": LVIV,
            "address_line": "вул. Городоцька, 5",
            "reason": "родина переїхала (ВПО)",
        },
        headers=if_match(officer, kyiv_family["version"]),
    )

    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["oblast_code"], moved["hromada_code"], moved["settlement_code"]) == (
        LVIV_OBLAST,
        LVIV,
        None,
    )
    assert moved["address_line"] == "вул. Городоцька, 5"
    assert moved["moved_from"] == KYIV
    assert sorted(moved["moved_cases"]) == sorted([earlier["id"], current["id"]])
    assert moved["version"] == kyiv_family["version"] + 1
    assert response.headers["etag"] == f'"{moved["version"]}"'
    assert [m["id"] for m in moved["members"]] == [m["id"] for m in kyiv_family["members"]]

    # Kyiv keeps no reach: not the family, not its cases, open or closed
    for headers in (officer, kyiv_worker):
        assert (await client.get(f"{FAMILIES}/{family_id}", headers=headers)).status_code == 404
        for case in (earlier, current):
            got = await client.get(f"{CASES}/{case['id']}", headers=headers)
            assert got.status_code == 404
        listed = (await client.get(FAMILIES, headers=headers)).json()["items"]
        assert family_id not in {f["id"] for f in listed}
        listed_cases = (await client.get(CASES, headers=headers)).json()["items"]
        assert not {earlier["id"], current["id"]} & {c["id"] for c in listed_cases}
    visit = {"visited_on": TODAY.isoformat(), "kind": "home"}
    refused = await client.post(f"{CASES}/{current['id']}/visits", json=visit, headers=kyiv_worker)
    assert refused.status_code == 404

    # Lviv reads the family and its cases
    there = await client.get(f"{FAMILIES}/{family_id}", headers=lviv_officer)
    assert there.status_code == 200
    assert there.json()["hromada_code"] == LVIV
    case = (await client.get(f"{CASES}/{current['id']}", headers=lviv_officer)).json()
    # the case goes on where it was, unassigned: its worker belongs to Kyiv
    assert (case["hromada_code"], case["status"], case["worker_sub"]) == (LVIV, "referred", None)
    assert case["version"] == current["version"] + 1
    closed = (await client.get(f"{CASES}/{earlier['id']}", headers=lviv_officer)).json()
    assert (closed["hromada_code"], closed["status"]) == (LVIV, "closed")
    history = (await client.get(f"{CASES}/{current['id']}/history", headers=lviv_officer)).json()[
        "items"
    ]
    last = history[-1]
    assert (last["version"], last["from_status"], last["to_status"]) == (
        case["version"],
        "referred",
        "referred",
    )
    assert last["reason"] == "family relocated: родина переїхала (ВПО)"
    assert last["details"] == {
        "relocation": True,
        "from_hromada": KYIV,
        "to_hromada": LVIV,
        "from_worker": "kyiv-worker",
        "to_worker": None,
    }

    # ... assigns a Lviv social worker, who works the case
    case = await case_step(client, lviv_officer, case, "assignment", {"worker_sub": "lviv-worker"})
    assert case["worker_sub"] == "lviv-worker"
    recorded = await client.post(f"{CASES}/{case['id']}/visits", json=visit, headers=lviv_worker)
    assert recorded.status_code == 201, recorded.text
    case = (await client.get(f"{CASES}/{case['id']}", headers=lviv_worker)).json()
    started = await case_step(client, lviv_worker, case, "transitions", {"to": "assessment"})
    assert started["status"] == "assessment"

    # the provider's link is the family's: it stays, and Lviv sees it
    links = (await client.get(f"{FAMILIES}/{family_id}/providers", headers=lviv_officer)).json()[
        "items"
    ]
    assert [(link["provider_id"], link["active"]) for link in links] == [(provider["id"], True)]
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    assert (await client.get(f"{FAMILIES}/{family_id}", headers=staff)).status_code == 200

    # audited: one event naming the family and the cases that moved with it
    events = (
        (
            await connection.execute(
                text(
                    "SELECT actor, resource_type, resource_ids, outcome FROM audit_events "
                    "WHERE request_id = :r"
                ),
                {"r": response.headers["x-request-id"]},
            )
        )
        .mappings()
        .all()
    )
    assert [
        (e["actor"], e["resource_type"], e["resource_ids"][0], e["outcome"]) for e in events
    ] == [("test-community_officer", "family", family_id, "success")]
    assert sorted(events[0]["resource_ids"][1:]) == sorted([earlier["id"], current["id"]])
    action = await connection.scalar(
        text("SELECT action FROM audit_events WHERE request_id = :r"),
        {"r": response.headers["x-request-id"]},
    )
    assert action == "relocate_family"
    # what changed is noted for a stale writer
    changed = await connection.scalar(
        text(
            "SELECT changed_fields FROM record_changes WHERE resource_type = 'family' "
            "AND resource_id = :id AND version = :v"
        ),
        {"id": family_id, "v": moved["version"]},
    )
    assert set(changed) == {"oblast_code", "raion_code", "hromada_code", "address_line"}


async def test_the_receiving_officer_moves_a_family_whose_case_was_transferred_to_them(
    client, make_token, officer, kyiv_family
):
    lviv_officer = officer_of(make_token, LVIV, "lviv-officer")
    family_id = kyiv_family["id"]
    case = await open_case(client, officer, family_id)
    transferred = await case_step(
        client,
        officer,
        case,
        "transitions",
        {"to": "transferred", "reason": "переїзд", "transfer_to": {"hromada_code": LVIV}},
    )
    assert transferred["hromada_code"] == LVIV
    # the case is Lviv's, its family not yet (the reported bug)
    assert (await client.get(f"{CASES}/{case['id']}", headers=lviv_officer)).status_code == 200
    assert (await client.get(f"{FAMILIES}/{family_id}", headers=lviv_officer)).status_code == 404

    # the receiving officer moves the family into their own hromada, not elsewhere
    elsewhere = await client.post(
        relocation(family_id), json={"to_hromada_code": BUCHA, "reason": "x"}, headers=lviv_officer
    )
    assert_problem(elsewhere, 403)
    response = await client.post(
        relocation(family_id),
        json={"to_hromada_code": LVIV, "reason": "родина живе у Львові"},
        headers=lviv_officer,
    )
    assert response.status_code == 200, response.text
    assert response.json()["moved_cases"] == []  # its case was already there
    assert (await client.get(f"{FAMILIES}/{family_id}", headers=lviv_officer)).status_code == 200
    assert (await client.get(f"{FAMILIES}/{family_id}", headers=officer)).status_code == 404
    after = (await client.get(f"{CASES}/{case['id']}", headers=lviv_officer)).json()
    assert after["version"] == transferred["version"]  # untouched


async def test_an_officer_whose_hromada_holds_only_a_closed_case_does_not_reach_the_family(
    client, make_token, officer, kyiv_family
):
    lviv_officer = officer_of(make_token, LVIV, "lviv-officer")
    case = await open_case(client, officer, kyiv_family["id"])
    transferred = await case_step(
        client,
        officer,
        case,
        "transitions",
        {"to": "transferred", "reason": "переїзд", "transfer_to": {"hromada_code": LVIV}},
    )
    await close(client, lviv_officer, transferred)
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=lviv_officer,
    )
    assert_problem(response, 404)


async def test_an_integration_client_relocates_within_its_territory(client, make_token):
    client_headers = bearer(
        token(
            make_token,
            "integration",
            scope="families:read families:write",
            territory=KYIV_OBLAST,
        )
    )
    created = await create_family(client, client_headers, family(BUCHA))
    outside = await client.post(
        relocation(created["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=client_headers,
    )
    assert_problem(outside, 403)
    inside = await client.post(
        relocation(created["id"]),
        json={"to_hromada_code": IRPIN, "reason": "переїзд"},
        headers=client_headers,
    )
    assert inside.status_code == 200, inside.text
    assert (inside.json()["hromada_code"], inside.json()["oblast_code"]) == (IRPIN, KYIV_OBLAST)


async def test_a_settlement_in_the_new_hromada_is_kept(client, make_token, kyiv_family, officer):
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": BUCHA, "settlement_code": VORZEL, "reason": "переїзд"},
        headers=officer,
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["hromada_code"], moved["settlement_code"], moved["raion_code"]) == (
        BUCHA,
        VORZEL,
        BUCHA_RAION,
    )
    assert moved["address_line"] is None  # the Kyiv address does not hold in Vorzel


# --- refusals: nothing changes -----------------------------------------------------------------


async def assert_unchanged(client, officer, created: dict[str, Any]) -> None:
    again = (await client.get(f"{FAMILIES}/{created['id']}", headers=officer)).json()
    assert (again["hromada_code"], again["version"]) == (KYIV, created["version"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_hromada_code": "UA99999999999999999"}, "body.to_hromada_code"),  # no such unit
        ({"to_hromada_code": LVIV_OBLAST}, "body.to_hromada_code"),  # an oblast
        ({"to_hromada_code": BUCHA_RAION}, "body.to_hromada_code"),  # a raion
        ({"to_hromada_code": BUCHA_CITY}, "body.to_hromada_code"),  # a settlement
        ({"to_hromada_code": "Львів"}, "body.to_hromada_code"),
        ({"to_hromada_code": BUCHA, "settlement_code": KYIV}, "body.settlement_code"),
        ({"to_hromada_code": IRPIN, "settlement_code": VORZEL}, "body.settlement_code"),
        ({"to_hromada_code": LVIV, "reason": ""}, "body.reason"),
        ({"to_hromada_code": LVIV, "reason": None}, "body.reason"),
        ({"reason": "x"}, "body.to_hromada_code"),
        ({"to_hromada_code": LVIV, "unknown": 1}, "body.unknown"),
    ],
)
async def test_an_invalid_destination_is_422_and_nothing_moves(
    client, officer, kyiv_family, body, field
):
    response = await client.post(
        relocation(kyiv_family["id"]), json={"reason": "переїзд", **body}, headers=officer
    )
    assert_problem(response, 422)
    assert field in error_fields(response.json())
    await assert_unchanged(client, officer, kyiv_family)


async def test_moving_to_the_hromada_it_is_in_is_409(client, officer, kyiv_family):
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": KYIV, "reason": "x"},
        headers=officer,
    )
    body = assert_problem(response, 409)
    assert error_fields(body) == {"body.to_hromada_code"}
    await assert_unchanged(client, officer, kyiv_family)


async def test_a_stale_if_match_is_412_and_nothing_moves(client, officer, kyiv_family):
    patched = await client.patch(
        f"{FAMILIES}/{kyiv_family['id']}",
        json={"phone": "+380671234567"},
        headers=if_match(officer, kyiv_family["version"]),
    )
    assert patched.status_code == 200
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=if_match(officer, kyiv_family["version"]),
    )
    body = assert_problem(response, 412)
    assert body["changed_fields"] == ["phone"]
    again = (await client.get(f"{FAMILIES}/{kyiv_family['id']}", headers=officer)).json()
    assert (again["hromada_code"], again["version"]) == (KYIV, kyiv_family["version"] + 1)


async def test_an_archived_family_does_not_move(client, officer, kyiv_family):
    archived = await client.post(
        f"{FAMILIES}/{kyiv_family['id']}/archive", json={"reason": "x"}, headers=officer
    )
    assert archived.status_code == 200
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=officer,
    )
    assert_problem(response, 409)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "social_worker", "territory": KYIV},
        {"role": "provider_staff", "provider_id": "6f1c2a7e-0000-4000-8000-000000000001"},
        {"role": "ministry_admin"},
        {"role": "regional_officer", "territory": KYIV},
        {"role": "ministry_analyst"},
        {"role": "integration", "scope": "families:read reach:national"},
    ],
)
async def test_roles_that_do_not_relocate_get_403(
    client, connection, make_token, officer, kyiv_family, claims
):
    claims = dict(claims)
    headers = bearer(token(make_token, claims.pop("role"), **claims))
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=headers,
    )
    assert_problem(response, 403)
    outcomes = (
        await connection.execute(
            text("SELECT action, outcome FROM audit_events WHERE request_id = :r"),
            {"r": response.headers["x-request-id"]},
        )
    ).all()
    assert [tuple(o) for o in outcomes] == [("relocate_family", "denied")]
    await assert_unchanged(client, officer, kyiv_family)


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda make_token: officer_of(make_token, IRPIN),
        lambda make_token: officer_of(make_token, LVIV),  # no case of the family there
    ],
)
async def test_a_family_outside_your_reach_is_404(
    client, make_token, officer, kyiv_family, headers_for
):
    headers = headers_for(make_token)
    response = await client.post(
        relocation(kyiv_family["id"]),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=headers,
    )
    unknown = await client.post(
        relocation("00000000-0000-4000-8000-000000000000"),
        json={"to_hromada_code": LVIV, "reason": "x"},
        headers=headers,
    )
    assert_problem(response, 404)
    assert {k: v for k, v in response.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }
    await assert_unchanged(client, officer, kyiv_family)


# --- archiving: not while a case is open -------------------------------------------------------


async def test_a_family_with_an_open_case_is_not_archived(client, connection, officer, kyiv_family):
    case = await open_case(client, officer, kyiv_family["id"])
    url = f"{FAMILIES}/{kyiv_family['id']}/archive"
    response = await client.post(url, json={"reason": "переїхали за кордон"}, headers=officer)
    body = assert_problem(response, 409)
    assert body["open_cases"] == [{"id": case["id"], "status": "referred", "hromada_code": KYIV}]
    assert case["id"] in body["detail"]
    again = (await client.get(f"{FAMILIES}/{kyiv_family['id']}", headers=officer)).json()
    assert (again["status"], again["version"]) == ("active", kyiv_family["version"])
    assert {m["status"] for m in again["members"]} == {"active"}

    # closed through its lifecycle, the family may be archived
    await close(client, officer, case)
    archived = await client.post(url, json={"reason": "переїхали за кордон"}, headers=officer)
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"


async def test_an_open_case_transferred_elsewhere_still_holds_the_family(
    client, officer, kyiv_family
):
    case = await open_case(client, officer, kyiv_family["id"])
    await case_step(
        client,
        officer,
        case,
        "transitions",
        {"to": "transferred", "reason": "переїзд", "transfer_to": {"hromada_code": LVIV}},
    )
    response = await client.post(
        f"{FAMILIES}/{kyiv_family['id']}/archive", json={"reason": "x"}, headers=officer
    )
    body = assert_problem(response, 409)
    assert body["open_cases"] == [{"id": case["id"], "status": "transferred", "hromada_code": LVIV}]


async def test_the_archive_checks_come_in_order(client, make_token, officer, kyiv_family):
    """404 outside the reach, 403 for a role that may not, 412 on a stale version: before
    the open cases are looked at."""
    await open_case(client, officer, kyiv_family["id"])
    url = f"{FAMILIES}/{kyiv_family['id']}/archive"
    body = {"reason": "x"}
    assert_problem(await client.post(url, json=body, headers=officer_of(make_token, IRPIN)), 404)
    provider = bearer(
        token(make_token, "provider_staff", provider_id="6f1c2a7e-0000-4000-8000-000000000001")
    )
    assert_problem(await client.post(url, json=body, headers=provider), 403)
    stale = if_match(officer, kyiv_family["version"] + 5)
    assert_problem(await client.post(url, json=body, headers=stale), 412)


async def test_an_archived_familys_members_are_not_possible_duplicates(client, officer):
    """Archiving ends the memberships (the identifiers are free for the family a person is
    registered in next), so registering them again is not flagged; an active family's
    member is."""
    head = person(last_name="Ткаченко", first_name="Олена", birth_date="1988-08-08")
    archived = await create_family(client, officer, family(KYIV, members=[head]))
    ended = await client.post(
        f"{FAMILIES}/{archived['id']}/archive", json={"reason": "розпалася"}, headers=officer
    )
    assert ended.status_code == 200
    again = await create_family(client, officer, family(KYIV, members=[head]))
    assert again["possible_duplicates"] == []
    listed = await client.get(f"{FAMILIES}/{again['id']}/possible-duplicates", headers=officer)
    assert listed.json()["items"] == []
    # a third registration while the second is active is flagged
    twice = await create_family(
        client, officer, family(KYIV, members=[{**head, "rnokpp": None, "unzr": None}])
    )
    assert [d["family_id"] for d in twice["possible_duplicates"]] == [again["id"]]


async def test_the_familys_service_records_follow_it_and_leave_the_old_hromadas_reach(
    client, connection, make_token, officer, kyiv_family
):
    lviv_officer = officer_of(make_token, LVIV, "lviv-officer")
    family_id = kyiv_family["id"]
    provider = await create_provider(client, bearer(token(make_token, "ministry_admin")))
    linked = await client.post(
        f"{FAMILIES}/{family_id}/providers", json={"provider_id": provider["id"]}, headers=officer
    )
    assert linked.status_code == 201, linked.text
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    delivered = (TODAY - timedelta(days=3)).isoformat()
    submitted = await client.post(
        RECORDS, json=record(family_id, delivered_on=delivered), headers=staff
    )
    assert submitted.status_code == 201, submitted.text
    service_record = submitted.json()
    assert service_record["hromada_code"] == KYIV

    response = await client.post(
        relocation(family_id),
        json={"to_hromada_code": LVIV, "reason": "родина переїхала (ВПО)"},
        headers=officer,
    )
    assert response.status_code == 200, response.text

    # Kyiv no longer reaches the record; Lviv does, at its next version
    by_id = f"{RECORDS}/{service_record['id']}"
    assert (await client.get(by_id, headers=officer)).status_code == 404
    listed = (await client.get(RECORDS, headers=officer)).json()["items"]
    assert service_record["id"] not in {r["id"] for r in listed}
    there = await client.get(by_id, headers=lviv_officer)
    assert there.status_code == 200, there.text
    moved = there.json()
    assert moved["hromada_code"] == LVIV
    assert moved["version"] == service_record["version"] + 1
    # the provider still reaches its record, and the move is in the record's history
    assert (await client.get(by_id, headers=staff)).status_code == 200
    history = (await client.get(f"{by_id}/history", headers=staff)).json()
    assert [v["version"] for v in history["items"]][-2:] == [
        service_record["version"],
        moved["version"],
    ]
    # audited: the move names the records as well as the family and its cases
    events = (
        await connection.execute(
            text(
                "SELECT resource_type, resource_ids FROM audit_events "
                "WHERE request_id = :r ORDER BY resource_type"
            ),
            {"r": response.headers["x-request-id"]},
        )
    ).all()
    assert [(e.resource_type, e.resource_ids) for e in events] == [
        ("family", [family_id]),
        ("service_record", [service_record["id"]]),
    ]
