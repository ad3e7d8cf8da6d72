"""Requests racing each other, on a database of their own where every request really commits:
optimistic concurrency (one of two writers on the same version loses with a 412), an
Idempotency-Key sent twice at once (one family), and the same identifier registered twice at
once (one 409, never a 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support import (
    BUCHA,
    FAMILIES,
    IDENTIFIER_KEYS,
    Live,
    child,
    create_family,
    family,
    person,
    rnokpp,
    unzr,
)

ROUNDS = 3


async def test_two_patches_on_the_same_etag_one_wins_one_is_412(live, worker):
    for _ in range(ROUNDS):
        created = await create_family(live.client, worker, family(BUCHA))
        family_url = f"{FAMILIES}/{created['id']}"
        headers = {**worker, "If-Match": '"1"'}
        changes = [{"phone": "+380671234567"}, {"address_line": "вул. Садова, 3"}]
        answers = await asyncio.gather(
            *(live.client.patch(family_url, json=change, headers=headers) for change in changes)
        )

        assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
        won = next(i for i, a in enumerate(answers) if a.status_code == 200)
        lost = answers[1 - won].json()
        assert lost["current_version"] == 2
        assert lost["changed_fields"] == list(changes[won])

        current = (await live.client.get(family_url, headers=worker)).json()
        assert current["version"] == 2
        ((field, value),) = changes[won].items()
        ((lost_field, _),) = changes[1 - won].items()
        assert current[field] == value
        assert current[lost_field] == created[lost_field]


async def test_the_same_idempotency_key_twice_at_once_creates_one_family(live, worker):
    for round_ in range(ROUNDS):
        key = f"concurrent-create-{round_}"
        body = family(BUCHA)
        headers = {**worker, "Idempotency-Key": key}
        answers = await asyncio.gather(
            *(live.client.post(FAMILIES, json=body, headers=headers) for _ in range(2))
        )

        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert answers[0].content == answers[1].content
        assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
        family_id = answers[0].json()["id"]
        assert await live.count("SELECT count(*) FROM families WHERE id = :i", i=family_id) == 1
        assert (
            await live.count(
                "SELECT count(*) FROM persons WHERE rnokpp_index = :r",
                r=IDENTIFIER_KEYS.blind_index("rnokpp", body["members"][0]["rnokpp"]),
            )
            == 1
        )
    assert await live.count("SELECT count(*) FROM families") == ROUNDS


async def _registrations(
    live: Live, headers: dict[str, str], via: str, members: list[dict[str, Any]]
) -> list[httpx.Response]:
    """Register each of ``members`` at the same time: each in a new family of its own, or
    each added to a family of its own made beforehand."""
    if via == "new_family":
        return list(
            await asyncio.gather(
                *(
                    live.client.post(FAMILIES, json=family(BUCHA, members=[m]), headers=headers)
                    for m in members
                )
            )
        )
    targets = [
        await create_family(live.client, headers, family(BUCHA, members=[child()])) for _ in members
    ]
    return list(
        await asyncio.gather(
            *(
                live.client.post(f"{FAMILIES}/{t['id']}/members", json=m, headers=headers)
                for t, m in zip(targets, members, strict=True)
            )
        )
    )


async def _race(
    live: Live, headers: dict[str, str], via: str, identifier: str
) -> tuple[httpx.Response, httpx.Response, str]:
    """Two people registered at once with the same identifier; (the 201, the 409, the
    identifier)."""
    born = "1988-07-21"
    number = {"rnokpp": rnokpp(born), "unzr": unzr(born)}[identifier]
    twins = [
        person(
            first_name=name, birth_date=born, **{"rnokpp": None, "unzr": None, identifier: number}
        )
        for name in ("Олена", "Ольга")
    ]
    answers = await _registrations(live, headers, via, twins)
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    created = next(a for a in answers if a.status_code == 201)
    conflict = next(a for a in answers if a.status_code == 409)
    return created, conflict, number


VIA = pytest.mark.parametrize("via", ["new_family", "add_member"])
IDENTIFIER = pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])


@IDENTIFIER
@VIA
async def test_the_same_identifier_registered_twice_at_once_is_one_409(
    live, worker, via, identifier
):
    for _ in range(ROUNDS):
        _, conflict, number = await _race(live, worker, via, identifier)
        assert conflict.headers["content-type"] == "application/problem+json"
        assert conflict.json()["status"] == 409
        index = IDENTIFIER_KEYS.blind_index(identifier, number)
        assert (
            await live.count(
                f"SELECT count(*) FROM persons WHERE {identifier}_index = :index", index=index
            )
            == 1
        )


@IDENTIFIER
@VIA
async def test_a_conflict_lost_in_a_race_is_told_like_any_other(live, worker, via, identifier):
    """Whether the other registration committed before this one checked (the usual case) or
    while it was inserting (a race the unique index settles), the 409 names the same field,
    and the family holding the number when the caller may see it (here: the same hromada)."""
    for _ in range(ROUNDS):
        created, conflict, _ = await _race(live, worker, via, identifier)
        holder = created.json()
        holder_family = holder["id"] if via == "new_family" else holder["family_id"]
        field = f"body.members.0.{identifier}" if via == "new_family" else f"body.{identifier}"
        body = conflict.json()
        assert [e["field"] for e in body["errors"]] == [field], body
        assert body.get("existing_family_id") == holder_family, body
