"""The clock every date rule reads: today's date in UTC. The API builds each request's
``Caller`` with the application's clock (``app.state.clock``, which tests set), so a domain
function asks ``caller.today``, never the system clock."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_today() -> date:
    return datetime.now(UTC).date()
