"""The shapes of the reference lists records use: recipient categories, hardship factors,
support criteria."""

from __future__ import annotations

from registry.api.schemas.base import Schema


class RecipientCategory(Schema):
    code: str
    name_uk: str
    name_en: str
    active: bool


class HardshipFactor(RecipientCategory):
    named_in_law: bool


class SupportCriterion(RecipientCategory):
    pass
