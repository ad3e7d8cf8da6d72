"""Late reporting: after a provider's access to a family ends (its link revoked, its referral
closed), the provider may still submit, resubmit and amend records of services it delivered
while the access stood, for ``REGISTRY_LATE_REPORTING_DAYS`` (default 90) after the end, and
nothing delivered after the end. Dates follow the application's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from registry.settings import Settings
from tests.support import (
    BATCH,
    KYIV,
    RECORDS,
    Clock,
    assert_problem,
    bearer,
    clock_set_to,
    create_family,
    create_provider,
    family,
    provider_body,
    record,
    token,
)

#: The day the access ends in these tests.
END = date(2026, 3, 2)


@pytest.fixture
def clock(app) -> Iterator[Clock]:
    """The application's clock, set to the day the access ends (restored afterwards)."""
    with clock_set_to(app, END) as clock:
        yield clock


@pytest.fixture
def grace(app, settings) -> Iterator[Any]:
    """``grace(days)`` sets REGISTRY_LATE_REPORTING_DAYS for the test (restored afterwards)."""

    def set_days(days: int) -> None:
        app.state.settings = settings.model_copy(update={"late_reporting_days": days})

    original = app.state.settings
    try:
        yield set_days
    finally:
        app.state.settings = original


@pytest.fixture
async def provider(client, admin) -> dict[str, Any]:
    return await create_provider(client, admin, provider_body())


@pytest.fixture
def staff(make_token, provider) -> dict[str, str]:
    return bearer(token(make_token, "provider_staff", provider_id=provider["id"]))


@pytest.fixture
async def served(client, officer, provider, clock) -> dict[str, Any]:
    """A Kyiv family linked to the provider (on the clock's day)."""
    created = await create_family(client, officer, family(KYIV))
    linked = await client.post(
        f"/api/v1/families/{created['id']}/providers",
        json={"provider_id": provider["id"], "reason": "referred"},
        headers=officer,
    )
    assert linked.status_code == 201, linked.text
    return created


async def revoke(
    client: httpx.AsyncClient, officer: dict[str, str], family_id: str, provider_id: str
):
    response = await client.post(
        f"/api/v1/families/{family_id}/providers/{provider_id}/revoke",
        json={"reason": "services completed"},
        headers=officer,
    )
    assert response.status_code == 200, response.text


def on(day: date, family_id: str, **overrides: Any) -> dict[str, Any]:
    """A record of a service delivered on ``day``."""
    return record(family_id, delivered_on=day.isoformat(), **overrides)


async def test_what_was_delivered_while_the_link_stood_is_reported_after_it_ended(
    client, officer, staff, served, provider, clock
):
    before = await client.post(
        RECORDS, json=on(END - timedelta(5), served["id"], external_ref="a-1"), headers=staff
    )
    assert before.status_code == 201, before.text
    await revoke(client, officer, served["id"], provider["id"])
    clock.day = END + timedelta(30)

    for day in (END - timedelta(1), END):  # up to the day the access ended
        late = await client.post(RECORDS, json=on(day, served["id"]), headers=staff)
        assert late.status_code == 201, late.text
    same = await client.post(
        RECORDS, json=on(END - timedelta(5), served["id"], external_ref="a-1"), headers=staff
    )
    assert (same.status_code, same.json()["id"], same.json()["version"]) == (
        200,
        before.json()["id"],
        1,
    )
    changed = await client.post(
        RECORDS,
        json=on(END - timedelta(5), served["id"], external_ref="a-1", units=2),
        headers=staff,
    )
    assert (changed.status_code, changed.json()["version"], changed.json()["units"]) == (200, 2, 2)

    after = await client.post(RECORDS, json=on(END + timedelta(1), served["id"]), headers=staff)
    problem = assert_problem(after, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.delivered_on"]
    assert "ended on 2026-03-02" in problem["errors"][0]["message"]
    # the family itself stays out of the provider's sight
    assert (await client.get(f"/api/v1/families/{served['id']}", headers=staff)).status_code == 404


async def test_nothing_is_reported_after_the_grace_period(
    client, officer, staff, served, provider, clock, connection
):
    existing = await client.post(
        RECORDS, json=on(END - timedelta(1), served["id"], external_ref="g-1"), headers=staff
    )
    assert existing.status_code == 201
    await revoke(client, officer, served["id"], provider["id"])
    clock.day = END + timedelta(90)  # the last day of the default 90
    last = await client.post(RECORDS, json=on(END - timedelta(2), served["id"]), headers=staff)
    assert last.status_code == 201, last.text

    clock.day = END + timedelta(91)
    count = "SELECT count(*) FROM service_records"
    stored = int((await connection.execute(text(count))).scalar_one())
    for body in (
        on(END - timedelta(3), served["id"]),
        on(END - timedelta(1), served["id"], external_ref="g-1", units=4),  # a correction
    ):
        problem = assert_problem(await client.post(RECORDS, json=body, headers=staff), 422)
        assert [e["field"] for e in problem["errors"]] == ["body.family_id"]
        message = problem["errors"][0]["message"]
        assert "ended on 2026-03-02" in message
        assert "until 2026-05-31" in message
    assert int((await connection.execute(text(count))).scalar_one()) == stored
    # resent as it is stored, a record changes nothing: a sync may still resend everything
    resent = await client.post(
        RECORDS, json=on(END - timedelta(1), served["id"], external_ref="g-1"), headers=staff
    )
    assert (resent.status_code, resent.json()["version"]) == (200, 1)


async def test_the_grace_period_is_the_setting(
    client, officer, staff, served, provider, clock, grace
):
    await revoke(client, officer, served["id"], provider["id"])
    grace(10)
    clock.day = END + timedelta(10)
    assert (
        await client.post(RECORDS, json=on(END, served["id"]), headers=staff)
    ).status_code == 201
    clock.day = END + timedelta(11)
    assert_problem(await client.post(RECORDS, json=on(END, served["id"]), headers=staff), 422)

    grace(0)  # only on the day the access ended
    clock.day = END
    assert (
        await client.post(RECORDS, json=on(END, served["id"]), headers=staff)
    ).status_code == 201
    clock.day = END + timedelta(1)
    assert_problem(await client.post(RECORDS, json=on(END, served["id"]), headers=staff), 422)


def test_the_setting_defaults_to_90_days_and_is_bounded():
    assert Settings().late_reporting_days == 90
    assert Settings(late_reporting_days=0).late_reporting_days == 0
    assert Settings(late_reporting_days=366).late_reporting_days == 366
    for wrong in (-1, 367):
        with pytest.raises(ValidationError):
            Settings(late_reporting_days=wrong)


async def test_a_batch_mixes_late_reports_and_refusals(
    client, officer, staff, served, provider, clock, connection
):
    stranger = await create_family(client, officer, family(KYIV))  # never linked
    first = await client.post(
        BATCH,
        json={
            "records": [
                on(END - timedelta(9), served["id"], external_ref="b-1"),
                on(END - timedelta(8), served["id"], external_ref="b-2"),
            ]
        },
        headers=staff,
    )
    assert first.json()["accepted"] == 2
    await revoke(client, officer, served["id"], provider["id"])
    clock.day = END + timedelta(20)

    records = [
        on(END - timedelta(9), served["id"], external_ref="b-1"),  # resent as it was
        on(END - timedelta(8), served["id"], external_ref="b-2", units=3),  # corrected
        on(END - timedelta(1), served["id"], external_ref="b-3"),  # reported late
        on(END + timedelta(1), served["id"], external_ref="b-4"),  # delivered after the end
        on(END - timedelta(1), stranger["id"], external_ref="b-5"),  # never referred
    ]
    body = (await client.post(BATCH, json={"records": records}, headers=staff)).json()
    assert [(r["status"], r["outcome"]) for r in body["results"]] == [
        ("accepted", "unchanged"),
        ("accepted", "updated"),
        ("accepted", "created"),
        ("rejected", None),
        ("rejected", None),
    ]
    assert [e["field"] for e in body["results"][3]["errors"]] == ["records.3.delivered_on"]
    assert [e["field"] for e in body["results"][4]["errors"]] == ["records.4.family_id"]

    atomic = await client.post(
        BATCH, params={"atomic": "true"}, json={"records": records[2:4]}, headers=staff
    )
    assert [e["field"] for e in assert_problem(atomic, 422)["errors"]] == ["records.1.delivered_on"]
    count = "SELECT count(*) FROM service_records WHERE external_ref LIKE 'b-%'"
    assert int((await connection.execute(text(count))).scalar_one()) == 3

    clock.day = END + timedelta(91)
    resync = [
        *records[:2],  # as stored: unchanged
        on(END - timedelta(1), served["id"], external_ref="b-3", units=5),  # a correction
        on(END - timedelta(2), served["id"], external_ref="b-6"),  # a new one
    ]
    as_stored = (
        await client.post(
            BATCH, params={"atomic": "true"}, json={"records": records[:3]}, headers=staff
        )
    ).json()
    assert [r["outcome"] for r in as_stored["results"]] == ["unchanged"] * 3
    closed = (await client.post(BATCH, json={"records": resync}, headers=staff)).json()
    assert [(r["status"], r["outcome"]) for r in closed["results"]] == [
        ("accepted", "unchanged"),
        ("accepted", "unchanged"),
        ("rejected", None),
        ("rejected", None),
    ]
    assert [e["field"] for r in closed["results"][2:] for e in r["errors"]] == [
        "records.2.family_id",
        "records.3.family_id",
    ]


async def test_amendments_follow_the_same_rule_and_voids_stay_possible(
    client, officer, staff, served, provider, clock
):
    created = (
        await client.post(RECORDS, json=on(END - timedelta(4), served["id"]), headers=staff)
    ).json()
    url = f"{RECORDS}/{created['id']}"
    await revoke(client, officer, served["id"], provider["id"])
    clock.day = END + timedelta(10)
    amended = await client.post(
        f"{url}/amendments",
        json={"reason": "two sessions", "units": 2},
        headers={**staff, "If-Match": '"1"'},
    )
    assert amended.status_code == 200, amended.text
    moved = await client.post(
        f"{url}/amendments",
        json={"reason": "wrong day", "delivered_on": (END + timedelta(1)).isoformat()},
        headers={**staff, "If-Match": '"2"'},
    )
    assert [e["field"] for e in assert_problem(moved, 422)["errors"]] == ["body.delivered_on"]

    clock.day = END + timedelta(91)
    late = await client.post(
        f"{url}/amendments",
        json={"reason": "three", "units": 3},
        headers={**staff, "If-Match": '"2"'},
    )
    assert [e["field"] for e in assert_problem(late, 422)["errors"]] == ["body.family_id"]
    voided = await client.post(f"{url}/void", json={"reason": "entered twice"}, headers=staff)
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"


async def test_a_link_granted_again_opens_the_family_again(
    client, officer, staff, served, provider, clock
):
    await revoke(client, officer, served["id"], provider["id"])
    clock.day = END + timedelta(120)
    assert_problem(await client.post(RECORDS, json=on(END, served["id"]), headers=staff), 422)
    relinked = await client.post(
        f"/api/v1/families/{served['id']}/providers",
        json={"provider_id": provider["id"], "reason": "served again"},
        headers=officer,
    )
    assert relinked.status_code == 201
    for day in (END, END + timedelta(60), clock.day):
        response = await client.post(RECORDS, json=on(day, served["id"]), headers=staff)
        assert response.status_code == 201, response.text


async def test_a_grant_ended_without_its_day_falls_back_to_when_it_was_revoked(
    client, officer, staff, served, provider, clock, connection
):
    """A grant ended by a writer that did not set ``revoked_on`` (or before migration 0007)
    ends on the UTC date of its ``revoked_at``."""
    await revoke(client, officer, served["id"], provider["id"])
    await connection.execute(
        text(
            "UPDATE family_provider_access SET revoked_on = NULL, "
            "revoked_at = '2026-02-20T23:30:00+00' WHERE family_id = :family"
        ),
        {"family": served["id"]},
    )
    ok = await client.post(RECORDS, json=on(date(2026, 2, 20), served["id"]), headers=staff)
    assert ok.status_code == 201, ok.text
    after = await client.post(RECORDS, json=on(date(2026, 2, 21), served["id"]), headers=staff)
    assert "ended on 2026-02-20" in assert_problem(after, 422)["errors"][0]["message"]
