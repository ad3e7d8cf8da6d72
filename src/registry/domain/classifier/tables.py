"""The table of the classifier of social services."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field


class Service(SQLModel, table=True):
    """A service of the national classifier (order No. 429 of 2020)."""

    __tablename__ = "services"

    code: str = Field(sa_column=Column(String(16), primary_key=True))
    name_uk: str = Field(sa_column=Column(Text, nullable=False))
    name_en: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str = Field(sa_column=Column(String(16), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    is_basic: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
service_table = table_of(Service)
