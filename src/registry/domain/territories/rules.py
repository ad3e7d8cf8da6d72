"""KATOTTG categories and code shape, and normalising Ukrainian names for search."""

from __future__ import annotations

import re
import unicodedata
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


APOSTROPHE = "'"
#: Apostrophe look-alikes people type: U+02BC (the official one), U+2019, U+2018, `, ´.
_APOSTROPHES = str.maketrans(dict.fromkeys("ʼ’‘`´", APOSTROPHE))
_SPACES = re.compile(r"\s+")


def normalize_name(value: str) -> str:
    """One apostrophe, casefolded, single spaces: how names are kept and searched."""
    text = unicodedata.normalize("NFC", value).translate(_APOSTROPHES)
    return _SPACES.sub(" ", text).strip().casefold()
