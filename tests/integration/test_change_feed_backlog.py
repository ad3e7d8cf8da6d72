"""A backlog of the change feed (a bulk write: thousands of events in one transaction) is
numbered in portions, each read's within a time budget, and a consumer still reads every
event once, in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from registry.db.engine import Database
from registry.db.provision import as_role
from registry.worker import feed
from tests.support import RUNTIME_ROLE, bearer, token

CHANGES = "/api/v1/changes"
BACKLOG = 2500


async def _drain(client, headers, after: str | None = None) -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []
    while True:
        params = {"limit": 1000, **({"after": after} if after else {})}
        answer = await client.get(CHANGES, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += body["items"]
        if not body["items"]:
            return seen, body["next_cursor"]
        after = body["next_cursor"]


async def test_a_backlog_is_numbered_in_portions_and_read_once_in_order(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    _, start = await _drain(live.client, admin)
    async with live.database.engine.begin() as owner:
        await owner.execute(
            text(
                "INSERT INTO aid_items (id, name, unit, unit_value, currency, created_by) "
                "SELECT gen_random_uuid(), 'Ковдра ' || n, 'шт.', 10, 'UAH', 'test' "
                "FROM generate_series(1, :count) AS n"
            ),
            {"count": BACKLOG},
        )
    # Given no time, the sequencer numbers one batch and stops.
    async with live.database.engine.begin() as owner:
        assert await owner.scalar(text("SELECT change_feed_sequence(interval '0')")) == 1000
        assert await owner.scalar(
            text("SELECT count(*) FROM change_events WHERE sequence IS NULL")
        ) == (BACKLOG - 1000)
    events, _ = await _drain(live.client, admin, start)
    items = [e for e in events if e["resource_type"] == "aid_item"]
    assert len(items) == BACKLOG
    assert len({e["resource_id"] for e in items}) == BACKLOG
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(set(sequences))
    assert await live.count("SELECT count(*) FROM change_events WHERE sequence IS NULL") == 0


async def test_the_worker_numbers_a_backlog_off_the_consumers_reads(
    live, fresh_database_url, settings
):
    async with live.database.engine.begin() as owner:
        await owner.execute(
            text(
                "INSERT INTO aid_items (id, name, unit, unit_value, currency, created_by) "
                "SELECT gen_random_uuid(), 'Павербанк ' || n, 'шт.', 10, 'UAH', 'test' "
                "FROM generate_series(1, :count) AS n"
            ),
            {"count": BACKLOG},
        )
    waiting = "SELECT count(*) FROM change_events WHERE sequence IS NULL"
    assert await live.count(waiting) >= BACKLOG
    worker = Database.connect(as_role(fresh_database_url, RUNTIME_ROLE), pool_size=1)
    try:
        numbered = 0
        while (batch := await feed.run_once(worker, settings)) > 0:
            numbered += batch
    finally:
        await worker.dispose()
    assert numbered >= BACKLOG
    assert await live.count(waiting) == 0
    assert await live.count(
        "SELECT count(DISTINCT sequence) FROM change_events"
    ) == await live.count("SELECT count(*) FROM change_events")
