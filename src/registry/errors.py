"""The errors business code raises. Each carries its HTTP status and RFC 9457 problem type;
the API renders every one of them the same way (``registry.api.problems``).

A problem type has one title wherever it is produced: ``PROBLEM_TITLES`` holds the title of
every type, the ones HTTP itself produces (an unknown address, a wrong method) and those of
the errors below, which register theirs as they are declared (a second title for a type is
refused then, at import)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:registry:problem:"

#: The title of each problem type (by its slug, the part after ``PROBLEM_TYPE_PREFIX``).
PROBLEM_TITLES: dict[str, str] = {
    "method-not-allowed": "Method not allowed",
    "not-acceptable": "Not acceptable",
    "payload-too-large": "Payload too large",
    "internal-error": "Internal error",
}


def register_problem_type(slug: str, title: str) -> None:
    """Declare the title of the problem type ``slug``; one type has one title."""
    known = PROBLEM_TITLES.setdefault(slug, title)
    if known != title:
        raise TypeError(f"problem type {slug!r} is titled {known!r}, not {title!r}")


def problem_title(slug: str) -> str:
    """The one title of the problem type ``slug``."""
    return PROBLEM_TITLES[slug]


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    #: Whether the refusal is recorded in the audit log as ``denied``.
    audited_as_denied: ClassVar[bool] = False
    #: The action such a refusal is recorded as; ``None``: the operation's own name.
    audit_action: ClassVar[str | None] = None
    #: Headers every problem of the class carries (``WWW-Authenticate`` of a 401, say).
    default_headers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_problem_type(cls.slug, cls.title)

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extensions = extensions or {}
        self.headers = {**self.default_headers, **(headers or {})}

    @classmethod
    def problem_type(cls) -> str:
        return PROBLEM_TYPE_PREFIX + cls.slug


register_problem_type(DomainError.slug, DomainError.title)


class MalformedRequest(DomainError):
    """The body cannot be read at all (not JSON, say): nothing in it could be checked."""

    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class InvalidInput(DomainError):
    status = 422
    slug = "validation-error"
    title = "Invalid input"


class Unauthenticated(DomainError):
    """No credentials at all (or not a bearer token): the challenge names no error code, as
    RFC 6750 §3.1 asks of a request that lacked authentication."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"
    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class InvalidToken(Unauthenticated):
    """A bearer token was sent but is not acceptable (malformed, expired, forged, or its
    claims are wrong): ``error="invalid_token"`` (RFC 6750 §3.1)."""

    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"
    audited_as_denied = True


class NotFound(DomainError):
    """Also what a caller gets for a record outside its reach: existence does not leak. Each
    one is audited as a denied read of the id asked for (whether the record exists elsewhere
    or not), so that probing for records is visible in the audit log."""

    status = 404
    slug = "not-found"
    title = "Not found"
    audited_as_denied = True


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Gone(DomainError):
    """A thing that was here and is no more, for good (an export's files past their
    retention): asking again will not bring it back."""

    status = 410
    slug = "gone"
    title = "Gone"


class RangeNotSatisfiable(DomainError):
    """A ``Range`` that asks for no byte of the file: ``Content-Range`` says its length."""

    status = 416
    slug = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, length: int) -> None:
        super().__init__(detail, headers={"Content-Range": f"bytes */{length}"})


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class ServiceUnavailable(DomainError):
    """The database cannot serve the request now (a timeout fired, no connection could be
    had, the connection was lost): nothing was changed, and the same request may succeed
    later. Never a bug of the request or of the code: those stay 500s."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"
    #: Seconds a client waits before it tries again: longer than the lock and connection
    #: waits that made the request give up, short enough that a client does not give up.
    retry_after_seconds: ClassVar[int] = 5
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": str(retry_after_seconds)}


class TooManyRequests(DomainError):
    """Over a rate limit (``registry.api.rate_limits``): ``Retry-After`` says in how many
    seconds the window ends."""

    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class TooManyLookups(TooManyRequests):
    """Over the stricter limit of name searches and identifier lookups of persons: what
    enumerating the registry looks like, so each refusal is in the audit log."""

    audited_as_denied = True
    audit_action = "rate_limited"
