"""Community programmes: programmes, allocations per hromada (balance rows), enrolments,
distributions with their items and reversals, the aid item catalogue, aid receipts and stock.

The ledger (distributions, their items, reversals, receipts) is appended to and never changed
by the runtime role. Enrolments and the ledger are personal (a family's amounts): row-level
security reaches them by their hromada, and a provider reaches the distributions made to it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The ledger: written once, corrected by reversals, never changed.
APPEND_ONLY_TABLES = (
    "programme_distributions",
    "programme_distribution_items",
    "programme_reversals",
    "aid_receipts",
)
_BY_TERRITORY = "registry_reaches(oblast_code, raion_code, hromada_code)"
_OF_DISTRIBUTION = (
    "EXISTS (SELECT FROM programme_distributions "
    "WHERE programme_distributions.id = {table}.distribution_id)"
)
POLICIES = {
    "programme_enrolments": _BY_TERRITORY,
    "programme_distributions": f"{_BY_TERRITORY} OR provider_id = registry_reach_provider()",
    "programme_distribution_items": _OF_DISTRIBUTION.format(table="programme_distribution_items"),
    "programme_reversals": _OF_DISTRIBUTION.format(table="programme_reversals"),
}


def runtime_role() -> str:
    """As in migration 0009: handed in by ``registry migrate``, else from the settings."""
    role = context.config.attributes.get("runtime_role")
    if role is None:
        from registry.settings import get_settings

        role = get_settings().db_runtime_role
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(role)):
        raise ValueError(f"the runtime role {role!r} is not a plain lower-case identifier")
    return str(role)


def _territory(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.String(length=19), sa.ForeignKey("territories.code"), nullable=nullable
    )


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _amount(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.Numeric(16, 2), nullable=False, **kwargs)


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("funder", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _amount("budget"),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="draft", nullable=False),
        sa.Column("eligibility", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_table(
        "aid_items",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("unit", sa.Text(), nullable=False),
        _amount("unit_value"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
    )
    op.create_table(
        "programme_allocations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("programme_id", sa.Uuid(), sa.ForeignKey("programmes.id"), nullable=False),
        _territory("oblast_code"),
        _territory("raion_code", nullable=True),
        _territory("hromada_code"),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("aid_items.id"), nullable=True),
        _amount("allocated"),
        _amount("distributed", server_default="0"),
        _amount("reversed", server_default="0"),
        sa.Column("updated_by", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("allocated >= 0", name="ck_programme_allocations_allocated"),
        sa.CheckConstraint(
            "reversed >= 0 AND reversed <= distributed", name="ck_programme_allocations_reversed"
        ),
        sa.CheckConstraint(
            "distributed - reversed <= allocated", name="ck_programme_allocations_balance"
        ),
    )
    op.create_index(
        "uq_programme_allocations_money",
        "programme_allocations",
        ["programme_id", "hromada_code"],
        unique=True,
        postgresql_where=sa.text("item_id IS NULL"),
    )
    op.create_index(
        "uq_programme_allocations_item",
        "programme_allocations",
        ["programme_id", "hromada_code", "item_id"],
        unique=True,
        postgresql_where=sa.text("item_id IS NOT NULL"),
    )
    op.create_table(
        "programme_enrolments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("programme_id", sa.Uuid(), sa.ForeignKey("programmes.id"), nullable=False),
        sa.Column("family_id", sa.Uuid(), sa.ForeignKey("families.id"), nullable=False),
        _territory("oblast_code"),
        _territory("raion_code", nullable=True),
        _territory("hromada_code"),
        sa.Column("status", sa.String(length=12), server_default="enrolled", nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("enrolled_by", sa.Text(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("withdrawn_by", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_index(
        "uq_programme_enrolments_enrolled",
        "programme_enrolments",
        ["programme_id", "family_id"],
        unique=True,
        postgresql_where=sa.text("status = 'enrolled'"),
    )
    op.create_index(
        "ix_programme_enrolments_programme_id_hromada_code_id",
        "programme_enrolments",
        ["programme_id", "hromada_code", "id"],
    )
    op.create_index("ix_programme_enrolments_family_id", "programme_enrolments", ["family_id"])
    op.create_table(
        "programme_distributions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("programme_id", sa.Uuid(), sa.ForeignKey("programmes.id"), nullable=False),
        _territory("oblast_code"),
        _territory("raion_code", nullable=True),
        _territory("hromada_code"),
        sa.Column("family_id", sa.Uuid(), sa.ForeignKey("families.id"), nullable=True),
        sa.Column(
            "enrolment_id", sa.Uuid(), sa.ForeignKey("programme_enrolments.id"), nullable=True
        ),
        sa.Column("provider_id", sa.Uuid(), sa.ForeignKey("providers.id"), nullable=True),
        sa.Column("amount", sa.Numeric(16, 2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("distributed_on", sa.Date(), nullable=False),
        sa.Column("handed_over_by", sa.Text(), nullable=False),
        sa.Column("receipt_reference", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        _now("recorded_at"),
        sa.CheckConstraint(
            "(family_id IS NULL) <> (provider_id IS NULL)",
            name="ck_programme_distributions_one_recipient",
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name="ck_programme_distributions_amount"
        ),
    )
    op.create_index(
        "ix_programme_distributions_programme_id_hromada_code_id",
        "programme_distributions",
        ["programme_id", "hromada_code", "id"],
    )
    op.create_index(
        "ix_programme_distributions_family_id", "programme_distributions", ["family_id"]
    )
    op.create_index(
        "ix_programme_distributions_provider_id", "programme_distributions", ["provider_id"]
    )
    op.create_table(
        "programme_distribution_items",
        sa.Column(
            "distribution_id",
            sa.Uuid(),
            sa.ForeignKey("programme_distributions.id"),
            primary_key=True,
        ),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("aid_items.id"), primary_key=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_programme_distribution_items_quantity"),
    )
    op.create_table(
        "programme_reversals",
        sa.Column(
            "distribution_id",
            sa.Uuid(),
            sa.ForeignKey("programme_distributions.id"),
            primary_key=True,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=False),
        sa.Column("reversed_by", sa.Text(), nullable=False),
        _now("recorded_at"),
    )
    op.create_table(
        "aid_receipts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _territory("oblast_code"),
        _territory("raion_code", nullable=True),
        _territory("hromada_code"),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("aid_items.id"), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), sa.ForeignKey("programmes.id"), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        _now("recorded_at"),
        sa.CheckConstraint("quantity > 0", name="ck_aid_receipts_quantity"),
    )
    op.create_index("ix_aid_receipts_hromada_code_id", "aid_receipts", ["hromada_code", "id"])
    op.create_table(
        "aid_stock",
        sa.Column(
            "hromada_code",
            sa.String(length=19),
            sa.ForeignKey("territories.code"),
            primary_key=True,
        ),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("aid_items.id"), primary_key=True),
        _territory("oblast_code"),
        _territory("raion_code", nullable=True),
        sa.Column("received", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("handed_out", sa.BigInteger(), server_default="0", nullable=False),
        _now("updated_at"),
        sa.CheckConstraint(
            "handed_out >= 0 AND handed_out <= received", name="ck_aid_stock_on_hand"
        ),
    )
    role = runtime_role()
    for table in APPEND_ONLY_TABLES:
        op.execute(f'REVOKE UPDATE ON TABLE {table} FROM "{role}"')
    for table, visible in POLICIES.items():
        op.execute(f'CREATE POLICY reach ON {table} TO "{role}" USING ({visible})')


def downgrade() -> None:
    for table in POLICIES:
        op.execute(f"DROP POLICY reach ON {table}")
    for table in (
        "aid_stock",
        "aid_receipts",
        "programme_reversals",
        "programme_distribution_items",
        "programme_distributions",
        "programme_enrolments",
        "programme_allocations",
        "aid_items",
        "programmes",
    ):
        op.drop_table(table)
