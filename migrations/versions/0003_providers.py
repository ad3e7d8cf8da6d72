"""Providers, the classifier of social services, and the service records providers submit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The codes of the classifier (order No. 429 of 2020) confirmed so far; the full official list
# is loaded with `registry services import FILE.csv`. Purpose and kind are sensible defaults
# until that file replaces them. (code, Ukrainian, English, purpose, kind, basic)
SERVICES = [
    ("001.0", "Інформування", "Informing", "prevention", "simple", False),
    ("002.0", "Консультування", "Counselling", "prevention", "simple", True),
    ("003.0", "Посередництво (медіація)", "Mediation", "support", "simple", True),
    ("004.0", "Представництво інтересів", "Representation of interests", "support", "simple", True),
    ("009.1", "Підтримане проживання", "Supported living", "support", "complex", True),
    (
        "010.2",
        "Супровід прийомних сімей та дитячих будинків сімейного типу",
        "Accompaniment of foster families and family-type children's homes",
        "support",
        "complex",
        True,
    ),
    (
        "012.0",
        "Екстрене (кризове) втручання",
        "Emergency (crisis) intervention",
        "support",
        "complex",
        True,
    ),
    ("013.0", "Соціальна адаптація", "Social adaptation", "support", "complex", True),
    ("015.1", "Догляд вдома", "Home care", "care", "complex", True),
    ("015.2", "Стаціонарний догляд", "Residential care", "care", "complex", False),
    ("015.3", "Денний догляд", "Day care", "care", "complex", True),
    (
        "017.1",
        "Соціальна реабілітація осіб з інтелектуальними та психічними порушеннями",
        "Social rehabilitation of persons with intellectual and mental impairments",
        "support",
        "complex",
        False,
    ),
    (
        "017.3",
        "Соціально-психологічна реабілітація осіб із залежністю від психоактивних речовин",
        "Socio-psychological rehabilitation of persons dependent on psychoactive substances",
        "support",
        "complex",
        False,
    ),
    (
        "018.1",
        "Відпочинок для батьків, які доглядають дітей з інвалідністю",
        "Respite for parents caring for children with disability",
        "care",
        "complex",
        False,
    ),
    ("021.0", "Фізичний супровід", "Physical escort", "support", "simple", True),
]

# What a civil-society provider must meet to support servicemembers' families (the 2023 pilot
# names criteria without publishing a list: these are sensible defaults kept as data).
SUPPORT_CRITERIA = [
    (
        "in_register",
        "Включений до Реєстру надавачів соціальних послуг",
        "Included in the Register of providers of social services",
    ),
    (
        "accompaniment_experience",
        "Досвід соціального супроводу сімей не менше року",
        "At least a year of experience in social accompaniment of families",
    ),
    (
        "trained_staff",
        "Працівники пройшли навчання з підтримки військовослужбовців та їхніх сімей",
        "Staff trained in supporting servicemembers and their families",
    ),
    ("psychologist", "У штаті є психолог", "A psychologist on staff"),
    (
        "mobile_team",
        "Може працювати з сім'єю за місцем проживання",
        "Can work with families where they live",
    ),
    (
        "no_sanctions",
        "Не перебуває під санкціями та не пов'язаний з державою-агресором",
        "Not under sanctions and not linked to the aggressor state",
    ),
]


def _territory_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["territories.code"], name=f"fk_{table}_{column}_territories"
    )


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def upgrade() -> None:
    services = op.create_table(
        "services",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name_uk", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("is_basic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("code", name="pk_services"),
    )
    op.bulk_insert(
        services,
        [
            {
                "code": code,
                "name_uk": uk,
                "name_en": en,
                "purpose": purpose,
                "kind": kind,
                "is_basic": basic,
            }
            for code, uk, en, purpose, kind, basic in SERVICES
        ],
    )

    criteria = op.create_table(
        "support_criteria",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name_uk", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_support_criteria"),
    )
    op.bulk_insert(
        criteria,
        [
            {"code": code, "name_uk": uk, "name_en": en, "sort_order": i}
            for i, (code, uk, en) in enumerate(SUPPORT_CRITERIA, start=1)
        ],
    )

    op.create_table(
        "providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("edrpou", sa.String(8), nullable=True),
        sa.Column("rnokpp", sa.String(10), nullable=True),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("short_name", sa.Text(), nullable=True),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("legal_form", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("included_on", sa.Date(), nullable=True),
        sa.Column("excluded_on", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("website", sa.String(300), nullable=True),
        sa.Column("oblast_code", sa.String(19), nullable=False),
        sa.Column("raion_code", sa.String(19), nullable=True),
        sa.Column("hromada_code", sa.String(19), nullable=False),
        sa.Column("settlement_code", sa.String(19), nullable=True),
        sa.Column("address_line", sa.Text(), nullable=True),
        sa.Column(
            "hromadas_served", postgresql.ARRAY(sa.String(19)), server_default="{}", nullable=False
        ),
        sa.Column(
            "support_criteria_met", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("support_verified_by", sa.Text(), nullable=True),
        sa.Column("support_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_providers"),
        sa.CheckConstraint(
            "edrpou IS NOT NULL OR rnokpp IS NOT NULL", name="ck_providers_identified"
        ),
        *(
            _territory_fk("providers", column)
            for column in ("oblast_code", "raion_code", "hromada_code", "settlement_code")
        ),
    )
    op.create_index("uq_providers_edrpou", "providers", ["edrpou"], unique=True)
    op.create_index("uq_providers_rnokpp", "providers", ["rnokpp"], unique=True)
    op.create_index("ix_providers_hromada_code_id", "providers", ["hromada_code", "id"])
    op.execute("CREATE INDEX ix_providers_hromadas_served ON providers USING gin (hromadas_served)")
    op.execute(
        "CREATE INDEX ix_providers_name_key_trgm ON providers USING gin (name_key gin_trgm_ops)"
    )

    op.create_table(
        "provider_services",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("places", postgresql.ARRAY(sa.String(24)), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("tariff_amount", sa.Numeric(12, 2), nullable=True),
        sa.Column("tariff_unit", sa.Text(), nullable=True),
        sa.Column("urgent", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("provider_id", "service_code", name="pk_provider_services"),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_provider_services_provider_id_providers"
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name="fk_provider_services_service_code_services"
        ),
    )
    op.create_index(
        "ix_provider_services_service_code", "provider_services", ["service_code", "provider_id"]
    )

    # Every change of register status, with its date and reason.
    op.create_table(
        "provider_status_changes",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("provider_id", "version", name="pk_provider_status_changes"),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name="fk_provider_status_changes_provider_id_providers",
        ),
    )

    # A provider's access to a family is granted and revoked, never deleted: the grant's
    # history answers "who could see this family, when".
    op.add_column("family_provider_access", sa.Column("granted_by", sa.Text(), nullable=True))
    op.add_column("family_provider_access", sa.Column("reason", sa.Text(), nullable=True))
    op.add_column(
        "family_provider_access", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("family_provider_access", sa.Column("revoked_by", sa.Text(), nullable=True))
    op.add_column("family_provider_access", sa.Column("revoke_reason", sa.Text(), nullable=True))
    op.create_foreign_key(
        "fk_family_provider_access_provider_id_providers",
        "family_provider_access",
        "providers",
        ["provider_id"],
        ["id"],
    )
    op.create_index("ix_family_provider_access_family_id", "family_provider_access", ["family_id"])

    op.create_table(
        "service_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sa.String(100), nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        # The family's place when the service was recorded: officers read records of their
        # territory, and the oblast is the distribution key (DESIGN §5).
        sa.Column("oblast_code", sa.String(19), nullable=False),
        sa.Column("raion_code", sa.String(19), nullable=True),
        sa.Column("hromada_code", sa.String(19), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("place", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(8), server_default="active", nullable=False),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        # Who made the current version, and why (amendments and voids give a reason).
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_service_records"),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_service_records_provider_id_providers"
        ),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name="fk_service_records_family_id_families"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_service_records_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name="fk_service_records_service_code_services"
        ),
    )
    op.create_index(
        "uq_service_records_provider_id_external_ref",
        "service_records",
        ["provider_id", "external_ref"],
        unique=True,
    )
    op.create_index("ix_service_records_provider_id_id", "service_records", ["provider_id", "id"])
    op.create_index("ix_service_records_family_id", "service_records", ["family_id"])
    op.create_index("ix_service_records_hromada_code_id", "service_records", ["hromada_code", "id"])
    op.create_index("ix_service_records_oblast_code_id", "service_records", ["oblast_code", "id"])
    op.create_index("ix_service_records_raion_code_id", "service_records", ["raion_code", "id"])

    # Earlier versions of a service record, kept when an amendment or a void supersedes them.
    op.create_table(
        "service_record_versions",
        sa.Column("service_record_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("record", postgresql.JSONB(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "valid_to", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("service_record_id", "version", name="pk_service_record_versions"),
        sa.ForeignKeyConstraint(
            ["service_record_id"],
            ["service_records.id"],
            name="fk_service_record_versions_service_record_id_service_records",
        ),
    )


def downgrade() -> None:
    for table in ("service_record_versions", "service_records"):
        op.drop_table(table)
    op.drop_index("ix_family_provider_access_family_id", "family_provider_access")
    op.drop_constraint(
        "fk_family_provider_access_provider_id_providers",
        "family_provider_access",
        type_="foreignkey",
    )
    for column in ("revoke_reason", "revoked_by", "revoked_at", "reason", "granted_by"):
        op.drop_column("family_provider_access", column)
    for table in (
        "provider_status_changes",
        "provider_services",
        "providers",
        "support_criteria",
        "services",
    ):
        op.drop_table(table)
