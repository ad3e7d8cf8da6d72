"""Families and persons, their reference lists, version history, idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Reference lists are data, not enums: an official list can replace them without a release.
RECIPIENT_CATEGORIES = [
    ("idp", "Внутрішньо переміщені особи", "Internally displaced persons"),
    ("large_family", "Багатодітна сім'я", "Large family (three or more children)"),
    ("foster_family", "Прийомна сім'я", "Foster family"),
    ("family_type_home", "Дитячий будинок сімейного типу", "Family-type children's home"),
    ("guardianship", "Сім'я опікунів, піклувальників", "Guardian family"),
    (
        "child_with_disability",
        "Сім'я, що виховує дитину з інвалідністю",
        "Family raising a child with disability",
    ),
    ("single_parent", "Неповна сім'я", "Single-parent family"),
    ("servicemember_family", "Сім'я військовослужбовця", "Servicemember's family"),
    (
        "fallen_servicemember_family",
        "Сім'я загиблого (померлого) захисника",
        "Family of a fallen servicemember",
    ),
    (
        "missing_servicemember_family",
        "Сім'я зниклого безвісти захисника",
        "Family of a missing servicemember",
    ),
    (
        "captured_servicemember_family",
        "Сім'я захисника, який перебуває в полоні",
        "Family of a captured servicemember",
    ),
    ("veteran_family", "Сім'я ветерана війни", "War veteran's family"),
    ("low_income", "Малозабезпечена сім'я", "Low-income family"),
]

# (code, Ukrainian, English, named in the Law "On Social Services" itself)
HARDSHIP_FACTORS = [
    ("old_age", "Похилий вік", "Old age", True),
    (
        "mobility_loss",
        "Часткова або повна втрата рухової активності",
        "Partial or full loss of mobility",
        True,
    ),
    ("memory_loss", "Часткова або повна втрата пам'яті", "Partial or full loss of memory", True),
    (
        "long_term_illness",
        "Невиліковна хвороба, хвороба, що потребує тривалого лікування",
        "Incurable or long-term illness",
        True,
    ),
    (
        "mental_disorder",
        "Психічні та поведінкові розлади",
        "Mental and behavioural disorders",
        True,
    ),
    (
        "substance_use",
        "Розлади внаслідок вживання психоактивних речовин",
        "Disorders from psychoactive substance use",
        True,
    ),
    ("disability", "Інвалідність", "Disability", True),
    ("homelessness", "Бездомність", "Homelessness", True),
    ("unemployment", "Безробіття", "Unemployment", True),
    ("low_income", "Малозабезпеченість", "Low income", True),
    (
        "child_behaviour_after_divorce",
        "Поведінкові розлади у дітей через розлучення батьків",
        "Children's behavioural disorders caused by parents' divorce",
        True,
    ),
    (
        "evading_child_rearing",
        "Ухилення батьків від виконання батьківських обов'язків",
        "Parents evading child-rearing",
        False,
    ),
    (
        "loss_of_social_ties",
        "Втрата соціальних зв'язків, зокрема під час перебування в місцях позбавлення волі",
        "Loss of social ties, including imprisonment",
        False,
    ),
    ("child_abuse", "Жорстоке поводження з дитиною", "Child abuse or neglect", False),
    (
        "domestic_violence",
        "Домашнє насильство, насильство за ознакою статі",
        "Domestic or gender-based violence",
        False,
    ),
    ("trafficking", "Торгівля людьми", "Human trafficking", False),
    (
        "hostilities_harm",
        "Шкода від пожежі, стихійного лиха, катастрофи, бойових дій, "
        "терористичного акту, збройного конфлікту, тимчасової окупації",
        "Harm from fire, disaster, hostilities, terrorism or occupation",
        False,
    ),
]


def _reference_table(name: str, *extra: sa.Column) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name_uk", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        *extra,
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sort_order", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=f"pk_{name}"),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,63}$'", name=f"ck_{name}_code_format"),
    )


def _territory_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["territories.code"], name=f"fk_{table}_{column}_territories"
    )


def upgrade() -> None:
    categories = _reference_table("recipient_categories")
    op.bulk_insert(
        categories,
        [
            {"code": code, "name_uk": uk, "name_en": en, "sort_order": order}
            for order, (code, uk, en) in enumerate(RECIPIENT_CATEGORIES, start=1)
        ],
    )
    factors = _reference_table(
        "hardship_factors", sa.Column("named_in_law", sa.Boolean(), nullable=False)
    )
    op.bulk_insert(
        factors,
        [
            {
                "code": code,
                "name_uk": uk,
                "name_en": en,
                "named_in_law": in_law,
                "sort_order": order,
            }
            for order, (code, uk, en, in_law) in enumerate(HARDSHIP_FACTORS, start=1)
        ],
    )

    op.create_table(
        "families",
        sa.Column("id", sa.Uuid(), nullable=False),
        # Derived from the hromada and stored, so confinement (and sharding by oblast) is one
        # indexed predicate.
        sa.Column("oblast_code", sa.String(19), nullable=False),
        sa.Column("raion_code", sa.String(19), nullable=True),
        sa.Column("hromada_code", sa.String(19), nullable=False),
        sa.Column("settlement_code", sa.String(19), nullable=True),
        sa.Column("address_line", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("factors", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("consent_given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_given_by", sa.Text(), nullable=True),
        sa.Column("consent_scope", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("archive_reason", sa.Text(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_families"),
        _territory_fk("families", "oblast_code"),
        _territory_fk("families", "raion_code"),
        _territory_fk("families", "hromada_code"),
        _territory_fk("families", "settlement_code"),
        sa.CheckConstraint("status IN ('active', 'archived')", name="ck_families_status"),
        sa.CheckConstraint(
            "(status = 'archived') = (archived_at IS NOT NULL)", name="ck_families_archived_at"
        ),
        sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name="ck_families_phone_e164"),
        sa.CheckConstraint(
            "(consent_given_at IS NULL) = (consent_given_by IS NULL) "
            "AND (consent_given_at IS NULL) = (consent_scope IS NULL)",
            name="ck_families_consent_complete",
        ),
    )
    # Keyset pages run inside one confinement predicate: (predicate column, id).
    op.create_index("ix_families_hromada_code_id", "families", ["hromada_code", "id"])
    op.create_index("ix_families_oblast_code_id", "families", ["oblast_code", "id"])
    op.execute("CREATE INDEX ix_families_categories ON families USING gin (categories)")
    op.execute("CREATE INDEX ix_families_factors ON families USING gin (factors)")

    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("oblast_code", sa.String(19), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("patronymic", sa.Text(), nullable=True),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("latin_key", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("rnokpp", sa.String(10), nullable=True),
        sa.Column("rnokpp_refused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("unzr", sa.String(14), nullable=True),
        sa.Column("disability_group", sa.String(8), nullable=True),
        sa.Column("idp_certificate", sa.String(32), nullable=True),
        sa.Column("is_servicemember", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("removal_reason", sa.Text(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name="fk_persons_family_id_families"
        ),
        _territory_fk("persons", "oblast_code"),
        sa.CheckConstraint("sex IN ('male', 'female')", name="ck_persons_sex"),
        sa.CheckConstraint(
            "relation IN ('head', 'spouse', 'child', 'guardian', 'other')",
            name="ck_persons_relation",
        ),
        sa.CheckConstraint("birth_date >= DATE '1900-01-01'", name="ck_persons_birth_date"),
        sa.CheckConstraint("rnokpp ~ '^[0-9]{10}$'", name="ck_persons_rnokpp_format"),
        sa.CheckConstraint(
            "NOT (rnokpp_refused AND rnokpp IS NOT NULL)", name="ck_persons_rnokpp_or_refused"
        ),
        sa.CheckConstraint("unzr ~ '^[0-9]{8}-[0-9]{5}$'", name="ck_persons_unzr_format"),
        sa.CheckConstraint(
            "disability_group IN ('I', 'II', 'III', 'child')", name="ck_persons_disability_group"
        ),
        sa.CheckConstraint("status IN ('active', 'removed')", name="ck_persons_status"),
        sa.CheckConstraint(
            "(status = 'removed') = (removed_at IS NOT NULL)", name="ck_persons_removed_at"
        ),
    )
    op.create_index("ix_persons_family_id", "persons", ["family_id"])
    # A person is an active member of one family at a time; a removed membership stays as
    # history and does not block the same person joining another family.
    op.create_index(
        "uq_persons_rnokpp",
        "persons",
        ["rnokpp"],
        unique=True,
        postgresql_where=sa.text("status = 'active' AND rnokpp IS NOT NULL"),
    )
    op.create_index(
        "uq_persons_unzr",
        "persons",
        ["unzr"],
        unique=True,
        postgresql_where=sa.text("status = 'active' AND unzr IS NOT NULL"),
    )
    op.create_index("ix_persons_birth_date_name_key", "persons", ["birth_date", "name_key"])
    op.execute("CREATE INDEX ix_persons_name_key_trgm ON persons USING gin (name_key gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_persons_latin_key_trgm ON persons USING gin (latin_key gin_trgm_ops)"
    )

    # Which providers may see a family: filled by referrals (cases), read by confinement.
    op.create_table(
        "family_provider_access",
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column(
            "granted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("provider_id", "family_id", name="pk_family_provider_access"),
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name="fk_family_provider_access_family_id_families"
        ),
    )

    # Which fields each version of a record changed: the 412 answer to a stale If-Match.
    op.create_table(
        "record_changes",
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "resource_type", "resource_id", "version", name="pk_record_changes"
        ),
    )

    # The first answer to each (caller, Idempotency-Key), replayed to retries.
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("headers", postgresql.JSONB(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        # What the first answer disclosed, so a replay is audited as the same read.
        sa.Column("resource_type", sa.String(32), nullable=True),
        sa.Column("resource_ids", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("actor", "key", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "record_changes",
        "family_provider_access",
        "persons",
        "families",
        "hardship_factors",
        "recipient_categories",
    ):
        op.drop_table(table)
