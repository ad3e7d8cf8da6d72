"""Bulk exports: ``exports``, one row per request from ``pending`` to ``expired``, which
``registry worker`` takes (``FOR UPDATE SKIP LOCKED``), writes as NDJSON files and expires.
Not a personal table (the records it describes are read, confined, by the worker): no
row-level security; the runtime role reads, inserts and updates it by default privileges.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("pending", "running", "ready", "failed", "expired")


def _moment(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("claims", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("types", postgresql.ARRAY(sa.Text()), nullable=False),
        _moment("since"),
        sa.Column("territory", sa.String(length=19), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _moment("heartbeat_at"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _moment("started_at"),
        _moment("finished_at"),
        _moment("as_of"),
        sa.Column("changes_after", sa.BigInteger(), nullable=True),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("files", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        _moment("expires_at"),
        _moment("expired_at"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in _STATUSES) + ")",
            name=op.f("ck_exports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["territory"],
            ["territories.code"],
            name=op.f("fk_exports_territory_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index("ix_exports_requester_id", "exports", ["requester", "id"])
    op.create_index(
        "ix_exports_waiting",
        "exports",
        ["created_at"],
        postgresql_where=sa.text("status IN ('pending', 'running')"),
    )
    op.create_index(
        "ix_exports_expiring",
        "exports",
        ["expires_at"],
        postgresql_where=sa.text("status = 'ready'"),
    )


def downgrade() -> None:
    op.drop_table("exports")
