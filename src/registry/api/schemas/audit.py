"""The shapes of the audit log as auditors read it: an event, and the latest signed head."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

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


class AuditHeadOut(Schema):
    """The newest signed block of the audit chain. Keep it (the whole JSON) outside the
    registry: ``registry audit verify --head FILE`` then proves that nothing up to this block
    was removed or rewritten since."""

    block_id: int
    first_event_id: int
    last_event_id: int
    event_count: int
    previous_digest: str | None = Field(
        description="The previous block's digest (hex); null for the first block."
    )
    digest: str = Field(
        description="SHA-256 (hex) over the previous digest and the block's events."
    )
    sealed_at: datetime
    assigned_from_event_id: int = Field(
        description="The first event whose id and time the database assigned; time order is "
        "verified from it on."
    )
    signed: str = Field(
        description="Exactly the UTF-8 text the signature covers: the fields above as JSON "
        "with sorted keys and no spaces, and `kind`."
    )
    signature: str = Field(description="Ed25519 signature of `signed`, base64.")
    key_id: str = Field(description="SHA-256 (hex) of the signing key's raw public key.")
    public_key: str | None = Field(
        description="The signing key's public key (PEM), when this service knows it. Check its "
        "`key_id` against the one published for the registry before trusting it."
    )
