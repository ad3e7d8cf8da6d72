"""Tamper evidence: sealing audit events into blocks whose digests form a hash chain.

Writers only ever INSERT events, so they never wait on each other or on the
chain. The sealer (one at a time, by a transaction-scoped advisory lock) takes
the unsealed events that no open transaction can still precede — those written
by transactions older than the oldest one running — digests them in id order
together with the previous block's digest, and stamps them with the new block.
``verify`` recomputes every block and names each one that no longer matches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

_SEALER_LOCK = 0x52454749_41554454  # "REGIAUDT": one sealer at a time across replicas
_EVENT_COLUMNS = (
    "id, occurred_at, actor, role, action, resource_type, resource_ids, request_id, purpose, "
    "outcome"
)


def _event_bytes(event: RowMapping) -> bytes:
    return orjson.dumps(
        [
            event["id"],
            event["occurred_at"].isoformat(),
            event["actor"],
            event["role"],
            event["action"],
            event["resource_type"],
            list(event["resource_ids"]),
            event["request_id"],
            event["purpose"],
            event["outcome"],
        ]
    )


def block_digest(previous: bytes | None, events: list[RowMapping]) -> bytes:
    digest = hashlib.sha256(previous or b"")
    for event in events:
        line = _event_bytes(event)
        digest.update(len(line).to_bytes(4, "big"))
        digest.update(line)
    return digest.digest()


async def seal(session: AsyncSession, block_size: int) -> int:
    """Seal up to ``block_size`` settled events into one block; how many were sealed."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEALER_LOCK})
    events = (
        (
            await session.execute(
                text(
                    f"""
                SELECT {_EVENT_COLUMNS} FROM audit_events
                WHERE block_id IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY id LIMIT :limit
                """  # noqa: S608 (a constant column list)
                ),
                {"limit": block_size},
            )
        )
        .mappings()
        .all()
    )
    if not events:
        return 0
    previous = await session.scalar(
        text("SELECT digest FROM audit_blocks ORDER BY id DESC LIMIT 1")
    )
    block_id = await session.scalar(
        text(
            """
            INSERT INTO audit_blocks
                (first_event_id, last_event_id, event_count, previous_digest, digest)
            VALUES (:first, :last, :count, :previous, :digest) RETURNING id
            """
        ),
        {
            "first": events[0]["id"],
            "last": events[-1]["id"],
            "count": len(events),
            "previous": previous,
            "digest": block_digest(previous, list(events)),
        },
    )
    await session.execute(
        text("UPDATE audit_events SET block_id = :block WHERE id = ANY(:ids)"),
        {"block": block_id, "ids": [event["id"] for event in events]},
    )
    return len(events)


@dataclass
class VerificationReport:
    blocks: int = 0
    events: int = 0
    head_digest: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "blocks": self.blocks,
            "events": self.events,
            "head_digest": self.head_digest,
            "problems": self.problems,
        }


async def verify(session: AsyncSession) -> VerificationReport:
    """Recompute the chain from the first block; every mismatch is a problem."""
    report = VerificationReport()
    blocks = (
        await session.execute(
            text(
                "SELECT id, first_event_id, last_event_id, event_count, previous_digest, digest "
                "FROM audit_blocks ORDER BY id"
            )
        )
    ).mappings()
    previous: bytes | None = None
    for block in blocks.all():
        report.blocks += 1
        if block["previous_digest"] != previous:
            report.problems.append(f"block {block['id']}: chain broken (previous digest differs)")
        events = list(
            (
                await session.execute(
                    text(
                        f"SELECT {_EVENT_COLUMNS} FROM audit_events "  # noqa: S608
                        "WHERE block_id = :block ORDER BY id"
                    ),
                    {"block": block["id"]},
                )
            ).mappings()
        )
        report.events += len(events)
        ids = [event["id"] for event in events]
        if (len(ids), ids[:1], ids[-1:]) != (
            block["event_count"],
            [block["first_event_id"]],
            [block["last_event_id"]],
        ):
            report.problems.append(
                f"block {block['id']}: events added or removed "
                f"({len(ids)} found, {block['event_count']} sealed)"
            )
        if block_digest(block["previous_digest"], events) != block["digest"]:
            report.problems.append(f"block {block['id']}: digest differs (events edited)")
        previous = block["digest"]
    report.head_digest = previous.hex() if previous else None
    return report
