"""The audit log, for auditors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from registry.api.dependencies import AuditRead, Pagination, Session, page_body
from registry.api.openapi_responses import problem_responses
from registry.api.schemas.base import PageOf, Rfc3339DateTime, Schema
from registry.domain.audit.queries import AuditFilter, list_events

router = APIRouter(prefix="/audit-events", tags=["audit"])


class AuditEventOut(Schema):
    id: int
    occurred_at: datetime
    actor: str
    role: str
    action: str
    resource_type: str
    resource_ids: list[str]
    request_id: str | None
    purpose: str | None
    outcome: str
    block_id: int | None


@router.get(
    "",
    response_model=PageOf[AuditEventOut],
    name="list_audit_events",
    responses=problem_responses(401, 403, 422),
)
async def list_audit_events(
    request: Request,
    response: Response,
    caller: AuditRead,
    session: Session,
    page: Pagination,
    actor: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    resource_id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    since: Annotated[Rfc3339DateTime | None, Query(description="Inclusive, RFC 3339.")] = None,
    until: Annotated[Rfc3339DateTime | None, Query(description="Exclusive, RFC 3339.")] = None,
) -> dict[str, object]:
    """Events oldest first. This read is itself recorded."""
    result = await list_events(
        session,
        caller,
        page,
        AuditFilter(actor=actor, resource_id=resource_id, since=since, until=until),
    )
    return page_body(request, response, result, list(result.items))
