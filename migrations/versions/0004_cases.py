"""Case management: social accompaniment of families from referral to closure.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created() -> list[sa.Column]:
    return [
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _versioned() -> list[sa.Column]:
    return [
        *_created(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=f"fk_{table}_case_id_cases")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        # Where the case is worked now (a transfer moves it): confinement reads these.
        sa.Column("oblast_code", sa.String(19), nullable=False),
        sa.Column("raion_code", sa.String(19), nullable=True),
        sa.Column("hromada_code", sa.String(19), nullable=False),
        sa.Column("status", sa.String(16), server_default="referred", nullable=False),
        sa.Column("suspended_from", sa.String(16), nullable=True),
        # How the case came: the family's application or a report about the family.
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reporter_kind", sa.String(24), nullable=True),
        sa.Column("reporter_name", sa.Text(), nullable=True),
        sa.Column("reporter_contact", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("worker_sub", sa.Text(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Text(), nullable=True),
        sa.Column("assessment_due_on", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        # Accompaniment lasts up to 6 months from the decision, unless extended.
        sa.Column("accompaniment_until", sa.Date(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extended_by", sa.Text(), nullable=True),
        sa.Column("visit_due_on", sa.Date(), nullable=True),
        sa.Column("closure_reason", sa.String(24), nullable=True),
        sa.Column("closure_outcome", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.ForeignKeyConstraint(["family_id"], ["families.id"], name="fk_cases_family_id_families"),
    )
    op.create_index("ix_cases_hromada_code_id", "cases", ["hromada_code", "id"])
    op.create_index("ix_cases_oblast_code_id", "cases", ["oblast_code", "id"])
    op.create_index("ix_cases_family_id", "cases", ["family_id"])
    op.create_index("ix_cases_worker_sub", "cases", ["worker_sub"])
    # The open cases a manager watches: overdue visits, overdue assessments.
    op.create_index(
        "ix_cases_open_visit_due_on",
        "cases",
        ["visit_due_on"],
        postgresql_where=sa.text("status IN ('active', 'review')"),
    )

    op.create_table(
        "case_transitions",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "version", name="pk_case_transitions"),
        _case_fk("case_transitions"),
    )

    # The needs assessment: each domain of the standard's framework with a level and notes.
    op.create_table(
        "case_assessments",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("child_development_level", sa.String(8), nullable=True),
        sa.Column("child_development_notes", sa.Text(), nullable=True),
        sa.Column("parenting_capacity_level", sa.String(8), nullable=True),
        sa.Column("parenting_capacity_notes", sa.Text(), nullable=True),
        sa.Column("family_environment_level", sa.String(8), nullable=True),
        sa.Column("family_environment_notes", sa.Text(), nullable=True),
        sa.Column("conclusions", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.Text(), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_assessments"),
        _case_fk("case_assessments"),
    )

    op.create_table(
        "case_plans",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("goals", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("agreed_by", sa.Text(), nullable=True),
        sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_plans"),
        _case_fk("case_plans"),
    )
    op.create_table(
        "case_measures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("responsible", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), server_default="planned", nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_case_measures"),
        _case_fk("case_measures"),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name="fk_case_measures_service_code_services"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_case_measures_provider_id_providers"
        ),
    )
    op.create_index("ix_case_measures_case_id", "case_measures", ["case_id"])

    op.create_table(
        "referrals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("measure_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
        _case_fk("referrals"),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["case_measures.id"], name="fk_referrals_measure_id_case_measures"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_referrals_provider_id_providers"
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name="fk_referrals_service_code_services"
        ),
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])
    op.create_index("ix_referrals_provider_id_id", "referrals", ["provider_id", "id"])

    op.create_table(
        "case_visits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("participants", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        *_created(),
        sa.PrimaryKeyConstraint("id", name="pk_case_visits"),
        _case_fk("case_visits"),
    )
    op.create_index("ix_case_visits_case_id_visited_on", "case_visits", ["case_id", "visited_on"])

    op.create_table(
        "case_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        *_created(),
        sa.PrimaryKeyConstraint("id", name="pk_case_reviews"),
        _case_fk("case_reviews"),
    )
    op.create_index("ix_case_reviews_case_id", "case_reviews", ["case_id"])

    # Service records may name the case they serve.
    op.create_foreign_key(
        "fk_service_records_case_id_cases", "service_records", "cases", ["case_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint("fk_service_records_case_id_cases", "service_records", type_="foreignkey")
    for table in (
        "case_reviews",
        "case_visits",
        "referrals",
        "case_measures",
        "case_plans",
        "case_assessments",
        "case_transitions",
        "cases",
    ):
        op.drop_table(table)
