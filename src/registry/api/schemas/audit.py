"""The shape of an audit event as auditors read it."""

from __future__ import annotations

from datetime import datetime

from registry.api.schemas.base import Schema


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
