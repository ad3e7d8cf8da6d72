"""The change feed: ``change_events``, appended by a trigger on every tracked resource table in
the writing transaction (``registry.db.change_tracking``). The runtime role reads the feed and
never writes it: only the triggers' SECURITY DEFINER functions do.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from registry.db.change_tracking import Tracked, tracking_statements, untracking_statements

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FAMILY = "JOIN families f ON f.id = n.family_id"
_CASE = "JOIN cases c ON c.id = n.case_id"
_PROGRAMME = "n.programme_id::text"
#: Every resource of the API, as its table's rows say where it belongs.
TRACKED = (
    Tracked("families", "family"),
    Tracked("persons", "member", parent="n.family_id::text", territory="f", joins=_FAMILY),
    Tracked("providers", "provider", provider="n.id"),
    Tracked("services", "service", key="code", resource_id="n.code", territory=None),
    Tracked("service_records", "service_record", provider="n.provider_id"),
    Tracked("cases", "case"),
    Tracked("referrals", "referral", territory="c", joins=_CASE, provider="n.provider_id"),
    Tracked("military_units", "military_unit", territory=None, unit="n.id"),
    Tracked("servicemembers", "servicemember", territory="f", joins=_FAMILY, unit="n.unit_id"),
    Tracked(
        "support_cases",
        "support_case",
        territory="f",
        joins=_FAMILY,
        provider="n.provider_id",
        unit="n.unit_id",
    ),
    Tracked(
        "support_measures", "support_measure", key="code", resource_id="n.code", territory=None
    ),
    Tracked("programmes", "programme", territory=None),
    Tracked("programme_enrolments", "programme_enrolment", parent=_PROGRAMME),
    Tracked(
        "programme_distributions",
        "programme_distribution",
        parent=_PROGRAMME,
        versioned=False,
        provider="n.provider_id",
    ),
    # A reversal is a change of its distribution.
    Tracked(
        "programme_reversals",
        "programme_distribution",
        resource_id="n.distribution_id::text",
        parent="d.programme_id::text",
        versioned=False,
        territory="d",
        joins="JOIN programme_distributions d ON d.id = n.distribution_id",
        provider="d.provider_id",
        action="reversed",
    ),
    Tracked("aid_receipts", "aid_receipt", versioned=False),
    Tracked("aid_items", "aid_item", versioned=False, territory=None),
    Tracked(
        "friendly_communities",
        "friendly_community",
        key="hromada_code",
        resource_id="n.hromada_code",
    ),
)


#: Numbers the committed events not numbered yet, after the last number given, in the order
#: they were written; one sequencer at a time (a caller that finds another at work returns:
#: what that one numbers is visible once it commits). Only committed rows are visible to it,
#: so an event that commits later gets a later number: a reader that follows the numbers
#: never skips one. The function is the only writer of ``sequence`` (the runtime role may
#: not UPDATE the feed).
SEQUENCER = """
CREATE FUNCTION change_feed_sequence() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    numbered bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('registry.change_feed.sequencer')) THEN
        RETURN 0;
    END IF;
    WITH last AS (
        SELECT coalesce(max(sequence), 0) AS number FROM change_events
    ), waiting AS (
        SELECT position, row_number() OVER (ORDER BY position) AS offset_
        FROM change_events WHERE sequence IS NULL
    )
    UPDATE change_events e SET sequence = last.number + waiting.offset_
    FROM waiting, last WHERE e.position = waiting.position;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    RETURN numbered;
END
$$
"""


def runtime_role() -> str:
    """As in migration 0009: handed in by ``registry migrate``, else from the settings."""
    role = context.config.attributes.get("runtime_role")
    if role is None:
        from registry.settings import get_settings

        role = get_settings().db_runtime_role
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(role)):
        raise ValueError(f"the runtime role {role!r} is not a plain lower-case identifier")
    return str(role)


def _code(name: str) -> sa.Column:
    return sa.Column(name, sa.String(length=19), nullable=True)


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        _code("oblast_code"),
        _code("raion_code"),
        _code("hromada_code"),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("unit_id", sa.Uuid(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index("ix_change_events_sequence", "change_events", ["sequence"], unique=True)
    op.create_index(
        "ix_change_events_unsequenced",
        "change_events",
        ["position"],
        postgresql_where=sa.text("sequence IS NULL"),
    )
    for name, column in (("oblast", "oblast_code"), ("hromada", "hromada_code")):
        op.create_index(f"ix_change_events_{name}", "change_events", [column, "sequence"])
    for name, column in (("provider", "provider_id"), ("unit", "unit_id")):
        op.create_index(
            f"ix_change_events_{name}",
            "change_events",
            [column, "sequence"],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
    role = runtime_role()
    op.execute(f'REVOKE ALL ON TABLE change_events FROM "{role}"')
    op.execute(f'GRANT SELECT ON TABLE change_events TO "{role}"')
    op.execute(SEQUENCER)
    op.execute("REVOKE ALL ON FUNCTION change_feed_sequence() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION change_feed_sequence() TO "{role}"')
    for tracked in TRACKED:
        for statement in tracking_statements(tracked):
            op.execute(statement)


def downgrade() -> None:
    for tracked in TRACKED:
        for statement in untracking_statements(tracked):
            op.execute(statement)
    op.execute("DROP FUNCTION change_feed_sequence()")
    op.drop_table("change_events")
