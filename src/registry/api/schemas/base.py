"""What every request and response shape builds on, and the value patterns more than one
context uses (a KATOTTG code, a service code, a reason)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from registry.domain.classifier.rules import CODE_PATTERN as SERVICE_CODE_PATTERN
from registry.domain.territories.rules import CODE_PATTERN as KATOTTG_CODE_PATTERN

T = TypeVar("T")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _rfc3339_only(value: Any) -> Any:
    """Pydantic on its own also reads a number as seconds since 1970 ("0.5") and other ISO 8601
    shapes; the API documents RFC 3339 date-times (``format: date-time``), so only those pass."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T09:30:00Z")


#: A date-time with an offset, given as RFC 3339 text (query parameters, bodies).
Rfc3339DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _iso_date_only(value: Any) -> Any:
    """Pydantic on its own also reads a number as a day since 1970; the API documents
    ``format: date``, so only ``YYYY-MM-DD`` passes."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


#: A date given as ``YYYY-MM-DD`` text (query parameters, bodies).
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]

#: What ``str.strip()`` removes (Python's whitespace), spelled out: JSON Schema patterns are
#: read by other regex engines too, whose ``\s`` is a different set.
_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def text_field(max_length: int) -> Any:
    """A free-text input field: not blank and without NUL. The spec's pattern says both, since
    stripping would turn whitespace that satisfies ``minLength`` into nothing."""
    return Field(
        min_length=1, max_length=max_length, pattern=f"^[^\\x00]*[^{_SPACE}\\x00][^\\x00]*$"
    )


#: In a merge patch, a field that may be left out but not cleared: null is refused, and the
#: spec shows no null. Pair it with ``field_validator(...)(refuse_null)``.
NotNull = SkipJsonSchema[None]


def refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be removed; give a value")
    return value


class Schema(BaseModel):
    """Responses: read from rows or objects."""

    model_config = ConfigDict(from_attributes=True)


def _contains_nul(value: Any) -> bool:
    try:
        # One C call answers for almost every body: a NUL in a string (key or value) is
        # written as \u0000 in JSON, so without that text there is none. (The text can also
        # be a typed backslash followed by "u0000": then walk to be sure.)
        if b"\\u0000" not in orjson.dumps(value):
            return False
    except TypeError:  # not JSON-serialisable: walk it
        pass
    return _walk_for_nul(value)


def _walk_for_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_walk_for_nul(k) or _walk_for_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_walk_for_nul(v) for v in value)
    return False


class InputSchema(BaseModel):
    """Request bodies: unknown fields are an error, strings are stripped, NUL is refused
    (PostgreSQL cannot store it, and no real name or address holds one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text must not contain the NUL character")
        return data


class FieldProblem(Schema):
    field: str = Field(description="Where the problem is: `body.…`, `query.…`, `path.…`.")
    message: str


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:registry:problem:not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class PageOf(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


#: Why something was done (archived, removed, revoked, voided…): kept with the record.
ReasonText = Annotated[str, text_field(1000)]


class Reason(InputSchema):
    reason: ReasonText


#: A person's taxpayer number (RNOKPP): ten digits (check digits are the domain's).
RNOKPP_PATTERN = r"^[0-9]{10}$"
#: What people type as a phone number; the domain makes it E.164.
PHONE_PATTERN = r"^\+?\(?[0-9][0-9 ()\-.]{5,30}$"

#: A territory of the KATOTTG codifier (``UA`` and 17 digits).
KatottgCode = Annotated[str, Field(pattern=KATOTTG_CODE_PATTERN)]

#: A service of the classifier of social services (``002.0``).
ServiceCode = Annotated[str, Field(pattern=SERVICE_CODE_PATTERN)]
