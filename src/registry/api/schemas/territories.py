"""The shapes of the KATOTTG codifier's units."""

from __future__ import annotations

from registry.api.schemas.base import Schema
from registry.domain.territories.rules import Category


class TerritoryOut(Schema):
    code: str
    name: str
    category: Category
    level: int
    parent_code: str | None


class TerritoryDetail(TerritoryOut):
    ancestors: list[TerritoryOut]
