"""Numbering the change feed's committed events (``change_feed_sequence()``, migration
0018): in batches, within a time budget, one sequencer at a time. Every read of the feed
numbers what is waiting before it reads (``queries.read_feed``); the worker numbers in the
background too, so that after a bulk write the backlog is numbered off the consumers' reads
and a read rarely has anything left to number. The events themselves are written by the
database's triggers, never here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def sequence(session: AsyncSession) -> int:
    """Number the committed events waiting, for at most the sequencer's budget: how many
    (0 also when another sequencer is at work: what it numbers shows once it commits)."""
    return int(await session.scalar(select(func.change_feed_sequence())) or 0)
