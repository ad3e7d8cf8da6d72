"""Reading the change feed, in an order that never skips an event.

Events are numbered (``position``) when they are written, but transactions commit in any
order: a consumer that read up to position 41 could miss event 40 of a transaction still
running, that commits later. So the feed is read by another number, ``sequence``, given by
a post-commit sequencer (migration 0015's ``change_feed_sequence()``): one at a time, it
numbers the committed events not numbered yet after the last number given. An event that
commits later is numbered later, so a consumer following the numbers never skips one and
never sees one twice. Each read runs the sequencer first (a read that finds another one
sequencing reads what is numbered so far; the rest shows at its next poll). The sequencer
numbers in batches within a time budget (migration 0018), so a backlog of any size (a bulk
write) is numbered over successive reads instead of by one read that outlasts the API's
statement timeout and rolls its numbering back, again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.audit.commands import record
from registry.domain.changes.access import visible_events
from registry.domain.changes.commands import sequence
from registry.domain.changes.tables import change_event_table as events
from registry.domain.shared.caller import Caller

CHANGE_FEED = "change_feed"

#: The resource types the feed carries (the tracked tables of migration 0015 on).
RESOURCE_TYPES = (
    "aid_item",
    "aid_receipt",
    "case",
    "family",
    "friendly_community",
    "member",
    "military_unit",
    "programme",
    "programme_distribution",
    "programme_enrolment",
    "provider",
    "referral",
    "service",
    "service_record",
    "servicemember",
    "support_case",
    "support_measure",
)

#: An event as the feed shows it (with ``rules.feed_item``) and a webhook delivers it.
EVENT_FIELDS = (
    events.c.sequence,
    events.c.resource_type,
    events.c.resource_id,
    events.c.parent_id,
    events.c.version,
    events.c.action,
    events.c.oblast_code,
    events.c.raion_code,
    events.c.hromada_code,
    events.c.provider_id,
    events.c.unit_id,
    events.c.occurred_at,
)


async def read_feed(
    session: AsyncSession,
    caller: Caller,
    after: int | None,
    types: Sequence[str],
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` events after the sequence number ``after``, oldest first, of
    ``types`` (all when empty), within the caller's reach."""
    await sequence(session)
    statement = (
        select(*EVENT_FIELDS)
        .where(events.c.sequence > (after or 0), visible_events(caller.principal))
        .order_by(events.c.sequence)
        .limit(limit)
    )
    if types:
        statement = statement.where(events.c.resource_type.in_(types))
    rows = [dict(row) for row in (await session.execute(statement)).mappings()]
    # The events name records but hold nothing of them: the read is noted, not each id.
    await record(session, caller, "list_changes", CHANGE_FEED, [])
    return rows
