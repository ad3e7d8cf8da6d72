"""Who is acting, in which request, why, and on which day: what every domain function is
handed instead of anything HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from registry.auth.principal import Principal
from registry.domain.shared.clock import utc_today


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified principal, the request's id, the stated purpose (``X-Purpose``) and
    today's date by the application's clock (every deadline and "not in the future" rule
    reads it)."""

    principal: Principal
    request_id: str
    purpose: str | None = None
    today: date = field(default_factory=utc_today)
