"""The Child and Youth Friendly Community initiative (UNICEF) per hromada: each hromada's
record (its current stage, with its oblast and raion for confinement) and its steps.

Not personal data: no row-level security policy. The runtime role appends to the steps and
never changes them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The steps, which the API writes once and never changes.
APPEND_ONLY_TABLES = ("friendly_community_steps",)

STAGES = (
    "council_decision",
    "letter_of_interest",
    "memorandum",
    "situation_analysis",
    "action_plan",
    "candidate",
    "implementation",
    "assessment",
    "status_awarded",
    "status_withdrawn",
)
_STAGE_CHECK = "stage IN (" + ", ".join(f"'{stage}'" for stage in STAGES) + ")"


def runtime_role() -> str:
    """As in migration 0009: handed in by ``registry migrate``, else from the settings."""
    role = context.config.attributes.get("runtime_role")
    if role is None:
        from registry.settings import get_settings

        role = get_settings().db_runtime_role
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(role)):
        raise ValueError(f"the runtime role {role!r} is not a plain lower-case identifier")
    return str(role)


def _territory_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["territories.code"], name=f"fk_{table}_{column}_territories"
    )


def upgrade() -> None:
    op.create_table(
        "friendly_communities",
        sa.Column("hromada_code", sa.String(length=19), nullable=False),
        sa.Column("oblast_code", sa.String(length=19), nullable=False),
        sa.Column("raion_code", sa.String(length=19), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("stage_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        _territory_fk("friendly_communities", "hromada_code"),
        _territory_fk("friendly_communities", "oblast_code"),
        _territory_fk("friendly_communities", "raion_code"),
        sa.CheckConstraint(_STAGE_CHECK, name=op.f("ck_friendly_communities_stage")),
        sa.PrimaryKeyConstraint("hromada_code", name=op.f("pk_friendly_communities")),
    )
    op.create_index(
        "ix_friendly_communities_oblast_code_hromada_code",
        "friendly_communities",
        ["oblast_code", "hromada_code"],
    )
    op.create_index(
        "ix_friendly_communities_stage_hromada_code",
        "friendly_communities",
        ["stage", "hromada_code"],
    )
    op.create_table(
        "friendly_community_steps",
        sa.Column("hromada_code", sa.String(length=19), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("document_reference", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["hromada_code"],
            ["friendly_communities.hromada_code"],
            name=op.f("fk_friendly_community_steps_hromada_code_friendly_communities"),
        ),
        sa.CheckConstraint(_STAGE_CHECK, name=op.f("ck_friendly_community_steps_stage")),
        sa.PrimaryKeyConstraint(
            "hromada_code", "version", name=op.f("pk_friendly_community_steps")
        ),
    )
    role = runtime_role()
    for table in APPEND_ONLY_TABLES:
        op.execute(f'REVOKE UPDATE ON TABLE {table} FROM "{role}"')


def downgrade() -> None:
    op.drop_table("friendly_community_steps")
    op.drop_index("ix_friendly_communities_stage_hromada_code", table_name="friendly_communities")
    op.drop_index(
        "ix_friendly_communities_oblast_code_hromada_code", table_name="friendly_communities"
    )
    op.drop_table("friendly_communities")
