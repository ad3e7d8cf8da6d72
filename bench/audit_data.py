"""The audit log of ``bench/generate``: months of reads of the generated families, sealed into
blocks as the sealer seals them, so that the audit insert of a load run lands on a table (and
indexes) of a realistic size rather than an empty one.

Events go back ``DAYS`` days, on workdays in office hours, in id order = time order (as the
database's trigger numbers and times them). Readers are officers of the families' hromadas
(several per hromada, by its families), providers' staff and regional officers; most events
are a family read (``get_family``: the family and its active members, as the registry's own
statement records it), the rest pages of a hromada's families (``list_families``). All but the
last ``UNSEALED`` events are sealed into blocks of ``BLOCK_SIZE`` with their true digests
(unsigned, as blocks sealed before heads were signed: ``verify`` finds the chain intact).

Also a command, to fill the audit log of a database ``generate`` made without it:

    python bench/audit_data.py --events 3M \\
        --database-url postgresql://postgres@127.0.0.1:5432/registry_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import dbload
from clock import during_work
from draw import between, pick

from registry.domain.audit.rules import block_digest

EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "role",
    "action",
    "resource_type",
    "resource_ids",
    "request_id",
    "purpose",
    "outcome",
    "block_id",
)
BLOCK_COLUMNS = (
    "id",
    "first_event_id",
    "last_event_id",
    "event_count",
    "previous_digest",
    "digest",
    "sealed_at",
)
TABLES = ("audit_events", "audit_blocks")
#: About six months of reads.
DAYS = 183
#: The sealer's block (``Settings.audit_seal_block_size``'s default).
BLOCK_SIZE = 5_000
#: The newest events, not sealed yet (the sealer runs every few seconds: a few blocks' worth
#: of a busy moment at most).
UNSEALED = 2_000
#: Families read (a working set: officers come back to the same families).
SAMPLE = 200_000
#: A community officer per this many families of the hromada (at least one).
FAMILIES_PER_OFFICER = 400
PAGE = 20
CHUNK = 100_000  # events per COPY
PURPOSES = ("case-review", "home-visit", "benefit-check", "referral")


@dataclass(frozen=True, slots=True)
class Family:
    id: str
    hromada: str
    members: tuple[str, ...]


class AuditLog:
    """The events in id order, with the blocks they are sealed into."""

    def __init__(self, families: Sequence[Family], events: int, seed: int, today: date) -> None:
        self.rng = random.Random(seed ^ 0xA0D17)
        self.events = events
        self.today = today
        by_hromada: dict[str, list[Family]] = {}
        for family in families:
            by_hromada.setdefault(family.hromada, []).append(family)
        self.families = families
        self.by_hromada = by_hromada
        self.officers = {
            hromada: [
                f"officer-{hromada}-{n}"
                for n in range(1, max(1, len(found) // FAMILIES_PER_OFFICER) + 1)
            ]
            for hromada, found in by_hromada.items()
        }
        self.blocks: list[tuple[Any, ...]] = []
        self._previous_digest: bytes | None = None

    def days(self) -> list[date]:
        days = [self.today - timedelta(days=n) for n in range(DAYS, 0, -1)]
        return [day for day in days if day.weekday() < 5]

    def times(self) -> Iterator[datetime]:
        """``events`` moments, ascending, spread over the workdays (busier and quieter days)."""
        days = self.days()
        weights = [0.6 + 0.8 * self.rng.random() for _ in days]
        total = sum(weights)
        made = 0
        for n, (day, weight) in enumerate(zip(days, weights, strict=True)):
            count = self.events - made if n == len(days) - 1 else int(self.events * weight / total)
            made += count
            yield from sorted(during_work(day, self.rng) for _ in range(count))

    def event(self, event_id: int, at: datetime) -> tuple[Any, ...]:
        rng = self.rng
        family = pick(rng, self.families)
        draw = rng.random()
        if draw < 0.85:
            role, actor = "community_officer", pick(rng, self.officers[family.hromada])
        elif draw < 0.95:
            role = "provider_staff"
            actor = f"staff-{family.hromada}-{between(rng, 1, 3)}"
        else:
            role, actor = "regional_officer", f"regional-{family.hromada[:4]}"
        if rng.random() < 0.8:
            action, ids = "get_family", [family.id, *family.members]
        else:
            neighbours = self.by_hromada[family.hromada]
            start = between(rng, 0, max(0, len(neighbours) - PAGE))
            action, ids = "list_families", [f.id for f in neighbours[start : start + PAGE]]
        purpose = pick(rng, PURPOSES) if rng.random() < 0.1 else None
        request_id = f"{rng.getrandbits(128):032x}"
        return (event_id, at, actor, role, action, "family", ids, request_id, purpose, "success")

    def rows(self) -> Iterator[list[tuple[Any, ...]]]:
        """Chunks of event rows (with their block), each block's head added to ``blocks``
        once its last event is made."""
        sealed = max(0, self.events - UNSEALED) // BLOCK_SIZE * BLOCK_SIZE
        chunk: list[tuple[Any, ...]] = []
        block: list[tuple[Any, ...]] = []
        for event_id, at in enumerate(self.times(), start=1):
            event = self.event(event_id, at)
            if event_id <= sealed:
                block.append(event)
                block_id = (event_id - 1) // BLOCK_SIZE + 1
                chunk.append((*event, block_id))
                if len(block) == BLOCK_SIZE:
                    self._seal(block_id, block)
                    block = []
            else:
                chunk.append((*event, None))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _seal(self, block_id: int, events: list[tuple[Any, ...]]) -> None:
        digest = block_digest(self._previous_digest, [_sealed(event) for event in events])
        sealed_at = events[-1][1] + timedelta(seconds=5 + self.rng.random() * 5)
        self.blocks.append(
            (
                block_id,
                events[0][0],
                events[-1][0],
                len(events),
                self._previous_digest,
                digest,
                sealed_at,
            )
        )
        self._previous_digest = digest


def _sealed(event: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(EVENT_COLUMNS, event, strict=False))


async def fill(dsn: str, events: int, *, seed: int, parallel: int) -> dict[str, Any]:
    """Load ``events`` audit events and their blocks into the (empty) audit tables, their
    indexes and keys taken off and rebuilt after; the timings and counts."""
    timings: dict[str, Any] = {}
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT EXISTS (SELECT 1 FROM audit_events)"):
            raise SystemExit("audit_events is not empty: fill only a freshly generated database")
        started = time.perf_counter()
        families = [
            Family(row["id"], row["hromada_code"], tuple(row["members"]))
            for row in await connection.fetch(
                """
                SELECT f.id::text AS id, f.hromada_code,
                       ARRAY(SELECT p.id::text FROM persons p
                             WHERE p.family_id = f.id AND p.status = 'active'
                             ORDER BY p.birth_date, p.id) AS members
                FROM families f WHERE f.status = 'active' ORDER BY f.id LIMIT $1
                """,
                SAMPLE,
            )
        ]
        timings["families read"] = round(time.perf_counter() - started, 1)
        saved = await dbload.drop_keys_and_indexes(connection, TABLES)
        log = AuditLog(families, events, seed, datetime.now(UTC).date())
        started = time.perf_counter()
        copying = 0.0
        # COPY passes by triggers only when they are off: the assigning trigger refuses an
        # event that brings its own id, time and block.
        async with connection.transaction():
            await connection.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
            for chunk in log.rows():
                copy_started = time.perf_counter()
                await connection.copy_records_to_table(
                    "audit_events", records=chunk, columns=EVENT_COLUMNS
                )
                copying += time.perf_counter() - copy_started
            await connection.copy_records_to_table(
                "audit_blocks", records=log.blocks, columns=BLOCK_COLUMNS
            )
            await connection.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
            if events:
                await connection.execute("SELECT setval('audit_event_ids', $1)", events)
            if log.blocks:
                await connection.execute(
                    "SELECT setval(pg_get_serial_sequence('audit_blocks', 'id'), $1)",
                    len(log.blocks),
                )
        timings["rows"] = {"audit_events": events, "audit_blocks": len(log.blocks)}
        timings["generate + COPY"] = round(time.perf_counter() - started, 1)
        timings["of which COPY"] = round(copying, 1)
    finally:
        await connection.close()
    started = time.perf_counter()
    await dbload.restore_keys_and_indexes(dsn, saved, parallel=parallel)
    await dbload.vacuum_analyze(dsn, TABLES, parallel=parallel)
    timings["indexes + keys + vacuum"] = round(time.perf_counter() - started, 1)
    return timings


def count(text: str) -> int:
    """``3M``, ``300k`` or a number."""
    scales = {"k": 1_000, "M": 1_000_000}
    try:
        if text[-1:] in scales:
            return int(float(text[:-1]) * scales[text[-1]])
        return int(text.replace("_", ""))
    except ValueError:
        raise SystemExit(f"{text!r}: give a number such as 300k, 3M or 250000") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://user@host:port/name")
    parser.add_argument("--events", default="3M", help="how many (default 3M)")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    dsn = "postgresql://" + args.database_url.split("://", 1)[1]
    timings = asyncio.run(
        fill(dsn, count(args.events), seed=args.seed, parallel=os.cpu_count() or 2)
    )
    print(timings, flush=True)


if __name__ == "__main__":
    main()
