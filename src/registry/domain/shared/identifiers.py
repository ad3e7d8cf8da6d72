"""Personal identifiers: RNOKPP (taxpayer number) and UNZR (demographic register number).

Validators raise ``ValueError`` with a short message that never repeats the number.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from stdnum.exceptions import ValidationError
from stdnum.ua import rntrc

#: Day 1 of the RNOKPP day count is 1900-01-01.
_RNOKPP_EPOCH = date(1899, 12, 31)
#: Numbers starting with 8 do not encode a birth date or sex.
_RNOKPP_NO_BIRTH_DATA = "8"
_RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
_RNOKPP = re.compile(r"[0-9]{10}")
_SEXES = ("male", "female")

_UNZR = re.compile(r"([0-9]{8})-?([0-9]{4})([0-9])")
_ICAO_WEIGHTS = (7, 3, 1)
_WHITESPACE = re.compile(r"\s+")


def _check_sex(sex: str) -> None:
    if sex not in _SEXES:
        raise ValueError("sex must be 'male' or 'female'")


def validate_rnokpp(value: str, *, birth_date: date | None, sex: str | None) -> str:
    """Return the RNOKPP as 10 digits, checking it against the person's birth date and sex."""
    number = _WHITESPACE.sub("", value)
    if not _RNOKPP.fullmatch(number):
        raise ValueError("must be 10 digits")
    try:
        rntrc.validate(number)
    except ValidationError:
        raise ValueError("has an invalid check digit") from None
    if number.startswith(_RNOKPP_NO_BIRTH_DATA):
        return number
    if birth_date is not None and _RNOKPP_EPOCH + timedelta(days=int(number[:5])) != birth_date:
        raise ValueError("does not match the birth date")
    if sex is not None:
        _check_sex(sex)
        encoded = "male" if int(number[8]) % 2 else "female"
        if encoded != sex:
            raise ValueError(f"does not match the sex ({sex})")
    return number


def _rnokpp_check_digit(first_nine: str) -> str:
    total = sum(w * int(d) for w, d in zip(_RNOKPP_WEIGHTS, first_nine, strict=True))
    return str(total % 11 % 10)


def rnokpp_for(birth_date: date, sex: str, serial: int) -> str:
    """Make a valid RNOKPP (tests, demo data).

    Digits 1–5 are the day count, 6–8 are ``serial % 1000`` and digit 9 is the sex digit
    (odd for men, even for women); ``serial // 1000`` (0–4) picks which odd or even digit,
    so one birth date and sex give 5 000 distinct numbers.
    """
    _check_sex(sex)
    if not 0 <= serial < 5000:
        raise ValueError("serial must be between 0 and 4999")
    days = (birth_date - _RNOKPP_EPOCH).days
    if not 0 < days < 80000:  # day 0 does not exist; a leading 8 would mean "no birth date"
        raise ValueError("birth date is outside the RNOKPP range")
    sex_digit = 2 * (serial // 1000) + (1 if sex == "male" else 0)
    first_nine = f"{days:05d}{serial % 1000:03d}{sex_digit}"
    return first_nine + _rnokpp_check_digit(first_nine)


def _unzr_check_digit(twelve: str) -> str:
    total = sum(_ICAO_WEIGHTS[i % 3] * int(d) for i, d in enumerate(twelve))
    return str(total % 10)


def validate_unzr(value: str, *, birth_date: date | None) -> str:
    """Return the UNZR as ``YYYYMMDD-NNNNC``, checking it against the birth date."""
    match = _UNZR.fullmatch(_WHITESPACE.sub("", value))
    if match is None:
        raise ValueError("must have the form YYYYMMDD-NNNNC")
    date_part, sequence, check = match.groups()
    try:
        encoded = date(int(date_part[:4]), int(date_part[4:6]), int(date_part[6:]))
    except ValueError:
        raise ValueError("does not start with a valid date") from None
    if _unzr_check_digit(date_part + sequence) != check:
        raise ValueError("has an invalid check digit")
    if birth_date is not None and encoded != birth_date:
        raise ValueError("does not match the birth date")
    return f"{date_part}-{sequence}{check}"


def unzr_for(birth_date: date, serial: int) -> str:
    """Make a valid UNZR (tests, demo data); ``serial`` is the 4-digit sequence 0–9999."""
    if not 0 <= serial < 10000:
        raise ValueError("serial must be between 0 and 9999")
    twelve = f"{birth_date:%Y%m%d}{serial:04d}"
    return f"{twelve[:8]}-{twelve[8:]}{_unzr_check_digit(twelve)}"


def mask_identifier(value: str | None) -> str | None:
    """Hide all but the last 2 characters; values of 2 characters or fewer are hidden whole."""
    if value is None:
        return None
    if len(value) <= 2:
        return "*" * len(value)
    return "*" * (len(value) - 2) + value[-2:]
