"""Name search by a dictionary of the distinct words of persons' names (issue 18): the words,
their forms (normalised, and the Latin spellings) and each form's deletion neighbourhood,
filled here from the persons there are and then by the families commands as persons are
written; persons are looked up by their name's words (a GIN index beside the oblast, as the
trigram indexes it replaces were).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_KEYS = ("name_key", "latin_key")
#: Words filled per round (a word brings up to a few hundred neighbourhood rows).
BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "name_words",
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_name_words")),
    )
    op.create_table(
        "name_word_forms",
        sa.Column("form", sa.Text(collation="C"), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("form", "word", name=op.f("pk_name_word_forms")),
    )
    op.create_table(
        "name_word_deletions",
        sa.Column("deletion", sa.Text(), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("deletion", "form", name=op.f("pk_name_word_deletions")),
    )
    op.execute(
        "CREATE INDEX ix_persons_oblast_code_name_words ON persons "
        "USING gin (oblast_code, string_to_array(name_key, ' '))"
    )
    for key in TRIGRAM_KEYS:
        op.drop_index(f"ix_persons_oblast_code_{key}_trgm", "persons")
    _fill()


def _fill() -> None:
    # The rule is the application's: the dictionary must hold what the commands would add.
    from registry.domain.families.rules import dictionary_entries

    bind = op.get_bind()
    words = list(
        bind.execute(
            sa.text("SELECT DISTINCT unnest(string_to_array(name_key, ' ')) FROM persons")
        ).scalars()
    )
    for start in range(0, len(words), BATCH):
        batch = words[start : start + BATCH]
        if batch:
            forms, neighbourhood = dictionary_entries(batch)
            bind.execute(
                sa.text("INSERT INTO name_words (word) SELECT unnest(CAST(:w AS text[]))"),
                {"w": batch},
            )
            bind.execute(
                sa.text(
                    "INSERT INTO name_word_forms (form, word) VALUES (:f, :w) "
                    "ON CONFLICT DO NOTHING"
                ),
                [{"f": form, "w": word} for form, word in forms],
            )
            if neighbourhood:
                bind.execute(
                    sa.text(
                        "INSERT INTO name_word_deletions (deletion, form) VALUES (:d, :f) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    [{"d": deletion, "f": form} for deletion, form in neighbourhood],
                )


def downgrade() -> None:
    for key in TRIGRAM_KEYS:
        op.execute(
            f"CREATE INDEX ix_persons_oblast_code_{key}_trgm ON persons "
            f"USING gin (oblast_code, {key} gin_trgm_ops)"
        )
    op.drop_index("ix_persons_oblast_code_name_words", "persons")
    op.drop_table("name_word_deletions")
    op.drop_table("name_word_forms")
    op.drop_table("name_words")
