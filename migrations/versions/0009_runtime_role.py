"""The runtime role: what the API may do in the database, and nothing more.

The migrations run as the schema's owner; the API runs as the runtime role
(``REGISTRY_DB_RUNTIME_ROLE``, default ``registry_app``), created here if missing (LOGIN, no
password: an operator sets one, or creates the role beforehand with whatever attributes the
site's authentication needs). It owns nothing and may:

- read and write (SELECT, INSERT, UPDATE) the tables the API keeps, and no DELETE, no
  TRUNCATE: nothing with personal data is deleted. ``idempotency_keys`` alone may also be
  deleted from (stored answers expire and are pruned);
- only read the reference data the migrations and ``registry migrate`` load (territories,
  the reference lists, ``alembic_version``);
- only read and append the audit tables (every ``audit_*`` table) and the history tables
  (changes noted, case transitions, visits and reviews, provider status changes, service
  record versions): no UPDATE, DELETE or TRUNCATE. The sealer stamps events with their
  block through ``audit_stamp_block``, a SECURITY DEFINER function it may execute (nobody
  else may);
- no DDL: no CREATE on the schema (revoked from PUBLIC, as PostgreSQL 15 does by default).

Tables created by later migrations (run by the same owner) get SELECT, INSERT and UPDATE by
default privileges; a later migration that makes an audit or reference table revokes what
it should not have (``tests/integration/test_least_privilege.py`` holds every table to
these rules).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import re
from collections.abc import Sequence

from alembic import context, op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Loaded by the migrations and ``registry migrate`` (as the owner); the API only reads them.
READ_ONLY_TABLES = (
    "alembic_version",
    "territories",
    "reference_imports",
    "recipient_categories",
    "hardship_factors",
    "support_criteria",
)
#: History the API writes once and never changes (besides every ``audit_*`` table).
APPEND_ONLY_TABLES = (
    "record_changes",
    "case_transitions",
    "case_visits",
    "case_reviews",
    "provider_status_changes",
    "service_record_versions",
)
#: Tables rows of which the API deletes: stored idempotent answers past their retention.
DELETABLE_TABLES = ("idempotency_keys",)
#: The sealer's one change to an event: its block. Made by part A's migration 0008 as well;
#: created here only where it is missing.
STAMP_FUNCTION = "audit_stamp_block(bigint, bigint[])"


def runtime_role() -> str:
    """``registry migrate`` hands the role's name in; run by hand, it comes from the
    settings (``REGISTRY_DB_RUNTIME_ROLE``). A plain identifier either way: it is written
    into the statements below."""
    role = context.config.attributes.get("runtime_role")
    if role is None:
        from registry.settings import get_settings

        role = get_settings().db_runtime_role
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(role)):
        raise ValueError(f"the runtime role {role!r} is not a plain lower-case identifier")
    return str(role)


def upgrade() -> None:
    role = runtime_role()
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" LOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of the cluster made it at the same moment
        END
        $$
        """
    )
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO "{role}"', current_database());
        END
        $$
        """
    )
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    _grant_tables(role)
    op.execute(
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO "{role}"'
    )
    _grant_stamping(role)
    _confine_personal_rows(role)


#: Whether the transaction's caller reaches a row by its territory codes (``db.reach``):
#: every row nationally, or those of the oblast, raion or hromada it is confined to. Unset
#: (a transaction that set no reach), nothing.
REACHES = """
CREATE FUNCTION registry_reaches(oblast text, raion text, hromada text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT current_setting('registry.national', true) = 'on'
        OR current_setting('registry.territory', true) IN (oblast, raion, hromada)
$$
"""
#: The provider the transaction's caller acts for, if any.
REACH_PROVIDER = """
CREATE FUNCTION registry_reach_provider() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('registry.provider', true), '')::uuid
$$
"""
#: The families the caller reaches other than by their address: a provider's, those linked
#: to it (also after the link ended: it may report late) or referred to it by a case; a
#: territory's, those with a case there (a case transferred in before its family moved).
#: SECURITY DEFINER: it reads the links, cases and referrals whole, whose own policies
#: would otherwise refer back to families.
FAMILIES_REACHED_OTHERWISE = """
CREATE FUNCTION registry_families_reached_otherwise() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT family_id FROM family_provider_access WHERE provider_id = registry_reach_provider()
    UNION ALL
    SELECT cases.family_id FROM referrals JOIN cases ON cases.id = referrals.case_id
    WHERE referrals.provider_id = registry_reach_provider()
    UNION ALL
    SELECT family_id FROM cases
    WHERE current_setting('registry.territory', true) IN (oblast_code, raion_code, hromada_code)
$$
"""
#: The cases a provider reaches: those referred to it (a pending referral's too: it reads the
#: case to accept it). SECURITY DEFINER, as above: referrals' policy refers to cases.
CASES_REACHED_OTHERWISE = """
CREATE FUNCTION registry_cases_reached_otherwise() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT case_id FROM referrals WHERE provider_id = registry_reach_provider()
$$
"""
_OF_CASE = "EXISTS (SELECT FROM cases WHERE cases.id = {table}.case_id)"
#: Each personal table's policy: the rows the runtime role may see, insert and change. A
#: part of a record is reached through the record (a member through its family, a visit
#: through its case), whose own policy applies inside.
POLICIES = {
    "families": "registry_reaches(oblast_code, raion_code, hromada_code) "
    "OR id IN (SELECT registry_families_reached_otherwise())",
    "persons": "EXISTS (SELECT FROM families WHERE families.id = persons.family_id)",
    "family_provider_access": "provider_id = registry_reach_provider() "
    "OR EXISTS (SELECT FROM families WHERE families.id = family_provider_access.family_id)",
    "cases": "registry_reaches(oblast_code, raion_code, hromada_code) "
    "OR id IN (SELECT registry_cases_reached_otherwise())",
    **{
        table: _OF_CASE.format(table=table)
        for table in (
            "case_transitions",
            "case_assessments",
            "case_plans",
            "case_measures",
            "case_visits",
            "case_reviews",
        )
    },
    "referrals": "provider_id = registry_reach_provider() OR " + _OF_CASE.format(table="referrals"),
    "service_records": "registry_reaches(oblast_code, raion_code, hromada_code) "
    "OR provider_id = registry_reach_provider()",
    "service_record_versions": "EXISTS (SELECT FROM service_records "
    "WHERE service_records.id = service_record_versions.service_record_id)",
}


FUNCTIONS = (
    "registry_reaches(text, text, text)",
    "registry_reach_provider()",
    "registry_families_reached_otherwise()",
    "registry_cases_reached_otherwise()",
)


def _confine_personal_rows(role: str) -> None:
    """A ``reach`` policy on each personal table, for the runtime role only (the owner, who
    migrates and runs the CLI's jobs, is not held to it). Row-level security itself is
    switched on or off by ``registry migrate`` (``REGISTRY_DB_ROW_SECURITY``)."""
    for function in (
        REACHES,
        REACH_PROVIDER,
        FAMILIES_REACHED_OTHERWISE,
        CASES_REACHED_OTHERWISE,
    ):
        op.execute(function)
    for signature in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{role}"')
    for table, visible in POLICIES.items():
        op.execute(f'CREATE POLICY reach ON {table} TO "{role}" USING ({visible})')


def _grant_tables(role: str) -> None:
    """Each table of the schema by its kind: audit (append-only), reference (read-only),
    the rest read-write; DELETE only where named."""
    read_only, append_only, deletable = (
        ", ".join(f"'{name}'" for name in names)
        for names in (READ_ONLY_TABLES, APPEND_ONLY_TABLES, DELETABLE_TABLES)
    )
    op.execute(
        f"""
        DO $$
        DECLARE
            name text;
        BEGIN
            FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                EXECUTE format('REVOKE ALL ON TABLE %I FROM "{role}"', name);
                IF name LIKE 'audit\\_%' OR name IN ({append_only}) THEN
                    EXECUTE format('GRANT SELECT, INSERT ON TABLE %I TO "{role}"', name);
                ELSIF name IN ({read_only}) THEN
                    EXECUTE format('GRANT SELECT ON TABLE %I TO "{role}"', name);
                ELSIF name IN ({deletable}) THEN
                    EXECUTE format(
                        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO "{role}"', name
                    );
                ELSE
                    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON TABLE %I TO "{role}"', name);
                END IF;
            END LOOP;
        END
        $$
        """  # noqa: S608 (a checked identifier and constants, no input)
    )


def _grant_stamping(role: str) -> None:
    """The sealer stamps events with their block only through migration 0008's SECURITY
    DEFINER function, and takes ids from the audit sequences: no UPDATE on audit tables."""
    op.execute(f"REVOKE ALL ON FUNCTION {STAMP_FUNCTION} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {STAMP_FUNCTION} TO "{role}"')
    # The audit trigger numbers each event from its own sequence (with the writer's rights),
    # and the sealer takes a block's id before it signs the block.
    op.execute(f'GRANT USAGE, SELECT ON SEQUENCE audit_event_ids TO "{role}"')
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO \"{role}\"', "
        "pg_get_serial_sequence('audit_blocks', 'id')); END $$"
    )


def downgrade() -> None:
    role = runtime_role()
    for table in POLICIES:
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY reach ON {table}")
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
    op.execute(f'REVOKE EXECUTE ON FUNCTION {STAMP_FUNCTION} FROM "{role}"')
    op.execute(f'REVOKE ALL ON SEQUENCE audit_event_ids FROM "{role}"')
    op.execute(
        f"DO $$ BEGIN EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM \"{role}\"', "
        "pg_get_serial_sequence('audit_blocks', 'id')); END $$"
    )
    op.execute(
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE ON TABLES FROM "{role}"'
    )
    op.execute(
        f"""
        DO $$
        DECLARE
            name text;
        BEGIN
            FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                EXECUTE format('REVOKE ALL ON TABLE %I FROM "{role}"', name);
            END LOOP;
            EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM "{role}"', current_database());
        END
        $$
        """  # noqa: S608 (a checked identifier and constants, no input)
    )
    op.execute(f'REVOKE USAGE ON SCHEMA public FROM "{role}"')
    # The role itself stays: it is the cluster's, and other databases may grant it theirs.
