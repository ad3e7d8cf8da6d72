"""The shared SQLModel metadata: every table model registers here, with stable constraint names."""

from typing import Any

from sqlalchemy import Column, DateTime, Table, func
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table: ``select(table_of(Model))`` reads plain rows (each column
    by name), not model objects."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def timestamp_field() -> Any:
    """A ``timestamptz`` column the database fills with the time of the write (``now()``)."""
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
