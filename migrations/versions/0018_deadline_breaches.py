"""Deadline breaches: the deadlines of family cases (visit, needs assessment, accompaniment's
duration) and of support cases (contact with the family) that passed, each recorded once by
the worker (``registry.worker.deadlines``) and announced by the change feed as an event of
its case, whose ``action`` names the deadline.

The breach tables are append-only for the runtime role (the worker runs as it): it records a
breach and never changes one. They hold no personal data (a case's id, a deadline, a day), so
they get no row-level security policy; the events they make are confined as their case's.

``change_events.action`` widens to 32 characters for the deadlines' names
(``assessment_overdue``); widening a varchar rewrites nothing.

The feed's sequencer numbers in batches within a time budget (``SEQUENCER``): numbering all
waiting events in one UPDATE took 13.9 s for a backlog of 200 000 (a bulk write; the bench's
own generator leaves 120 000 at 20k families), longer than the API's statement timeout, so
every read was cancelled and rolled the numbering back, and the feed never moved again.

``change_events`` gets an index on ``(raion_code, sequence)``: an integration client confined
to a territory is matched on its oblast, raion or hromada, and with no index for the raion
the clause was a scan of the whole feed on every poll (467 ms at 1.5 M events on the bench,
growing with the feed), however few events the territory had.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from registry.db.change_tracking import Tracked, tracking_statements, untracking_statements

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A breach is an event of its case: the case's place, provider and unit, at its version.
TRACKED = (
    Tracked(
        "case_deadline_breaches",
        "case",
        resource_id="n.case_id::text",
        versioned=False,
        territory="c",
        joins="JOIN cases c ON c.id = n.case_id",
        action_of="n.deadline",
        version="c.version",
    ),
    Tracked(
        "support_case_deadline_breaches",
        "support_case",
        resource_id="n.case_id::text",
        versioned=False,
        territory="f",
        joins="JOIN support_cases s ON s.id = n.case_id JOIN families f ON f.id = s.family_id",
        provider="s.provider_id",
        unit="s.unit_id",
        action_of="n.deadline",
        version="s.version",
    ),
)


#: Numbers the committed events not numbered yet, oldest written first, in batches of 1 000,
#: until none is left or ``budget`` has passed: a read pays a bounded time, and a backlog of
#: any size is numbered over successive reads. Otherwise as migration 0015's: one sequencer
#: at a time, only committed events, each numbered after the last number given.
SEQUENCER = """
CREATE FUNCTION change_feed_sequence(budget interval DEFAULT interval '200 milliseconds')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    numbered bigint := 0;
    batch bigint;
    started timestamptz := clock_timestamp();
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('registry.change_feed.sequencer')) THEN
        RETURN 0;
    END IF;
    LOOP
        WITH last AS (
            SELECT coalesce(max(sequence), 0) AS number FROM change_events
        ), waiting AS (
            SELECT position, row_number() OVER (ORDER BY position) AS offset_
            FROM (
                SELECT position FROM change_events
                WHERE sequence IS NULL ORDER BY position LIMIT 1000
            ) oldest
        )
        UPDATE change_events e SET sequence = last.number + waiting.offset_
        FROM waiting, last WHERE e.position = waiting.position;
        GET DIAGNOSTICS batch = ROW_COUNT;
        numbered := numbered + batch;
        EXIT WHEN batch < 1000 OR clock_timestamp() - started >= budget;
    END LOOP;
    RETURN numbered;
END
$$
"""


#: Migration 0015's, for the downgrade.
FIRST_SEQUENCER = """
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


def _breaches(table: str, cases: str) -> None:
    op.create_table(
        table,
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey(f"{cases}.id"), primary_key=True),
        sa.Column("deadline", sa.String(length=24), primary_key=True),
        sa.Column("due_on", sa.Date(), primary_key=True),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )


def upgrade() -> None:
    op.alter_column(
        "change_events",
        "action",
        type_=sa.String(length=32),
        existing_type=sa.String(length=16),
        existing_nullable=False,
    )
    _breaches("case_deadline_breaches", "cases")
    _breaches("support_case_deadline_breaches", "support_cases")
    role = runtime_role()
    op.execute("DROP FUNCTION change_feed_sequence()")
    op.execute(SEQUENCER)
    op.execute("REVOKE ALL ON FUNCTION change_feed_sequence(interval) FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION change_feed_sequence(interval) TO "{role}"')
    for tracked in TRACKED:
        op.execute(f'REVOKE UPDATE ON TABLE {tracked.table} FROM "{role}"')
        for statement in tracking_statements(tracked):
            op.execute(statement)
    op.create_index("ix_change_events_raion", "change_events", ["raion_code", "sequence"])
    # The deadline filters' and the worker's scans (the visit's index is migration 0004's).
    op.create_index(
        "ix_cases_open_assessment_due_on",
        "cases",
        ["assessment_due_on"],
        postgresql_where=sa.text("status IN ('referred', 'assessment')"),
    )
    op.create_index(
        "ix_cases_open_accompaniment_until",
        "cases",
        ["accompaniment_until"],
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_index(
        "ix_support_cases_contacted_contact_due_on",
        "support_cases",
        ["contact_due_on"],
        postgresql_where=sa.text("status IN ('active', 'open')"),
    )


def downgrade() -> None:
    op.drop_index("ix_support_cases_contacted_contact_due_on", table_name="support_cases")
    op.drop_index("ix_change_events_raion", table_name="change_events")
    op.drop_index("ix_cases_open_accompaniment_until", table_name="cases")
    op.drop_index("ix_cases_open_assessment_due_on", table_name="cases")
    for tracked in TRACKED:
        for statement in untracking_statements(tracked):
            op.execute(statement)
        op.drop_table(tracked.table)
    op.execute("DROP FUNCTION change_feed_sequence(interval)")
    op.execute(FIRST_SEQUENCER)
    op.execute("REVOKE ALL ON FUNCTION change_feed_sequence() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION change_feed_sequence() TO "{runtime_role()}"')
    op.execute("DELETE FROM change_events WHERE length(action) > 16")
    op.alter_column(
        "change_events",
        "action",
        type_=sa.String(length=16),
        existing_type=sa.String(length=32),
        existing_nullable=False,
    )
