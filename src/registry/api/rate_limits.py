"""Rate limits: how many requests one client address, one subject, and one subject's name
searches and identifier lookups of persons may make in a window, counted in a storage of the
`limits` library (Redis, shared by every worker and replica; or this process's memory).

Windows are fixed and aligned to the clock (a minute's window starts on the minute): a count
is one increment, with nothing else to read, and every worker and replica agree on when a
window ends, which is what `Retry-After` and `RateLimit-Reset` say. Across the boundary of two
windows a client can spend up to twice a quota in a short time: a limit caps what one caller
does per window; it does not smooth bursts.

What an answer says of the limits are the fields of draft 6 of the IETF's RateLimit fields
(draft-ietf-httpapi-ratelimit-headers-06): `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` of the quota closest to exhaustion (or the one gone over), and
`RateLimit-Policy` listing every quota the request was counted against.

A storage that cannot be reached leaves requests uncounted (logged, and not asked again for a
few seconds): the limits protect the service from floods, they do not decide who may see
what, and social workers must not be stopped because the counters are down.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.types import Scope

from registry.errors import TooManyLookups, TooManyRequests
from registry.settings import Settings

log = structlog.get_logger("registry.security")

#: Where the request's standing against its quotas is kept (``scope["state"]``).
STATE_KEY = "rate_limit"
#: After the storage failed, how long requests go uncounted before it is asked again.
STORAGE_RETRY_SECONDS = 5.0
#: How long Redis may take to connect or to answer before a request goes uncounted.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Quotas:
    """The limits of one kind of count (``address``, ``subject``, ``lookups``), shortest
    window first, and how ``RateLimit-Policy`` names them."""

    kind: str
    items: tuple[RateLimitItem, ...]
    policy: str

    @classmethod
    def parse(cls, kind: str, text: str) -> Quotas:
        items = tuple(sorted(parse_many(text), key=lambda item: item.get_expiry()))
        policy = ", ".join(f"{item.amount};w={item.get_expiry()}" for item in items)
        return cls(kind, items, policy)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Where a request stands: the numbers of the quota closest to exhaustion (or the one it
    went over), and every quota it was counted against."""

    limit: int
    remaining: int
    #: Whole seconds until that quota's window ends (at least 1).
    reset: int
    #: The quota in words ("60 per 1 minute"), for a refusal's detail.
    quota: str
    policy: str
    refused: bool
    #: The first request of the window over the quota: the moment the limit trips.
    first_refusal: bool

    def joined(self, later: Verdict) -> Verdict:
        """This and a later count of the same request as one verdict."""
        tighter = later if later.refused or later.remaining < self.remaining else self
        return replace(tighter, policy=f"{self.policy}, {later.policy}")

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % self.remaining),
            (b"ratelimit-reset", b"%d" % self.reset),
            (b"ratelimit-policy", self.policy.encode()),
        ]


class ProcessCounters(Storage):
    """Counters in this process's memory, for a single process. `limits`' own
    ``MemoryStorage`` sweeps every key for expiry on each count (a task per count): 10 µs a
    count with one live key, 70 µs with 1 000, 670 µs with 10 000 (measured). These
    counters drop expired keys on the way, and sweep the rest at most once a second."""

    STORAGE_SCHEME = None

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        #: key → (count, when it expires on ``clock``)
        self._counters: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ()

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        count, expires = self._counters.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + expiry
        count += amount
        self._counters[key] = (count, expires)
        return count

    async def get(self, key: str) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > self.clock() else 0

    async def get_expiry(self, key: str) -> float:
        return self._counters.get(key, (0, self.clock()))[1]

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        cleared = len(self._counters)
        self._counters.clear()
        return cleared

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._counters = {
            key: counter for key, counter in self._counters.items() if counter[1] > now
        }
        self._next_sweep = now + 1.0


def storage_for(settings: Settings) -> Storage:
    url = settings.rate_limit_storage_url
    if url is None:
        return ProcessCounters()
    # Redis through redis-py: a count is one round trip (a script that increments and sets
    # the expiry at once), at about two thirds of coredis's CPU (37 against 56 µs, measured).
    # Without timeouts it would wait for ever on a Redis that does not answer.
    storage = storage_from_string(
        url,
        implementation="redispy",
        wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    assert isinstance(storage, Storage)  # the settings admit async storages only
    return storage


class RateLimits:
    """The quotas of a deployment, and their counters."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.prefix = settings.rate_limit_key_prefix
        self.address = Quotas.parse("address", settings.rate_limit_per_address)
        self.subject = Quotas.parse("subject", settings.rate_limit_per_subject)
        self.lookups = Quotas.parse("lookups", settings.rate_limit_lookups)
        #: What the windows are aligned to (tests set it).
        self.clock: Callable[[], float] = time.time
        self._storage_back_at = 0.0

    @classmethod
    def of(cls, settings: Settings) -> RateLimits | None:
        """The limits ``settings`` describe; ``None`` when they are switched off."""
        return cls(storage_for(settings), settings) if settings.rate_limits_enabled else None

    async def count(self, quotas: Quotas, who: str) -> Verdict | None:
        """Counts one request of ``who`` against each of ``quotas``, shortest window first,
        up to the first one it goes over (a refused request is not held against the longer
        windows). ``None``: the storage cannot be reached, the request goes uncounted."""
        now = self.clock()
        if now < self._storage_back_at:
            return None
        verdict: Verdict | None = None
        for item in quotas.items:
            window = item.get_expiry()
            number = int(now // window)
            ends_in = (number + 1) * window - now
            key = f"{self.prefix}/{quotas.kind}/{window}/{number}/{who}"
            try:
                count = await self.storage.incr(key, math.ceil(ends_in) + 1)
            except StorageError as error:
                self._storage_back_at = now + STORAGE_RETRY_SECONDS
                log.error(
                    "rate_limit_storage_unavailable",
                    error=type(error.storage_error).__name__,
                    uncounted_seconds=STORAGE_RETRY_SECONDS,
                )
                return None
            this = Verdict(
                limit=item.amount,
                remaining=max(0, item.amount - count),
                reset=max(1, math.ceil(ends_in)),
                quota=str(item),
                policy=quotas.policy,
                refused=count > item.amount,
                first_refusal=count == item.amount + 1,
            )
            if this.refused:
                return this
            if verdict is None or this.remaining < verdict.remaining:
                verdict = this
        return verdict


def client_address(scope: Scope) -> str:
    """Who a request comes from, as far as the limits are concerned: its IPv4 address, or the
    /64 network of its IPv6 address (one subscriber's network, from which any number of
    addresses can be used). Behind a proxy uvicorn has set it from the proxy's
    ``X-Forwarded-For`` (``--forwarded-allow-ips``)."""
    client = scope.get("client")
    host = str(client[0]) if client else ""
    if ":" not in host:
        return host or "unknown"
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def hold(scope: Scope, verdict: Verdict) -> None:
    """Keeps ``verdict`` with the request's earlier ones, for the answer's headers."""
    state: dict[str, Any] = scope.setdefault("state", {})
    held: Verdict | None = state.get(STATE_KEY)
    state[STATE_KEY] = verdict if held is None else held.joined(verdict)


def held(scope: Scope) -> Verdict | None:
    verdict: Verdict | None = scope.get("state", {}).get(STATE_KEY)
    return verdict


def tripped(verdict: Verdict, **fields: Any) -> None:
    """One security log line when a limit trips (not one per refusal: the access log has
    those). Never the request's query, which may hold a name or an identifier."""
    if verdict.first_refusal:
        log.warning("rate_limit_exceeded", quota=verdict.quota, **fields)


async def limit_subject(request: Request, sub: str) -> None:
    """Counts the request against its subject's quota; 429 over it."""
    limits: RateLimits | None = request.app.state.rate_limits
    verdict = None if limits is None else await limits.count(limits.subject, sub)
    if verdict is None:
        return
    hold(request.scope, verdict)
    if verdict.refused:
        tripped(verdict, limit="subject", sub=sub)
        raise TooManyRequests(
            f"Too many requests from you: at most {verdict.quota}; try again in {verdict.reset} s.",
            retry_after=verdict.reset,
        )


async def limit_lookups(request: Request, sub: str) -> None:
    """Counts a name search or identifier lookup of persons against its subject's stricter
    quota; 429 over it, recorded in the audit log as a denied ``rate_limited`` action."""
    limits: RateLimits | None = request.app.state.rate_limits
    verdict = None if limits is None else await limits.count(limits.lookups, sub)
    if verdict is None:
        return
    hold(request.scope, verdict)
    if verdict.refused:
        route = request.scope.get("route")
        tripped(verdict, limit="lookups", sub=sub, operation=getattr(route, "name", None))
        raise TooManyLookups(
            "Too many name searches and identifier lookups: at most "
            f"{verdict.quota}; try again in {verdict.reset} s.",
            retry_after=verdict.reset,
        )
