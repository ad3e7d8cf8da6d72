"""The change feed: every committed write of a resource appends an event in its own
transaction; the feed is confined by reach, and a consumer polling it never skips an event,
also when transactions commit in the reverse order of their events' numbers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry.db.change_tracking import EVENT_COLUMNS
from registry.domain.changes.queries import RESOURCE_TYPES
from tests.support import (
    FAMILIES,
    KYIV,
    LVIV,
    LVIV_OBLAST,
    RUNTIME_ROLE,
    assert_problem,
    bearer,
    create_family,
    create_provider,
    error_fields,
    family,
    if_match,
    provider_body,
    token,
)

CHANGES = "/api/v1/changes"

#: Versioned tables that are parts of another resource: their writes bump its version (a
#: case's transitions, plan and assessment; a unit's providers…), which is the event.
PARTS = {
    "case_assessments",
    "case_measures",
    "case_plans",
    "case_transitions",
    "change_events",  # the feed itself: an event names the version it announces
    "friendly_community_steps",
    "provider_status_changes",
    "record_changes",
    "service_record_versions",
    "servicemember_statuses",
    "servicemember_units",
    "support_case_history",
    "support_case_measures",
}
#: Versioned tables that are no resource of the registry: a client's own webhook
#: subscriptions are its configuration (read by their owner only), not a change to announce.
NOT_RESOURCES = {"webhook_subscriptions"}


async def _drain(client, headers: dict[str, str], after: str | None = None, **query: Any):
    """Every event the feed shows now, page by page; and the cursor to poll with next."""
    seen: list[dict[str, Any]] = []
    while True:
        params = {**query, **({"after": after} if after else {})}
        answer = await client.get(CHANGES, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += body["items"]
        if not body["items"]:
            return seen, body["next_cursor"]
        after = body["next_cursor"]


def _keys(events: list[dict[str, Any]]) -> list[tuple[str, str, int | None, str]]:
    return [(e["resource_type"], e["resource_id"], e["version"], e["action"]) for e in events]


async def test_each_committed_write_is_an_event_and_a_consumer_follows_them(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    _, start = await _drain(live.client, admin)
    created = await create_family(live.client, officer, family(KYIV))
    patched = await live.client.patch(
        f"{FAMILIES}/{created['id']}",
        json={"address_line": "вул. Вокзальна, 7"},
        headers=if_match(officer, created["version"]),
    )
    assert patched.status_code == 200, patched.text
    # A refused write changes nothing and appends nothing.
    stale = await live.client.patch(
        f"{FAMILIES}/{created['id']}",
        json={"address_line": "вул. Садова, 1"},
        headers=if_match(officer, created["version"]),
    )
    assert_problem(stale, 412)

    events, _ = await _drain(live.client, admin, start)
    family_events = [e for e in events if e["resource_type"] == "family"]
    assert _keys(family_events) == [
        ("family", created["id"], 1, "created"),
        ("family", created["id"], 2, "updated"),
    ]
    assert family_events[0]["hromada_code"] == KYIV
    assert family_events[0]["href"] == f"{FAMILIES}/{created['id']}"
    members = [e for e in events if e["resource_type"] == "member"]
    assert {e["parent_id"] for e in members} == {created["id"]}
    assert all(e["href"].startswith(f"{FAMILIES}/{created['id']}/members/") for e in members)
    # Ids and versions only: nothing of the family itself.
    everything = str(events)
    for member in created["members"]:
        assert member["last_name"] not in everything
    sequences = [e["sequence"] for e in events]
    assert len(set(sequences)) == len(sequences)


async def test_a_consumer_never_skips_an_event_committed_out_of_order(live, make_token):
    """Transaction A writes its event first (the lower position) and commits last. A
    consumer polling between the two commits sees B; after A's commit, A; each exactly
    once (a feed read by position would have moved past A's before A committed)."""
    admin = bearer(token(make_token, "ministry_admin"))
    _, start = await _drain(live.client, admin)
    first, second = uuid.uuid4(), uuid.uuid4()
    insert = text(
        "INSERT INTO aid_items (id, name, unit, unit_value, currency, created_by) "
        "VALUES (:id, :name, 'шт.', 10, 'UAH', 'test')"
    )
    async with live.database.engine.connect() as a, live.database.engine.connect() as b:
        await a.execute(insert, {"id": first, "name": f"Обігрівач {first}"})
        await b.execute(insert, {"id": second, "name": f"Генератор {second}"})
        await b.commit()  # B commits first, with the higher position
        between, cursor = await _drain(live.client, admin, start)
        await a.commit()
    after, _ = await _drain(live.client, admin, cursor)
    aid = [e for e in between + after if e["resource_type"] == "aid_item"]
    assert [e["resource_id"] for e in aid] == [str(second), str(first)]
    assert [e["resource_id"] for e in between] == [str(second)]
    async with live.database.engine.connect() as check:
        positions = dict(
            (
                await check.execute(
                    text(
                        "SELECT resource_id, position FROM change_events "
                        "WHERE resource_id IN (:a, :b)"
                    ),
                    {"a": str(first), "b": str(second)},
                )
            ).all()
        )
    assert positions[str(first)] < positions[str(second)]
    assert aid[0]["sequence"] < aid[1]["sequence"]


async def test_the_feed_is_confined_by_reach(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    kyiv = bearer(token(make_token, "community_officer", territory=KYIV))
    lviv = bearer(token(make_token, "community_officer", territory=LVIV))
    lviv_region = bearer(token(make_token, "regional_officer", territory=LVIV_OBLAST))
    in_kyiv = await create_family(live.client, kyiv, family(KYIV))
    in_lviv = await create_family(live.client, lviv, family(LVIV))
    ours = await create_provider(live.client, admin, provider_body())
    theirs = await create_provider(live.client, admin, provider_body())
    provider = bearer(token(make_token, "provider_staff", provider_id=ours["id"]))
    system = bearer(token(make_token, "integration", scope="changes:read", territory=LVIV_OBLAST))

    def ids(events):
        return {e["resource_id"] for e in events}

    for headers, sees, not_ in (
        (admin, {in_kyiv["id"], in_lviv["id"], ours["id"], theirs["id"]}, set()),
        (kyiv, {in_kyiv["id"]}, {in_lviv["id"]}),
        (lviv, {in_lviv["id"]}, {in_kyiv["id"]}),
        (lviv_region, {in_lviv["id"]}, {in_kyiv["id"]}),
        (system, {in_lviv["id"]}, {in_kyiv["id"]}),
        (provider, {ours["id"]}, {theirs["id"], in_kyiv["id"], in_lviv["id"]}),
    ):
        events, _ = await _drain(live.client, headers)
        assert sees <= ids(events)
        assert not (not_ & ids(events))
    for role, claims in (
        ("ministry_analyst", {}),
        ("auditor", {}),
        ("social_worker", {"territory": KYIV}),
    ):
        refused = await live.client.get(CHANGES, headers=bearer(token(make_token, role, **claims)))
        assert_problem(refused, 403)
    national = bearer(token(make_token, "integration", scope="changes:read"))
    assert_problem(await live.client.get(CHANGES, headers=national), 401)


async def test_types_filter_and_bad_cursors(live, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    await create_family(live.client, officer, family(KYIV))
    await create_provider(live.client, admin, provider_body())
    families, _ = await _drain(live.client, admin, types="family,provider")
    assert {e["resource_type"] for e in families} == {"family", "provider"}
    page = await live.client.get(CHANGES, params={"limit": 1}, headers=admin)
    assert len(page.json()["items"]) == 1
    for params, field in (
        ({"types": "family,dragon"}, "query.types"),
        ({"types": "Family"}, "query.types"),
        ({"after": "bm90LWEtY3Vyc29y"}, "query.after"),
        ({"after": "WzEsMiwzXQ"}, "query.after"),  # [1,2,3]
        ({"after": "WyJhIiwxXQ"}, "query.after"),  # ["a",1]
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
    ):
        refused = await live.client.get(CHANGES, params=params, headers=admin)
        assert field in error_fields(assert_problem(refused, 422)), (params, refused.text)


async def test_every_resource_table_is_tracked(connection):
    """A versioned table is a resource (tracked: a trigger appends its events) or a part of
    one; a new context's table cannot be forgotten."""
    versioned = {
        row[0]
        for row in await connection.execute(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'version'"
            )
        )
    }
    tracked = {
        row[0]
        for row in await connection.execute(
            text(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers "
                "WHERE trigger_name = 'change_events_on_insert'"
            )
        )
    }
    untracked = versioned - PARTS - NOT_RESOURCES - tracked
    assert not untracked, sorted(untracked)
    types = {
        row[0]
        for row in await connection.execute(
            text(
                "SELECT DISTINCT substring(prosrc FROM 'SELECT ''([a-z_]+)''') FROM pg_proc "
                "WHERE proname LIKE 'change_events_of_%'"
            )
        )
    }
    assert types == set(RESOURCE_TYPES)


async def test_the_runtime_role_cannot_write_the_feed(connection):
    await connection.execute(text(f'SET LOCAL ROLE "{RUNTIME_ROLE}"'))
    for statement in (
        f"INSERT INTO change_events ({EVENT_COLUMNS}) "
        "VALUES ('family', 'x', NULL, 1, 'created', NULL, NULL, NULL, NULL, NULL)",
        "UPDATE change_events SET action = 'updated'",
        "DELETE FROM change_events",
    ):
        savepoint = await connection.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))
        await savepoint.rollback()
