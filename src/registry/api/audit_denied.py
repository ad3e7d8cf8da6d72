"""Recording refusals. The request's own transaction has rolled back by the time an error is
rendered, so a refusal is written in a transaction of its own."""

from __future__ import annotations

import structlog
from fastapi import Request
from fastapi.routing import APIRoute

from registry.api.dependencies import own_transaction
from registry.domain.audit.commands import record
from registry.domain.audit.rules import Outcome
from registry.domain.shared.caller import Caller

log = structlog.get_logger("registry.audit")


async def record_denied(request: Request, action: str | None = None) -> None:
    """One ``denied`` event of the caller (none before the caller is known), as the
    operation's own action unless ``action`` names another (``rate_limited``)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        return
    route = request.scope.get("route")
    if action is None:
        action = route.name if isinstance(route, APIRoute) else "unknown"
    resource_type = str(route.tags[0]) if isinstance(route, APIRoute) and route.tags else "unknown"
    resource_ids = [str(v) for v in request.path_params.values()]
    async with own_transaction(request) as session:
        await record(session, caller, action, resource_type, resource_ids, Outcome.DENIED)
