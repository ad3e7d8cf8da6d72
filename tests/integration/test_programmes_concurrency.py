"""The invariants of community programmes under concurrency: what a hromada distributes never
exceeds its allocation, its stock never goes below zero, and allocations never exceed the
budget — with many officers submitting at once on an application whose every request
commits."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from tests.support import (
    AID_RECEIPTS,
    BUCHA,
    IRPIN,
    KYIV,
    LVIV,
    PROGRAMMES,
    bearer,
    create_aid_item,
    create_family,
    enrol,
    family,
    money,
    open_programme,
    programme_body,
    token,
)

AT_ONCE = 30


async def _families(live, officer, programme_id: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        created = await create_family(live.client, officer, family(KYIV))
        await enrol(live.client, officer, programme_id, created["id"])
        ids.append(created["id"])
    return ids


async def test_concurrent_distributions_never_spend_more_than_the_allocation(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officers = [
        bearer(token(make_token, "community_officer", territory=KYIV, sub=f"officer-{i}"))
        for i in range(AT_ONCE)
    ]
    programme = await open_programme(live.client, admin, {KYIV: {"amount": money("100.00")}})
    families = await _families(live, officers[0], programme["id"], 5)

    async def pay(i: int):
        return await live.client.post(
            f"{PROGRAMMES}/{programme['id']}/distributions",
            json={
                "family_id": families[i % len(families)],
                "amount": money("7.00"),
                "distributed_on": date.today().isoformat(),
                "handed_over_by": "Каса громади",
            },
            headers=officers[i],
        )

    answers = await asyncio.gather(*(pay(i) for i in range(AT_ONCE)))

    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {201, 409}, [a.text for a in answers if a.status_code not in (201, 409)]
    paid = [Decimal(a.json()["amount"]["amount"]) for a in answers if a.status_code == 201]
    assert sum(paid) <= Decimal("100.00")
    assert len(paid) == 14  # 14 × 7.00 = 98.00; the rest found 2.00 left
    for refused in (a for a in answers if a.status_code == 409):
        assert Decimal(refused.json()["remaining"]["amount"]) < Decimal("7.00")
    # Nothing else was written: one row per success, and the balance row agrees.
    assert await live.count(
        "SELECT count(*) FROM programme_distributions WHERE programme_id = :p", p=programme["id"]
    ) == len(paid)
    assert await live.count(
        "SELECT (distributed * 100)::int FROM programme_allocations WHERE programme_id = :p",
        p=programme["id"],
    ) == int(sum(paid) * 100)


async def test_concurrent_hand_outs_never_take_more_than_the_stock(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    heater = await create_aid_item(
        live.client, admin, "Обігрівач (конкурентний тест)", "10.00", "USD"
    )
    programme = await open_programme(
        live.client,
        admin,
        {KYIV: {"items": [{"item_id": heater["id"], "quantity": 100}]}},
        kind="in_kind",
    )
    received = await live.client.post(
        AID_RECEIPTS,
        json={
            "item_id": heater["id"],
            "quantity": 10,
            "source": "Склад",
            "received_on": date.today().isoformat(),
        },
        headers=officer,
    )
    assert received.status_code == 201
    families = await _families(live, officer, programme["id"], 3)

    async def hand_out(i: int):
        return await live.client.post(
            f"{PROGRAMMES}/{programme['id']}/distributions",
            json={
                "family_id": families[i % len(families)],
                "items": [{"item_id": heater["id"], "quantity": 1}],
                "distributed_on": date.today().isoformat(),
                "handed_over_by": "Склад громади",
            },
            headers=officer,
        )

    answers = await asyncio.gather(*(hand_out(i) for i in range(AT_ONCE)))

    assert sorted({a.status_code for a in answers}) == [201, 409]
    assert sum(a.status_code == 201 for a in answers) == 10
    assert (
        await live.count(
            "SELECT received - handed_out FROM aid_stock WHERE item_id = :i", i=heater["id"]
        )
        == 0
    )
    assert (
        await live.count(
            "SELECT count(*) FROM programme_distribution_items WHERE item_id = :i", i=heater["id"]
        )
        == 10
    )


async def test_concurrent_allocations_never_exceed_the_budget(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    created = await live.client.post(
        PROGRAMMES, json=programme_body(budget=money("100.00")), headers=admin
    )
    programme = created.json()
    hromadas = [KYIV, BUCHA, IRPIN, LVIV]

    async def allocate(hromada: str):
        return await live.client.put(
            f"{PROGRAMMES}/{programme['id']}/allocations/{hromada}",
            json={"amount": money("40.00")},
            headers=admin,
        )

    answers = await asyncio.gather(*(allocate(h) for h in hromadas))

    assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
    assert (
        await live.count(
            "SELECT sum(allocated)::int FROM programme_allocations WHERE programme_id = :p",
            p=programme["id"],
        )
        == 80
    )
