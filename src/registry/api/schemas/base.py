"""What every request and response shape builds on, and the value patterns more than one
context uses (a KATOTTG code, a service code, a reason)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from registry.api.schemas.words import worded
from registry.domain.classifier.rules import CODE_PATTERN as SERVICE_CODE_PATTERN
from registry.domain.shared.names import MAX_LENGTH as NAME_MAX_LENGTH
from registry.domain.shared.names import clean_name_part
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
#: The C0 and C1 control characters and DEL (terminal escapes, NUL, tabs, line breaks), as a
#: regex class body; a multi-line field allows line feeds (and carriage returns, which become
#: line feeds).
#: What Pydantic strips from both ends (``str_strip_whitespace``: Unicode's White_Space).
_TRIMMED = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
_CONTROLS_BUT_LINE_BREAKS = "\\x00-\\x09\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f"
_ANY_CONTROL = re.compile(f"[{_CONTROLS}]")
_CONTROL_BUT_LINE_FEED = re.compile("[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f]")
_LINE_BREAK = re.compile("\\r\\n?")


@dataclass(frozen=True, slots=True)
class _Text:
    """A free-text field's rules (see :func:`text_field`), as a Pydantic annotation: the
    checks run on the stripped text, and the spec shows them as ``minLength``, ``maxLength``
    and a ``pattern`` that accepts what they accept."""

    max_length: int
    multiline: bool

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The length is the text as sent (the spec's maxLength), before the space around it
        # is stripped.
        return core_schema.no_info_before_validator_function(
            self.check_length,
            core_schema.no_info_after_validator_function(self.clean, handler(source)),
        )

    def check_length(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > self.max_length:
            raise PydanticCustomError(
                "text_too_long",
                "is longer than {max_length} characters",
                {"max_length": self.max_length},
            )
        return value

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        inside = _CONTROLS_BUT_LINE_BREAKS if self.multiline else _CONTROLS
        # Space stripped from the ends (line breaks and tabs too) does not count.
        text = f"[^{inside}]*[^{_SPACE}{_CONTROLS}][^{inside}]*"
        json_schema.update(
            minLength=1,
            maxLength=self.max_length,
            pattern=worded(
                f"^[{_TRIMMED}]*{text}[{_TRIMMED}]*$",
                _MULTILINE_WORDS if self.multiline else _ONE_LINE_WORDS,
            ),
        )
        return json_schema

    def clean(self, value: str) -> str:
        if self.multiline:
            value = _LINE_BREAK.sub("\n", value)
            control = _CONTROL_BUT_LINE_FEED.search(value)
            message = "may contain line breaks but no other control characters (tab, escape…)"
        else:
            control = _ANY_CONTROL.search(value)
            message = "must be one line without control characters (line breaks, tab, escape…)"
        if not value:
            raise PydanticCustomError("text_blank", "must not be blank")
        if control is not None:
            raise PydanticCustomError("text_control_character", message)
        if len(value) > self.max_length:
            raise PydanticCustomError(
                "text_too_long",
                "is longer than {max_length} characters",
                {"max_length": self.max_length},
            )
        return value


_ONE_LINE_WORDS = "must be one line of text without control characters"
_MULTILINE_WORDS = "must be text without control characters other than line breaks"


def text_field(max_length: int, *, multiline: bool = False) -> Any:
    """A free-text input field, the one rule every schema uses for text people write: not
    blank, at most ``max_length`` characters, no C0/C1 control characters. A field
    documented as multi-line (notes, summaries, conclusions) opts in with ``multiline=True``
    and may hold line feeds; CR LF and CR become LF. Use as ``Annotated[str,
    text_field(300)]``."""
    return _Text(max_length, multiline)


def _person_name(value: str) -> str:
    try:
        return clean_name_part(value)
    except ValueError as error:
        raise PydanticCustomError("person_name", str(error)) from None


#: A name in the spec: letters (``\p{L}``, any script) with combining marks (``\p{M}``), words
#: joined by one space, apostrophe or hyphen (the variants people type included). The
#: server checks more than a pattern can say (one alphabet per word, NFC length), in words.
PERSON_NAME_PATTERN = worded(
    r"^\p{L}\p{M}*(?:[ '’ʼ‘`´\-‐‑–]?\p{L}\p{M}*)*$",
    "may contain only letters, apostrophes, hyphens and spaces",
)

_QUERY_CHARACTER = "[^\\x00-\\x1f\\x7f-\\x9f]"
#: A search for a name in the spec (``q``): text without control characters, a letter among
#: it. Shown, not enforced: the domain answers in words (``domain.shared.names.query_key``).
#: Its characters are taken literally: ``%`` is no wildcard, and text with a character no
#: name holds finds nothing.
NAME_QUERY_PATTERN = worded(
    f"^{_QUERY_CHARACTER}*\\p{{L}}{_QUERY_CHARACTER}*$",
    "must be text with a letter and without control characters",
)
#: A name search parameter, its rules as the spec shows them (pair with ``Query(min_length=2,
#: max_length=100, …)``, which enforce the lengths).
NameSearch = Annotated[
    str | None,
    WithJsonSchema(
        {"type": "string", "minLength": 2, "maxLength": 100, "pattern": NAME_QUERY_PATTERN}
    ),
]

#: A last, first or patronymic name: letters of any script with their combining marks,
#: apostrophes, hyphens and spaces; stored NFC, with U+02BC apostrophes.
PersonName = Annotated[
    str,
    Field(
        json_schema_extra={
            "minLength": 1,
            "maxLength": NAME_MAX_LENGTH,
            "pattern": PERSON_NAME_PATTERN,
        },
        description="Letters of any script (with combining marks), apostrophes, hyphens and "
        f"spaces, one alphabet per word; at most {NAME_MAX_LENGTH} characters. Stored in NFC "
        "with the apostrophe U+02BC (', ’, ‘, ` and ´ become it) and the hyphen-minus.",
    ),
    AfterValidator(_person_name),
]


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

    @model_validator(mode="before")
    @classmethod
    def _at_least_min_properties(cls, data: Any) -> Any:
        """A schema that declares ``minProperties`` (a patch: something to change) holds
        the body to it, as the OpenAPI document says."""
        extra = cls.model_config.get("json_schema_extra")
        least = extra.get("minProperties") if isinstance(extra, dict) else None
        if isinstance(least, int) and isinstance(data, dict) and len(data) < least:
            raise ValueError(f"give at least {least} field(s) to change")
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

    def __class_getitem__(cls, item: Any) -> Any:
        # Pydantic keeps its parametrized models only weakly: one a handler names (``PageOf[
        # CaseOut]``) and nothing else holds is collected at the next garbage collection and
        # built again on the next request (0.4 ms and more each time). Holding every page model
        # made keeps ``PageOf[X]`` in a handler a dictionary lookup.
        try:
            return _PAGE_MODELS[cls, item]
        except KeyError:
            model = _PAGE_MODELS[cls, item] = super().__class_getitem__(item)
            return model


#: Every ``PageOf[X]`` made, held for the life of the process (a few dozen models).
_PAGE_MODELS: dict[tuple[type, Any], Any] = {}


#: Why something was done (archived, removed, revoked, voided…): kept with the record.
ReasonText = Annotated[str, text_field(1000)]


class Reason(InputSchema):
    reason: ReasonText


def _json_integer(value: Any) -> Any:
    """A JSON integer (``12``, or ``12.0``, which JSON Schema counts as one), not text or a
    boolean that lax parsing would read as one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


#: An integer as JSON writes it: ``true`` or ``"2"`` is not one (Pydantic's lax mode would
#: take both). Put it last: ``Annotated[int, Field(ge=1), JSON_INTEGER]`` (the constraints
#: before it stay in the schema). Booleans are ``StrictBool``.
JSON_INTEGER = BeforeValidator(_json_integer)

#: A code of a reference list (recipient categories, hardship factors, support criteria).
LOWER_CODE_PATTERN = worded(
    r"^[a-z][a-z0-9_]{0,63}$",
    "must be a code: a lower-case Latin letter, then such letters, digits or underscores",
)

#: A person's taxpayer number (RNOKPP): ten digits (check digits are the domain's).
RNOKPP_PATTERN = worded(r"^[0-9]{10}$", "must be an RNOKPP: ten digits")
#: What people type as a phone number; the domain makes it E.164.
PHONE_PATTERN = worded(
    r"^\+?\(?[0-9][0-9 ()\-.]{5,30}$",
    "must be a phone number: digits, optionally with a leading +, spaces, brackets, hyphens "
    "or dots",
)

#: A territory of the KATOTTG codifier (``UA`` and 17 digits).
KatottgCode = Annotated[
    str,
    Field(pattern=worded(KATOTTG_CODE_PATTERN, "must be a KATOTTG code: UA followed by 17 digits")),
]

#: A service of the classifier of social services (``002.0``).
ServiceCode = Annotated[
    str,
    Field(
        pattern=worded(
            SERVICE_CODE_PATTERN,
            "must be a code of the classifier of social services, such as 002.0",
        )
    ),
]
