"""What makes a service of the classifier valid, and reading the official list from a CSV
file: pure rules, no I/O."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from enum import StrEnum
from typing import Any

from registry.errors import FieldError, InvalidInput

#: A classifier code: three digits, a dot, one digit (``002.0``).
CODE_PATTERN = r"^[0-9]{3}\.[0-9]$"
NAME_MAX_LENGTH = 500
#: What describes a service (everything but its code and bookkeeping).
FIELDS = ("name_uk", "name_en", "purpose", "kind", "is_basic", "active")
#: The columns an import file has, in this order (the header line names them).
CSV_COLUMNS = ("code", *FIELDS)
_CODE = re.compile(CODE_PATTERN)
_TRUE = frozenset({"true", "1", "yes", "y", "так"})
_FALSE = frozenset({"false", "0", "no", "n", "ні"})


class Purpose(StrEnum):
    PREVENTION = "prevention"
    SUPPORT = "support"
    CARE = "care"


class ServiceKind(StrEnum):
    SIMPLE = "simple"
    COMPLEX = "complex"


# --- reading an import file --------------------------------------------------------------------


def _flag(value: str) -> bool:
    folded = value.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError("must be true or false")


def _choice(options: type[StrEnum]) -> Any:
    def parse(value: str) -> str:
        folded = value.strip().casefold()
        if folded not in {option.value for option in options}:
            raise ValueError("must be one of " + ", ".join(option.value for option in options))
        return folded

    return parse


def _name(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("must not be empty")
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters")
    if len(text) > NAME_MAX_LENGTH:
        raise ValueError(f"is longer than {NAME_MAX_LENGTH} characters")
    return text


def _code(value: str) -> str:
    text = value.strip()
    if not _CODE.fullmatch(text):
        raise ValueError("must be a classifier code such as 002.0")
    return text


_PARSERS = {
    "code": _code,
    "name_uk": _name,
    "name_en": _name,
    "purpose": _choice(Purpose),
    "kind": _choice(ServiceKind),
    "is_basic": _flag,
    "active": _flag,
}


def parse_csv(text: str) -> list[dict[str, Any]]:
    """The services an import file lists. Every problem is reported (``InvalidInput``, each
    error's field naming the line and column), none stops the reading."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in next(reader, [])]
    if sorted(header) != sorted(CSV_COLUMNS):
        raise InvalidInput(
            "The file's header is not the one an import file has.",
            errors=[FieldError("line 1", "the header must be " + ",".join(CSV_COLUMNS))],
        )
    errors: list[FieldError] = []
    services: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if "\x00" in "".join(cells):
            errors.append(FieldError(f"line {line}", "contains the NUL character"))
            continue
        if len(cells) != len(header):
            errors.append(
                FieldError(
                    f"line {line}", f"has {len(cells)} values where the header has {len(header)}"
                )
            )
            continue
        service: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            try:
                service[name] = _PARSERS[name](cell)
            except ValueError as error:
                errors.append(FieldError(f"line {line}.{name}", str(error)))
        code = service.get("code")
        if code is not None:
            if code in first_line:
                errors.append(
                    FieldError(f"line {line}.code", f"{code} is also on line {first_line[code]}")
                )
            else:
                first_line[code] = line
        if len(service) == len(CSV_COLUMNS):
            services.append(service)
    if errors:
        raise InvalidInput("The file has invalid rows; nothing was imported.", errors=errors)
    return services
