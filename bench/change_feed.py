"""The change feed's consumer, for the ``change_feed`` scenario: a backlog of events made in
the database, drained page by page through ``GET /api/v1/changes`` as an integration system
would (one connection, kept alive; each page's ``next_cursor`` is the next ``after``), and a
follower that keeps reading while writers commit, whose every event is then checked against
the database: each seen once, in order, none missing.

The backlog is bulk writes of a tracked table: every family's ``version`` bumped, one
UPDATE per round (the trigger appends one event per family, set-based), as a bulk correction
or import would.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg

CHANGES = "/api/v1/changes"
PAGE = 1000  # events per read: the feed's most


@dataclass
class Pages:
    """What a consumer read: each page's latency and size, the sequences it saw."""

    latencies_ms: list[float] = field(default_factory=list)
    #: Every read's latency, empty pages too (a consumer that has caught up polls those).
    poll_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sequences: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        events = sum(self.sizes)
        latencies = sorted(self.latencies_ms)

        def quantile(q: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

        return {
            "events": events,
            "pages": len(self.sizes),
            "events/s": round(events / self.seconds) if self.seconds else None,
            "page p50 ms": quantile(0.5),
            "page p99 ms": quantile(0.99),
            "page max ms": round(latencies[-1], 1) if latencies else None,
            "mean page ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


class Consumer:
    """One integration system reading the feed on one kept-alive HTTP connection."""

    def __init__(self, base_url: str, token: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def page(self, after: str | None) -> tuple[int, dict[str, Any] | None, float]:
        query = {"limit": PAGE, **({"after": after} if after else {})}
        started = time.perf_counter()
        try:
            self.connection.request("GET", f"{CHANGES}?{urlencode(query)}", headers=self.headers)
            answer = self.connection.getresponse()
            body = answer.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        return answer.status, json.loads(body) if answer.status == 200 else None, elapsed_ms

    def drain(self, after: str | None, pages: Pages, *, until: int | None = None) -> str | None:
        """Read pages until one is empty (or, with ``until``, until that sequence is seen);
        the cursor to go on from. A refused page (503) is read again, as a consumer would."""
        started = time.perf_counter()
        while True:
            status, body, elapsed_ms = self.page(after)
            pages.statuses[status] = pages.statuses.get(status, 0) + 1
            pages.poll_ms.append(elapsed_ms)
            if body is None:
                if status != 503 or pages.statuses[status] > 100:
                    raise SystemExit(f"change feed: answered {status}")
                time.sleep(0.2)
                continue
            items = body["items"]
            if items:
                pages.latencies_ms.append(elapsed_ms)
                pages.sizes.append(len(items))
                pages.sequences += [item["sequence"] for item in items]
            after = body["next_cursor"]
            if not items or (until is not None and pages.sequences[-1] >= until):
                pages.seconds += time.perf_counter() - started
                return after

    def close(self) -> None:
        self.connection.close()


class Follower(threading.Thread):
    """A consumer polling the feed while writers commit (every ``poll_s`` when it has caught
    up), until told to stop; then it reads what is left."""

    def __init__(self, consumer: Consumer, after: str | None, poll_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.consumer, self.after, self.poll_s = consumer, after, poll_s
        self.pages = Pages()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.after = self.consumer.drain(self.after, self.pages)
                self.stopping.wait(self.poll_s)
            self.after = self.consumer.drain(self.after, self.pages)
        except BaseException as error:  # reported by ``stop``
            self.error = error

    def stop(self) -> Pages:
        self.stopping.set()
        self.join(timeout=600)
        self.consumer.close()
        if self.error is not None:
            raise SystemExit(f"change feed follower: {self.error!r}")
        return self.pages


async def make_backlog(database_url: str, events: int) -> dict[str, Any]:
    """At least ``events`` change events, committed and not yet read: every family's version
    bumped, round after round (one UPDATE and one transaction each). The last sequence the
    feed had numbered before, and what was made."""
    connection = await asyncpg.connect(database_url)
    try:
        # Whatever earlier runs (or ``generate``) left waiting is numbered first, at once, and
        # the old row versions of earlier runs' numbering and bumps are vacuumed, as
        # autovacuum would (the bench's server may run without it).
        await connection.execute("SELECT change_feed_sequence(interval '1 hour')")
        await connection.execute("VACUUM (ANALYZE) change_events, families")
        before = await connection.fetchval("SELECT coalesce(max(sequence), 0) FROM change_events")
        families = await connection.fetchval("SELECT count(*) FROM families")
        rounds = max(1, -(-events // families))
        started = time.perf_counter()
        for _ in range(rounds):
            await connection.execute("UPDATE families SET version = version + 1")
        made = await connection.fetchval(
            "SELECT count(*) FROM change_events WHERE sequence IS NULL"
        )
        return {
            "sequence_before": before,
            "backlog_events": made,
            "rounds": rounds,
            "write_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await connection.close()


async def quiet_hromada(database_url: str) -> str:
    """The hromada with the fewest families: an integration client confined to it finds few
    events among many, the case of most territories."""
    connection = await asyncpg.connect(database_url)
    try:
        code: str = await connection.fetchval(
            "SELECT hromada_code FROM families GROUP BY hromada_code ORDER BY count(*), 1 LIMIT 1"
        )
        return code
    finally:
        await connection.close()


async def verify(database_url: str, after: int, seen: list[int]) -> dict[str, Any]:
    """The follower's sequences against the feed as the database holds it: every event
    numbered after ``after`` seen exactly once, in order."""
    connection = await asyncpg.connect(database_url)
    try:
        held = [
            row["sequence"]
            for row in await connection.fetch(
                "SELECT sequence FROM change_events WHERE sequence > $1 ORDER BY sequence", after
            )
        ]
        created = await connection.fetchval(
            "SELECT count(*) FROM change_events "
            "WHERE sequence > $1 AND resource_type = 'family' AND action = 'created'",
            after,
        )
        unnumbered = await connection.fetchval(
            "SELECT count(*) FROM change_events WHERE sequence IS NULL"
        )
    finally:
        await connection.close()
    return {
        "held": len(held),
        "seen": len(seen),
        "duplicates": len(seen) - len(set(seen)),
        "missing": len(set(held) - set(seen)),
        "in order": seen == sorted(seen),
        "gapless": held == list(range(after + 1, after + 1 + len(held))),
        "families created (events)": created,
        "unnumbered left": unnumbered,
    }


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
