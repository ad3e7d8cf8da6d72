"""``registry worker``: the product's second process, for the work no request waits for.

It runs its passes in order, round after round. A pass does a bounded amount of work, each
item in its own short transaction, and returns how much it did; a round in which every pass
did nothing is followed by a sleep of REGISTRY_WORKER_POLL_SECONDS. A pass that fails is
logged (its error's kind, never its text, which may quote data) and the next goes on.
SIGTERM or SIGINT (or ``stop``) ends the worker after the pass at hand: an item is never
left half done, and one cut short by a crash is done again by the next round (every pass is
written to be repeated).

Several workers may run at once, on as many machines: each pass takes its items with
``FOR UPDATE SKIP LOCKED``, so no item is worked by two at the same time.

The worker uses the domain, the database and the settings; never ``registry.api``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable

import structlog

from registry.db.engine import Database
from registry.db.reach import ROW_SECURITY_PROBE
from registry.settings import Settings
from registry.worker import deadlines, exports, feed, webhooks

log = structlog.get_logger("registry.worker")

#: One pass: does a bounded amount of work and returns how much it did (0: nothing to do).
Pass = Callable[[Database, Settings], Awaitable[int]]

#: The passes of a round, in order.
PASSES: tuple[Pass, ...] = (deadlines.run_once, feed.run_once, webhooks.run_once, exports.run_once)

#: Connections a worker keeps: a pass holds one at a time (a delivery holds its
#: subscription's lock on one), and one more keeps a second pass from waiting on it.
POOL_SIZE = 2


def _pass_name(work: Pass) -> str:
    return f"{work.__module__}.{work.__name__}"


async def run_round(database: Database, settings: Settings, passes: tuple[Pass, ...]) -> int:
    """Every pass once, in order; how much they did together."""
    done = 0
    for work in passes:
        try:
            done += await work(database, settings)
        except Exception as error:
            log.error(
                "worker_pass_failed", worker_pass=_pass_name(work), error=type(error).__name__
            )
    return done


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    url: str | None = None,
    passes: tuple[Pass, ...] | None = None,
) -> None:
    """Run rounds of ``passes`` (default ``PASSES``) on the database at ``url`` (default:
    REGISTRY_RUNTIME_DATABASE_URL, else REGISTRY_DATABASE_URL) until SIGTERM, SIGINT or
    ``stop``."""
    stop = stop or asyncio.Event()
    url = url or settings.runtime_database_url or settings.database_url
    if url is None:
        raise ValueError("the worker needs a database URL")
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    database = Database.connect(url, pool_size=POOL_SIZE, max_overflow=0)
    # An export is read as its requester: where the database enforces the reach on this
    # role, it holds the worker's reads to the requester's too, as it holds the API's.
    await database.detect_row_security(ROW_SECURITY_PROBE)
    started = time.perf_counter()
    chosen = PASSES if passes is None else passes
    log.info("background_worker_started", passes=[_pass_name(work) for work in chosen])
    try:
        while not stop.is_set():
            if await run_round(database, settings, chosen) == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.worker_poll_seconds)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await database.dispose()
        log.info(
            "background_worker_stopped", uptime_seconds=round(time.perf_counter() - started, 1)
        )
