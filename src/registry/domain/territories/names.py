"""Normalising Ukrainian names for search: one apostrophe, casefolded, single spaces."""

from __future__ import annotations

import re
import unicodedata

APOSTROPHE = "'"
#: Apostrophe look-alikes people type: U+02BC (the official one), U+2019, U+2018, `, ´.
_APOSTROPHES = str.maketrans(dict.fromkeys("ʼ’‘`´", APOSTROPHE))
_SPACES = re.compile(r"\s+")


def normalize_name(value: str) -> str:
    text = unicodedata.normalize("NFC", value).translate(_APOSTROPHES)
    return _SPACES.sub(" ", text).strip().casefold()
