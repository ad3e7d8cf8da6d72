"""The families' counts of the families report (``registry.domain.reports.tables``): kept up
to date by a statement trigger on ``families`` that appends each statement's net change, and
folded into the counts by ``report_family_counts_fold()`` when a report is read. The runtime
role reads both tables and writes neither: only the SECURITY DEFINER functions do.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0019"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What one family counts under: each distinct category and factor, and '' once per kind it
#: has any of (the row's total).
CODES = """
CREATE FUNCTION report_family_codes(categories text[], factors text[])
RETURNS TABLE (kind text, code text)
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT 'recipient_category', c FROM (SELECT DISTINCT unnest(categories) AS c) AS cs
    UNION ALL SELECT 'recipient_category', '' WHERE cardinality(categories) > 0
    UNION ALL SELECT 'hardship_factor', f FROM (SELECT DISTINCT unnest(factors) AS f) AS fs
    UNION ALL SELECT 'hardship_factor', '' WHERE cardinality(factors) > 0
$$
"""

#: The net change of one statement, per hromada and code (nothing for a statement that
#: changed nothing counted, such as an address): the old rows taken away, the new added.
TRACK = """
CREATE FUNCTION report_family_counts_track() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_family_count_changes
            (hromada_code, kind, code, oblast_code, raion_code, families)
        SELECT n.hromada_code, c.kind, c.code, max(n.oblast_code), max(n.raion_code), count(*)
        FROM new_rows n CROSS JOIN LATERAL report_family_codes(n.categories, n.factors) c
        WHERE n.status = 'active'
        GROUP BY n.hromada_code, c.kind, c.code;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_family_count_changes
            (hromada_code, kind, code, oblast_code, raion_code, families)
        SELECT o.hromada_code, c.kind, c.code, max(o.oblast_code), max(o.raion_code), -count(*)
        FROM old_rows o CROSS JOIN LATERAL report_family_codes(o.categories, o.factors) c
        WHERE o.status = 'active'
        GROUP BY o.hromada_code, c.kind, c.code;
    ELSE
        INSERT INTO report_family_count_changes
            (hromada_code, kind, code, oblast_code, raion_code, families)
        SELECT r.hromada_code, c.kind, c.code, max(r.oblast_code), max(r.raion_code),
               sum(r.sign)
        FROM (
            SELECT -1 AS sign, * FROM old_rows WHERE status = 'active'
            UNION ALL
            SELECT 1, * FROM new_rows WHERE status = 'active'
        ) r CROSS JOIN LATERAL report_family_codes(r.categories, r.factors) c
        GROUP BY r.hromada_code, c.kind, c.code
        HAVING sum(r.sign) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""

#: Folds the committed changes into the counts, one folder at a time (a caller that finds
#: another at work returns 0 and reads the counts plus the changes left). A change still
#: being written by an open transaction is not visible, so it is left for a later fold.
FOLD = """
CREATE FUNCTION report_family_counts_fold() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('registry.reports.family_counts')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM report_family_count_changes RETURNING *
    ), summed AS (
        SELECT hromada_code, kind, code, max(oblast_code) AS oblast_code,
               max(raion_code) AS raion_code, sum(families) AS families
        FROM moved GROUP BY hromada_code, kind, code
    )
    INSERT INTO report_family_counts AS counted
        (hromada_code, kind, code, oblast_code, raion_code, families)
    SELECT hromada_code, kind, code, oblast_code, raion_code, families FROM summed
    ON CONFLICT (hromada_code, kind, code) DO UPDATE
        SET families = counted.families + excluded.families,
            oblast_code = excluded.oblast_code,
            raion_code = excluded.raion_code;
    GET DIAGNOSTICS folded = ROW_COUNT;
    RETURN folded;
END
$$
"""

#: The counts of the families already registered.
BACKFILL = """
INSERT INTO report_family_counts (hromada_code, kind, code, oblast_code, raion_code, families)
SELECT f.hromada_code, c.kind, c.code, max(f.oblast_code), max(f.raion_code), count(*)
FROM families f CROSS JOIN LATERAL report_family_codes(f.categories, f.factors) c
WHERE f.status = 'active'
GROUP BY f.hromada_code, c.kind, c.code
"""

_TRIGGERS = (
    ("insert", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    ("update", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("delete", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
)


def runtime_role() -> str:
    """As in migration 0009: handed in by ``registry migrate``, else from the settings."""
    role = context.config.attributes.get("runtime_role")
    if role is None:
        from registry.settings import get_settings

        role = get_settings().db_runtime_role
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", str(role)):
        raise ValueError(f"the runtime role {role!r} is not a plain lower-case identifier")
    return str(role)


def _columns() -> list[sa.Column]:
    return [
        sa.Column("hromada_code", sa.String(length=19), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("oblast_code", sa.String(length=19), nullable=False),
        sa.Column("raion_code", sa.String(length=19), nullable=True),
        sa.Column("families", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_family_counts",
        *_columns(),
        sa.PrimaryKeyConstraint("hromada_code", "kind", "code"),
    )
    op.create_table(
        "report_family_count_changes",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        *_columns(),
    )
    role = runtime_role()
    for table in ("report_family_counts", "report_family_count_changes"):
        op.execute(f'REVOKE ALL ON TABLE {table} FROM "{role}"')
        op.execute(f'GRANT SELECT ON TABLE {table} TO "{role}"')
    op.execute(CODES)
    op.execute(TRACK)
    op.execute(FOLD)
    op.execute("REVOKE ALL ON FUNCTION report_family_counts_track() FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION report_family_counts_fold() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION report_family_counts_fold() TO "{role}"')
    op.execute(BACKFILL)
    for name, event, transition in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER report_family_counts_{name} AFTER {event} ON families "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION report_family_counts_track()"
        )


def downgrade() -> None:
    for name, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER report_family_counts_{name} ON families")
    op.execute("DROP FUNCTION report_family_counts_fold()")
    op.execute("DROP FUNCTION report_family_counts_track()")
    op.execute("DROP FUNCTION report_family_codes(text[], text[])")
    op.drop_table("report_family_count_changes")
    op.drop_table("report_family_counts")
