"""KATOTTG categories and code shape."""

from __future__ import annotations

import re
from enum import StrEnum

CODE_PATTERN = r"^UA[0-9]{17}$"
_CODE = re.compile(CODE_PATTERN)


class Category(StrEnum):
    OBLAST = "O"
    SPECIAL_STATUS_CITY = "K"
    RAION = "P"
    HROMADA = "H"
    CITY = "M"
    URBAN_TYPE_SETTLEMENT = "T"
    VILLAGE = "C"
    SETTLEMENT = "X"
    CITY_DISTRICT = "B"


def is_code(value: str) -> bool:
    return bool(_CODE.fullmatch(value))
