"""Stored answers to Idempotency-Keys expire: an index to find the expired ones.

A stored answer holds what the first answer disclosed; the application keeps it for
``REGISTRY_IDEMPOTENCY_RETENTION_HOURS`` and its pruning deletes older ones through this index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
