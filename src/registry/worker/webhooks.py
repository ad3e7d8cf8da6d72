"""The webhooks pass: deliver each subscription's next event, signed, to its URL.

For each due subscription (one attempt each per pass), in a transaction that holds its row
locked (``commands.claim_due``: other workers skip it meanwhile): the next event it carries
is posted; the attempt is logged and the subscription moves past the event only on a 2xx,
else it waits (``rules.retry_delay``) or, after a run of failures, is disabled. A worker
killed mid-request leaves no trace of the attempt: its transaction rolls back, the lock is
released, and the event goes out again (at-least-once; the receiver drops a repeat by its
``webhook-id``).

The target is checked again at each attempt: the URL by the current settings, and each
address its host resolves to (not only the literal one the subscription was checked on);
the request then goes to the checked address, so a name that resolves elsewhere a moment
later (DNS rebinding) does not redirect it. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog

from registry.db.engine import Database
from registry.domain.changes.commands import sequence as number_changes
from registry.domain.changes.rules import feed_item
from registry.domain.shared.sealing import IdentifierKeys, load_identifier_keys
from registry.domain.shared.web_addresses import NOT_PUBLIC, is_public_address
from registry.domain.webhooks import commands, queries
from registry.domain.webhooks.rules import (
    CONNECTION,
    INVALID_URL,
    REFUSED_TARGET,
    TIMEOUT,
    Attempt,
    event_type,
    message_id,
    retry_delay,
    signature,
    webhook_url,
)
from registry.settings import Settings

log = structlog.get_logger("registry.worker.webhooks")

#: The most subscriptions one pass attempts (each at most once), so a pass stays bounded.
SUBSCRIPTIONS_PER_PASS = 100
USER_AGENT = "registry-webhooks/1"
_jitter = random.SystemRandom()


class RefusedTarget(Exception):
    """The target is not one the settings let the registry call."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@lru_cache(maxsize=4)
def _identifier_keys(keys_file: Path | None, development_dir: Path) -> IdentifierKeys:
    return load_identifier_keys(keys_file, development_dir)


async def run_once(database: Database, settings: Settings) -> int:
    """One attempt for each due subscription (up to ``SUBSCRIPTIONS_PER_PASS``); how many
    attempts were made."""
    async with database.transaction() as session:
        # Number what has committed, so that the feed's latest events are there to send.
        await number_changes(session)
    keys = _identifier_keys(settings.identifier_keys_file, settings.development_keys_dir)
    attempts = 0
    passed: set[uuid.UUID] = set()
    async with _client(settings) as client:
        while len(passed) < SUBSCRIPTIONS_PER_PASS:
            claimed: list[uuid.UUID] = []
            try:
                attempted = await _attempt_next(database, settings, keys, client, passed, claimed)
            except Exception as error:
                if not claimed:
                    raise  # no subscription at fault (the database, say): the pass fails
                # One subscription's trouble (its secret does not open, say) must not hold
                # up the others: its transaction rolled back, it is left for a while.
                log.error(
                    "webhook_attempt_broken",
                    subscription_id=str(claimed[0]),
                    error=type(error).__name__,
                )
                async with database.transaction() as session:
                    await commands.postpone(
                        session, claimed[0], settings.webhook_backoff_cap_seconds
                    )
                continue
            if attempted is None:
                break
            attempts += attempted
    return attempts


async def _attempt_next(
    database: Database,
    settings: Settings,
    keys: IdentifierKeys,
    client: httpx.AsyncClient,
    passed: set[uuid.UUID],
    claimed: list[uuid.UUID],
) -> int | None:
    """Claim the next due subscription not yet ``passed`` (noted in ``passed`` and
    ``claimed``) and attempt its next event: 1 if an attempt was made, 0 if it had none due,
    None if no subscription is due."""
    async with database.transaction() as session:
        subscription = await commands.claim_due(session, passed)
        if subscription is None:
            return None
        passed.add(subscription["id"])
        claimed.append(subscription["id"])
        event, horizon = await queries.next_event(session, subscription)
        if event is None:
            await commands.pass_over(session, subscription, horizon)
            return 0
        secret = queries.opened_secret(keys, subscription)
        attempt = await deliver(client, settings, subscription, event, secret)
        failures = int(subscription["failures"]) + 1
        await commands.record_attempt(
            session,
            subscription,
            event["sequence"],
            attempt,
            max_failures=settings.webhook_max_failures,
            retry_in=retry_delay(
                failures,
                base=settings.webhook_backoff_base_seconds,
                cap=settings.webhook_backoff_cap_seconds,
                jitter=_jitter.random(),
            ),
        )
    _log_attempt(subscription, event["sequence"], attempt, settings)
    return 1


def _client(settings: Settings) -> httpx.AsyncClient:
    # No proxies from the environment: the request must reach the address checked.
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


def body_of(event: dict[str, Any]) -> bytes:
    """The delivery's body: the event as the feed shows it, and its ``type``."""
    item = feed_item(event)
    shown = {"type": event_type(event["resource_type"], event["action"]), **item}
    # The driver's UUIDs are its own subclass, which orjson writes through ``str()``.
    return orjson.dumps(shown, default=str, option=orjson.OPT_UTC_Z)


async def deliver(
    client: httpx.AsyncClient,
    settings: Settings,
    subscription: dict[str, Any],
    event: dict[str, Any],
    secret: str,
) -> Attempt:
    """One signed POST of ``event`` to the subscription's URL, and what it came to."""
    body = body_of(event)
    webhook_id = message_id(subscription["id"], event["sequence"])
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            target = await resolve(subscription["url"], settings)
            async with client.stream(
                "POST",
                target.url,
                content=body,
                headers={**headers, "host": target.host_header},
                extensions=target.extensions,
            ) as response:
                status_code = response.status_code
    except RefusedTarget as refused:
        error = refused.kind
    except (TimeoutError, httpx.TimeoutException):
        error = TIMEOUT
    except (httpx.HTTPError, OSError):
        error = CONNECTION
    duration_ms = round((time.monotonic() - started) * 1000)
    return Attempt(status_code=status_code, error=error, duration_ms=duration_ms)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: the URL with its host replaced by the checked address, the
    ``Host`` header of the original URL, and the name TLS is verified against."""

    url: httpx.URL
    host_header: str
    extensions: dict[str, Any]


async def resolve(url: str, settings: Settings) -> Target:
    """The address to post to, checked (``RefusedTarget`` otherwise): the URL as the current
    settings allow it, and every address its host resolves to public unless private targets
    are allowed."""
    allow_private = settings.webhook_allow_private_targets
    try:
        webhook_url(url, allow_http=settings.webhook_allow_http, allow_private=allow_private)
    except ValueError as refused:
        raise RefusedTarget(REFUSED_TARGET if str(refused) == NOT_PUBLIC else INVALID_URL) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise OSError("the host resolves to no address")
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise RefusedTarget(REFUSED_TARGET)
    address = ipaddress.ip_address(addresses[0].split("%", 1)[0])
    pinned = httpx.URL(url).copy_with(host=str(address))
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(pinned, parts.netloc.rsplit("@", 1)[-1], extensions)


def _log_attempt(
    subscription: dict[str, Any], sequence: int, attempt: Attempt, settings: Settings
) -> None:
    fields = {
        "subscription_id": str(subscription["id"]),
        "sequence": sequence,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }
    if attempt.delivered:
        log.info("webhook_delivered", **fields)
    elif int(subscription["failures"]) + 1 >= settings.webhook_max_failures:
        log.warning("webhook_subscription_disabled", **fields)
    else:
        log.info("webhook_attempt_failed", **fields)
