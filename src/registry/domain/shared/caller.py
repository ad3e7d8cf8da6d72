"""Who is acting, in which request, why, and on which day (and the keys that open the
identifiers they handle): what every domain function is handed instead of anything HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from registry.auth.principal import Principal
from registry.domain.shared.clock import utc_today
from registry.domain.shared.sealing import IdentifierKeys


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified principal, the request's id, the stated purpose (``X-Purpose``) and
    today's date by the application's clock (every deadline and "not in the future" rule
    reads it), and the application's identifier keys (``sealing``: what seals, opens and
    indexes national identifiers), handed in as the clock is."""

    principal: Principal
    request_id: str
    purpose: str | None = None
    today: date = field(default_factory=utc_today)
    keys: IdentifierKeys = field(kw_only=True)
