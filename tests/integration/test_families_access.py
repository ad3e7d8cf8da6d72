"""Who may do what to which family: every role against families in its own hromada, another
hromada of the same oblast and another oblast. Outside the caller's reach a family does not
exist (404, the same answer as for a random id); a role without the permission gets 403, and
the refusal is in the audit log; identifiers are shown in full, masked or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import (
    BUCHA,
    FAMILIES,
    IRPIN,
    KYIV_OBLAST,
    LVIV,
    bearer,
    child,
    create_family,
    create_provider,
    family,
    person,
    provider_body,
    token,
)

PLACES = {"bucha": BUCHA, "irpin": IRPIN, "lviv": LVIV}
EVERYWHERE = frozenset(PLACES)


@dataclass(frozen=True)
class Reach:
    claims: dict[str, Any]
    reads: bool = True
    sees: frozenset[str] = frozenset()
    writes: bool = False
    creates_in: frozenset[str] = frozenset()
    identifiers: str = "hidden"  # full | masked | hidden


PROVIDER = uuid.UUID("6f1c2a7e-0000-4000-8000-000000000001")

REACH = {
    "bucha_worker": Reach(
        {"role": "social_worker", "territory": BUCHA},
        sees=frozenset({"bucha"}),
        writes=True,
        creates_in=frozenset({"bucha"}),
        identifiers="full",
    ),
    "bucha_officer": Reach(
        {"role": "community_officer", "territory": BUCHA},
        sees=frozenset({"bucha"}),
        writes=True,
        creates_in=frozenset({"bucha"}),
        identifiers="full",
    ),
    "irpin_officer": Reach(
        {"role": "community_officer", "territory": IRPIN},
        sees=frozenset({"irpin"}),
        writes=True,
        creates_in=frozenset({"irpin"}),
        identifiers="full",
    ),
    "kyiv_oblast_regional": Reach(
        {"role": "regional_officer", "territory": KYIV_OBLAST},
        sees=frozenset({"bucha", "irpin"}),
        identifiers="masked",
    ),
    "lviv_worker": Reach(
        {"role": "social_worker", "territory": LVIV},
        sees=frozenset({"lviv"}),
        writes=True,
        creates_in=frozenset({"lviv"}),
        identifiers="full",
    ),
    "admin": Reach({"role": "ministry_admin"}, sees=EVERYWHERE, identifiers="full"),
    "analyst": Reach({"role": "ministry_analyst"}, reads=False),
    "auditor": Reach({"role": "auditor"}, reads=False),
    "provider": Reach({"role": "provider_staff", "provider_id": str(PROVIDER)}),
    "integration_reader": Reach(
        {"role": "integration", "scope": "families:read", "territory": KYIV_OBLAST},
        sees=frozenset({"bucha", "irpin"}),
        identifiers="masked",
    ),
    "integration_writer": Reach(
        {
            "role": "integration",
            "scope": "families:read families:write identifiers:read",
            "territory": BUCHA,
        },
        sees=frozenset({"bucha"}),
        writes=True,
        creates_in=frozenset({"bucha"}),
        identifiers="full",
    ),
}
READERS = [name for name, reach in REACH.items() if reach.reads]
IDP_CERTIFICATE = "AB12345678"


def headers_of(make_token: Any, principal: str) -> dict[str, str]:
    claims = dict(REACH[principal].claims)
    role = claims.pop("role")
    return bearer(token(make_token, role, sub=principal, **claims))


@pytest.fixture
async def families(client, make_token) -> dict[str, dict[str, Any]]:
    """A family in Bucha, Irpin and Lviv, each registered by its own hromada's worker, with a
    head (holding every identifier) and a child."""
    created = {}
    for place, hromada in PLACES.items():
        owner = bearer(token(make_token, "social_worker", territory=hromada))
        created[place] = await create_family(
            client,
            owner,
            family(hromada, members=[person(idp_certificate=IDP_CERTIFICATE), child()]),
        )
    return created


# --- operations on one family ------------------------------------------------------------------

Operation = Callable[[httpx.AsyncClient, dict[str, str], dict[str, Any]], Awaitable[httpx.Response]]


def _url(target: dict[str, Any], *rest: str) -> str:
    return "/".join([FAMILIES, str(target["id"]), *rest])


def _member(target: dict[str, Any]) -> str:
    return str(target["members"][0]["id"])


async def _get(client, headers, target):
    return await client.get(_url(target), headers=headers)


async def _members(client, headers, target):
    return await client.get(_url(target, "members"), headers=headers)


async def _get_member(client, headers, target):
    return await client.get(_url(target, "members", _member(target)), headers=headers)


async def _possible_duplicates(client, headers, target):
    return await client.get(_url(target, "possible-duplicates"), headers=headers)


async def _patch(client, headers, target):
    return await client.patch(
        _url(target), json={"address_line": "вул. Нова, 2"}, headers={**headers, "If-Match": '"1"'}
    )


async def _archive(client, headers, target):
    return await client.post(
        _url(target, "archive"), json={"reason": "moved abroad"}, headers=headers
    )


async def _add_member(client, headers, target):
    return await client.post(
        _url(target, "members"), json=child(first_name="Іван", sex="male"), headers=headers
    )


async def _patch_member(client, headers, target):
    return await client.patch(
        _url(target, "members", _member(target)),
        json={"patronymic": "Іванівна"},
        headers={**headers, "If-Match": '"1"'},
    )


async def _remove_member(client, headers, target):
    return await client.post(
        _url(target, "members", _member(target), "remove"),
        json={"reason": "moved out"},
        headers=headers,
    )


#: name → (call, whether it writes, its success status)
OPERATIONS: dict[str, tuple[Operation, bool, int]] = {
    "get": (_get, False, 200),
    "list_members": (_members, False, 200),
    "get_member": (_get_member, False, 200),
    "possible_duplicates": (_possible_duplicates, False, 200),
    "patch": (_patch, True, 200),
    "archive": (_archive, True, 200),
    "add_member": (_add_member, True, 201),
    "patch_member": (_patch_member, True, 200),
    "remove_member": (_remove_member, True, 200),
}


def expected_status(reach: Reach, operation: str, place: str) -> int:
    _, writes, success = OPERATIONS[operation]
    if not reach.reads or (writes and not reach.writes):
        return 403
    return success if place in reach.sees else 404


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    return {k: v for k, v in response.json().items() if k != "request_id"}


async def assert_denial_recorded(connection, response: httpx.Response) -> None:
    request_id = response.headers["x-request-id"]
    outcomes = (
        (
            await connection.execute(
                text("SELECT outcome FROM audit_events WHERE request_id = :r"), {"r": request_id}
            )
        )
        .scalars()
        .all()
    )
    assert outcomes == ["denied"], (response.request.url, outcomes)


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("principal", list(REACH))
async def test_operation_matrix(client, connection, make_token, families, principal, operation):
    reach = REACH[principal]
    call = OPERATIONS[operation][0]
    headers = headers_of(make_token, principal)

    responses = {place: await call(client, headers, families[place]) for place in PLACES}
    observed = {place: r.status_code for place, r in responses.items()}
    expected = {place: expected_status(reach, operation, place) for place in PLACES}
    assert observed == expected, {p: r.text for p, r in responses.items()}

    random_id = {"id": uuid.uuid4(), "members": [{"id": uuid.uuid4()}]}
    unknown = await call(client, headers, random_id)
    for response in responses.values():
        if response.status_code == 404:
            # existence does not leak: the same answer as for an id that was never issued
            assert unknown.status_code == 404
            assert without_request_id(response) == without_request_id(unknown)
            assert response.headers["content-type"] == unknown.headers["content-type"]
        elif response.status_code == 403:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == 403
            await assert_denial_recorded(connection, response)


@pytest.mark.parametrize("principal", list(REACH))
async def test_list_shows_exactly_the_families_within_reach(
    client, make_token, families, principal
):
    reach = REACH[principal]
    response = await client.get(
        FAMILIES, params={"limit": 200}, headers=headers_of(make_token, principal)
    )
    if not reach.reads:
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.text
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {families[place]["id"] for place in reach.sees}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("principal", list(REACH))
async def test_create_only_where_allowed(client, connection, make_token, principal, place):
    reach = REACH[principal]
    count = "SELECT count(*) FROM families"
    before = await connection.scalar(text(count))
    response = await client.post(
        FAMILIES, json=family(PLACES[place]), headers=headers_of(make_token, principal)
    )
    if place in reach.creates_in:
        assert response.status_code == 201, response.text
        assert response.json()["hromada_code"] == PLACES[place]
        assert await connection.scalar(text(count)) == before + 1
    else:
        assert response.status_code == 403, response.text
        await assert_denial_recorded(connection, response)
        assert await connection.scalar(text(count)) == before


# --- identifiers -------------------------------------------------------------------------------


def _masked(value: str) -> str:
    return "*" * (len(value) - 2) + value[-2:]


def expected_identifiers(view: str, head: dict[str, Any]) -> dict[str, str | None]:
    full = {name: head[name] for name in ("rnokpp", "unzr", "idp_certificate")}
    if view == "full":
        return full
    if view == "masked":
        return {name: _masked(value) for name, value in full.items()}
    return dict.fromkeys(full)


def identifiers_of(member: dict[str, Any]) -> dict[str, str | None]:
    return {name: member[name] for name in ("rnokpp", "unzr", "idp_certificate")}


@pytest.mark.parametrize("principal", [p for p in READERS if REACH[p].sees])
async def test_identifiers_shown_according_to_role(client, make_token, families, principal):
    reach = REACH[principal]
    target = families[sorted(reach.sees)[0]]
    head = target["members"][0]
    assert head["rnokpp"]
    assert head["unzr"]
    assert head["idp_certificate"] == IDP_CERTIFICATE
    expected = expected_identifiers(reach.identifiers, head)
    if reach.identifiers == "masked":
        assert expected["rnokpp"] == "********" + head["rnokpp"][-2:]
    headers = headers_of(make_token, principal)

    got = (await client.get(_url(target), headers=headers)).json()
    assert identifiers_of(got["members"][0]) == expected
    member = (await client.get(_url(target, "members", head["id"]), headers=headers)).json()
    assert identifiers_of(member) == expected
    members = (await client.get(_url(target, "members"), headers=headers)).json()["items"]
    assert identifiers_of(next(m for m in members if m["id"] == head["id"])) == expected
    listed = (
        await client.get(FAMILIES, params={"rnokpp": head["rnokpp"]}, headers=headers)
    ).json()["items"]
    assert [f["id"] for f in listed] == [target["id"]]
    assert identifiers_of(listed[0]["members"][0]) == expected
    # the detail (one statement, rows straight to JSON) says exactly what the list says
    detail = await client.get(_url(target), headers=headers)
    assert detail.json() == listed[0]


async def test_regional_officer_sees_identifiers_masked_to_two_characters(
    client, make_token, families
):
    head = families["bucha"]["members"][0]
    response = await client.get(
        _url(families["bucha"], "members", head["id"]),
        headers=headers_of(make_token, "kyiv_oblast_regional"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["rnokpp"] == "********" + head["rnokpp"][-2:]
    assert body["unzr"] == "************" + head["unzr"][-2:]
    assert body["idp_certificate"] == "********78"
    assert head["rnokpp"] not in response.text
    assert head["unzr"] not in response.text


async def test_provider_sees_only_families_referred_to_it(client, connection, make_token, families):
    provider = await create_provider(client, headers_of(make_token, "admin"), provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    bucha = families["bucha"]

    assert (await client.get(FAMILIES, headers=staff)).json()["items"] == []
    assert (await client.get(_url(bucha), headers=staff)).status_code == 404

    bucha_officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    linked = await client.post(
        _url(bucha, "providers"), json={"provider_id": provider["id"]}, headers=bucha_officer
    )
    assert linked.status_code == 201

    listed = (await client.get(FAMILIES, params={"limit": 200}, headers=staff)).json()
    assert [f["id"] for f in listed["items"]] == [bucha["id"]]
    response = await client.get(_url(bucha), headers=staff)
    assert response.status_code == 200
    got = response.json()
    assert got["id"] == bucha["id"]
    # the detail (one statement, rows straight to JSON) says what the list says
    assert listed["items"][0] == got
    # only what serving the family needs: not its circumstances
    assert (got["categories"], got["factors"], got["consent"]) == (None, None, None)
    assert {(m["disability_group"], m["is_servicemember"]) for m in got["members"]} == {
        (None, None)
    }
    for member in [*got["members"], *listed["items"][0]["members"]]:
        assert identifiers_of(member) == dict.fromkeys(("rnokpp", "unzr", "idp_certificate"))
    assert bucha["members"][0]["rnokpp"] not in response.text
    member = await client.get(_url(bucha, "members", _member(bucha)), headers=staff)
    assert member.status_code == 200
    assert identifiers_of(member.json()) == dict.fromkeys(("rnokpp", "unzr", "idp_certificate"))

    for place in ("irpin", "lviv"):
        assert (await client.get(_url(families[place]), headers=staff)).status_code == 404
    # reading is all a referral allows
    refused = await _patch(client, staff, bucha)
    assert refused.status_code == 403
    await assert_denial_recorded(connection, refused)
    # another provider still sees nothing
    other = bearer(make_token("provider_staff", provider_id=str(uuid.uuid4())))
    assert (await client.get(FAMILIES, headers=other)).json()["items"] == []
    assert (await client.get(_url(bucha), headers=other)).status_code == 404


async def test_denied_event_names_the_actor_action_and_record(
    client, connection, make_token, families
):
    sub = f"analyst-{uuid.uuid4().hex[:8]}"
    target = families["bucha"]
    response = await client.get(
        _url(target),
        headers={**bearer(make_token("ministry_analyst", sub=sub)), "X-Purpose": "curiosity"},
    )
    assert response.status_code == 403
    assert target["members"][0]["last_name"] not in response.text
    events = (
        (
            await connection.execute(
                text(
                    "SELECT role, action, resource_ids, outcome, purpose, request_id "
                    "FROM audit_events WHERE actor = :s"
                ),
                {"s": sub},
            )
        )
        .mappings()
        .all()
    )
    assert [dict(e) for e in events] == [
        {
            "role": "ministry_analyst",
            "action": "get_family",
            "resource_ids": [target["id"]],
            "outcome": "denied",
            "purpose": "curiosity",
            "request_id": response.headers["x-request-id"],
        }
    ]


async def test_successful_reads_and_writes_are_audited(client, connection, make_token, families):
    sub = f"worker-{uuid.uuid4().hex[:8]}"
    headers = bearer(token(make_token, "social_worker", sub=sub, territory=BUCHA))
    target = families["bucha"]
    read = await client.get(_url(target), headers=headers)
    written = await _patch(client, headers, target)
    assert (read.status_code, written.status_code) == (200, 200)
    events = (
        (
            await connection.execute(
                text(
                    "SELECT action, resource_ids, outcome, request_id FROM audit_events "
                    "WHERE actor = :s ORDER BY id"
                ),
                {"s": sub},
            )
        )
        .mappings()
        .all()
    )
    assert [(e["action"], e["outcome"], e["request_id"]) for e in events] == [
        ("get_family", "success", read.headers["x-request-id"]),
        ("update_family", "success", written.headers["x-request-id"]),
    ]
    member_ids = {m["id"] for m in target["members"]}
    assert set(events[0]["resource_ids"]) == {target["id"], *member_ids}
    assert events[1]["resource_ids"] == [target["id"]]
