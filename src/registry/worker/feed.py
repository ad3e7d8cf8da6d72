"""The change feed's numbering pass: numbers the committed events waiting (the sequencer,
``domain.changes.commands.sequence``), so that after a bulk write the backlog is numbered
here rather than on the consumers' reads, each of which would otherwise pay up to the
sequencer's budget until it is done. Several workers may run it: one sequencer works at a
time (an advisory lock); another finds it at work and numbers nothing."""

from __future__ import annotations

from registry.db.engine import Database
from registry.domain.changes import commands as changes
from registry.settings import Settings


async def run_once(database: Database, settings: Settings) -> int:
    """Number the events waiting, for at most the sequencer's budget: how many."""
    async with database.transaction() as session:
        return await changes.sequence(session)
