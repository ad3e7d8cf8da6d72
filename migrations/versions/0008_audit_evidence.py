"""The audit trail as evidence: the database numbers and times every event, the sealer never
seals past an event that may still commit, block heads are signed, and the sealer stamps
events through one narrow function.

- ``audit_events.id`` and ``occurred_at`` are assigned by a BEFORE INSERT trigger
  (``audit_event_assign``): the id from the sequence ``audit_event_ids``, the time from
  ``clock_timestamp()`` right after it, so that id order is time order (to within the moment
  between the two). An INSERT that gives its own id, time or block is refused. The identity
  and the ``now()`` default go: a value the caller could override is not evidence.
  ``audit_event_ids`` starts after the highest existing id; its start value is where the
  database's numbering begins (``verify`` checks time order from there on, and every signed
  head names it, so it cannot be moved unnoticed).
- The fence: before it takes its first id, a transaction holds a shared advisory lock (the
  two-key form, all of it the audit's in this database) keyed by the last id handed out, so
  every id it takes is above its key. ``audit_seal_horizon()`` returns the highest id below
  which no running transaction can still commit an event: the least of the last id handed
  out and every held key. The sealer seals only up to it, so blocks follow id order exactly
  and an event found below a sealed block's last id was put there by hand.
- ``audit_blocks.signature`` / ``key_id``: the Ed25519 signature of the block's head by the
  application's key (the database never holds the private key). Blocks sealed before this
  migration have none; ``verify`` reports them as unsigned legacy blocks.
- ``audit_stamp_block(block, event_ids)``: SECURITY DEFINER, owned by the migration's role,
  so that a runtime role needs no UPDATE on the audit tables. It stamps the newest block's
  events, all of them at once, and nothing else (the append-only trigger still allows only
  the stamping of an unsealed event).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TABLE locks writers out first, so max(id) below is final.
    op.execute("ALTER TABLE audit_events ALTER COLUMN id DROP IDENTITY")
    op.execute("ALTER TABLE audit_events ALTER COLUMN occurred_at DROP DEFAULT")
    op.execute(
        """
        DO $$
        DECLARE
            first_id bigint := COALESCE((SELECT max(id) FROM audit_events), 0) + 1;
        BEGIN
            EXECUTE format('CREATE SEQUENCE audit_event_ids AS bigint START WITH %s MINVALUE %s',
                           first_id, first_id);
        END
        $$
        """
    )
    op.execute("ALTER SEQUENCE audit_event_ids OWNED BY audit_events.id")

    op.execute(
        """
        CREATE FUNCTION audit_event_assign() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            fence bigint;
        BEGIN
            IF NEW.id IS NOT NULL OR NEW.occurred_at IS NOT NULL OR NEW.block_id IS NOT NULL THEN
                RAISE EXCEPTION 'audit_events: the database assigns id and occurred_at, '
                                'and an event is written unsealed'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            -- The fence, once per transaction (the setting and the lock both end with it, and
            -- both go back if a savepoint holding them rolls back).
            IF current_setting('registry.audit_fence', true) IS DISTINCT FROM 'held' THEN
                fence := COALESCE(pg_sequence_last_value('audit_event_ids'), 0);
                PERFORM pg_advisory_xact_lock_shared((fence >> 31)::integer,
                                                     (fence & 2147483647)::integer);
                PERFORM set_config('registry.audit_fence', 'held', true);
            END IF;
            NEW.id := nextval('audit_event_ids');
            NEW.occurred_at := clock_timestamp();
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_assign BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_assign()"
    )
    # Read the keys from pg_locks after the last id: a transaction that locks after that read
    # takes its ids after it too. (The sealer's next statement sees every transaction that
    # let go of its lock before this read as committed or rolled back.)
    op.execute(
        """
        CREATE FUNCTION audit_seal_horizon() RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            handed_out bigint := COALESCE(pg_sequence_last_value('audit_event_ids'), 0);
            fenced bigint;
        BEGIN
            SELECT min((classid::bigint << 31) | objid::bigint) INTO fenced
              FROM pg_locks
             WHERE locktype = 'advisory' AND objsubid = 2 AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database());
            RETURN LEAST(handed_out, fenced);
        END
        $$
        """
    )

    op.add_column("audit_blocks", sa.Column("signature", sa.LargeBinary(), nullable=True))
    op.add_column("audit_blocks", sa.Column("key_id", sa.Text(), nullable=True))
    op.create_check_constraint(
        "ck_audit_blocks_signed_with_a_key",
        "audit_blocks",
        "(signature IS NULL) = (key_id IS NULL)",
    )

    op.execute(
        """
        CREATE FUNCTION audit_stamp_block(block bigint, event_ids bigint[]) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER AS $$
        DECLARE
            newest audit_blocks%ROWTYPE;
            stamped integer;
        BEGIN
            SELECT * INTO newest FROM audit_blocks ORDER BY id DESC LIMIT 1;
            IF newest.id IS DISTINCT FROM block
               OR EXISTS (SELECT 1 FROM audit_events WHERE block_id = block) THEN
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
    )
    # A SECURITY DEFINER function resolves names only where the migration put the tables.
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
    op.execute("REVOKE ALL ON FUNCTION audit_stamp_block(bigint, bigint[]) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION audit_stamp_block(bigint, bigint[])")
    op.drop_constraint("ck_audit_blocks_signed_with_a_key", "audit_blocks", type_="check")
    op.drop_column("audit_blocks", "key_id")
    op.drop_column("audit_blocks", "signature")
    op.execute("DROP FUNCTION audit_seal_horizon()")
    op.execute("DROP TRIGGER audit_events_assign ON audit_events")
    op.execute("DROP FUNCTION audit_event_assign()")
    op.execute(
        """
        DO $$
        DECLARE
            next_id bigint := COALESCE((SELECT max(id) FROM audit_events), 0) + 1;
        BEGIN
            DROP SEQUENCE audit_event_ids;
            ALTER TABLE audit_events ALTER COLUMN occurred_at SET DEFAULT now();
            EXECUTE format('ALTER TABLE audit_events ALTER COLUMN id '
                           'ADD GENERATED BY DEFAULT AS IDENTITY (START WITH %s)', next_id);
        END
        $$
        """
    )
