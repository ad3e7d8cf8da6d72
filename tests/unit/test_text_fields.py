"""Free text as people write it, without a database: the one rule every free-text field
uses (``text_field``), the person-name field, the ``X-Purpose`` header's decoding, and the
one way a typed text becomes a LIKE pattern."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis.core.jsonschema import FANCY_REGEX_OPTIONS
from schemathesis.core.jsonschema.patterns import normalize_regex

from registry.api.purpose import PURPOSE_MAX_LENGTH, PURPOSE_PATTERN, purpose_text
from registry.api.schemas.base import NAME_QUERY_PATTERN, InputSchema, PersonName, text_field
from registry.db.like import contains, escape_like
from registry.domain.shared.names import query_key
from registry.errors import MalformedRequest

FAST = settings(max_examples=200)
SRC = Path(__file__).resolve().parents[2] / "src" / "registry"

#: NUL is refused for the whole body before any field is read (``InputSchema``).
C0_C1 = [chr(c) for c in (*range(1, 0x20), *range(0x7F, 0xA0))]


class Body(InputSchema):
    line: Annotated[str, text_field(20)] | None = None
    note: Annotated[str, text_field(20, multiline=True)] | None = None
    name: PersonName | None = None


def _problems(**fields: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(fields)
    return [
        {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in caught.value.errors()
    ]


def test_text_is_stripped_and_kept_as_written() -> None:
    body = Body.model_validate({"line": "  вул. Шевченка, 1 ", "note": " Рядок.\nДругий "})
    assert body.line == "вул. Шевченка, 1"
    assert body.note == "Рядок.\nДругий"


def test_the_length_is_the_text_as_sent() -> None:
    """The spec's maxLength counts what was sent, the space around it included."""
    assert _problems(line=" " * 3 + "a" * 18) == [
        {"field": "line", "message": "is longer than 20 characters"}
    ]


@pytest.mark.parametrize("control", C0_C1)
def test_a_one_line_field_refuses_every_control_character(control: str) -> None:
    assert _problems(line=f"a{control}b") == [
        {
            "field": "line",
            "message": "must be one line without control characters (line breaks, tab, escape…)",
        }
    ]


@pytest.mark.parametrize("control", [c for c in C0_C1 if c not in "\n\r"])
def test_a_multi_line_field_refuses_every_control_but_line_breaks(control: str) -> None:
    assert _problems(note=f"a{control}b") == [
        {
            "field": "note",
            "message": "may contain line breaks but no other control characters (tab, escape…)",
        }
    ]


def test_a_multi_line_field_keeps_line_feeds_and_makes_cr_lf_one() -> None:
    assert Body.model_validate({"note": "a\r\nb\rc\n\nd"}).note == "a\nb\nc\n\nd"
    assert Body.model_validate({"note": "a\r\n" * 6 + "b"}).note == "a\n" * 6 + "b"  # 19 sent


def test_terminal_escapes_are_refused() -> None:
    assert [p["field"] for p in _problems(line="\u001b[31mred", note="\u001b[31mred")] == [
        "line",
        "note",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be blank"),
        ("   ", "must not be blank"),
        ("\u2028\u3000", "must not be blank"),
        ("x" * 21, "is longer than 20 characters"),
    ],
)
def test_blank_and_long_text_is_refused_in_words(value: str, message: str) -> None:
    assert _problems(line=value) == [{"field": "line", "message": message}]
    assert _problems(note=value) == [{"field": "note", "message": message}]


def test_the_spec_shows_the_rules() -> None:
    properties = Body.model_json_schema()["properties"]
    line = properties["line"]["anyOf"][0]
    note = properties["note"]["anyOf"][0]
    assert (line["minLength"], line["maxLength"]) == (1, 20)
    assert (note["minLength"], note["maxLength"]) == (1, 20)
    assert re.fullmatch(line["pattern"], "one line")
    assert not re.fullmatch(line["pattern"], "two\nlines")
    assert re.fullmatch(note["pattern"], "two\r\nlines")
    assert not re.fullmatch(note["pattern"], "tab\there")


_TEXT_SAMPLES = st.text(max_size=20) | st.lists(
    st.sampled_from([*"a ,.\t\n\r\x0b\x1b\x1c\x7f\x85\x9f\xa0", "\u2028", "\u200b", "\ufeff"]),
    max_size=20,
).map("".join)


@FAST
@given(value=_TEXT_SAMPLES)
def test_the_spec_pattern_says_what_is_accepted(value: str) -> None:
    """A client (or schemathesis) that keeps to the spec is never refused, and what the
    pattern refuses (a control character inside, nothing but spaces) is refused."""
    properties = Body.model_json_schema()["properties"]
    for field in ("line", "note"):
        pattern = properties[field]["anyOf"][0]["pattern"]
        if not re.fullmatch(pattern, value):
            with pytest.raises(ValidationError):
                Body.model_validate({field: value})
        elif len(value) <= 20:
            Body.model_validate({field: value})


def test_messages_never_show_a_pattern() -> None:
    for fields in ({"line": "\x1b"}, {"note": "\x07"}, {"name": "R2-D2"}, {"name": "Ann\x1b"}):
        for problem in _problems(**fields):
            assert "pattern" not in problem["message"]
            assert "^" not in problem["message"]


def test_a_person_name_is_cleaned_and_refused_in_words() -> None:
    assert Body.model_validate({"name": "O'Connor"}).name == "OʼConnor"
    assert Body.model_validate({"name": "Jose\u0301"}).name == "José"
    assert _problems(name="R2-D2") == [
        {"field": "name", "message": "may contain only letters, apostrophes, hyphens and spaces"}
    ]
    schema = Body.model_json_schema()["properties"]["name"]["anyOf"][0]
    assert (schema["minLength"], schema["maxLength"]) == (1, 100)
    spec = jsonschema_rs.Draft202012Validator(schema, pattern_options=FANCY_REGEX_OPTIONS)
    for name in ("Emine Şevkiyeva", "Ёлкин", "OʼConnor", "Müller-Lüdenscheidt", "ნინო", "محمد"):
        assert spec.is_valid(name)
    for name in ("R2-D2", "Анна 😀", "-Анна", "Мар''яна", ""):
        assert not spec.is_valid(name)


_NAME_SCHEMA = Body.model_json_schema()["properties"]["name"]["anyOf"][0]
_NAME_SPEC = jsonschema_rs.Draft202012Validator(_NAME_SCHEMA, pattern_options=FANCY_REGEX_OPTIONS)


_QUERY_SPEC = jsonschema_rs.Draft202012Validator(
    {"type": "string", "pattern": NAME_QUERY_PATTERN}, pattern_options=FANCY_REGEX_OPTIONS
)


@FAST
@given(
    q=st.from_regex(normalize_regex(NAME_QUERY_PATTERN) or "", fullmatch=True).filter(
        lambda value: _QUERY_SPEC.is_valid(value)
    )
)
def test_a_name_search_the_spec_allows_is_searched(q: str) -> None:
    query_key(q)


@pytest.mark.parametrize("q", ["%", "12", "--", "Шев\x1bенко", "a\x85b"])
def test_a_name_search_the_spec_refuses_is_refused(q: str) -> None:
    assert not _QUERY_SPEC.is_valid(q)
    with pytest.raises(ValueError, match=r"^(must not contain control|must contain letters)"):
        query_key(q)


@FAST
@given(
    name=st.from_regex(normalize_regex(_NAME_SCHEMA["pattern"]) or "", fullmatch=True).filter(
        lambda value: _NAME_SPEC.is_valid(value)
    )
)
def test_a_name_the_spec_allows_is_accepted(name: str) -> None:
    """What schemathesis (and a client) makes of the spec's pattern is never refused."""
    Body.model_validate({"name": name})


# --- LIKE ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("50%", "50\\%"),
        ("a_b", "a\\_b"),
        ("c:\\d", "c:\\\\d"),
        ("%_\\", "\\%\\_\\\\"),
        ("Київ", "Київ"),
    ],
)
def test_like_metacharacters_are_escaped(typed: str, escaped: str) -> None:
    assert escape_like(typed) == escaped


def test_contains_builds_an_escaped_pattern() -> None:
    from sqlalchemy import column
    from sqlalchemy.dialects import postgresql

    clause = contains(column("name"), "%", ignore_case=True)
    compiled = clause.compile(dialect=postgresql.dialect())
    assert "ILIKE" in str(compiled)
    assert "ESCAPE" in str(compiled)
    assert list(compiled.params.values()) == ["%\\%%"]


def test_every_like_goes_through_the_one_helper() -> None:
    """A user's text reaches LIKE only escaped: no query builds a pattern of its own."""
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if path != SRC / "db" / "like.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.(not_)?i?like\(", line)
    ]
    assert offenders == []


# --- X-Purpose ----------------------------------------------------------------------------

#: Text a purpose may be: no control characters (surrogates cannot be UTF-8 at all).
purposes = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=PURPOSE_MAX_LENGTH
).filter(lambda value: value.strip() == value)


@FAST
@given(purpose=purposes)
def test_every_way_of_sending_a_purpose_gives_its_text(purpose: str) -> None:
    raw = purpose.encode().decode("latin-1")  # what Starlette makes of raw UTF-8
    encoded = quote(purpose, safe="")
    if not (purpose.isascii() and "%" in purpose):  # an ASCII value with % is percent-encoded
        assert purpose_text(raw) == purpose
    assert purpose_text(encoded) == purpose
    assert purpose_text("UTF-8''" + encoded) == purpose
    assert re.fullmatch(PURPOSE_PATTERN, encoded)


@FAST
@given(value=st.from_regex(PURPOSE_PATTERN, fullmatch=True))
def test_a_purpose_the_spec_allows_is_accepted(value: str) -> None:
    text = purpose_text(value)
    assert text is None or len(text) <= PURPOSE_MAX_LENGTH


@pytest.mark.parametrize(
    "value",
    ["\udcff", "%FF", "%C0%AF", "%ED%A0%80", "a%C2%85b", "%7F", "%00", "UTF-8''%", "a\x1bb"],
)
def test_a_purpose_the_spec_refuses_is_400(value: str) -> None:
    assert not re.fullmatch(PURPOSE_PATTERN, value)
    with pytest.raises(MalformedRequest):
        purpose_text(value)


@FAST
@given(
    value=st.lists(
        st.sampled_from([*"aZ9 '%-", "%41", "%D0", "%BF", "%0A", "\t", "\x7f", "UTF-8''"])
    ).map("".join)
    | st.text(st.characters(max_codepoint=0x7F), max_size=220)
)
def test_an_ascii_purpose_the_spec_refuses_is_400(value: str) -> None:
    """For the ASCII forms the spec's pattern is exact: what it refuses is a 400 (schemathesis
    sends such values expecting a refusal)."""
    if value.strip() != value or re.fullmatch(PURPOSE_PATTERN, value):
        return
    with pytest.raises(MalformedRequest):
        purpose_text(value)
