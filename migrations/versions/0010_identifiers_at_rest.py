"""National identifiers sealed at rest, with keys the database never holds.

``persons.rnokpp``, ``persons.unzr``, ``persons.idp_certificate`` and ``providers.rnokpp``
were plaintext. Each becomes ``<name>_sealed`` (AES-256-GCM under the application's
identifier keys, bound to its row and column: ``registry.domain.shared.sealing``) and, for
RNOKPP and UNZR, ``<name>_index`` (a keyed blind index, HMAC-SHA256 of the normalised
number). The unique indexes move to the blind indexes under their old names; persons get a
lookup index on each (``?rnokpp=`` / ``?unzr=`` find current and former members). Stored
answers of ``Idempotency-Key`` requests (``idempotency_keys.body``: the records they created)
are sealed too.

Rows already there are sealed here, in batches, with the keys ``registry migrate`` hands in
(``REGISTRY_IDENTIFIER_KEYS_FILE``, or the development keys); run by hand (``alembic
upgrade``), with those of the settings. A database without such rows needs no keys. The
plaintext columns are then dropped: nothing readable is left but what PostgreSQL's own
files and backups held before (see the README: old backups and WAL still hold plaintext).
Downgrade opens the values again (it needs the same keys).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from registry.domain.shared.sealing import IdentifierKeys

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
#: (table, identifier, its plaintext column's type, whether it is looked up by a blind index).
IDENTIFIERS = (
    ("persons", "rnokpp", sa.String(10), True),
    ("persons", "unzr", sa.String(14), True),
    ("persons", "idp_certificate", sa.String(32), False),
    ("providers", "rnokpp", sa.String(10), True),
)
_PERSONS_ACTIVE = "status = 'active' AND {column} IS NOT NULL"


class _Keys:
    """The keys ``registry migrate`` handed in, else the settings': loaded when a row first
    needs them (a database without identifiers migrates without keys)."""

    def __init__(self) -> None:
        self.keys: IdentifierKeys | None = None

    def __call__(self) -> IdentifierKeys:
        if self.keys is None:
            keys = op.get_context().config.attributes.get("identifier_keys")
            if keys is None:
                from registry.domain.shared.sealing import load_identifier_keys
                from registry.settings import get_settings

                settings = get_settings()
                keys = load_identifier_keys(
                    settings.identifier_keys_file, settings.development_keys_dir
                )
            assert isinstance(keys, IdentifierKeys)
            self.keys = keys
        return self.keys


def _batches(table: str, key: Sequence[str], columns: Sequence[str], where: str) -> Iterator[Any]:
    """The rows of ``table`` that meet ``where`` (their ``key`` and ``columns``), in key order
    and batches."""
    bind = op.get_bind()
    listed = ", ".join((*key, *columns))
    after: dict[str, Any] = {}
    while True:
        beyond = ""
        if after:
            beyond = f" AND ({', '.join(key)}) > ({', '.join(f':{name}' for name in after)})"
        rows = bind.execute(
            sa.text(
                f"SELECT {listed} FROM {table} WHERE ({where}){beyond} "  # noqa: S608 (constants)
                f"ORDER BY {', '.join(key)} LIMIT {BATCH}"
            ),
            after,
        ).all()
        if not rows:
            return
        yield rows
        after = {f"after_{i}": value for i, value in enumerate(rows[-1][: len(key)])}


def _by_table() -> dict[str, list[tuple[str, Any, bool]]]:
    tables: dict[str, list[tuple[str, Any, bool]]] = {}
    for table, name, type_, indexed in IDENTIFIERS:
        tables.setdefault(table, []).append((name, type_, indexed))
    return tables


def _every_row_in_sight() -> None:
    """Row-level security must not hide rows from the sealing (they would lose their numbers
    with the plaintext columns): with it off, a query it would filter fails instead."""
    op.execute("SET LOCAL row_security = off")


def upgrade() -> None:
    _every_row_in_sight()
    for table, name, _, indexed in IDENTIFIERS:
        op.add_column(table, sa.Column(f"{name}_sealed", sa.LargeBinary(), nullable=True))
        if indexed:
            op.add_column(table, sa.Column(f"{name}_index", sa.LargeBinary(), nullable=True))

    # What holds the plaintext goes first: its values are cleared as they are sealed. (The
    # metadata's naming convention prefixes these names again, as it did when 0002 and 0003
    # made them: in the database they are ``ck_persons_ck_persons_…``.)
    op.drop_constraint("ck_persons_rnokpp_format", "persons", type_="check")
    op.drop_constraint("ck_persons_unzr_format", "persons", type_="check")
    op.drop_constraint("ck_persons_rnokpp_or_refused", "persons", type_="check")
    op.drop_constraint("ck_providers_identified", "providers", type_="check")
    op.drop_index("uq_persons_rnokpp", "persons")
    op.drop_index("uq_persons_unzr", "persons")
    op.drop_index("uq_providers_rnokpp", "providers")

    keys = _Keys()
    bind = op.get_bind()
    for table, identifiers in _by_table().items():
        names = [name for name, _, _ in identifiers]
        columns = [f"{name}_sealed" for name in names] + [
            f"{name}_index" for name, _, indexed in identifiers if indexed
        ]
        # The plaintext is cleared in the same UPDATE: the new row versions never hold it
        # (dropping a column leaves its values in the rows written before).
        update = sa.text(
            f"UPDATE {table} SET "  # noqa: S608 (names are constants)
            + ", ".join(
                [*(f"{column} = :{column}" for column in columns), *(f"{n} = NULL" for n in names)]
            )
            + " WHERE id = :id"
        )
        for rows in _batches(
            table, ["id"], names, " OR ".join(f"{name} IS NOT NULL" for name in names)
        ):
            changes = []
            for row in rows:
                change: dict[str, Any] = {"id": row.id}
                for name, _, indexed in identifiers:
                    value = getattr(row, name)
                    place = f"{table}.{name}"
                    change[f"{name}_sealed"] = (
                        None if value is None else keys().seal(value, place, row.id)
                    )
                    if indexed:
                        change[f"{name}_index"] = (
                            None if value is None else keys().blind_index(name, value)
                        )
                changes.append(change)
            bind.execute(update, changes)
        left = bind.scalar(
            sa.text(
                f"SELECT count(*) FROM {table} WHERE "  # noqa: S608 (names are constants)
                + " OR ".join(f"{name} IS NOT NULL" for name in names)
            )
        )
        if left:
            raise RuntimeError(f"{left} rows of {table} still hold plaintext identifiers")
    # Stored answers: their body is sealed in place.
    for rows in _batches("idempotency_keys", ["actor", "key"], ["body"], "body IS NOT NULL"):
        bind.execute(
            sa.text("UPDATE idempotency_keys SET body = :body WHERE actor = :actor AND key = :key"),
            [
                {
                    "actor": row.actor,
                    "key": row.key,
                    "body": keys().seal(row.body, "idempotency_keys.body", row.actor, row.key),
                }
                for row in rows
            ],
        )

    for table, name, _, _ in IDENTIFIERS:
        op.drop_column(table, name)

    _create_constraints_and_indexes()


def _create_constraints_and_indexes() -> None:
    for table, name, _, indexed in IDENTIFIERS:
        if indexed:
            # A value and its index are written together, and an index is a whole digest.
            op.create_check_constraint(
                f"{name}_sealed_indexed",
                table,
                f"({name}_sealed IS NULL) = ({name}_index IS NULL) "
                f"AND ({name}_index IS NULL OR octet_length({name}_index) = 32)",
            )
    op.create_check_constraint(
        "rnokpp_or_refused",
        "persons",
        "NOT (rnokpp_refused AND rnokpp_sealed IS NOT NULL)",
    )
    op.create_check_constraint(
        "identified", "providers", "edrpou IS NOT NULL OR rnokpp_sealed IS NOT NULL"
    )
    for name in ("rnokpp", "unzr"):
        # One current member per number; lookups among current and former members.
        op.create_index(
            f"uq_persons_{name}",
            "persons",
            [f"{name}_index"],
            unique=True,
            postgresql_where=sa.text(_PERSONS_ACTIVE.format(column=f"{name}_index")),
        )
        op.create_index(f"ix_persons_{name}_index", "persons", [f"{name}_index"])
    op.create_index("uq_providers_rnokpp", "providers", ["rnokpp_index"], unique=True)


def downgrade() -> None:
    _every_row_in_sight()
    op.drop_index("uq_providers_rnokpp", "providers")
    for name in ("rnokpp", "unzr"):
        op.drop_index(f"ix_persons_{name}_index", "persons")
        op.drop_index(f"uq_persons_{name}", "persons")
    op.drop_constraint("identified", "providers", type_="check")
    op.drop_constraint("rnokpp_or_refused", "persons", type_="check")
    for table, name, type_, indexed in IDENTIFIERS:
        if indexed:
            op.drop_constraint(f"{name}_sealed_indexed", table, type_="check")
        op.add_column(table, sa.Column(name, type_, nullable=True))

    keys = _Keys()
    bind = op.get_bind()
    for table, identifiers in _by_table().items():
        names = [name for name, _, _ in identifiers]
        update = sa.text(
            f"UPDATE {table} SET "  # noqa: S608 (names are constants)
            + ", ".join(f"{name} = :{name}" for name in names)
            + " WHERE id = :id"
        )
        sealed = [f"{name}_sealed" for name in names]
        for rows in _batches(
            table, ["id"], sealed, " OR ".join(f"{column} IS NOT NULL" for column in sealed)
        ):
            bind.execute(
                update,
                [
                    {
                        "id": row.id,
                        **{
                            name: None
                            if getattr(row, f"{name}_sealed") is None
                            else keys().open_text(
                                getattr(row, f"{name}_sealed"), f"{table}.{name}", row.id
                            )
                            for name in names
                        },
                    }
                    for row in rows
                ],
            )
    for rows in _batches("idempotency_keys", ["actor", "key"], ["body"], "body IS NOT NULL"):
        bind.execute(
            sa.text("UPDATE idempotency_keys SET body = :body WHERE actor = :actor AND key = :key"),
            [
                {
                    "actor": row.actor,
                    "key": row.key,
                    "body": keys().open(row.body, "idempotency_keys.body", row.actor, row.key),
                }
                for row in rows
            ],
        )

    for table, name, _, indexed in IDENTIFIERS:
        op.drop_column(table, f"{name}_sealed")
        if indexed:
            op.drop_column(table, f"{name}_index")
    op.create_check_constraint("ck_persons_rnokpp_format", "persons", "rnokpp ~ '^[0-9]{10}$'")
    op.create_check_constraint("ck_persons_unzr_format", "persons", "unzr ~ '^[0-9]{8}-[0-9]{5}$'")
    op.create_check_constraint(
        "ck_persons_rnokpp_or_refused", "persons", "NOT (rnokpp_refused AND rnokpp IS NOT NULL)"
    )
    op.create_check_constraint(
        "ck_providers_identified", "providers", "edrpou IS NOT NULL OR rnokpp IS NOT NULL"
    )
    for name in ("rnokpp", "unzr"):
        op.create_index(
            f"uq_persons_{name}",
            "persons",
            [name],
            unique=True,
            postgresql_where=sa.text(_PERSONS_ACTIVE.format(column=name)),
        )
    op.create_index("uq_providers_rnokpp", "providers", ["rnokpp"], unique=True)
