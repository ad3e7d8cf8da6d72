"""The deadline-breach pass: records the deadlines of cases and support cases that have
passed by the application's clock, each once, so the change feed announces each as an event
of its case (``domain.cases.commands.record_breaches``,
``domain.military.commands.record_breaches``; the rules are the contexts' own, those their
``overdue`` filters apply).

A deadline passes when the day after its due day begins: a visit due on the 14th is overdue
on the 15th. The due days change only when a case is worked, and the date once a day, so a
pass that found nothing does not scan again for ``REGISTRY_DEADLINE_SCAN_INTERVAL_SECONDS``
within the same day (a new day scans at once); one that found some scans again at the next
pass, until a scan finds none (each records at most ``REGISTRY_DEADLINE_BATCH_SIZE`` of
each deadline).

Several workers may run this pass at once: a breach's primary key (case, deadline, due day)
makes a second worker's INSERT of the same breach wait for the first's commit and then skip
it, so each breach is recorded, and announced, once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import structlog

from registry.db.engine import Database
from registry.db.reach import NATIONAL, set_reach
from registry.domain.cases import commands as cases
from registry.domain.military import commands as military
from registry.domain.shared.clock import utc_today
from registry.settings import Settings

log = structlog.get_logger("registry.worker")


@dataclass
class Schedule:
    """When this process scans next: at once on a day it has not scanned, else not before
    ``not_before`` (``time.monotonic``)."""

    day: date | None = None
    not_before: float = 0.0

    def due(self, today: date) -> bool:
        return today != self.day or time.monotonic() >= self.not_before

    def scanned(self, today: date, recorded: int, interval_seconds: float) -> None:
        self.day = today
        self.not_before = time.monotonic() + (0.0 if recorded else interval_seconds)


#: This process's schedule (a worker is one process; tests hand in their own).
SCHEDULE = Schedule()


async def run_once(
    database: Database,
    settings: Settings,
    *,
    clock: Callable[[], date] = utc_today,
    schedule: Schedule = SCHEDULE,
) -> int:
    """Record the deadlines passed by ``clock()`` (today, UTC: the application's clock) not
    recorded yet: how many were recorded (0 when not due to scan)."""
    today = clock()
    if not schedule.due(today):
        return 0
    limit = settings.deadline_batch_size
    recorded = 0
    # Each context in a short transaction of its own; the worker reads every case, whatever
    # the reach row-level security would give a caller.
    for record_breaches in (cases.record_breaches, military.record_breaches):
        async with database.transaction() as session:
            await session.execute(set_reach(NATIONAL))
            recorded += await record_breaches(session, today, limit)
    schedule.scanned(today, recorded, settings.deadline_scan_interval_seconds)
    if recorded:
        log.info("deadline_breaches_recorded", count=recorded, day=today.isoformat())
    return recorded
