"""Phone numbers as the registry stores them: E.164."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def clean_phone(value: str) -> str:
    """E.164; a Ukrainian number written the local way (0XX XXX XX XX) gets its +38."""
    number = _SEPARATORS.sub("", value)
    if re.fullmatch(r"0[0-9]{9}", number):
        number = "+38" + number
    if not _E164.fullmatch(number):
        raise ValueError("must be a phone number in E.164 form, e.g. +380441234567")
    return number
