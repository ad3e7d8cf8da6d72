"""The counts the families and service-records reports read
(``registry.domain.reports.tables``): kept up to date by a statement trigger on each counted
table that appends each statement's net change, and folded into the counts by
``report_counts_fold()`` when a report is read. The runtime role reads both tables and writes
neither: only the SECURITY DEFINER functions do.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: What one family counts under: each distinct category and factor, and '' once per kind it
#: has any of (the row's total).
FAMILY_CODES = """
CREATE FUNCTION report_family_codes(categories text[], factors text[])
RETURNS TABLE (kind text, code text)
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT 'recipient_category', c FROM (SELECT DISTINCT unnest(categories) AS c) AS cs
    UNION ALL SELECT 'recipient_category', '' WHERE cardinality(categories) > 0
    UNION ALL SELECT 'hardship_factor', f FROM (SELECT DISTINCT unnest(factors) AS f) AS fs
    UNION ALL SELECT 'hardship_factor', '' WHERE cardinality(factors) > 0
$$
"""


#: Per counted table: its subject, what its rows count under (a FROM-less select of
#: ``kind, code`` over the row ``r``), and which rows count.
COUNTED = {
    "families": (
        "families",
        "SELECT c.kind, c.code FROM report_family_codes(r.categories, r.factors) c",
        "status = 'active'",
    ),
    "service_records": (
        "service_records",
        "SELECT to_char(r.delivered_on, 'YYYY-MM'), r.service_code",
        "status = 'active'",
    ),
}


def _track(table: str) -> str:
    """The trigger function of ``table``: the net change of one statement, per hromada and
    code (nothing for a statement that changed nothing counted, such as an address): the
    old rows taken away, the new added."""
    subject, codes, counts = COUNTED[table]
    return f"""
CREATE FUNCTION report_counts_track_{table}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_count_changes
            (subject, hromada_code, kind, code, oblast_code, raion_code, counted)
        SELECT '{subject}', r.hromada_code, c.kind, c.code, max(r.oblast_code),
               max(r.raion_code), count(*)
        FROM new_rows r CROSS JOIN LATERAL ({codes}) AS c (kind, code)
        WHERE r.{counts}
        GROUP BY r.hromada_code, c.kind, c.code;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO report_count_changes
            (subject, hromada_code, kind, code, oblast_code, raion_code, counted)
        SELECT '{subject}', r.hromada_code, c.kind, c.code, max(r.oblast_code),
               max(r.raion_code), -count(*)
        FROM old_rows r CROSS JOIN LATERAL ({codes}) AS c (kind, code)
        WHERE r.{counts}
        GROUP BY r.hromada_code, c.kind, c.code;
    ELSE
        INSERT INTO report_count_changes
            (subject, hromada_code, kind, code, oblast_code, raion_code, counted)
        SELECT '{subject}', r.hromada_code, c.kind, c.code, max(r.oblast_code),
               max(r.raion_code), sum(r.sign)
        FROM (
            SELECT -1 AS sign, * FROM old_rows WHERE {counts}
            UNION ALL
            SELECT 1, * FROM new_rows WHERE {counts}
        ) r CROSS JOIN LATERAL ({codes}) AS c (kind, code)
        GROUP BY r.hromada_code, c.kind, c.code
        HAVING sum(r.sign) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (composed of this module's constants only)


def _backfill(table: str) -> str:
    """The counts of the rows already there."""
    subject, codes, counts = COUNTED[table]
    return f"""
INSERT INTO report_counts (subject, hromada_code, kind, code, oblast_code, raion_code, counted)
SELECT '{subject}', r.hromada_code, c.kind, c.code, max(r.oblast_code), max(r.raion_code),
       count(*)
FROM {table} r CROSS JOIN LATERAL ({codes}) AS c (kind, code)
WHERE r.{counts}
GROUP BY r.hromada_code, c.kind, c.code
"""  # noqa: S608 (composed of this module's constants only)


#: Folds the committed changes into the counts, one folder at a time (a caller that finds
#: another at work returns 0 and reads the counts plus the changes left). A change still
#: being written by an open transaction is not visible, so it is left for a later fold.
FOLD = """
CREATE FUNCTION report_counts_fold() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('registry.reports.counts')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM report_count_changes RETURNING *
    ), summed AS (
        SELECT subject, hromada_code, kind, code, max(oblast_code) AS oblast_code,
               max(raion_code) AS raion_code, sum(counted) AS counted
        FROM moved GROUP BY subject, hromada_code, kind, code
    )
    INSERT INTO report_counts AS kept
        (subject, hromada_code, kind, code, oblast_code, raion_code, counted)
    SELECT subject, hromada_code, kind, code, oblast_code, raion_code, counted FROM summed
    ON CONFLICT (subject, hromada_code, kind, code) DO UPDATE
        SET counted = kept.counted + excluded.counted,
            oblast_code = excluded.oblast_code,
            raion_code = excluded.raion_code;
    GET DIAGNOSTICS folded = ROW_COUNT;
    RETURN folded;
END
$$
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
        sa.Column("subject", sa.String(length=24), nullable=False),
        sa.Column("hromada_code", sa.String(length=19), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("oblast_code", sa.String(length=19), nullable=False),
        sa.Column("raion_code", sa.String(length=19), nullable=True),
        sa.Column("counted", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_counts",
        *_columns(),
        sa.PrimaryKeyConstraint("subject", "hromada_code", "kind", "code"),
    )
    op.create_table(
        "report_count_changes",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        *_columns(),
    )
    role = runtime_role()
    for table in ("report_counts", "report_count_changes"):
        op.execute(f'REVOKE ALL ON TABLE {table} FROM "{role}"')
        op.execute(f'GRANT SELECT ON TABLE {table} TO "{role}"')
    op.execute(FAMILY_CODES)
    op.execute(FOLD)
    op.execute("REVOKE ALL ON FUNCTION report_counts_fold() FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION report_counts_fold() TO "{role}"')
    for table in COUNTED:
        op.execute(_track(table))
        op.execute(f"REVOKE ALL ON FUNCTION report_counts_track_{table}() FROM PUBLIC")
        op.execute(_backfill(table))
        for name, event, transition in _TRIGGERS:
            op.execute(
                f"CREATE TRIGGER report_counts_{name} AFTER {event} ON {table} {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION report_counts_track_{table}()"
            )
    # The planner's statistics of the filled counts (before autovacuum would take them).
    op.execute("ANALYZE report_counts")


def downgrade() -> None:
    for table in COUNTED:
        for name, _, _ in _TRIGGERS:
            op.execute(f"DROP TRIGGER report_counts_{name} ON {table}")
        op.execute(f"DROP FUNCTION report_counts_track_{table}()")
    op.execute("DROP FUNCTION report_counts_fold()")
    op.execute("DROP FUNCTION report_family_codes(text[], text[])")
    op.drop_table("report_count_changes")
    op.drop_table("report_counts")
