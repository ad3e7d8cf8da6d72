"""Reading the audit log (auditors only; reading it is itself audited), its latest signed
head, and verifying it: ``verify`` recomputes every block and checks its signature, the order
of blocks and of times, and a head an auditor kept, and names whatever no longer matches."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.audit_keys import AuditKeyRing
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.access import require_auditor
from registry.domain.audit.commands import record
from registry.domain.audit.rules import (
    SEALED_FIELDS,
    BlockHead,
    EventClock,
    KeptHead,
    block_digest,
)
from registry.domain.audit.tables import (
    assigned_from_event_id,
    audit_block_table,
    audit_event_table,
)
from registry.domain.shared.caller import Caller
from registry.errors import NotFound

_COLUMNS = (
    audit_event_table.c.id,
    audit_event_table.c.occurred_at,
    audit_event_table.c.actor,
    audit_event_table.c.role,
    audit_event_table.c.action,
    audit_event_table.c.resource_type,
    audit_event_table.c.resource_ids,
    audit_event_table.c.request_id,
    audit_event_table.c.purpose,
    audit_event_table.c.outcome,
    audit_event_table.c.block_id,
)

_BLOCK_COLUMNS = (
    audit_block_table.c.id,
    audit_block_table.c.first_event_id,
    audit_block_table.c.last_event_id,
    audit_block_table.c.event_count,
    audit_block_table.c.previous_digest,
    audit_block_table.c.digest,
    audit_block_table.c.sealed_at,
    audit_block_table.c.signature,
    audit_block_table.c.key_id,
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession, caller: Caller, page: PageRequest, where: AuditFilter
) -> Page[RowMapping]:
    require_auditor(caller.principal)
    statement = select(*_COLUMNS)
    if where.actor is not None:
        statement = statement.where(audit_event_table.c.actor == where.actor)
    if where.resource_id is not None:
        statement = statement.where(audit_event_table.c.resource_ids.contains([where.resource_id]))
    if where.since is not None:
        statement = statement.where(audit_event_table.c.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(audit_event_table.c.occurred_at < where.until)
    rows = (
        (await session.execute(keyset(statement, [audit_event_table.c.id], page))).mappings().all()
    )
    result = page_of(rows, page, key=lambda row: (row["id"],))
    await record(session, caller, "list", "audit_event", [row["id"] for row in result.items])
    return result


async def latest_head(session: AsyncSession, caller: Caller, keys: AuditKeyRing) -> dict[str, Any]:
    """The newest signed block's head, with its signature and the public key it verifies
    with (when this service knows the key); 404 while no block is signed. The read is
    recorded, as every read of the audit log."""
    require_auditor(caller.principal)
    block = (
        (
            await session.execute(
                select(*_BLOCK_COLUMNS, assigned_from_event_id().label("assigned_from_event_id"))
                .where(audit_block_table.c.signature.is_not(None))
                .order_by(audit_block_table.c.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if block is None:
        raise NotFound("No audit block has been signed yet.")
    head = _head_of(block, block["assigned_from_event_id"])
    await record(session, caller, "read", "audit_block", [head.block_id])
    return {
        "block_id": head.block_id,
        "first_event_id": head.first_event_id,
        "last_event_id": head.last_event_id,
        "event_count": head.event_count,
        "previous_digest": head.previous_digest.hex() if head.previous_digest else None,
        "digest": head.digest.hex(),
        "sealed_at": head.sealed_at,
        "assigned_from_event_id": head.assigned_from_event_id,
        "signed": head.message().decode(),
        "signature": base64.b64encode(block["signature"]).decode(),
        "key_id": block["key_id"],
        "public_key": keys.public_pem(block["key_id"]),
    }


def _head_of(block: RowMapping, assigned_from: int) -> BlockHead:
    return BlockHead(
        block_id=block["id"],
        first_event_id=block["first_event_id"],
        last_event_id=block["last_event_id"],
        event_count=block["event_count"],
        previous_digest=block["previous_digest"],
        digest=block["digest"],
        sealed_at=block["sealed_at"],
        assigned_from_event_id=assigned_from,
    )


@dataclass
class VerificationReport:
    blocks: int = 0
    events: int = 0
    #: Blocks whose signature verified, and blocks sealed before heads were signed.
    signed_blocks: int = 0
    unsigned_blocks: int = 0
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
            "signed_blocks": self.signed_blocks,
            "unsigned_blocks": self.unsigned_blocks,
            "head_digest": self.head_digest,
            "problems": self.problems,
        }


async def verify(
    session: AsyncSession, keys: AuditKeyRing, kept: KeptHead | None = None
) -> VerificationReport:
    """Recompute the chain from the first block and check what the database cannot be
    trusted to keep: every block's signature, that blocks follow id order, that times follow
    id order, and (given the head an auditor kept) that the block it names is still there,
    unchanged. Every finding is a problem."""
    report = VerificationReport()
    assigned_from: int = (await session.execute(select(assigned_from_event_id()))).scalar_one()
    blocks = (
        (await session.execute(select(*_BLOCK_COLUMNS).order_by(audit_block_table.c.id)))
        .mappings()
        .all()
    )
    stamped, time_problems = await _event_pass(session, assigned_from)
    previous: RowMapping | None = None
    signed_since: int | None = None
    for block in blocks:
        report.blocks += 1
        problems = await _block_problems(
            session, report, block, previous, stamped.pop(block["id"], 0)
        )
        signature_problems = _signature_problems(block, keys, assigned_from, signed_since)
        if block["signature"] is not None:
            signed_since = signed_since or block["id"]
            report.signed_blocks += not signature_problems
        else:
            report.unsigned_blocks += not signature_problems
        problems += signature_problems
        report.problems += [f"block {block['id']}: {problem}" for problem in problems]
        previous = block
    if previous is not None:
        report.head_digest = previous["digest"].hex()
        report.problems += await _unsealed_below(session, previous)
    report.problems += [
        f"{count} event(s) stamped with block {block_id}, which is not there"
        for block_id, count in sorted(stamped.items())
    ]
    report.problems += time_problems
    if kept is not None:
        report.problems += _kept_head_problems(kept, blocks, keys)
    return report


async def _block_problems(
    session: AsyncSession,
    report: VerificationReport,
    block: RowMapping,
    previous: RowMapping | None,
    stamped: int,
) -> list[str]:
    """``stamped``: how many events anywhere name the block (``_event_pass``). Its events are
    read by its id range, where the sealer stamps them, by the primary key; one stamped
    outside the range (by hand: the sealer never does) is counted all the same."""
    problems = []
    if block["previous_digest"] != (previous["digest"] if previous else None):
        problems.append("chain broken (previous digest differs)")
    if previous is not None and block["first_event_id"] <= previous["last_event_id"]:
        problems.append(
            f"events out of order (its first event {block['first_event_id']} is not after "
            f"event {previous['last_event_id']}, the last of block {previous['id']})"
        )
    events = (
        (
            await session.execute(
                select(*(audit_event_table.c[name] for name in SEALED_FIELDS))
                .where(
                    audit_event_table.c.id.between(block["first_event_id"], block["last_event_id"]),
                    audit_event_table.c.block_id == block["id"],
                )
                .order_by(audit_event_table.c.id)
            )
        )
        .mappings()
        .all()
    )
    report.events += stamped
    ids = [event["id"] for event in events]
    if (stamped, len(ids), ids[:1], ids[-1:]) != (
        block["event_count"],
        block["event_count"],
        [block["first_event_id"]],
        [block["last_event_id"]],
    ):
        problems.append(f"events added or removed ({stamped} found, {block['event_count']} sealed)")
    if block_digest(block["previous_digest"], events) != block["digest"]:
        problems.append("digest differs (events edited)")
    return problems


def _signature_problems(
    block: RowMapping, keys: AuditKeyRing, assigned_from: int, signed_since: int | None
) -> list[str]:
    if block["signature"] is None:
        # Blocks sealed before heads were signed are legacy; one after a signed block is not.
        return [] if signed_since is None else [f"not signed (blocks are since {signed_since})"]
    if not keys.knows(block["key_id"]):
        return [f"signed with a key not trusted here ({block['key_id']})"]
    message = _head_of(block, assigned_from).message()
    if not keys.verifies(block["key_id"], message, block["signature"]):
        return ["signature does not verify (its head was rewritten without the key)"]
    return []


async def _unsealed_below(session: AsyncSession, last: RowMapping) -> list[str]:
    """Events left unsealed below the sealed end: the sealer never leaves one behind (it
    seals in id order up to the fence), so each was inserted there by hand."""
    ids = (
        await session.scalars(
            select(audit_event_table.c.id)
            .where(
                audit_event_table.c.block_id.is_(None),
                audit_event_table.c.id <= last["last_event_id"],
            )
            .order_by(audit_event_table.c.id)
        )
    ).all()
    return [
        f"event {event_id}: unsealed below the sealed end (event {last['last_event_id']}), "
        "written out of order"
        for event_id in ids
    ]


async def _event_pass(session: AsyncSession, assigned_from: int) -> tuple[Counter[int], list[str]]:
    """One pass over every event in id order: how many name each block, and where times do
    not follow ids (from where the database began assigning them)."""
    clock = EventClock(assigned_from)
    stamped: Counter[int] = Counter()
    problems = []
    rows = await session.stream(
        select(
            audit_event_table.c.id, audit_event_table.c.occurred_at, audit_event_table.c.block_id
        )
        .order_by(audit_event_table.c.id)
        .execution_options(yield_per=10_000)
    )
    async for event_id, occurred_at, block_id in rows:
        if block_id is not None:
            stamped[block_id] += 1
        if event_id >= assigned_from:
            lag = clock.lag(event_id, occurred_at)
            if lag is not None:
                problems.append(lag)
    return stamped, problems


def _kept_head_problems(
    kept: KeptHead, blocks: Sequence[RowMapping], keys: AuditKeyRing
) -> list[str]:
    name = f"head {kept.digest.hex()}"
    problems = []
    if kept.signature is not None and not keys.verifies(
        kept.key_id or "", kept.signed or b"", kept.signature
    ):
        problems.append(f"{name}: its signature does not verify with the keys trusted here")
    found = next((block for block in blocks if block["digest"] == kept.digest), None)
    if found is None:
        problems.append(
            f"{name}: no block has this digest any more (the log was cut or rewritten after it)"
        )
    elif kept.block_id is not None and found["id"] != kept.block_id:
        problems.append(f"{name}: now block {found['id']}, kept as block {kept.block_id}")
    return problems
