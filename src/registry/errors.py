"""The errors business code raises. Each carries its HTTP status and RFC 9457 problem type;
the API renders every one of them the same way (``registry.api.problems``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:registry:problem:"


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
        self.headers = headers or {}

    @classmethod
    def problem_type(cls) -> str:
        return PROBLEM_TYPE_PREFIX + cls.slug


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
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"
    audited_as_denied = True


class NotFound(DomainError):
    """Also what a caller gets for a record outside its reach: existence does not leak."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"
