"""Reading subscriptions (their owner's), their deliveries, and the next event each is due."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.changes.queries import EVENT_FIELDS
from registry.domain.changes.rules import feed_cursor
from registry.domain.changes.tables import change_event_table as events
from registry.domain.shared.caller import Caller
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.webhooks.access import deliverable_events, own_subscriptions
from registry.domain.webhooks.rules import message_id
from registry.domain.webhooks.tables import SUBSCRIPTION_SECRET
from registry.domain.webhooks.tables import webhook_delivery_table as deliveries
from registry.domain.webhooks.tables import webhook_subscription_table as subscriptions
from registry.errors import NotFound

WEBHOOK_SUBSCRIPTION = "webhook_subscription"
WEBHOOK_DELIVERY = "webhook_delivery"
SUBSCRIPTION_NOT_FOUND = "No such webhook subscription."

_SHOWN = (
    subscriptions.c.id,
    subscriptions.c.url,
    subscriptions.c.types,
    subscriptions.c.status,
    subscriptions.c.disabled_reason,
    subscriptions.c.position,
    subscriptions.c.failures,
    subscriptions.c.next_attempt_at,
    subscriptions.c.version,
    subscriptions.c.created_at,
    subscriptions.c.updated_at,
)


def render(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """A subscription as its owner reads it: ``position`` is the feed cursor of the last
    event delivered (or passed over as not the subscription's), null before the first."""
    shown = {column.name: row[column.name] for column in _SHOWN}
    shown["position"] = feed_cursor(row["position"]) if row["position"] else None
    shown["types"] = list(row["types"])
    return shown


async def subscriptions_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The caller's subscriptions of ``ids``, in that order (others' are left out)."""
    rows = (
        await session.execute(
            select(*_SHOWN).where(subscriptions.c.id.in_(ids), own_subscriptions(caller.principal))
        )
    ).mappings()
    found = {row["id"]: render(row) for row in rows}
    return [found[i] for i in ids if i in found]


async def get_subscription(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID
) -> dict[str, Any]:
    found = await subscriptions_by_id(session, caller, [subscription_id])
    if not found:
        raise NotFound(SUBSCRIPTION_NOT_FOUND)
    await record(
        session, caller, "get_webhook_subscription", WEBHOOK_SUBSCRIPTION, [found[0]["id"]]
    )
    return found[0]


async def list_subscriptions(
    session: AsyncSession, caller: Caller, page: PageRequest
) -> Page[dict[str, Any]]:
    statement = select(*_SHOWN).where(own_subscriptions(caller.principal))
    rows = (await session.execute(keyset(statement, [subscriptions.c.id], page))).mappings().all()
    result = page_of([render(row) for row in rows], page, key=lambda row: (row["id"],))
    await record(
        session,
        caller,
        "list_webhook_subscriptions",
        WEBHOOK_SUBSCRIPTION,
        [row["id"] for row in result.items],
    )
    return result


async def list_deliveries(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, page: PageRequest
) -> Page[dict[str, Any]]:
    """Every attempt to deliver to the caller's subscription, oldest first."""
    owned = await session.scalar(
        select(subscriptions.c.id).where(
            subscriptions.c.id == subscription_id, own_subscriptions(caller.principal)
        )
    )
    if owned is None:
        raise NotFound(SUBSCRIPTION_NOT_FOUND)
    statement = select(deliveries).where(deliveries.c.subscription_id == subscription_id)
    rows = (await session.execute(keyset(statement, [deliveries.c.id], page))).mappings().all()
    result = page_of(
        [
            {
                **{key: value for key, value in row.items() if key != "subscription_id"},
                "cursor": feed_cursor(row["sequence"]),
                "webhook_id": message_id(subscription_id, row["sequence"]),
            }
            for row in rows
        ],
        page,
        key=lambda row: (row["id"],),
    )
    await record(
        session, caller, "list_webhook_deliveries", WEBHOOK_SUBSCRIPTION, [subscription_id]
    )
    return result


async def feed_horizon(session: AsyncSession) -> int:
    """The last sequence number the feed has given (0 before the first event)."""
    return int(await session.scalar(select(func.coalesce(func.max(events.c.sequence), 0))) or 0)


async def next_event(
    session: AsyncSession, subscription: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, int]:
    """The first event after the subscription's position that it carries (None: none yet),
    and the feed's horizon: the last number given, read in the same statement (one
    snapshot), so that when no event is due the subscription may be moved to the horizon
    without passing over one that was numbered meanwhile."""
    horizon = select(func.coalesce(func.max(events.c.sequence), 0)).scalar_subquery()
    upcoming = (
        select(events.c.sequence)
        .where(events.c.sequence > subscription["position"], deliverable_events(subscription))
        .order_by(events.c.sequence)
        .limit(1)
        .scalar_subquery()
    )
    found = (await session.execute(select(horizon.label("horizon"), upcoming.label("next")))).one()
    if found.next is None:
        return None, int(found.horizon)
    row = (
        (await session.execute(select(*EVENT_FIELDS).where(events.c.sequence == found.next)))
        .mappings()
        .one()
    )
    return dict(row), int(found.horizon)


def opened_secret(keys: IdentifierKeys, subscription: Mapping[str, Any]) -> str:
    """The subscription's signing secret, opened."""
    secret = SUBSCRIPTION_SECRET.opened(keys, subscription, subscription["id"])
    assert secret is not None  # the column is NOT NULL
    return secret
