"""Who may do what to which family: every role against families in its own hromada, another
hromada of the same oblast and another oblast. Outside the caller's reach a family does not
exist (404, the same answer as for a random id); a role without the permission gets 403, and
the refusal is in the audit log; identifiers are shown in full, masked or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.domain.families.rules import age_on
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
    #: operations refused to the role whatever the family (403)
    refused: frozenset[str] = frozenset()


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
    # duplicates are the registry's keepers' to find (and would show other families' birth
    # dates)
    "provider": Reach(
        {"role": "provider_staff", "provider_id": str(PROVIDER)},
        refused=frozenset({"possible_duplicates"}),
    ),
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
    if not reach.reads or (writes and not reach.writes) or operation in reach.refused:
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
    lookup = await client.get(FAMILIES, params={"rnokpp": head["rnokpp"]}, headers=headers)
    if reach.identifiers != "full":
        # a number the caller is not shown is not one they may look a family up by
        assert lookup.status_code == 403, lookup.text
        assert lookup.json()["filter"] == "rnokpp"
        lookup = await client.get(FAMILIES, params={"limit": 200}, headers=headers)
    listed = [f for f in lookup.json()["items"] if f["id"] == target["id"]]
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
    # the detail (one statement) says what the list says
    assert listed["items"][0] == got
    # only what serving the family needs: who, how old, where, how to reach them
    head, kid = bucha["members"]
    assert got == {
        "id": bucha["id"],
        "hromada_code": BUCHA,
        "settlement_code": None,
        "address_line": bucha["address_line"],
        "phone": bucha["phone"],
        "status": "active",
        "members": [as_provider_sees(head), as_provider_sees(kid)],
    }
    assert got["members"][0]["age"] is None
    assert got["members"][1]["age"] == as_provider_sees(kid)["age"] > 0
    assert "etag" not in response.headers
    for secret in (head["rnokpp"], head["unzr"], IDP_CERTIFICATE, head["birth_date"]):
        assert secret not in response.text
    member = await client.get(_url(bucha, "members", _member(bucha)), headers=staff)
    assert member.status_code == 200
    assert member.json() == as_provider_sees(head)

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


def as_provider_sees(member: dict[str, Any]) -> dict[str, Any]:
    """``MemberForProvider`` of a member as registered: a child's age instead of the birth
    date, an adult's not at all."""
    age = age_on(date.fromisoformat(member["birth_date"]), date.today())
    return {
        **{
            name: member[name]
            for name in ("id", "family_id", "last_name", "first_name", "patronymic", "relation")
        },
        "age": age if age < 18 else None,
    }


# --- what provider_staff are shown: an allow-list per endpoint -------------------------------

PROVIDER_FAMILY_FIELDS = {
    "id",
    "hromada_code",
    "settlement_code",
    "address_line",
    "phone",
    "status",
    "members",
}
PROVIDER_MEMBER_FIELDS = {
    "id",
    "family_id",
    "last_name",
    "first_name",
    "patronymic",
    "relation",
    "age",
}
PROVIDER_LINK_FIELDS = {
    "family_id",
    "provider_id",
    "provider_name",
    "active",
    "granted_at",
    "granted_by",
    "reason",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
}


@pytest.fixture
async def served(client, make_token, families) -> dict[str, Any]:
    """The Bucha family linked to a provider, with a former member (who moved out)."""
    provider = await create_provider(client, headers_of(make_token, "admin"), provider_body())
    officer = bearer(token(make_token, "community_officer", territory=BUCHA))
    bucha = families["bucha"]
    former = await client.post(
        _url(bucha, "members"), json=child(first_name="Іван", sex="male"), headers=officer
    )
    assert former.status_code == 201, former.text
    removed = await client.post(
        _url(bucha, "members", former.json()["id"], "remove"),
        json={"reason": "moved to his father"},
        headers=officer,
    )
    assert removed.status_code == 200, removed.text
    linked = await client.post(
        _url(bucha, "providers"), json={"provider_id": provider["id"]}, headers=officer
    )
    assert linked.status_code == 201, linked.text
    return {
        "family": bucha,
        "former": former.json(),
        "staff": bearer(token(make_token, "provider_staff", provider_id=provider["id"])),
        # the provider's own system: an integration client whose token names the provider
        "system": bearer(
            token(
                make_token,
                "integration",
                provider_id=provider["id"],
                scope="families:read families:write identifiers:read providers:read",
            )
        ),
    }


@pytest.mark.parametrize("caller", ["staff", "system"])
async def test_provider_staff_get_exactly_the_allow_listed_fields(client, served, caller):
    """Every families endpoint a provider's staff (or its own system) may call, and every
    field it returns to them: a field added to the record does not reach providers unless
    added here."""
    staff, bucha = served[caller], served["family"]

    def assert_family(item: dict[str, Any]) -> None:
        assert set(item) == PROVIDER_FAMILY_FIELDS
        assert item["members"]
        for member in item["members"]:
            assert set(member) == PROVIDER_MEMBER_FIELDS

    responses = {
        "list_families": await client.get(FAMILIES, headers=staff),
        "search_families": await client.get(FAMILIES, params={"q": "Шевченко"}, headers=staff),
        "get_family": await client.get(_url(bucha), headers=staff),
        "list_members": await client.get(_url(bucha, "members"), headers=staff),
        "get_member": await client.get(_url(bucha, "members", _member(bucha)), headers=staff),
        "list_family_providers": await client.get(_url(bucha, "providers"), headers=staff),
    }
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 200)
    for name in ("list_families", "search_families"):
        page = responses[name].json()
        assert set(page) == {"items", "next_cursor"}
        assert [item["id"] for item in page["items"]] == [bucha["id"]]
        for item in page["items"]:
            assert_family(item)
    assert_family(responses["get_family"].json())
    members = responses["list_members"].json()
    assert set(members) == {"items", "next_cursor"}
    assert members["items"]
    for member in members["items"]:
        assert set(member) == PROVIDER_MEMBER_FIELDS
    assert set(responses["get_member"].json()) == PROVIDER_MEMBER_FIELDS
    links = responses["list_family_providers"].json()["items"]
    assert links
    for link in links:
        assert set(link) == PROVIDER_LINK_FIELDS
    # and duplicates (other families' names and birth dates) are not theirs to look for
    refused = await client.get(_url(bucha, "possible-duplicates"), headers=staff)
    assert refused.status_code == 403


async def test_a_providers_system_reaches_only_the_families_the_provider_serves(
    client, make_token, families, served
):
    """Its territory-free token does not make it a national reader, nor a keeper of links."""
    system, bucha = served["system"], served["family"]
    listed = (await client.get(FAMILIES, headers=system)).json()["items"]
    assert [item["id"] for item in listed] == [bucha["id"]]
    other = next(f for name, f in families.items() if f["id"] != bucha["id"])
    assert (await client.get(_url(other), headers=system)).status_code == 404
    provider_id = (await client.get(_url(bucha, "providers"), headers=system)).json()["items"][0][
        "provider_id"
    ]
    linked = await client.post(
        _url(other, "providers"), json={"provider_id": provider_id}, headers=system
    )
    assert linked.status_code in (403, 404)


async def test_provider_staff_see_only_current_members(client, served):
    staff, bucha, former = served["staff"], served["family"], served["former"]
    family_ids = {m["id"] for m in (await client.get(_url(bucha), headers=staff)).json()["members"]}
    listed = (await client.get(FAMILIES, headers=staff)).json()["items"][0]["members"]
    members = (await client.get(_url(bucha, "members"), headers=staff)).json()["items"]
    current = {m["id"] for m in bucha["members"]}
    assert family_ids == {m["id"] for m in listed} == {m["id"] for m in members} == current
    gone = await client.get(_url(bucha, "members", former["id"]), headers=staff)
    assert gone.status_code == 404


async def test_a_providers_family_read_audits_exactly_what_it_showed(client, connection, served):
    staff, bucha = served["staff"], served["family"]
    response = await client.get(_url(bucha), headers=staff)
    assert response.status_code == 200
    ids = await connection.scalar(
        text("SELECT resource_ids FROM audit_events WHERE request_id = :r"),
        {"r": response.headers["x-request-id"]},
    )
    assert set(ids) == {bucha["id"], *(m["id"] for m in response.json()["members"])}
    assert served["former"]["id"] not in ids


@pytest.mark.parametrize("name", ["rnokpp", "unzr", "category", "factor"])
async def test_provider_staff_may_not_filter_by_what_they_are_not_shown(
    client, connection, served, name
):
    head = served["family"]["members"][0]
    value = {"category": "idp", "factor": "low_income"}.get(name) or head[name]
    response = await client.get(FAMILIES, params={name: value}, headers=served["staff"])
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["filter"] == name
    assert name in response.json()["detail"]
    assert head["last_name"] not in response.text
    await assert_denial_recorded(connection, response)


@pytest.mark.parametrize("principal", ["kyiv_oblast_regional", "integration_reader"])
@pytest.mark.parametrize("name", ["rnokpp", "unzr"])
async def test_identifier_filters_need_identifiers_read(
    client, connection, make_token, families, principal, name
):
    """Those shown identifiers masked may not confirm a number by looking it up; their other
    filters work."""
    headers = headers_of(make_token, principal)
    head = families["bucha"]["members"][0]
    response = await client.get(FAMILIES, params={name: head[name]}, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["filter"] == name
    await assert_denial_recorded(connection, response)
    other = await client.get(FAMILIES, params={"category": "idp"}, headers=headers)
    assert other.status_code == 200
    assert families["bucha"]["id"] in {f["id"] for f in other.json()["items"]}


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
