"""Foundation: territories (KATOTTG), reference imports, the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "territories",
        sa.Column("code", sa.String(19), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("search_name", sa.Text(), nullable=False),
        sa.Column("category", sa.CHAR(1), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_code", sa.String(19), nullable=True),
        sa.PrimaryKeyConstraint("code", name="pk_territories"),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["territories.code"],
            name="fk_territories_parent_code_territories",
        ),
        sa.CheckConstraint("code ~ '^UA[0-9]{17}$'", name="ck_territories_code_format"),
        sa.CheckConstraint(
            "category IN ('O','K','P','H','M','T','C','X','B')",
            name="ck_territories_category_known",
        ),
    )
    # Keyset pages are ordered by code within a filter: (filter column, code).
    op.create_index("ix_territories_parent_code_code", "territories", ["parent_code", "code"])
    op.create_index("ix_territories_category_code", "territories", ["category", "code"])
    op.execute(
        "CREATE INDEX ix_territories_search_name_trgm ON territories "
        "USING gin (search_name gin_trgm_ops)"
    )

    op.create_table(
        "reference_imports",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name="pk_reference_imports"),
    )

    op.create_table(
        "audit_blocks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("first_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("previous_digest", sa.LargeBinary(), nullable=True),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column(
            "sealed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_blocks"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("block_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.ForeignKeyConstraint(
            ["block_id"], ["audit_blocks.id"], name="fk_audit_events_block_id_audit_blocks"
        ),
        sa.CheckConstraint("outcome IN ('success', 'denied')", name="ck_audit_events_outcome"),
    )
    # The writing transaction, read by the sealer (SQLAlchemy has no xid8 type).
    op.execute("ALTER TABLE audit_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor", "id"])
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    op.execute("CREATE INDEX ix_audit_events_resource_ids ON audit_events USING gin (resource_ids)")
    op.execute("CREATE INDEX ix_audit_events_unsealed ON audit_events (id) WHERE block_id IS NULL")
    op.create_index("ix_audit_events_block_id", "audit_events", ["block_id"])

    # Append-only, enforced by the database: the one change allowed is the sealer stamping
    # an unsealed event with its block, every other column unchanged.
    op.execute(
        """
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Nested: PL/pgSQL evaluates a condition whole, and audit_blocks has no block_id.
            IF TG_TABLE_NAME = 'audit_events' AND TG_OP = 'UPDATE' THEN
                IF OLD.block_id IS NULL AND NEW.block_id IS NOT NULL
                   AND (NEW.id, NEW.occurred_at, NEW.actor, NEW.role, NEW.action,
                        NEW.resource_type, NEW.resource_ids, NEW.request_id, NEW.purpose,
                        NEW.outcome, NEW.xid::text)
                       IS NOT DISTINCT FROM
                       (OLD.id, OLD.occurred_at, OLD.actor, OLD.role, OLD.action,
                        OLD.resource_type, OLD.resource_ids, OLD.request_id, OLD.purpose,
                        OLD.outcome, OLD.xid::text)
                THEN
                    RETURN NEW;
                END IF;
            END IF;
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in ("audit_events", "audit_blocks"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def downgrade() -> None:
    for table in ("audit_events", "audit_blocks"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.drop_table("audit_events")
    op.drop_table("audit_blocks")
    op.drop_table("reference_imports")
    op.drop_table("territories")
