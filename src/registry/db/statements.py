"""Statements compiled once and run on the driver's connection: the hottest reads are one
prepared statement each (asyncpg keeps it prepared per connection), without the session's
per-statement work.

A ``Compiled`` keeps the SQL, the order of its parameters and the values bound when it was
built (e.g. the caller's territory in a confinement clause); each run supplies the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import Label

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
_CONSTANT = re.compile(r"^[a-z_]+$")


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    names: tuple[str, ...]
    bound: dict[str, Any]

    def arguments(self, **values: Any) -> list[Any]:
        """The statement's arguments in order: ``values`` over the values bound at build."""
        merged = {**self.bound, **values}
        return [merged[name] for name in self.names]


def compile_statement(statement: ClauseElement) -> Compiled:
    compiled = statement.compile(dialect=_DIALECT)
    names = getattr(compiled, "positiontup", None) or ()  # positional paramstyle: $1, $2…
    return Compiled(str(compiled), tuple(names), dict(compiled.params))


def in_constants(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN ('a', 'b')`` with the values written into the SQL: a clause that compiles
    into a prepared statement, where an IN list of parameters (expanded per run) cannot. Only
    for the code's own constants (a status, a kind): anything but lower-case words is refused."""
    words = sorted(values)
    if not all(_CONSTANT.match(word) for word in words):
        raise ValueError("only the code's own lower-case constants are written into SQL")
    return column.in_([literal_column(f"'{word}'") for word in words])


def once_per_parent(
    joined: Select[Any], parent: Sequence[str], order: Sequence[str], child_order: Sequence[str]
) -> Select[Any]:
    """``joined`` (a parent's columns repeated on each of its children's rows, as a join
    gives them) with the ``parent`` columns on the parent's first row only: on its other
    rows they are NULL, which the driver does not decode (decoding the repeated columns was
    ~40 % of decoding a page of families: a family's 18 columns on each member's row).
    Ordered by ``order`` (naming the columns that tell a parent, and its place) then
    ``child_order``; a parent's first row is where ``parent[0]`` is not NULL."""
    columns = joined.selected_columns

    def expression(name: str) -> ColumnElement[Any]:
        column = columns[name]
        return column.element if isinstance(column, Label) else column

    numbered = joined.add_columns(
        func.row_number()
        .over(
            partition_by=[expression(name) for name in order],
            order_by=[expression(name) for name in child_order],
        )
        .label("row_of_parent")
    ).subquery("numbered")
    number = numbered.c.row_of_parent
    first = number == literal_column("1")
    return select(
        *(case((first, numbered.c[name])).label(name) for name in parent),
        *(column for column in numbered.c if column.name not in parent and column is not number),
    ).order_by(*(numbered.c[name] for name in (*order, *child_order)))
