"""Name search narrowed to the caller's oblast inside the index; a person's oblast follows
their family's.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ("name_key", "latin_key")


def upgrade() -> None:
    # btree_gin (contrib, like pg_trgm) lets one GIN index hold the oblast next to the name's
    # trigrams, so a confined search reads only the oblast's matches instead of the nation's.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for key in KEYS:
        op.drop_index(f"ix_persons_{key}_trgm", "persons")
        op.execute(
            f"CREATE INDEX ix_persons_oblast_code_{key}_trgm ON persons "
            f"USING gin (oblast_code, {key} gin_trgm_ops)"
        )

    # Search trusts persons.oblast_code to be the family's, so the database keeps it so: the
    # foreign key includes it and follows a family that moves to another oblast.
    op.execute(
        "UPDATE persons SET oblast_code = families.oblast_code FROM families "
        "WHERE families.id = persons.family_id "
        "AND persons.oblast_code <> families.oblast_code"
    )
    op.create_unique_constraint("uq_families_id_oblast_code", "families", ["id", "oblast_code"])
    op.drop_constraint("fk_persons_family_id_families", "persons", type_="foreignkey")
    op.create_foreign_key(
        "fk_persons_family_id_families",
        "persons",
        "families",
        ["family_id", "oblast_code"],
        ["id", "oblast_code"],
        onupdate="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint("fk_persons_family_id_families", "persons", type_="foreignkey")
    op.create_foreign_key(
        "fk_persons_family_id_families", "persons", "families", ["family_id"], ["id"]
    )
    op.drop_constraint("uq_families_id_oblast_code", "families", type_="unique")
    for key in KEYS:
        op.drop_index(f"ix_persons_oblast_code_{key}_trgm", "persons")
        op.execute(f"CREATE INDEX ix_persons_{key}_trgm ON persons USING gin ({key} gin_trgm_ops)")
    op.execute("DROP EXTENSION IF EXISTS btree_gin")
