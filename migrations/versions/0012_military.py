"""Servicemember-family support: military units and the providers assigned to them,
servicemembers with their status and unit histories, the catalogue of support measures
(seeded with the ten measures the programme names), and support cases with their history,
measures and contacts.

No column holds what would help an enemy: no unit location, deployment or strength, no rank
or position.

The runtime role appends to the histories and contacts and never changes them. Row-level
security reaches a fourth way (``registry.unit``, ``db.reach``): a unit's liaison reaches its
servicemembers, their families and their support cases; a provider also reaches the support
cases assigned to it and their families.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: History and contacts the API writes once and never changes.
APPEND_ONLY_TABLES = (
    "servicemember_statuses",
    "servicemember_units",
    "support_case_history",
    "support_case_contacts",
)

_ALL = ("mobilised", "serving", "missing", "captured", "fallen", "demobilised")
#: The measures the programme names, with the servicemember statuses each applies to; the
#: ministry adds and retires measures through the API from here on.
SEEDED_MEASURES = (
    ("psychosocial_support", "Психосоціальна підтримка", "Psychosocial support", _ALL),
    ("family_communication", "Комунікація з родиною", "Communication with the family", _ALL),
    ("documents_help", "Допомога з документами", "Help with documents", _ALL),
    (
        "state_bodies_representation",
        "Представництво в органах державної влади",
        "Representation in state bodies",
        ("missing", "captured", "fallen", "demobilised"),
    ),
    (
        "payments_information",
        "Інформування щодо виплат і пільг",
        "Information on payments and benefits",
        _ALL,
    ),
    ("legal_aid", "Правова допомога", "Legal aid", _ALL),
    (
        "authorities_liaison",
        "Взаємодія з органами влади",
        "Liaison with authorities",
        ("missing", "captured", "fallen"),
    ),
    (
        "mobilisation_support",
        "Супровід під час мобілізації",
        "Support at mobilisation",
        ("mobilised",),
    ),
    (
        "missing_captured_family_support",
        "Підтримка родин зниклих безвісти та полонених",
        "Support of families of the missing and captured",
        ("missing", "captured"),
    ),
    (
        "bereavement_support",
        "Підтримка родин загиблих",
        "Bereavement support for families of the fallen",
        ("fallen",),
    ),
)

#: The unit the transaction's caller acts for, if any.
REACH_UNIT = """
CREATE FUNCTION registry_reach_unit() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('registry.unit', true), '')::uuid
$$
"""
#: The families reached through servicemember-family support: a unit's, those of its
#: servicemembers; a provider's, those of the support cases assigned to it. SECURITY DEFINER:
#: it reads servicemembers and support cases whole, whose policies refer back to families.
FAMILIES_OF_MILITARY = """
CREATE FUNCTION registry_families_of_military() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT family_id FROM servicemembers WHERE unit_id = registry_reach_unit()
    UNION ALL
    SELECT family_id FROM support_cases WHERE provider_id = registry_reach_provider()
$$
"""
FUNCTIONS = ("registry_reach_unit()", "registry_families_of_military()")
FAMILIES_POLICY = (
    "registry_reaches(oblast_code, raion_code, hromada_code) "
    "OR id IN (SELECT registry_families_reached_otherwise())"
)
_OF_FAMILY = "EXISTS (SELECT FROM families WHERE families.id = {table}.family_id)"
_OF_SERVICEMEMBER = (
    "EXISTS (SELECT FROM servicemembers WHERE servicemembers.id = {table}.servicemember_id)"
)
_OF_SUPPORT_CASE = "EXISTS (SELECT FROM support_cases WHERE support_cases.id = {table}.case_id)"
POLICIES = {
    "servicemembers": "unit_id = registry_reach_unit() OR "
    + _OF_FAMILY.format(table="servicemembers"),
    "servicemember_statuses": _OF_SERVICEMEMBER.format(table="servicemember_statuses"),
    "servicemember_units": _OF_SERVICEMEMBER.format(table="servicemember_units"),
    "support_cases": "unit_id = registry_reach_unit() OR provider_id = registry_reach_provider() "
    "OR " + _OF_FAMILY.format(table="support_cases"),
    **{
        table: _OF_SUPPORT_CASE.format(table=table)
        for table in ("support_case_history", "support_case_measures", "support_case_contacts")
    },
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


def upgrade() -> None:
    op.create_table(
        "military_units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=5), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "oblast_codes",
            postgresql.ARRAY(sa.String(length=19)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_military_units")),
        sa.UniqueConstraint("number", name=op.f("uq_military_units_number")),
    )
    op.create_table(
        "support_measures",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_uk", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "statuses", postgresql.ARRAY(sa.String(length=16)), server_default="{}", nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("sort_order", sa.SmallInteger(), server_default="100", nullable=False),
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
        sa.PrimaryKeyConstraint("code", name=op.f("pk_support_measures")),
    )
    op.create_table(
        "military_unit_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("assigned_by", sa.Text(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_military_unit_providers_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["military_units.id"],
            name=op.f("fk_military_unit_providers_unit_id_military_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_military_unit_providers")),
    )
    op.create_index(
        "ix_military_unit_providers_provider_id",
        "military_unit_providers",
        ["provider_id"],
        unique=False,
    )
    op.create_index(
        "uq_military_unit_providers_standing",
        "military_unit_providers",
        ["unit_id", "provider_id"],
        unique=True,
        postgresql_where=sa.text("ended_on IS NULL"),
    )
    op.create_table(
        "servicemembers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_effective_on", sa.Date(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_servicemembers_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_servicemembers_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["military_units.id"],
            name=op.f("fk_servicemembers_unit_id_military_units"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servicemembers")),
        sa.UniqueConstraint("person_id", name=op.f("uq_servicemembers_person_id")),
    )
    op.create_index("ix_servicemembers_family_id", "servicemembers", ["family_id"], unique=False)
    op.create_index(
        "ix_servicemembers_unit_id_id", "servicemembers", ["unit_id", "id"], unique=False
    )
    op.create_table(
        "servicemember_statuses",
        sa.Column("servicemember_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["servicemember_id"],
            ["servicemembers.id"],
            name=op.f("fk_servicemember_statuses_servicemember_id_servicemembers"),
        ),
        sa.PrimaryKeyConstraint(
            "servicemember_id", "version", name=op.f("pk_servicemember_statuses")
        ),
    )
    op.create_table(
        "servicemember_units",
        sa.Column("servicemember_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("from_unit_id", sa.Uuid(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["from_unit_id"],
            ["military_units.id"],
            name=op.f("fk_servicemember_units_from_unit_id_military_units"),
        ),
        sa.ForeignKeyConstraint(
            ["servicemember_id"],
            ["servicemembers.id"],
            name=op.f("fk_servicemember_units_servicemember_id_servicemembers"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["military_units.id"],
            name=op.f("fk_servicemember_units_unit_id_military_units"),
        ),
        sa.PrimaryKeyConstraint("servicemember_id", "version", name=op.f("pk_servicemember_units")),
    )
    op.create_table(
        "support_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("servicemember_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("worker_sub", sa.Text(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Text(), nullable=True),
        sa.Column("last_contact_on", sa.Date(), nullable=True),
        sa.Column("contact_due_on", sa.Date(), nullable=True),
        sa.Column("closure_reason", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["family_id"], ["families.id"], name=op.f("fk_support_cases_family_id_families")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_support_cases_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["servicemember_id"],
            ["servicemembers.id"],
            name=op.f("fk_support_cases_servicemember_id_servicemembers"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["military_units.id"], name=op.f("fk_support_cases_unit_id_military_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_cases")),
    )
    op.create_index("ix_support_cases_family_id", "support_cases", ["family_id"], unique=False)
    op.create_index(
        "ix_support_cases_provider_id_id", "support_cases", ["provider_id", "id"], unique=False
    )
    op.create_index(
        "ix_support_cases_servicemember_id", "support_cases", ["servicemember_id"], unique=False
    )
    op.create_index("ix_support_cases_unit_id_id", "support_cases", ["unit_id", "id"], unique=False)
    op.create_index(
        "uq_support_cases_open_servicemember",
        "support_cases",
        ["servicemember_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('active', 'open', 'suspended')"),
    )
    op.create_table(
        "support_case_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("contacted_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["support_cases.id"],
            name=op.f("fk_support_case_contacts_case_id_support_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_case_contacts")),
    )
    op.create_index(
        "ix_support_case_contacts_case_id_contacted_on",
        "support_case_contacts",
        ["case_id", "contacted_on"],
        unique=False,
    )
    op.create_table(
        "support_case_history",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("servicemember_status", sa.String(length=16), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["support_cases.id"],
            name=op.f("fk_support_case_history_case_id_support_cases"),
        ),
        sa.PrimaryKeyConstraint("case_id", "version", name=op.f("pk_support_case_history")),
    )
    op.create_table(
        "support_case_measures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("measure_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="planned", nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("servicemember_status", sa.String(length=16), nullable=True),
        sa.Column("responsible", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("delivered_by", sa.Text(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["support_cases.id"],
            name=op.f("fk_support_case_measures_case_id_support_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["measure_code"],
            ["support_measures.code"],
            name=op.f("fk_support_case_measures_measure_code_support_measures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_case_measures")),
    )
    op.create_index(
        "ix_support_case_measures_case_id", "support_case_measures", ["case_id"], unique=False
    )
    measures = sa.table(
        "support_measures",
        sa.column("code", sa.String),
        sa.column("name_uk", sa.Text),
        sa.column("name_en", sa.Text),
        sa.column("statuses", postgresql.ARRAY(sa.String)),
        sa.column("sort_order", sa.SmallInteger),
        sa.column("created_by", sa.Text),
    )
    op.bulk_insert(
        measures,
        [
            {
                "code": code,
                "name_uk": name_uk,
                "name_en": name_en,
                "statuses": list(statuses),
                "sort_order": (i + 1) * 10,
                "created_by": "migration",
            }
            for i, (code, name_uk, name_en, statuses) in enumerate(SEEDED_MEASURES)
        ],
    )
    role = runtime_role()
    for table in APPEND_ONLY_TABLES:
        op.execute(f'REVOKE UPDATE ON TABLE {table} FROM "{role}"')
    _confine_personal_rows(role)


def _confine_personal_rows(role: str) -> None:
    """A ``reach`` policy on each new personal table (migration 0009's way), and families
    reached through the unit's servicemembers and the provider's support cases too. Row-level
    security is switched on by ``registry migrate`` (``REGISTRY_DB_ROW_SECURITY``)."""
    op.execute(REACH_UNIT)
    op.execute(FAMILIES_OF_MILITARY)
    for signature in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{role}"')
    op.execute("DROP POLICY reach ON families")
    op.execute(
        f'CREATE POLICY reach ON families TO "{role}" USING ({FAMILIES_POLICY} '
        "OR id IN (SELECT registry_families_of_military()))"
    )
    for table, visible in POLICIES.items():
        op.execute(f'CREATE POLICY reach ON {table} TO "{role}" USING ({visible})')


def downgrade() -> None:
    role = runtime_role()
    for table in POLICIES:
        op.execute(f"DROP POLICY reach ON {table}")
    op.execute("DROP POLICY reach ON families")
    op.execute(f'CREATE POLICY reach ON families TO "{role}" USING ({FAMILIES_POLICY})')
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
    op.drop_index("ix_support_case_measures_case_id", table_name="support_case_measures")
    op.drop_table("support_case_measures")
    op.drop_table("support_case_history")
    op.drop_index(
        "ix_support_case_contacts_case_id_contacted_on", table_name="support_case_contacts"
    )
    op.drop_table("support_case_contacts")
    op.drop_index(
        "uq_support_cases_open_servicemember",
        table_name="support_cases",
        postgresql_where=sa.text("status IN ('active', 'open', 'suspended')"),
    )
    op.drop_index("ix_support_cases_unit_id_id", table_name="support_cases")
    op.drop_index("ix_support_cases_servicemember_id", table_name="support_cases")
    op.drop_index("ix_support_cases_provider_id_id", table_name="support_cases")
    op.drop_index("ix_support_cases_family_id", table_name="support_cases")
    op.drop_table("support_cases")
    op.drop_table("servicemember_units")
    op.drop_table("servicemember_statuses")
    op.drop_index("ix_servicemembers_unit_id_id", table_name="servicemembers")
    op.drop_index("ix_servicemembers_family_id", table_name="servicemembers")
    op.drop_table("servicemembers")
    op.drop_index(
        "uq_military_unit_providers_standing",
        table_name="military_unit_providers",
        postgresql_where=sa.text("ended_on IS NULL"),
    )
    op.drop_index("ix_military_unit_providers_provider_id", table_name="military_unit_providers")
    op.drop_table("military_unit_providers")
    op.drop_table("support_measures")
    op.drop_table("military_units")
