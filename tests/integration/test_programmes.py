"""Community programmes end to end: programmes and budgets, allocations per hromada,
eligibility and enrolment, distributions of money and items with reversals, aid stock, and
who may see and do what."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tests.support import (
    AID_ITEMS,
    AID_RECEIPTS,
    AID_STOCK,
    BUCHA,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    PROGRAMMES,
    assert_problem,
    bearer,
    child,
    create_aid_item,
    create_family,
    create_provider,
    enrol,
    error_fields,
    family,
    if_match,
    money,
    open_programme,
    person,
    programme_body,
    provider_body,
    token,
)

CHILDREN_OR_LARGE = {
    "all": [
        {"condition": "category", "code": "idp"},
        {
            "any": [
                {"condition": "children", "at_least": 1, "max_age": 17},
                {"condition": "category", "code": "large_family"},
            ]
        },
    ]
}


def _distribution(family_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "family_id": family_id,
        "amount": money(amount),
        "distributed_on": date.today().isoformat(),
        "handed_over_by": "Олена Коваль",
    }
    body.update(overrides)
    return body


async def _cash_world(client, admin, officer, **overrides: Any) -> tuple[dict, dict]:
    programme = await open_programme(
        client, admin, {KYIV: {"amount": money("1000.00")}}, **overrides
    )
    created = await create_family(client, officer, family(KYIV))
    return programme, created


async def _ledger(connection, programme_id: str) -> dict[tuple[str, str | None], tuple]:
    """Each balance line recomputed from scratch, from the distributions and reversals."""
    rows = await connection.execute(
        text(
            "SELECT d.hromada_code, NULL::uuid AS item_id, sum(d.amount), "
            "coalesce(sum(d.amount) FILTER (WHERE r.distribution_id IS NOT NULL), 0) "
            "FROM programme_distributions d LEFT JOIN programme_reversals r "
            "ON r.distribution_id = d.id WHERE d.programme_id = :p AND d.amount IS NOT NULL "
            "GROUP BY d.hromada_code "
            "UNION ALL "
            "SELECT d.hromada_code, i.item_id, sum(i.quantity), "
            "coalesce(sum(i.quantity) FILTER (WHERE r.distribution_id IS NOT NULL), 0) "
            "FROM programme_distributions d JOIN programme_distribution_items i "
            "ON i.distribution_id = d.id LEFT JOIN programme_reversals r "
            "ON r.distribution_id = d.id WHERE d.programme_id = :p "
            "GROUP BY d.hromada_code, i.item_id"
        ),
        {"p": programme_id},
    )
    return {
        (hromada, None if item is None else str(item)): (Decimal(gross), Decimal(back))
        for hromada, item, gross, back in rows
    }


async def _balances(client, admin, programme_id: str) -> dict[tuple[str, str | None], tuple]:
    answer = await client.get(f"{PROGRAMMES}/{programme_id}/allocations", headers=admin)
    assert answer.status_code == 200, answer.text
    lines = {}
    for entry in answer.json()["items"]:
        if entry["amount"] is not None:
            figures = entry["amount"]
            lines[(entry["hromada_code"], None)] = (
                Decimal(figures["distributed"]),
                Decimal(figures["reversed"]),
            )
            assert Decimal(figures["remaining"]) == Decimal(figures["allocated"]) - Decimal(
                figures["distributed"]
            ) + Decimal(figures["reversed"])
        for item in entry["items"]:
            lines[(entry["hromada_code"], item["item_id"])] = (
                Decimal(item["distributed"]),
                Decimal(item["reversed"]),
            )
            assert item["remaining"] == item["allocated"] - item["distributed"] + item["reversed"]
    return {key: value for key, value in lines.items() if value != (0, 0)}


# --- programmes and allocations -----------------------------------------------------------------


async def test_a_programme_starts_as_a_draft_and_moves_draft_open_closed(client, admin):
    created = await client.post(
        PROGRAMMES, json=programme_body(eligibility=CHILDREN_OR_LARGE), headers=admin
    )
    assert created.status_code == 201, created.text
    programme = created.json()
    assert programme["status"] == "draft"
    assert programme["budget"] == money("100000.00")
    assert programme["allocated"] == money("0.00")
    assert programme["eligibility"]["all"][0] == {"condition": "category", "code": "idp"}
    assert created.headers["Location"] == f"{PROGRAMMES}/{programme['id']}"

    skipped = await client.patch(
        f"{PROGRAMMES}/{programme['id']}",
        json={"status": "closed"},
        headers=if_match(admin, programme["version"]),
    )
    assert assert_problem(skipped, 409)["allowed"] == ["open"]
    for status in ("open", "closed"):
        moved = await client.patch(
            f"{PROGRAMMES}/{programme['id']}",
            json={"status": status},
            headers=if_match(admin, programme["version"]),
        )
        assert moved.status_code == 200, moved.text
        programme = moved.json()
    assert programme["allowed_moves"] == []
    closed = await client.patch(
        f"{PROGRAMMES}/{programme['id']}",
        json={"name": "Інша назва"},
        headers=if_match(admin, programme["version"]),
    )
    assert_problem(closed, 409)


async def test_allocations_never_exceed_the_budget(client, admin):
    created = await client.post(
        PROGRAMMES,
        json=programme_body(budget=money("100000.00")),
        headers=admin,
    )
    programme = created.json()
    allocations = f"{PROGRAMMES}/{programme['id']}/allocations"
    for hromada in (KYIV, BUCHA):
        put = await client.put(
            f"{allocations}/{hromada}", json={"amount": money("50000.00")}, headers=admin
        )
        assert put.status_code == 200, put.text
    over = await client.put(f"{allocations}/{IRPIN}", json={"amount": money("0.01")}, headers=admin)
    assert assert_problem(over, 409)["remaining"] == money("0.00")
    # Lowering one frees budget for another.
    await client.put(f"{allocations}/{BUCHA}", json={"amount": money("49999.99")}, headers=admin)
    fits = await client.put(f"{allocations}/{IRPIN}", json={"amount": money("0.01")}, headers=admin)
    assert fits.status_code == 200, fits.text
    read = await client.get(f"{PROGRAMMES}/{programme['id']}", headers=admin)
    assert read.json()["allocated"] == money("100000.00")
    assert read.json()["unallocated"] == money("0.00")
    smaller = await client.patch(
        f"{PROGRAMMES}/{programme['id']}",
        json={"budget": money("99999.99")},
        headers=if_match(admin, read.json()["version"]),
    )
    assert assert_problem(smaller, 409)["allocated"] == money("100000.00")


async def test_money_is_decimal_text_in_the_programme_currency(client, admin):
    created = (await client.post(PROGRAMMES, json=programme_body(), headers=admin)).json()
    allocation = f"{PROGRAMMES}/{created['id']}/allocations/{KYIV}"
    for bad in (
        {"amount": {"amount": 100.5, "currency": "USD"}},  # a JSON number
        {"amount": money("100.005")},
        {"amount": money("-1.00")},
        {"amount": {"amount": "1.00", "currency": "GBP"}},
        {"amount": money("1.00"), "items": [{"item_id": created["id"], "quantity": 1}]},
    ):
        assert_problem(await client.put(allocation, json=bad, headers=admin), 422)
    other = await client.put(allocation, json={"amount": money("1.00", "EUR")}, headers=admin)
    assert "body.amount.currency" in error_fields(assert_problem(other, 422))
    items = await client.put(
        allocation, json={"items": [{"item_id": created["id"], "quantity": 1}]}, headers=admin
    )
    assert "body.items" in error_fields(assert_problem(items, 422))


# --- eligibility and enrolment ------------------------------------------------------------------


async def test_an_eligible_family_is_enrolled_once(client, admin, officer):
    programme, created = await _cash_world(client, admin, officer, eligibility=CHILDREN_OR_LARGE)
    enrolment = await enrol(client, officer, programme["id"], created["id"])
    assert enrolment["status"] == "enrolled"
    assert enrolment["hromada_code"] == KYIV
    again = await client.post(
        f"{PROGRAMMES}/{programme['id']}/enrolments",
        json={"family_id": created["id"]},
        headers=officer,
    )
    assert assert_problem(again, 409)["existing_enrolment_id"] == enrolment["id"]

    withdrawn = await client.post(
        f"{PROGRAMMES}/{programme['id']}/enrolments/{enrolment['id']}/withdrawal",
        json={"reason": "Сім'я виїхала за кордон"},
        headers=if_match(officer, enrolment["version"]),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["withdrawal_reason"] == "Сім'я виїхала за кордон"
    twice = await client.post(
        f"{PROGRAMMES}/{programme['id']}/enrolments/{enrolment['id']}/withdrawal",
        json={"reason": "ще раз"},
        headers=officer,
    )
    assert_problem(twice, 409)


async def test_an_ineligible_family_is_told_each_unmet_condition(client, admin, officer):
    programme, _ = await _cash_world(client, admin, officer, eligibility=CHILDREN_OR_LARGE)
    adults = await create_family(
        client, officer, family(KYIV, categories=["low_income"], members=[person()])
    )
    refused = await client.post(
        f"{PROGRAMMES}/{programme['id']}/enrolments",
        json={"family_id": adults["id"]},
        headers=officer,
    )
    problem = assert_problem(refused, 422)
    assert error_fields(problem) == {
        "eligibility.all.0",
        "eligibility.all.1.any.0",
        "eligibility.all.1.any.1",
    }
    assert [u["condition"]["condition"] for u in problem["unmet"]] == [
        "category",
        "children",
        "category",
    ]


async def test_enrolment_needs_an_open_programme_covering_the_family(client, admin, officer):
    draft = (await client.post(PROGRAMMES, json=programme_body(), headers=admin)).json()
    await client.put(
        f"{PROGRAMMES}/{draft['id']}/allocations/{KYIV}",
        json={"amount": money("10.00")},
        headers=admin,
    )
    created = await create_family(client, officer, family(KYIV))
    not_open = await client.post(
        f"{PROGRAMMES}/{draft['id']}/enrolments", json={"family_id": created["id"]}, headers=officer
    )
    assert_problem(not_open, 409)
    elsewhere = await open_programme(client, admin, {BUCHA: {"amount": money("10.00")}})
    uncovered = await client.post(
        f"{PROGRAMMES}/{elsewhere['id']}/enrolments",
        json={"family_id": created["id"]},
        headers=officer,
    )
    assert assert_problem(uncovered, 409)["hromada_code"] == KYIV


# --- distributions ------------------------------------------------------------------------------


async def test_cents_add_up_exactly(client, admin, officer, connection):
    programme, created = await _cash_world(client, admin, officer)
    await enrol(client, officer, programme["id"], created["id"])
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    for amount in ("0.10", "0.20", "0.70"):
        paid = await client.post(
            distributions, json=_distribution(created["id"], amount), headers=officer
        )
        assert paid.status_code == 201, paid.text
    entry = (
        await client.get(f"{PROGRAMMES}/{programme['id']}/allocations/{KYIV}", headers=officer)
    ).json()
    assert entry["amount"] == {
        "currency": "USD",
        "allocated": "1000.00",
        "distributed": "1.00",
        "reversed": "0.00",
        "remaining": "999.00",
    }
    assert await _balances(client, admin, programme["id"]) == await _ledger(
        connection, programme["id"]
    )


async def test_a_distribution_beyond_the_allocation_is_refused_and_writes_nothing(
    client, admin, officer, connection
):
    programme, created = await _cash_world(client, admin, officer)
    await enrol(client, officer, programme["id"], created["id"])
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    paid = await client.post(
        distributions, json=_distribution(created["id"], "999.99"), headers=officer
    )
    assert paid.status_code == 201
    over = await client.post(
        distributions, json=_distribution(created["id"], "0.02"), headers=officer
    )
    assert assert_problem(over, 409)["remaining"] == money("0.01")
    count = await connection.scalar(
        text("SELECT count(*) FROM programme_distributions WHERE programme_id = :p"),
        {"p": programme["id"]},
    )
    assert count == 1


async def test_a_reversal_gives_the_money_back_once(client, admin, officer, connection):
    programme, created = await _cash_world(client, admin, officer)
    await enrol(client, officer, programme["id"], created["id"])
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    paid = (
        await client.post(
            distributions, json=_distribution(created["id"], "1000.00"), headers=officer
        )
    ).json()
    reversed_ = await client.post(
        f"{distributions}/{paid['id']}/reversal",
        json={"reason": "Помилкова сума"},
        headers=officer,
    )
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["reversal"]["reason"] == "Помилкова сума"
    assert reversed_.json()["amount"] == money("1000.00")  # the distribution stands as it was
    again = await client.post(
        f"{distributions}/{paid['id']}/reversal", json={"reason": "ще раз"}, headers=officer
    )
    assert_problem(again, 409)
    entry = (
        await client.get(f"{PROGRAMMES}/{programme['id']}/allocations/{KYIV}", headers=officer)
    ).json()
    assert entry["amount"]["remaining"] == "1000.00"
    assert entry["amount"]["reversed"] == "1000.00"
    repaid = await client.post(
        distributions, json=_distribution(created["id"], "1000.00"), headers=officer
    )
    assert repaid.status_code == 201, repaid.text
    listed = await client.get(f"{distributions}?reversed=true", headers=officer)
    assert [d["id"] for d in listed.json()["items"]] == [paid["id"]]
    assert await _balances(client, admin, programme["id"]) == await _ledger(
        connection, programme["id"]
    )


async def test_a_distribution_is_checked_before_it_is_written(client, admin, officer):
    programme, created = await _cash_world(client, admin, officer)
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    not_enrolled = await client.post(
        distributions, json=_distribution(created["id"], "1.00"), headers=officer
    )
    assert assert_problem(not_enrolled, 409)["family_id"] == created["id"]
    await enrol(client, officer, programme["id"], created["id"])
    future = (date.today() + timedelta(days=1)).isoformat()
    # Within the programme's period (it began 30 days ago), but before the enrolment.
    before_enrolment = (date.today() - timedelta(days=1)).isoformat()
    for body, field in (
        (
            _distribution(created["id"], "1.00", distributed_on=before_enrolment),
            "body.distributed_on",
        ),
        (_distribution(created["id"], "0.00"), "body.amount.amount"),
        (_distribution(created["id"], "0"), "body.amount.amount"),
        (_distribution(created["id"], "1.00", distributed_on=future), "body.distributed_on"),
        (
            {**_distribution(created["id"], "1.00"), "amount": money("1.00", "UAH")},
            "body.amount.currency",
        ),
    ):
        refused = await client.post(distributions, json=body, headers=officer)
        assert field in error_fields(assert_problem(refused, 422)), refused.text
    both = _distribution(created["id"], "1.00", provider_id=created["id"])
    assert_problem(await client.post(distributions, json=both, headers=officer), 422)


async def test_an_idempotency_key_pays_once(client, admin, officer, connection):
    programme, created = await _cash_world(client, admin, officer)
    await enrol(client, officer, programme["id"], created["id"])
    headers = {**officer, "Idempotency-Key": "pay-once-1"}
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    first = await client.post(
        distributions, json=_distribution(created["id"], "5.00"), headers=headers
    )
    second = await client.post(
        distributions, json=_distribution(created["id"], "5.00"), headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    entry = (
        await client.get(f"{PROGRAMMES}/{programme['id']}/allocations/{KYIV}", headers=officer)
    ).json()
    assert entry["amount"]["distributed"] == "5.00"


# --- aid in kind and stock ----------------------------------------------------------------------


async def test_items_are_drawn_on_the_allocation_and_the_stock(client, admin, officer, connection):
    heater = await create_aid_item(client, admin, "Обігрівач масляний", "2500.00", "UAH")
    kit = await create_aid_item(client, admin, "Зимовий набір", "1200.00", "UAH")
    programme = await open_programme(
        client,
        admin,
        {
            KYIV: {
                "items": [
                    {"item_id": heater["id"], "quantity": 10},
                    {"item_id": kit["id"], "quantity": 5},
                ]
            }
        },
        kind="in_kind",
        name="Зимова підтримка",
        budget=money("40000.00", "UAH"),
    )
    assert programme["allocated"] == money("31000.00", "UAH")
    received = await client.post(
        AID_RECEIPTS,
        json={
            "item_id": heater["id"],
            "quantity": 4,
            "source": "Склад ОВА",
            "received_on": date.today().isoformat(),
        },
        headers=officer,
    )
    assert received.status_code == 201, received.text
    assert received.json()["hromada_code"] == KYIV
    created = await create_family(client, officer, family(KYIV))
    await enrol(client, officer, programme["id"], created["id"])
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"

    def handing(quantity: int) -> dict[str, Any]:
        return {
            "family_id": created["id"],
            "items": [{"item_id": heater["id"], "quantity": quantity}],
            "distributed_on": date.today().isoformat(),
            "handed_over_by": "Олена Коваль",
        }

    short = await client.post(distributions, json=handing(5), headers=officer)
    assert assert_problem(short, 409)["in_stock"] == {"item_id": heater["id"], "quantity": 4}
    handed = await client.post(distributions, json=handing(3), headers=officer)
    assert handed.status_code == 201, handed.text
    assert handed.json()["items"][0]["quantity"] == 3
    assert handed.json()["amount"] is None
    stock = (await client.get(f"{AID_STOCK}?hromada={KYIV}", headers=officer)).json()["items"]
    assert [(s["item_id"], s["received"], s["handed_out"], s["on_hand"]) for s in stock] == [
        (heater["id"], 4, 3, 1)
    ]
    kits = await client.post(
        distributions,
        json={**handing(1), "items": [{"item_id": kit["id"], "quantity": 1}]},
        headers=officer,
    )
    assert assert_problem(kits, 409)["in_stock"]["quantity"] == 0
    back = await client.post(
        f"{distributions}/{handed.json()['id']}/reversal",
        json={"reason": "Не той адресат"},
        headers=officer,
    )
    assert back.status_code == 200
    stock = (await client.get(AID_STOCK, headers=officer)).json()["items"]
    assert stock[0]["on_hand"] == 4
    assert await _balances(client, admin, programme["id"]) == await _ledger(
        connection, programme["id"]
    )


async def test_the_allocation_bounds_items_even_with_stock(client, admin, officer):
    tablet = await create_aid_item(client, admin, "Планшет", "8000.00", "USD")
    programme = await open_programme(
        client,
        admin,
        {KYIV: {"items": [{"item_id": tablet["id"], "quantity": 2}]}},
        kind="in_kind",
        name="Планшети для центрів",
    )
    await client.post(
        AID_RECEIPTS,
        json={
            "item_id": tablet["id"],
            "quantity": 10,
            "source": "UNICEF",
            "received_on": date.today().isoformat(),
        },
        headers=officer,
    )
    provider = await create_provider(client, admin, provider_body())
    handing = {
        "provider_id": provider["id"],
        "items": [{"item_id": tablet["id"], "quantity": 3}],
        "distributed_on": date.today().isoformat(),
        "handed_over_by": "Олена Коваль",
    }
    distributions = f"{PROGRAMMES}/{programme['id']}/distributions"
    over = await client.post(distributions, json=handing, headers=officer)
    assert assert_problem(over, 409)["remaining"] == {"item_id": tablet["id"], "quantity": 2}
    fits = await client.post(
        distributions,
        json={**handing, "items": [{"item_id": tablet["id"], "quantity": 2}]},
        headers=officer,
    )
    assert fits.status_code == 201, fits.text
    assert fits.json()["provider_id"] == provider["id"]
    assert fits.json()["hromada_code"] == KYIV


# --- who sees and does what ---------------------------------------------------------------------


async def test_each_role_reaches_what_the_issue_says(client, admin, officer, make_token):
    programme, created = await _cash_world(client, admin, officer)
    enrolment = await enrol(client, officer, programme["id"], created["id"])
    provider = await create_provider(client, admin, provider_body())
    paid = (
        await client.post(
            f"{PROGRAMMES}/{programme['id']}/distributions",
            json=_distribution(created["id"], "10.00"),
            headers=officer,
        )
    ).json()
    body = {k: v for k, v in _distribution(created["id"], "20.00").items() if k != "family_id"}
    to_provider = await client.post(
        f"{PROGRAMMES}/{programme['id']}/distributions",
        json={**body, "provider_id": provider["id"]},
        headers=officer,
    )
    assert to_provider.status_code == 201, to_provider.text
    base = f"{PROGRAMMES}/{programme['id']}"

    def as_(role: str, **claims: Any) -> dict[str, str]:
        return bearer(token(make_token, role, **claims))

    for refused in (
        as_("ministry_analyst"),
        as_("auditor"),
        as_("military_liaison", unit_id=programme["id"]),
    ):
        for path in (PROGRAMMES, f"{base}/enrolments", f"{base}/distributions", AID_ITEMS):
            assert_problem(await client.get(path, headers=refused), 403)

    regional = as_("regional_officer", territory=KYIV)  # Kyiv is an oblast-level city too
    assert [
        e["id"] for e in (await client.get(f"{base}/enrolments", headers=regional)).json()["items"]
    ] == [enrolment["id"]]
    assert_problem(
        await client.post(
            f"{base}/enrolments", json={"family_id": created["id"]}, headers=regional
        ),
        403,
    )

    lviv_regional = as_("regional_officer", territory="UA46000000000026241")
    assert (await client.get(f"{base}/enrolments", headers=lviv_regional)).json()["items"] == []
    assert_problem(
        await client.get(f"{base}/enrolments/{enrolment['id']}", headers=lviv_regional), 404
    )

    other = as_("community_officer", territory=BUCHA)
    assert_problem(await client.get(f"{base}/distributions/{paid['id']}", headers=other), 404)
    assert (await client.get(f"{base}/allocations", headers=other)).json()["items"] == []
    refused_pay = await client.post(
        f"{base}/distributions", json=_distribution(created["id"], "1.00"), headers=other
    )
    assert_problem(refused_pay, 409)  # no enrolment of that family within its reach

    kyiv_worker = as_("social_worker", territory=KYIV)
    listed = await client.get(f"{base}/enrolments", headers=kyiv_worker)
    assert [e["id"] for e in listed.json()["items"]] == [enrolment["id"]]
    for path in (f"{base}/distributions", f"{base}/allocations", AID_STOCK):
        assert_problem(await client.get(path, headers=kyiv_worker), 403)
    assert_problem(
        await client.post(
            f"{base}/enrolments", json={"family_id": created["id"]}, headers=kyiv_worker
        ),
        403,
    )

    staff = as_("provider_staff", provider_id=provider["id"])
    theirs = await client.get(f"{base}/distributions", headers=staff)
    assert [d["id"] for d in theirs.json()["items"]] == [to_provider.json()["id"]]
    assert_problem(await client.get(f"{base}/distributions/{paid['id']}", headers=staff), 404)
    for path in (f"{base}/enrolments", f"{base}/allocations", AID_STOCK):
        assert_problem(await client.get(path, headers=staff), 403)
    stranger = as_("provider_staff", provider_id=enrolment["id"])
    assert_problem(await client.get(base, headers=stranger), 404)

    assert_problem(await client.post(PROGRAMMES, json=programme_body(), headers=officer), 403)
    assert_problem(
        await client.post(f"{base}/enrolments", json={"family_id": created["id"]}, headers=admin),
        403,
    )


async def test_reads_and_writes_are_audited(client, admin, officer, connection):
    programme, created = await _cash_world(client, admin, officer)
    enrolment = await enrol(client, officer, programme["id"], created["id"])
    await client.get(f"{PROGRAMMES}/{programme['id']}/enrolments", headers=officer)
    actions = (
        (
            await connection.execute(
                text(
                    "SELECT action FROM audit_events WHERE :e = ANY(resource_ids::text[]) "
                    "ORDER BY id"
                ),
                {"e": enrolment["id"]},
            )
        )
        .scalars()
        .all()
    )
    assert actions == ["create_programme_enrolment", "list_programme_enrolments"]


async def test_stock_is_recorded_in_your_own_hromada_only(client, admin, officer, make_token):
    item = await create_aid_item(client, admin, "Генератор")
    receipt = {
        "hromada_code": LVIV,
        "item_id": item["id"],
        "quantity": 1,
        "source": "Донор",
        "received_on": date.today().isoformat(),
    }
    assert_problem(await client.post(AID_RECEIPTS, json=receipt, headers=officer), 403)
    regional = bearer(token(make_token, "regional_officer", territory=KYIV_OBLAST))
    assert (await client.get(AID_STOCK, headers=regional)).json()["items"] == []
    unknown = {**receipt, "hromada_code": KYIV, "item_id": str(uuid.uuid4())}
    refused = await client.post(AID_RECEIPTS, json=unknown, headers=officer)
    assert "body.0.item_id" in error_fields(assert_problem(refused, 422))


async def test_children_are_counted_by_age_on_the_day(client, admin, officer):
    rule = {"any": [{"condition": "children", "at_least": 2, "max_age": 17}]}
    programme = await open_programme(
        client, admin, {KYIV: {"amount": money("10.00")}}, eligibility=rule
    )
    one_child = await create_family(client, officer, family(KYIV, members=[person(), child()]))
    refused = await client.post(
        f"{PROGRAMMES}/{programme['id']}/enrolments",
        json={"family_id": one_child["id"]},
        headers=officer,
    )
    assert error_fields(assert_problem(refused, 422)) == {"eligibility.any.0"}
    two = await create_family(
        client, officer, family(KYIV, members=[person(), child(), child(first_name="Марко")])
    )
    await enrol(client, officer, programme["id"], two["id"])
