"""``Idempotency-Key`` on creating POSTs: a retry gets the first answer, byte for byte; the
same key with a different request is a 409."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from registry.api.dependencies import Session, caller_of
from registry.api.responses import JSON, answer_headers, respond
from registry.api.schemas.words import worded
from registry.domain import idempotency
from registry.domain.audit.commands import record
from registry.domain.shared.caller import Caller
from registry.domain.shared.sealing import IdentifierKeys
from registry.errors import Conflict

#: Printable ASCII; what clients use in practice (UUIDs, ULIDs, hashes).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


@dataclass(slots=True)
class Idempotency:
    """The request's claim on its key (if it sent one), and the earlier answer to replay."""

    key: str | None
    actor: str
    session: Session
    keys: IdentifierKeys
    replay: Response | None = None

    async def respond(
        self,
        content: Any,
        model: type[BaseModel] | None = None,
        *,
        status_code: int,
        version: int | None = None,
        location: str | None = None,
        resource_type: str,
        resource_ids: Sequence[Any],
    ) -> Response:
        """The answer (``responses.respond``), stored as this key's answer."""
        answer = respond(
            content, model, status_code=status_code, version=version, location=location
        )
        if self.key is not None:
            await idempotency.store(
                self.session,
                self.keys,
                self.actor,
                self.key,
                status_code=status_code,
                headers=answer_headers(version=version, location=location),
                body=bytes(answer.body),
                resource_type=resource_type,
                resource_ids=resource_ids,
            )
        return answer


async def _fingerprint(request: Request) -> str:
    """What makes two requests the same: method, path and the body's JSON value (so key
    order and whitespace do not matter)."""
    raw = await request.body()
    try:
        body = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def _idempotency(
    request: Request,
    session: Session,
    caller: Annotated[Caller, Depends(caller_of)],
    idempotency_key: Annotated[
        str | None,
        Header(
            pattern=worded(
                KEY_PATTERN, "must be 1 to 255 printable ASCII characters without spaces"
            ),
            description="A key of your choosing (e.g. a UUID) that makes a retry of this "
            "request return the first answer instead of creating again. "
            "Reusing it for a different request is a 409.",
        ),
    ] = None,
) -> Idempotency:
    # Keyed by the caller's whole identity, not only the subject: a replay under the same
    # sub with another role or territory must not be shown what the first one created.
    actor = caller.principal.identity
    if idempotency_key is None:
        return Idempotency(None, actor, session, caller.keys)
    fingerprint = await _fingerprint(request)
    retention = timedelta(hours=request.app.state.settings.idempotency_retention_hours)
    earlier = await idempotency.claim(
        session, caller.keys, actor, idempotency_key, fingerprint, retention
    )
    if earlier is None:
        return Idempotency(idempotency_key, actor, session, caller.keys)
    if earlier.fingerprint != fingerprint or earlier.status_code is None:
        raise Conflict("This Idempotency-Key was used for a different request; use a new key.")
    # The replay discloses what the first answer did: audit it as the same action again.
    await record(
        session,
        caller,
        _route_name(request),
        earlier.resource_type or "unknown",
        earlier.resource_ids,
    )
    headers = {**earlier.headers, "Idempotent-Replayed": "true"}
    replay = Response(
        earlier.body, status_code=earlier.status_code, headers=headers, media_type=JSON
    )
    return Idempotency(idempotency_key, actor, session, caller.keys, replay)


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", "unknown"))


IdempotencyClaim = Annotated[Idempotency, Depends(_idempotency)]
