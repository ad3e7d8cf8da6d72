"""Service records' references are checked by the submission itself, not by foreign keys.

A foreign key costs a trigger per inserted row, each a query of its own: for a batch of
10 000 records the five keys of service_records took 0.66-0.72 s of PostgreSQL CPU of
0.92 s for the whole COPY (EXPLAIN ANALYZE of the INSERT: 0.40 s of 0.93 s on a quiet
machine), the largest cost of ingesting. They are dropped because every row they protect is
already proven by ``records.submit`` (and ``records.amend``) in the writing transaction, and
none of the rows they point at ever goes away:

- provider_id: the caller's provider is read and must be ``active``; providers are excluded
  by status, never deleted.
- service_code: must be one the provider offers now (provider_services joined to an active
  service); services are deactivated, never deleted, and their code is their key.
- family_id: must be referred to the provider (an unrevoked family_provider_access joined to
  families); families are archived, never deleted.
- person_id: must be a person of that family; persons are removed by a flag, never deleted.
- case_id: must be a case of that family referred to the provider; cases are closed, never
  deleted.

No code deletes or re-keys rows of these tables (DESIGN §3: nothing with personal data is
hard-deleted); ``tests/integration/test_service_records.py`` fails if a DELETE or TRUNCATE of
one of them appears in ``src/``. Whoever adds one must bring the keys back first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, referenced table, referenced column)
REFERENCES = [
    ("provider_id", "providers", "id"),
    ("family_id", "families", "id"),
    ("person_id", "persons", "id"),
    ("service_code", "services", "code"),
    ("case_id", "cases", "id"),
]


def _name(column: str, table: str) -> str:
    return f"fk_service_records_{column}_{table}"


def upgrade() -> None:
    for column, table, _ in REFERENCES:
        op.drop_constraint(_name(column, table), "service_records", type_="foreignkey")


def downgrade() -> None:
    for column, table, key in REFERENCES:
        op.create_foreign_key(_name(column, table), "service_records", table, [column], [key])
