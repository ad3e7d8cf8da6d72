"""Webhook subscriptions through the API: who may subscribe, a client sees only its own, the
secret is shown once (and kept sealed), URLs that would make the registry call inside its
own network are refused, changes need If-Match. Deliveries themselves: test_worker.py."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import select

from registry.domain.webhooks.tables import SUBSCRIPTION_SECRET, webhook_subscription_table
from tests.support import (
    IDENTIFIER_KEYS,
    KYIV,
    LVIV_OBLAST,
    assert_problem,
    bearer,
    error_fields,
    if_match,
    token,
)

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions"
HOOK = "https://hooks.example.org/registry"
SCOPES = "webhooks:manage changes:read"


def client_token(make_token, sub: str = "system-a", **claims) -> dict[str, str]:
    claims.setdefault("territory", LVIV_OBLAST)
    return bearer(token(make_token, "integration", sub=sub, scope=SCOPES, **claims))


async def subscribe(client, headers, **body):
    answer = await client.post(SUBSCRIPTIONS, json={"url": HOOK, **body}, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer


async def test_a_client_subscribes_and_sees_its_secret_once(client, make_token, connection):
    system = client_token(make_token)
    created = await subscribe(client, system, types=["family", "case"])
    body = created.json()
    assert body["url"] == HOOK
    assert body["types"] == ["case", "family"]
    assert (body["status"], body["disabled_reason"], body["failures"]) == ("active", None, 0)
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"{SUBSCRIPTIONS}/{body['id']}"
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24

    read = await client.get(f"{SUBSCRIPTIONS}/{body['id']}", headers=system)
    assert read.status_code == 200
    assert "secret" not in read.json()
    listed = await client.get(SUBSCRIPTIONS, headers=system)
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]
    assert "secret" not in listed.json()["items"][0]

    # Kept sealed, bound to its row: the database holds no readable secret.
    stored = (
        (
            await connection.execute(
                select(webhook_subscription_table).where(
                    webhook_subscription_table.c.id == uuid.UUID(body["id"])
                )
            )
        )
        .mappings()
        .one()
    )
    assert secret.encode() not in stored["secret_sealed"]
    assert SUBSCRIPTION_SECRET.opened(IDENTIFIER_KEYS, stored, stored["id"]) == secret
    # The reach it subscribed with is kept: what it will be sent is what its feed shows.
    assert (stored["role"], stored["territory"], stored["national"]) == (
        "integration",
        LVIV_OBLAST,
        False,
    )


async def test_another_clients_subscription_is_not_found(client, make_token):
    mine = client_token(make_token, "system-a")
    theirs = client_token(make_token, "system-b")
    created = (await subscribe(client, mine)).json()
    path = f"{SUBSCRIPTIONS}/{created['id']}"
    assert_problem(await client.get(path, headers=theirs), 404)
    assert_problem(await client.get(f"{path}/deliveries", headers=theirs), 404)
    assert_problem(
        await client.patch(path, json={"status": "disabled"}, headers=if_match(theirs, 1)), 404
    )
    assert_problem(await client.post(f"{path}/secret", headers=if_match(theirs, 1)), 404)
    assert_problem(await client.post(f"{path}/replay", json={}, headers=if_match(theirs, 1)), 404)
    assert (await client.get(SUBSCRIPTIONS, headers=theirs)).json()["items"] == []
    # The owner still has it, unchanged.
    assert (await client.get(path, headers=mine)).json()["version"] == 1


async def test_who_may_subscribe(client, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    await subscribe(client, admin)
    # The feed it would push is not theirs to read: 403 (its own list, empty, it may read).
    feedless = bearer(token(make_token, "integration", scope="webhooks:manage", territory=KYIV))
    refused = await client.post(SUBSCRIPTIONS, json={"url": HOOK}, headers=feedless)
    assert "changes:read" in assert_problem(refused, 403)["detail"]
    for headers in (
        bearer(token(make_token, "integration", scope="changes:read", territory=KYIV)),
        bearer(token(make_token, "community_officer", territory=KYIV)),
        bearer(token(make_token, "ministry_analyst")),
    ):
        refused = await client.post(SUBSCRIPTIONS, json={"url": HOOK}, headers=headers)
        assert_problem(refused, 403)
        assert_problem(await client.get(SUBSCRIPTIONS, headers=headers), 403)
    # An integration token with the scope and no reach at all is refused as every such one.
    unreached = bearer(token(make_token, "integration", scope=SCOPES))
    assert_problem(await client.get(SUBSCRIPTIONS, headers=unreached), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.org/registry"}, "body.url"),  # https only
        ({"url": "ftp://hooks.example.org/registry"}, "body.url"),
        ({"url": "https://10.1.2.3/hook"}, "body.url"),  # private
        ({"url": "https://127.0.0.1:8443/hook"}, "body.url"),  # loopback
        ({"url": "https://[::1]/hook"}, "body.url"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "body.url"),  # link-local
        ({"url": "https://2130706433/hook"}, "body.url"),  # 127.0.0.1 spelled as a number
        ({"url": "https://localhost/hook"}, "body.url"),
        ({"url": "https://metadata.google.internal/"}, "body.url"),
        ({"url": "https://224.0.0.1/hook"}, "body.url"),  # multicast
        ({"url": "https://user:password@hooks.example.org/"}, "body.url"),
        ({"url": "https://hooks.example.org/#fragment"}, "body.url"),
        ({"url": "https:///no-host"}, "body.url"),
        ({"url": "https://hooks.example.org:99999/"}, "body.url"),
        ({"url": "hooks.example.org/registry"}, "body.url"),
        ({"url": HOOK, "types": ["dragon"]}, "body.types.0"),
        ({"url": HOOK, "after": "bm90LWEtY3Vyc29y"}, "body.after"),
        ({"url": HOOK, "after": "WzEwMDAwMDAwMDBd"}, "body.after"),  # [1000000000]: not reached
        ({"url": HOOK, "secret": "whsec_mine"}, "body.secret"),  # the server makes secrets
    ],
)
async def test_refused_subscriptions(client, make_token, body, field):
    system = client_token(make_token)
    refused = await client.post(SUBSCRIPTIONS, json=body, headers=system)
    assert field in error_fields(assert_problem(refused, 422)), refused.text
    assert (await client.get(SUBSCRIPTIONS, headers=system)).json()["items"] == []


async def test_changing_disabling_and_enabling(client, make_token):
    system = client_token(make_token)
    created = (await subscribe(client, system)).json()
    path = f"{SUBSCRIPTIONS}/{created['id']}"
    assert_problem(await client.patch(path, json={"status": "disabled"}, headers=system), 428)
    disabled = await client.patch(path, json={"status": "disabled"}, headers=if_match(system, 1))
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["status"], disabled.json()["disabled_reason"]) == (
        "disabled",
        "requested",
    )
    assert disabled.headers["etag"] == '"2"'
    stale = await client.patch(path, json={"types": ["family"]}, headers=if_match(system, 1))
    assert assert_problem(stale, 412)["changed_fields"] == ["disabled_reason", "status"]
    refused = await client.patch(
        path, json={"url": "https://192.168.0.10/hook"}, headers=if_match(system, 2)
    )
    assert "body.url" in error_fields(assert_problem(refused, 422))
    assert_problem(await client.patch(path, json={}, headers=if_match(system, 2)), 422)
    assert_problem(await client.patch(path, json={"url": None}, headers=if_match(system, 2)), 422)
    enabled = await client.patch(
        path,
        json={"status": "active", "url": "https://other.example.org/in", "types": ["case"]},
        headers=if_match(system, 2),
    )
    assert enabled.status_code == 200, enabled.text
    after = enabled.json()
    assert (after["status"], after["disabled_reason"], after["failures"]) == ("active", None, 0)
    assert (after["url"], after["types"], after["version"]) == (
        "https://other.example.org/in",
        ["case"],
        3,
    )


async def test_rotating_the_secret(client, make_token, connection):
    system = client_token(make_token)
    created = (await subscribe(client, system)).json()
    path = f"{SUBSCRIPTIONS}/{created['id']}/secret"
    assert_problem(await client.post(path, headers=system), 428)
    rotated = await client.post(path, headers=if_match(system, 1))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != created["secret"]
    assert rotated.json()["version"] == 2
    stored = (
        (
            await connection.execute(
                select(webhook_subscription_table).where(
                    webhook_subscription_table.c.id == uuid.UUID(created["id"])
                )
            )
        )
        .mappings()
        .one()
    )
    assert SUBSCRIPTION_SECRET.opened(IDENTIFIER_KEYS, stored, stored["id"]) == new


async def test_a_retried_creation_answers_as_the_first(client, make_token):
    """The same Idempotency-Key replays the first answer (its secret too: it is the answer
    the client may have lost), and creates nothing more."""
    system = client_token(make_token)
    headers = {**system, "Idempotency-Key": "subscribe-1"}
    first = await client.post(SUBSCRIPTIONS, json={"url": HOOK}, headers=headers)
    again = await client.post(SUBSCRIPTIONS, json={"url": HOOK}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len((await client.get(SUBSCRIPTIONS, headers=system)).json()["items"]) == 1


async def test_replay_and_the_list_of_deliveries(client, make_token):
    system = client_token(make_token)
    created = (await subscribe(client, system)).json()
    path = f"{SUBSCRIPTIONS}/{created['id']}"
    assert_problem(await client.post(f"{path}/replay", json={}, headers=system), 428)
    replayed = await client.post(f"{path}/replay", json={}, headers=if_match(system, 1))
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["position"], replayed.json()["version"]) == (None, 2)
    refused = await client.post(
        f"{path}/replay", json={"after": "WzEwMDAwMDAwMDBd"}, headers=if_match(system, 2)
    )
    assert "body.after" in error_fields(assert_problem(refused, 422))
    deliveries = await client.get(f"{path}/deliveries", headers=system)
    assert deliveries.status_code == 200
    assert deliveries.json() == {"items": [], "next_cursor": None}


async def test_the_list_is_paged(client, make_token):
    system = client_token(make_token)
    ids = [(await subscribe(client, system)).json()["id"] for _ in range(3)]
    first = await client.get(SUBSCRIPTIONS, params={"limit": 2}, headers=system)
    assert [s["id"] for s in first.json()["items"]] == sorted(ids)[:2]
    rest = await client.get(
        SUBSCRIPTIONS, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=system
    )
    assert [s["id"] for s in rest.json()["items"]] == sorted(ids)[2:]
    assert rest.json()["next_cursor"] is None
