"""Statements compiled once and run on the driver's connection: the hottest reads are one
prepared statement each (asyncpg keeps it prepared per connection), without the session's
per-statement work.

A ``Compiled`` keeps the SQL, the order of its parameters and the values bound when it was
built (e.g. the caller's territory in a confinement clause); each run supplies the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, literal_column
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement

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
