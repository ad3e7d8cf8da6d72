"""The ``X-Purpose`` header: why the caller needs the data, kept in the audit log as the text
it was sent as.

HTTP header values are bytes; Starlette hands them over decoded as Latin-1, so UTF-8 sent raw
(``перевірка``) arrives as mojibake (``Ð¿ÐµÑ…``). Accepted, and stored as the text they
carry:

- raw UTF-8 bytes;
- percent-encoded UTF-8 (``%D0%BF%D0%B5…``): an ASCII value holding a ``%`` is percent-decoded,
  and each ``%`` must begin a ``%XX`` escape (a literal ``%`` is ``%25``);
- an RFC 8187 extended value, ``UTF-8''%D0%BF…`` (a language tag between the quotes is
  allowed and dropped);
- plain ASCII without ``%``, as it is.

The spec's pattern shows the ASCII forms exactly; raw UTF-8 it cannot show.

Anything that does not decode as UTF-8, holds a control character once decoded, or is longer
than 200 characters is a 400. Surrounding spaces are dropped; an empty value is no purpose.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from registry.errors import FieldError, MalformedRequest

PURPOSE_MAX_LENGTH = 200
_HEX = "[0-9A-Fa-f]"
_TAIL = f"%[89ABab]{_HEX}"  # a UTF-8 continuation byte, 80-BF
#: One character of a purpose as the spec shows it: printable ASCII but ``%``, or a UTF-8
#: character percent-encoded (no control characters, no overlong forms or surrogates).
_PURPOSE_CHARACTER = "|".join(
    (
        "[\\x20-\\x24\\x26-\\x7e]",
        f"%(?:[2-6]{_HEX}|7[0-9A-Ea-e])",
        f"%[Cc]2%[ABab]{_HEX}",
        f"%(?:[Cc][3-9A-Fa-f]|[Dd]{_HEX}){_TAIL}",
        f"%[Ee]0%[ABab]{_HEX}{_TAIL}",
        f"%[Ee][1-9A-Ca-cEeFf]{_TAIL}{_TAIL}",
        f"%[Ee][Dd]%[89]{_HEX}{_TAIL}",
        f"%[Ff]0%[9ABab]{_HEX}{_TAIL}{_TAIL}",
        f"%[Ff][1-3]{_TAIL}{_TAIL}{_TAIL}",
        f"%[Ff]4%8{_HEX}{_TAIL}{_TAIL}",
    )
)
#: The header's value in the spec: a purpose of at most 200 characters, percent-encoded (or
#: the RFC 8187 form, whose prefix is ASCII). Raw UTF-8, which a spec cannot show, is
#: accepted too.
PURPOSE_PATTERN = f"^(?:{_PURPOSE_CHARACTER}){{0,{PURPOSE_MAX_LENGTH}}}$"

_RFC_8187 = re.compile(r"(?i:utf-8)'[A-Za-z0-9\-]*'(.*)", re.DOTALL)
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_NOT_PURPOSE_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def purpose_text(header: str | None) -> str | None:
    """The ``X-Purpose`` header as text. Starlette gives header bytes decoded as Latin-1:
    non-ASCII ones are taken as UTF-8; an ASCII one with ``%`` is percent-decoded as UTF-8
    (``UTF-8''…`` of RFC 8187, or plain). Anything else is a 400, never mojibake."""
    if header is None:
        return None
    text = header
    try:
        if not header.isascii():
            text = header.encode("latin-1").decode("utf-8")
        elif "'" in header and (extended := _RFC_8187.fullmatch(header)) is not None:
            text = _percent_decoded(extended.group(1))
        elif "%" in header:
            text = _percent_decoded(header)
    except UnicodeError:
        raise _bad_purpose("is not UTF-8 text") from None
    if _NOT_PURPOSE_TEXT.search(text):
        raise _bad_purpose("must not contain control characters")
    text = text.strip()
    if len(text) > PURPOSE_MAX_LENGTH:
        raise _bad_purpose(f"is longer than {PURPOSE_MAX_LENGTH} characters")
    return text or None


def _percent_decoded(value: str) -> str:
    """``%XX`` escapes as UTF-8 bytes; a ``%`` that begins none is an error."""
    if value.count("%") != len(_PERCENT_ESCAPE.findall(value)):
        raise _bad_purpose("has a % that begins no %XX escape (a literal % is sent as %25)")
    return unquote_to_bytes(value).decode("utf-8")


def _bad_purpose(message: str) -> MalformedRequest:
    return MalformedRequest(
        "The X-Purpose header must be UTF-8 text: raw, percent-encoded or RFC 8187 (UTF-8''…).",
        errors=[FieldError("header.X-Purpose", message)],
    )
