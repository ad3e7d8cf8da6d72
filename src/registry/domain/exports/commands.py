"""Every write of an export: its request (the API), and the worker's steps: taking a waiting
export (``FOR UPDATE SKIP LOCKED``, so several workers never take the same one at once),
renewing its lease, completing it with its files and its one audit event, failing it, and
expiring it once its files are past retention.

A worker's claim is the export's ``attempts`` when it took it: every later step is an UPDATE
conditioned on it, so a worker that lost its lease (taken over after
``REGISTRY_EXPORT_LEASE_SECONDS`` without a sign of life) can no longer change the export.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.ids import new_id
from registry.domain.audit.commands import record
from registry.domain.changes.commands import sequence as number_changes
from registry.domain.exports.access import (
    claims_of,
    own_exports,
    require_territory_within_reach,
    require_types_readable,
)
from registry.domain.exports.queries import EXPORT, render_export
from registry.domain.exports.rules import (
    EXPORT_WRITTEN,
    MAX_UNFINISHED_PER_REQUESTER,
    ExportStatus,
    manifest,
)
from registry.domain.exports.tables import export_table
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import get_territory, require_territory
from registry.errors import Conflict

#: The territorial levels an export may be narrowed to: an oblast (or Kyiv, Sevastopol), a
#: raion, a hromada.
TERRITORY_CATEGORIES = {"O", "K", "P", "H"}
#: How many times an export is taken before it is given up as failed: a worker that died on
#: it that often (out of memory, killed) would die on it again.
MAX_ATTEMPTS = 3
GAVE_UP = "The export was started 3 times and never finished; request it again."


async def request_export(
    session: AsyncSession,
    caller: Caller,
    types: Sequence[str],
    since: datetime | None,
    territory: str | None,
) -> dict[str, Any]:
    """A pending export of ``types`` for the caller: 403 for a type they may not read, 422 for
    a territory that is not a unit of the codifier or not within their reach, 409 while
    ``MAX_UNFINISHED_PER_REQUESTER`` of theirs wait or run."""
    principal = caller.principal
    require_types_readable(principal, types)
    if territory is not None:
        await require_territory(session, "body.territory", territory, TERRITORY_CATEGORIES)
        unit = await get_territory(session, territory)
        chain = [ancestor["code"] for ancestor in unit["ancestors"]] + [territory]
        require_territory_within_reach(principal, chain)
    unfinished = await session.scalar(
        select(func.count()).where(
            own_exports(principal),
            export_table.c.status.in_([ExportStatus.PENDING.value, ExportStatus.RUNNING.value]),
        )
    )
    if unfinished is not None and unfinished >= MAX_UNFINISHED_PER_REQUESTER:
        raise Conflict(
            f"You have {unfinished} exports waiting or running; request another once one of "
            "them is ready."
        )
    export_id = new_id()
    row = (
        (
            await session.execute(
                insert(export_table)
                .values(
                    id=export_id,
                    requester=principal.identity,
                    claims=claims_of(principal),
                    request_id=caller.request_id,
                    purpose=caller.purpose,
                    types=list(types),
                    since=since,
                    territory=territory,
                    status=ExportStatus.PENDING.value,
                )
                .returning(*export_table.c)
            )
        )
        .mappings()
        .one()
    )
    await record(session, caller, "create_export", EXPORT, [export_id])
    return render_export(row)


async def number_committed_changes(session: AsyncSession) -> None:
    """Run the change feed's sequencer (``changes.queries``): every change committed so far
    gets its number, so an export's snapshot taken after this transaction sees the numbers
    of everything it holds, and its ``changes_after`` repeats as little as can be."""
    await number_changes(session)


@dataclass(frozen=True, slots=True)
class Claim:
    """An export a worker has taken: what to write, and its claim on it."""

    export_id: uuid.UUID
    attempt: int
    claims: dict[str, Any]
    request_id: str
    purpose: str | None
    types: list[str]
    since: datetime | None
    territory: str | None
    #: Taken too often: failed, not to be written.
    given_up: bool = False


async def claim_next(session: AsyncSession, lease_seconds: int) -> Claim | None:
    """Take the oldest waiting export (or a running one whose worker gave no sign of life for
    ``lease_seconds``: it died), skipping those another worker is taking at this moment. One
    taken ``MAX_ATTEMPTS`` times already is failed instead (the claim returned says so:
    ``given_up``)."""
    stale = func.now() - timedelta(seconds=lease_seconds)
    found = (
        (
            await session.execute(
                select(export_table.c.id)
                .where(
                    or_(
                        export_table.c.status == ExportStatus.PENDING.value,
                        and_(
                            export_table.c.status == ExportStatus.RUNNING.value,
                            export_table.c.heartbeat_at < stale,
                        ),
                    )
                )
                .order_by(export_table.c.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .first()
    )
    if found is None:
        return None
    attempts = export_table.c.attempts
    given_up = attempts >= MAX_ATTEMPTS
    row = (
        (
            await session.execute(
                update(export_table)
                .where(export_table.c.id == found)
                .values(
                    status=case(
                        (given_up, ExportStatus.FAILED.value), else_=ExportStatus.RUNNING.value
                    ),
                    error=case((given_up, GAVE_UP), else_=None),
                    finished_at=case((given_up, func.now()), else_=None),
                    attempts=case((given_up, attempts), else_=attempts + 1),
                    started_at=func.now(),
                    heartbeat_at=func.now(),
                )
                .returning(*export_table.c)
            )
        )
        .mappings()
        .one()
    )
    return Claim(
        export_id=row["id"],
        attempt=row["attempts"],
        claims=row["claims"],
        request_id=row["request_id"],
        purpose=row["purpose"],
        types=list(row["types"]),
        since=row["since"],
        territory=row["territory"],
        given_up=row["status"] == ExportStatus.FAILED.value,
    )


def _still_ours(claim: Claim) -> Any:
    return and_(
        export_table.c.id == claim.export_id,
        export_table.c.attempts == claim.attempt,
        export_table.c.status == ExportStatus.RUNNING.value,
    )


async def _updated(session: AsyncSession, statement: Update) -> bool:
    """Whether ``statement`` changed the export (its claim still held)."""
    found = await session.execute(statement.returning(export_table.c.id))
    return found.first() is not None


async def renew(session: AsyncSession, claim: Claim) -> bool:
    """A sign of life of the worker writing the export; False when the claim is lost."""
    return await _updated(
        session, update(export_table).where(_still_ours(claim)).values(heartbeat_at=func.now())
    )


async def complete(
    session: AsyncSession,
    caller: Caller,
    claim: Claim,
    *,
    as_of: datetime,
    changes_after: int,
    counts: Mapping[str, int],
    files: Sequence[Mapping[str, Any]],
    retention_hours: int,
) -> bool:
    """The export is ready: its files, counts and moment recorded, its expiry set, and the one
    audit event of what it disclosed written as the requester's (in the same transaction: no
    audit, no files to download). False when the claim was lost (nothing is written)."""
    updated = await _updated(
        session,
        update(export_table)
        .where(_still_ours(claim))
        .values(
            status=ExportStatus.READY.value,
            finished_at=func.now(),
            as_of=as_of,
            changes_after=changes_after,
            counts=dict(counts),
            files=[dict(file) for file in files],
            expires_at=func.now() + timedelta(hours=retention_hours),
        ),
    )
    if not updated:
        return False
    await record(
        session,
        caller,
        EXPORT_WRITTEN,
        EXPORT,
        manifest(
            claim.export_id,
            claim.types,
            claim.since,
            claim.territory,
            as_of,
            counts,
            files,
        ),
    )
    return True


async def fail(session: AsyncSession, claim: Claim, error: str) -> bool:
    """The export failed (``error`` says why, in words without personal data)."""
    return await _updated(
        session,
        update(export_table)
        .where(_still_ours(claim))
        .values(status=ExportStatus.FAILED.value, finished_at=func.now(), error=error),
    )


async def lapsed_exports(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    """Ready exports whose files are past their expiry, locked for the sweep (another worker
    sweeping skips them)."""
    return list(
        (
            await session.execute(
                select(export_table.c.id)
                .where(
                    export_table.c.status == ExportStatus.READY.value,
                    export_table.c.expires_at <= func.now(),
                )
                .order_by(export_table.c.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )


async def mark_expired(session: AsyncSession, export_ids: Sequence[uuid.UUID]) -> None:
    """The exports' files are deleted: they are ``expired`` (their record stays)."""
    await session.execute(
        update(export_table)
        .where(export_table.c.id.in_(export_ids))
        .values(status=ExportStatus.EXPIRED.value, expired_at=func.now())
    )
