"""Deadline breaches as change-feed events: the worker's pass (``registry.worker.deadlines``)
records each deadline of a case or support case that passed by the application's clock, once
(also after two passes, and after two passes at once), and the feed announces it as an event
of the case, confined as the case's own events are, with nothing of the family in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from registry.db.engine import Database
from registry.db.provision import as_role
from registry.domain.cases import commands as case_commands
from registry.domain.military import commands as military_commands
from registry.main import ROW_SECURITY_PROBE
from registry.settings import Settings
from registry.worker import deadlines
from registry.worker.deadlines import Schedule
from tests.integration.test_cases import MONDAY, Cases, S
from tests.integration.test_military_cases import reach
from tests.support import (
    BUCHA,
    IRPIN,
    KYIV,
    LVIV,
    RUNTIME_ROLE,
    SUPPORT_CASES,
    Clock,
    SupportWorld,
    bearer,
    clock_set_to,
    eligible_provider,
    support_world,
    token,
)

CHANGES = "/api/v1/changes"
#: What an event says: ids, versions, places and times, nothing of the family.
EVENT_FIELDS = {
    "cursor",
    "sequence",
    "resource_type",
    "resource_id",
    "parent_id",
    "version",
    "action",
    "href",
    "oblast_code",
    "raion_code",
    "hromada_code",
    "provider_id",
    "unit_id",
    "occurred_at",
}
DEADLINES = {"visit_overdue", "assessment_overdue", "duration_exceeded", "contact_overdue"}


@pytest.fixture
def clock(app) -> Iterator[Clock]:
    """The application's clock (the API's), set to a Monday."""
    with clock_set_to(app, MONDAY) as clock:
        yield clock


@pytest.fixture
def case_worker(make_token) -> dict[str, str]:
    return bearer(token(make_token, "social_worker", sub="worker-1", territory=KYIV))


@pytest.fixture
def cases(client, officer, case_worker, clock) -> Cases:
    return Cases(client, officer, case_worker, clock)


@pytest.fixture
def scanning(settings: Settings) -> Settings:
    """The worker's settings, scanning at every pass."""
    return settings.model_copy(update={"deadline_scan_interval_seconds": 0.0})


class Worker:
    """The deadline pass run on the tests' application's database (as the runtime role,
    inside the test's transaction), on a day the test chooses."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings, self.schedule = database, settings, Schedule()

    async def pass_on(self, day: date) -> int:
        return await deadlines.run_once(
            self.database, self.settings, clock=lambda: day, schedule=self.schedule
        )


@pytest.fixture
def worker(app, client, scanning) -> Worker:
    return Worker(app.state.database, scanning)


async def feed(
    client: httpx.AsyncClient, headers: dict[str, str], after: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Every event the feed shows ``headers`` after ``after``, and the cursor to go on from."""
    seen: list[dict[str, Any]] = []
    while True:
        answer = await client.get(
            CHANGES, params={"limit": 1000, **({"after": after} if after else {})}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += body["items"]
        if not body["items"]:
            return seen, body["next_cursor"]
        after = body["next_cursor"]


def breaches(events: list[dict[str, Any]], resource_id: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["action"] in DEADLINES and (resource_id is None or e["resource_id"] == resource_id)
    ]


# --- family cases --------------------------------------------------------------------------------


async def test_an_overdue_visit_is_one_event_of_the_case_after_two_passes(
    cases, worker, admin, officer
):
    _, start = await feed(cases.client, admin)
    case = await cases.reach(S.ACTIVE)
    due = MONDAY + timedelta(days=14)
    assert case["visit_due_on"] == due.isoformat()
    assert await worker.pass_on(due) == 0  # due today is not overdue yet
    assert await worker.pass_on(due + timedelta(days=1)) == 1
    assert await worker.pass_on(due + timedelta(days=1)) == 0
    assert await worker.pass_on(due + timedelta(days=2)) == 0  # the same breach, still
    events, cursor = await feed(cases.client, admin, start)
    [event] = breaches(events)
    assert event["action"] == "visit_overdue"
    assert (event["resource_type"], event["resource_id"]) == ("case", case["id"])
    assert event["version"] == case["version"]
    assert (event["hromada_code"], event["href"]) == (KYIV, f"/api/v1/cases/{case['id']}")
    assert set(event) == EVENT_FIELDS
    # The case's own hromada follows it too.
    assert breaches((await feed(cases.client, officer, start))[0]) == [event]

    # A visit moves the next due day: once that one passes, it is a breach of its own.
    cases.clock.day = due + timedelta(days=2)
    visit = await cases.client.post(
        f"/api/v1/cases/{case['id']}/visits",
        json={"visited_on": cases.clock.day.isoformat(), "kind": "home"},
        headers=cases.worker,
    )
    assert visit.status_code == 201, visit.text
    case = await cases.get(case)
    next_due = date.fromisoformat(case["visit_due_on"])
    assert await worker.pass_on(next_due) == 0
    assert await worker.pass_on(next_due + timedelta(days=1)) == 1
    later, _ = await feed(cases.client, admin, cursor)
    assert [(e["action"], e["resource_id"], e["version"]) for e in breaches(later)] == [
        ("visit_overdue", case["id"], case["version"])
    ]


async def test_an_overdue_assessment_and_an_exceeded_accompaniment_are_events(cases, worker, admin):
    _, start = await feed(cases.client, admin)
    referred = await cases.open()
    assessment_due = date.fromisoformat(referred["assessment_due_on"])
    active = await cases.reach(S.ACTIVE)
    until = date.fromisoformat(active["accompaniment_until"])
    # The active case's first visit was due the same day as the referred one's assessment.
    assert active["visit_due_on"] == referred["assessment_due_on"]
    assert await worker.pass_on(assessment_due + timedelta(days=1)) == 2
    # Past the end of accompaniment: that deadline, and the others not again.
    assert await worker.pass_on(until + timedelta(days=1)) == 1
    events, _ = await feed(cases.client, admin, start)
    assert sorted((e["resource_id"], e["action"]) for e in breaches(events)) == sorted(
        [
            (referred["id"], "assessment_overdue"),
            (active["id"], "duration_exceeded"),
            (active["id"], "visit_overdue"),
        ]
    )


async def test_a_case_within_its_deadlines_or_closed_yields_none(cases, worker, admin):
    _, start = await feed(cases.client, admin)
    referred = await cases.open()
    closed = await cases.reach(S.CLOSED)
    suspended = await cases.reach(S.SUSPENDED)
    assessment_due = date.fromisoformat(referred["assessment_due_on"])
    assert await worker.pass_on(assessment_due) == 0
    events, cursor = await feed(cases.client, admin, start)
    assert breaches(events) == []
    # Years later the open one is overdue; the closed and the suspended never are.
    assert await worker.pass_on(MONDAY + timedelta(days=3 * 365)) == 1
    events, _ = await feed(cases.client, admin, cursor)
    assert [e["resource_id"] for e in breaches(events)] == [referred["id"]]
    assert {closed["id"], suspended["id"]}.isdisjoint(e["resource_id"] for e in events)


async def test_a_case_with_its_assessment_done_is_not_assessment_overdue(cases, worker, admin):
    case = await cases.reach(S.ASSESSMENT)  # assessed and decided, not yet planning
    assert case["status"] == "assessment"
    _, start = await feed(cases.client, admin)
    assert await worker.pass_on(date.fromisoformat(case["assessment_due_on"]) + timedelta(1)) == 0
    assert breaches((await feed(cases.client, admin, start))[0]) == []


async def test_the_event_is_confined_as_the_case_is(cases, worker, admin, make_token):
    _, start = await feed(cases.client, admin)
    case = await cases.open()
    assert await worker.pass_on(date.fromisoformat(case["assessment_due_on"]) + timedelta(1)) == 1
    for role, claims, sees in (
        ("community_officer", {"territory": KYIV}, True),
        ("community_officer", {"territory": IRPIN}, False),
        ("community_officer", {"territory": LVIV}, False),
        ("integration", {"scope": "changes:read", "territory": KYIV}, True),
        ("integration", {"scope": "changes:read", "territory": LVIV}, False),
        ("ministry_admin", {}, True),
    ):
        events, _ = await feed(cases.client, bearer(token(make_token, role, **claims)), start)
        assert [e["resource_id"] for e in breaches(events)] == ([case["id"]] if sees else []), (
            role,
            claims,
        )
    # A provider's feed carries no case events (it follows its referrals), nor their breaches.
    provider = await eligible_provider(cases.client, admin)
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    assert breaches((await feed(cases.client, staff, start))[0]) == []


async def test_a_pass_records_at_most_a_batch_of_each_deadline(cases, app, client, settings, admin):
    _, start = await feed(cases.client, admin)
    first, second = await cases.open(), await cases.open()
    small = settings.model_copy(
        update={"deadline_batch_size": 1, "deadline_scan_interval_seconds": 3600.0}
    )
    worker = Worker(app.state.database, small)
    day = date.fromisoformat(first["assessment_due_on"]) + timedelta(days=1)
    # A scan that found some scans again at the next pass, the same day, until none is left.
    assert [await worker.pass_on(day) for _ in range(3)] == [1, 1, 0]
    events, _ = await feed(cases.client, admin, start)
    assert sorted(e["resource_id"] for e in breaches(events)) == sorted([first["id"], second["id"]])


async def test_a_scan_that_found_nothing_waits_until_the_interval_or_the_next_day(
    cases, app, client, settings
):
    worker = Worker(
        app.state.database, settings.model_copy(update={"deadline_scan_interval_seconds": 3600.0})
    )
    day = MONDAY + timedelta(days=365)
    assert await worker.pass_on(day) == 0
    await cases.open()  # overdue long since, but the day was scanned a moment ago
    assert await worker.pass_on(day) == 0
    assert await worker.pass_on(day + timedelta(days=1)) == 1
    worker.schedule.not_before = 0.0  # the interval has passed
    await cases.open()
    assert await worker.pass_on(day + timedelta(days=1)) == 1


# --- support cases -------------------------------------------------------------------------------


@pytest.fixture
async def world(client, admin, make_token, clock) -> SupportWorld:
    return await support_world(client, admin, make_token)


async def test_no_first_contact_in_time_is_one_event_of_the_support_case(
    client, world, worker, admin, make_token
):
    _, start = await feed(client, admin)
    case = world.case
    assert case["contact_due_on"] == (MONDAY + timedelta(days=3)).isoformat()
    assert await worker.pass_on(MONDAY + timedelta(days=3)) == 0
    assert await worker.pass_on(MONDAY + timedelta(days=4)) == 1
    assert await worker.pass_on(MONDAY + timedelta(days=5)) == 0
    events, _ = await feed(client, admin, start)
    [event] = breaches(events)
    assert (event["resource_type"], event["resource_id"], event["action"]) == (
        "support_case",
        case["id"],
        "contact_overdue",
    )
    assert event["version"] == case["version"]
    assert (event["provider_id"], event["unit_id"]) == (world.provider["id"], world.unit["id"])
    assert event["hromada_code"] == BUCHA
    assert event["href"] == f"{SUPPORT_CASES}/{case['id']}"
    assert set(event) == EVENT_FIELDS

    # Seen by whoever the feed shows the support case's own events: its provider, its unit,
    # the family's hromada; not another provider or another hromada.
    other = await eligible_provider(client, admin)
    for headers, sees in (
        (bearer(token(make_token, "provider_staff", provider_id=world.provider["id"])), True),
        (bearer(token(make_token, "provider_staff", provider_id=other["id"])), False),
        (world.liaison, True),
        (bearer(token(make_token, "community_officer", territory=BUCHA)), True),
        (bearer(token(make_token, "community_officer", territory=IRPIN)), False),
    ):
        events, _ = await feed(client, headers)
        assert [e["resource_id"] for e in breaches(events)] == ([case["id"]] if sees else [])
        own = [e for e in events if e["resource_id"] == case["id"] and e["action"] == "created"]
        assert bool(own) is sees  # as the support case's own events


async def test_a_suspended_support_case_is_never_contact_overdue(client, world, worker, admin):
    await reach(client, world, "suspended")
    _, start = await feed(client, admin)
    assert await worker.pass_on(MONDAY + timedelta(days=400)) == 0
    assert breaches((await feed(client, admin, start))[0]) == []


# --- once, with two workers ----------------------------------------------------------------------


@pytest.fixture
async def runtime_databases(fresh_database_url) -> AsyncIterator[tuple[Database, Database]]:
    """Two workers' connections to the live test's database, as the runtime role."""
    url = as_role(fresh_database_url, RUNTIME_ROLE)
    first, second = (Database.connect(url, pool_size=1, max_overflow=0) for _ in range(2))
    for database in (first, second):
        await database.detect_row_security(ROW_SECURITY_PROBE)
    try:
        yield first, second
    finally:
        for database in (first, second):
            await database.dispose()


async def test_two_workers_at_once_record_a_breach_once(
    live, runtime_databases, make_token, scanning
):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    case_worker = bearer(token(make_token, "social_worker", sub="worker-1", territory=KYIV))
    cases = Cases(live.client, officer, case_worker, Clock(MONDAY))
    case = await cases.open()
    day = date.fromisoformat(case["assessment_due_on"]) + timedelta(days=1)
    first, second = runtime_databases

    # Two passes at once, then again: one breach recorded, one event.
    counts = await asyncio.gather(
        *(
            deadlines.run_once(database, scanning, clock=lambda: day, schedule=Schedule())
            for database in runtime_databases
        )
    )
    assert sorted(counts) == [0, 1]
    assert await deadlines.run_once(first, scanning, clock=lambda: day, schedule=Schedule()) == 0

    # The same breach found by two transactions at the same moment: the second waits for the
    # first's commit and then records nothing.
    another = await cases.open()
    async with first.transaction() as one:
        assert await case_commands.record_breaches(one, day, 100) == 1
        racing = asyncio.create_task(_record_in(second, day))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting on the first's uncommitted breach
    assert await racing == 0

    events, _ = await feed(live.client, admin)
    assert sorted(e["resource_id"] for e in breaches(events)) == sorted([case["id"], another["id"]])
    sequences = [e["sequence"] for e in events]
    assert len(sequences) == len(set(sequences))
    assert (
        await live.count("SELECT count(*) FROM change_events WHERE action = 'assessment_overdue'")
        == 2
    )


async def _record_in(database: Database, day: date) -> int:
    async with database.transaction() as session:
        recorded = await case_commands.record_breaches(session, day, 100)
        recorded += await military_commands.record_breaches(session, day, 100)
    return recorded


# --- nothing of the family -----------------------------------------------------------------------


async def test_breach_events_hold_no_personal_data(cases, client, world, worker, admin):
    _, start = await feed(client, admin)
    case = await cases.open()
    assert await worker.pass_on(MONDAY + timedelta(days=365)) == 2  # the case, the support case
    events, _ = await feed(client, admin, start)
    found = breaches(events)
    assert {e["resource_type"] for e in found} == {"case", "support_case"}
    family = (
        await client.get(f"/api/v1/families/{case['family_id']}", headers=cases.officer)
    ).json()
    text = str(found)
    for member in family["members"]:
        for field in ("last_name", "first_name", "patronymic", "birth_date"):
            if member.get(field):
                assert str(member[field]) not in text
    assert family["address_line"] not in text
    assert case["summary"] not in text
    assert all(set(e) == EVENT_FIELDS for e in found)
