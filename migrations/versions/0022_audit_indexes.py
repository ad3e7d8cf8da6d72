"""The audit insert's cost on reads (issue 18): the indexes of ``audit_events`` are the ones its
queries use, and no more. Every read of personal data writes an event and every event is
stamped with its block once, an UPDATE that writes a new version of the row into each index.

- ``ix_audit_events_block_id`` goes. Its readers were ``verify`` (a block's events) and
  ``audit_stamp_block`` (is the block stamped already?); both now read the block's id range
  (``id BETWEEN first_event_id AND last_event_id AND block_id = …``) by the primary key: the
  sealer takes a block's events in id order, so they lie in that range, and ``verify``
  checks that every stamped event lies in its block's range.
- ``ix_audit_events_occurred_at`` becomes a BRIN index (``autosummarize``): ids and times are
  assigned together by the database, so times follow the table's order and a BRIN index of a
  few pages narrows an auditor's ``since``/``until`` as the btree did, at almost no cost per
  insert.
- ``resource_ids`` is sampled with a statistics target of 1000 (not 100): at 100 the sample
  holds too few of a record's ids to know any of them as common, so the planner takes the
  selectivity of ``@>`` as 0.5 % (15 000 of 3 M events, where a family has tens) and answers
  the auditor's "events of this record" by walking the primary key in id order until it
  has a page (a second at 3 M events) instead of reading the GIN index (a millisecond).
- Kept: the primary key (keyset pages, the sealer's and ``verify``'s ranges), ``(actor, id)``
  (the auditor's filter by actor, in id order), the GIN index of ``resource_ids`` (by a
  record's id) and the partial index of unsealed events (the sealer's next block: it holds
  only the unsealed tail, and the stamp adds nothing to it).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``audit_stamp_block`` of migration 0008, with its test for a stamped block given as
#: ``{stamped}``: only its reading of ``audit_events`` changes.
STAMP_FUNCTION = """
    CREATE OR REPLACE FUNCTION audit_stamp_block(block bigint, event_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE
        newest audit_blocks%ROWTYPE;
        stamped integer;
    BEGIN
        SELECT * INTO newest FROM audit_blocks ORDER BY id DESC LIMIT 1;
        IF newest.id IS DISTINCT FROM block
           OR EXISTS (SELECT 1 FROM audit_events WHERE {stamped}) THEN
            RAISE EXCEPTION 'audit_stamp_block: only the newest block is stamped, once'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE audit_events SET block_id = block
         WHERE id = ANY(event_ids) AND block_id IS NULL
           AND id BETWEEN newest.first_event_id AND newest.last_event_id;
        GET DIAGNOSTICS stamped = ROW_COUNT;
        IF stamped <> newest.event_count THEN
            RAISE EXCEPTION 'audit_stamp_block: block % holds % events, % given unsealed',
                block, newest.event_count, stamped
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN stamped;
    END
    $$
"""
#: A block's events are stamped only within its range (above), so the range is where to look.
STAMPED_IN_RANGE = "id BETWEEN newest.first_event_id AND newest.last_event_id AND block_id = block"
STAMPED_ANYWHERE = "block_id = block"


def upgrade() -> None:
    op.drop_index("ix_audit_events_block_id", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.create_index(
        "ix_audit_events_occurred_at",
        "audit_events",
        ["occurred_at"],
        postgresql_using="brin",
        postgresql_with={"autosummarize": "on"},
    )
    _stamp_function(STAMPED_IN_RANGE)
    op.execute("ALTER TABLE audit_events ALTER COLUMN resource_ids SET STATISTICS 1000")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_events ALTER COLUMN resource_ids SET STATISTICS -1")
    _stamp_function(STAMPED_ANYWHERE)
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    op.create_index("ix_audit_events_block_id", "audit_events", ["block_id"])


def _stamp_function(stamped: str) -> None:
    op.execute(STAMP_FUNCTION.format(stamped=stamped))
    # CREATE OR REPLACE keeps the owner and the grants, not the settings: the search path
    # again, as migration 0008 set it.
    op.execute(
        """
        DO $$
        BEGIN
            EXECUTE format('ALTER FUNCTION audit_stamp_block(bigint, bigint[]) '
                           'SET search_path = pg_catalog, %I', current_schema());
        END
        $$
        """
    )
