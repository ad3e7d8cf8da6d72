"""The latest moment a demo row may be stamped with."""

from datetime import UTC, date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def latest_moment(session: AsyncSession, today: date) -> datetime:
    """The transaction's ``now()`` (or the end of ``today`` when the seed plays an earlier
    day). The database's clock, not Python's: the API and every check compare stamps with
    ``now()``, which is the start of the transaction, earlier than the seed's own run."""
    now = (await session.execute(select(func.now()))).scalar_one()
    if today < now.date():
        return datetime.combine(today, time(23), UTC)
    return now
