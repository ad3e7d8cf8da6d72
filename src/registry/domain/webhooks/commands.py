"""Every write of webhooks: the owner's (subscribe, change, rotate the secret, replay) and
the worker's (claim a due subscription, record each attempt, move past what is not its)."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.ids import new_id
from registry.domain.audit.commands import record
from registry.domain.changes.commands import sequence as number_changes
from registry.domain.changes.queries import RESOURCE_TYPES
from registry.domain.shared.caller import Caller
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.domain.webhooks import queries
from registry.domain.webhooks.access import own_subscriptions, reach_kept, require_feed
from registry.domain.webhooks.queries import SUBSCRIPTION_NOT_FOUND, WEBHOOK_SUBSCRIPTION
from registry.domain.webhooks.rules import (
    SECRET_BYTES,
    SECRET_PREFIX,
    Attempt,
    DisabledReason,
    SubscriptionStatus,
    webhook_url,
)
from registry.domain.webhooks.tables import SUBSCRIPTION_SECRET
from registry.domain.webhooks.tables import webhook_delivery_table as deliveries
from registry.domain.webhooks.tables import webhook_subscription_table as subscriptions
from registry.errors import FieldError, InvalidInput, NotFound

SUBSCRIPTIONS = Versioned(subscriptions, WEBHOOK_SUBSCRIPTION)
#: Who the worker's changes of a subscription (disabling it) are noted as.
WORKER = "registry-worker"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _checked_url(url: str, *, allow_http: bool, allow_private: bool) -> str:
    try:
        return webhook_url(url, allow_http=allow_http, allow_private=allow_private)
    except ValueError as refused:
        raise InvalidInput(
            f"The webhook URL is refused: it {refused}.",
            errors=[FieldError("body.url", str(refused))],
        ) from None


def _checked_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(RESOURCE_TYPES))
    if unknown:
        raise InvalidInput(
            f"Unknown resource types: {', '.join(unknown)}.",
            errors=[FieldError("body.types", "must be among " + ", ".join(RESOURCE_TYPES))],
        )
    return sorted(set(types))


async def _checked_position(session: AsyncSession, after: int | None) -> int:
    """Where a subscription starts (or restarts): after the event numbered ``after``, or
    after the feed's last event so far when None; never past what the feed has numbered."""
    await number_changes(session)
    horizon = await queries.feed_horizon(session)
    if after is None:
        return horizon
    if after > horizon:
        raise InvalidInput(
            "The feed has not reached this cursor.",
            errors=[FieldError("body.after", "must be a cursor the feed has given")],
        )
    return after


async def create_subscription(
    session: AsyncSession,
    caller: Caller,
    values: Mapping[str, Any],
    after: int | None,
    *,
    allow_http: bool,
    allow_private: bool,
) -> tuple[dict[str, Any], str]:
    """Subscribe the caller's URL to the feed within its reach, from ``after`` (a sequence
    number; None: from now on). Returns the subscription and its secret, which is shown
    this once."""
    require_feed(caller.principal)
    url = _checked_url(values["url"], allow_http=allow_http, allow_private=allow_private)
    types = _checked_types(values.get("types") or [])
    position = await _checked_position(session, after)
    subscription_id = new_id()
    secret = new_secret()
    await session.execute(
        insert(subscriptions).values(
            id=subscription_id,
            owner=caller.principal.sub,
            **reach_kept(caller.principal),
            url=url,
            types=types,
            position=position,
            **SUBSCRIPTION_SECRET.stored(caller.keys, secret, subscription_id),
        )
    )
    await note_change(
        session,
        WEBHOOK_SUBSCRIPTION,
        subscription_id,
        1,
        ["url", "types", "status", "secret", "position"],
        caller.principal.sub,
    )
    await record(
        session, caller, "create_webhook_subscription", WEBHOOK_SUBSCRIPTION, [subscription_id]
    )
    (subscription,) = await queries.subscriptions_by_id(session, caller, [subscription_id])
    return subscription, secret


async def _locked(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, expected_version: int
) -> VersionedWrite:
    write = await VersionedWrite.lock(
        session, caller, SUBSCRIPTIONS, subscription_id, where=[own_subscriptions(caller.principal)]
    )
    if write is None:
        raise NotFound(SUBSCRIPTION_NOT_FOUND)
    await write.check_version(expected_version)
    return write


async def update_subscription(
    session: AsyncSession,
    caller: Caller,
    subscription_id: uuid.UUID,
    values: Mapping[str, Any],
    expected_version: int,
    *,
    allow_http: bool,
    allow_private: bool,
) -> dict[str, Any]:
    """Change the URL or the types, or disable (``status=disabled``) or enable it again
    (``active``: the failures are forgotten and the next attempt is due at once)."""
    write = await _locked(session, caller, subscription_id, expected_version)
    current = write.current
    changes: dict[str, Any] = {}
    if "url" in values and values["url"] != current["url"]:
        changes["url"] = _checked_url(
            values["url"], allow_http=allow_http, allow_private=allow_private
        )
    if "types" in values:
        types = _checked_types(values["types"] or [])
        if types != sorted(current["types"]):
            changes["types"] = types
    status = values.get("status")
    if status is not None and status != current["status"]:
        changes["status"] = status
        if status == SubscriptionStatus.DISABLED:
            changes["disabled_reason"] = DisabledReason.REQUESTED.value
        else:
            changes["disabled_reason"] = None
    noted = list(changes)
    if changes.get("status") == SubscriptionStatus.ACTIVE:
        # Enabled again: the run of failures that disabled it is over; try now.
        changes |= {"failures": 0, "next_attempt_at": func.clock_timestamp()}
    await write.save(changes, changed=noted, action="update_webhook_subscription")
    (subscription,) = await queries.subscriptions_by_id(session, caller, [subscription_id])
    return subscription


async def rotate_secret(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, expected_version: int
) -> tuple[dict[str, Any], str]:
    """A new secret, shown this once; the old one signs nothing from now on."""
    write = await _locked(session, caller, subscription_id, expected_version)
    secret = new_secret()
    await write.save(
        # Due at once: a subscription left for a secret that did not open goes on with this.
        {
            **SUBSCRIPTION_SECRET.stored(caller.keys, secret, subscription_id),
            "next_attempt_at": func.clock_timestamp(),
        },
        changed=["secret"],
        action="rotate_webhook_secret",
    )
    (subscription,) = await queries.subscriptions_by_id(session, caller, [subscription_id])
    return subscription, secret


async def replay(
    session: AsyncSession,
    caller: Caller,
    subscription_id: uuid.UUID,
    after: int | None,
    expected_version: int,
) -> dict[str, Any]:
    """Deliver again every event after ``after`` (a sequence number; None: from the
    feed's beginning), in order; the attempt at hand is started over."""
    write = await _locked(session, caller, subscription_id, expected_version)
    position = 0 if after is None else await _checked_position(session, after)
    await write.save(
        {"position": position, "failures": 0, "next_attempt_at": func.clock_timestamp()},
        changed=["position"],
        action="replay_webhook_subscription",
    )
    (subscription,) = await queries.subscriptions_by_id(session, caller, [subscription_id])
    return subscription


# --- the worker's -------------------------------------------------------------------------------


async def claim_due(session: AsyncSession, passed: Collection[uuid.UUID]) -> dict[str, Any] | None:
    """An active subscription whose next attempt is due, locked for this transaction, that
    no other worker holds (``SKIP LOCKED``) and that is not in ``passed``; None when there is
    none. Holding the lock while delivering is what keeps one event from going out twice at
    once: another worker skips the subscription until this transaction ends."""
    statement = (
        select(subscriptions)
        .where(
            subscriptions.c.status == SubscriptionStatus.ACTIVE,
            subscriptions.c.next_attempt_at <= func.clock_timestamp(),
        )
        .order_by(subscriptions.c.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if passed:
        statement = statement.where(subscriptions.c.id.not_in(list(passed)))
    row = (await session.execute(statement)).mappings().first()
    return None if row is None else dict(row)


async def pass_over(session: AsyncSession, subscription: Mapping[str, Any], horizon: int) -> None:
    """Nothing up to ``horizon`` is the subscription's: the next look starts after it."""
    if horizon > subscription["position"]:
        await session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription["id"])
            .values(position=horizon)
        )


async def postpone(session: AsyncSession, subscription_id: uuid.UUID, seconds: float) -> None:
    """Leave a subscription the worker could not work on (an error of its own, not the
    receiver's) for ``seconds``: it is retried then, without a log line every round."""
    await session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(next_attempt_at=func.clock_timestamp() + timedelta(seconds=seconds))
    )


async def record_attempt(
    session: AsyncSession,
    subscription: Mapping[str, Any],
    sequence: int,
    attempt: Attempt,
    *,
    max_failures: int,
    retry_in: float,
) -> None:
    """Log the attempt and move on: past the event once delivered; else count the failure
    and wait ``retry_in`` seconds, or disable the subscription at ``max_failures`` in a row
    (its owner enables it again)."""
    failures = int(subscription["failures"])
    await session.execute(
        insert(deliveries).values(
            subscription_id=subscription["id"],
            sequence=sequence,
            attempt=failures + 1,
            outcome="delivered" if attempt.delivered else "failed",
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )
    )
    changing = update(subscriptions).where(subscriptions.c.id == subscription["id"])
    if attempt.delivered:
        await session.execute(
            changing.values(position=sequence, failures=0, next_attempt_at=func.clock_timestamp())
        )
        return
    failures += 1
    if failures < max_failures:
        await session.execute(
            changing.values(
                failures=failures,
                next_attempt_at=func.clock_timestamp() + timedelta(seconds=retry_in),
            )
        )
        return
    version = int(subscription["version"]) + 1
    await session.execute(
        changing.values(
            failures=failures,
            status=SubscriptionStatus.DISABLED.value,
            disabled_reason=DisabledReason.FAILING.value,
            version=version,
            updated_at=func.now(),
        )
    )
    await note_change(
        session, WEBHOOK_SUBSCRIPTION, subscription["id"], version, ["status"], WORKER
    )
