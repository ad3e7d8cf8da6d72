"""The audit log, for auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from registry.api.dependencies import AuditRead, AuditSigningKeys, Pagination, Session
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond, respond_page
from registry.api.schemas.audit import AuditEventOut, AuditHeadOut
from registry.api.schemas.base import PageOf, Rfc3339DateTime
from registry.api.schemas.words import worded
from registry.domain.audit.queries import AuditFilter, latest_head, list_events

NO_NUL = worded(r"^[^\x00]*$", "must not contain a NUL character")

router = APIRouter(tags=["audit"])


@router.get(
    "/audit-events",
    response_model=PageOf[AuditEventOut],
    name="list_audit_events",
    responses=problem_responses(401, 403, 422),
)
async def list_audit_events(
    request: Request,
    caller: AuditRead,
    session: Session,
    page: Pagination,
    actor: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    resource_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    since: Annotated[Rfc3339DateTime | None, Query(description="Inclusive, RFC 3339.")] = None,
    until: Annotated[Rfc3339DateTime | None, Query(description="Exclusive, RFC 3339.")] = None,
) -> Response:
    """Audit events, oldest first. This read is itself recorded."""
    where = AuditFilter(actor=actor, resource_id=resource_id, since=since, until=until)
    result = await list_events(session, caller, page, where)
    return respond_page(request, result, PageOf[AuditEventOut])


@router.get(
    "/audit-head",
    response_model=AuditHeadOut,
    name="get_audit_head",
    responses=problem_responses(401, 403, 404),
)
async def get_audit_head(caller: AuditRead, session: Session, keys: AuditSigningKeys) -> Response:
    """The newest signed block of the audit chain: its head, its Ed25519 signature and the
    public key to check it with (404 until a block is signed). Keep it outside the registry;
    `registry audit verify --head FILE` proves nothing up to it was cut or rewritten. This
    read is itself recorded."""
    return respond(await latest_head(session, caller, keys.ring), AuditHeadOut)
