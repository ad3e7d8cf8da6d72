"""Every error the application can produce, rendered as RFC 9457 application/problem+json."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from registry.api.audit_denied import record_denied
from registry.api.responses import answer_headers
from registry.api.routes import allowed_methods
from registry.api.schemas.words import words_for
from registry.db.pagination import InvalidCursor
from registry.domain.shared.sealing import SealedValueRejected
from registry.errors import (
    PROBLEM_TYPE_PREFIX,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnsupportedMediaType,
    problem_title,
    register_problem_type,
)

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("registry.api")

#: The problem type of an error HTTP itself produces (no route, a wrong method, a body
#: too large…); a ``DomainError`` names its own.
_SLUG_BY_STATUS = {
    400: MalformedRequest.slug,
    401: Unauthenticated.slug,
    403: Forbidden.slug,
    404: NotFound.slug,
    405: "method-not-allowed",
    406: "not-acceptable",
    409: Conflict.slug,
    412: PreconditionFailed.slug,
    413: "payload-too-large",
    415: UnsupportedMediaType.slug,
    422: InvalidInput.slug,
    428: PreconditionRequired.slug,
    429: TooManyRequests.slug,
    500: "internal-error",
    503: ServiceUnavailable.slug,
}


def _slug_of(status: int) -> str:
    slug = _SLUG_BY_STATUS.get(status)
    if slug is None:  # a status no route produces today: its own type, titled by HTTP
        phrase = reason(status)
        slug = "-".join(phrase.lower().replace("'", "").split())
        register_problem_type(slug, phrase)
    return slug


def problem_response(
    status: int,
    detail: str | None,
    *,
    request_id: str | None = None,
    slug: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The problem of ``status`` (of type ``slug``, by default the status's own): its title
    is the type's one title (``registry.errors.PROBLEM_TITLES``)."""
    slug = slug or _slug_of(status)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": problem_title(slug),
        "status": status,
        "detail": detail,
    }
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    if extensions:
        body.update(extensions)
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _field_name(location: tuple[Any, ...]) -> str:
    # A union's member (``function-after[…]``, ``constrained-int``, a model's class name
    # such as ``MoneyIn``) is where Pydantic looked, not a field the caller sent; fields of a
    # body, a query or a path never hold a hyphen nor start with a capital (a header's name
    # does, and is kept).
    in_header = location[:1] == ("header",)
    return ".".join(
        str(part)
        for part in location
        if "[" not in str(part)
        and (in_header or ("-" not in str(part) and not str(part)[:1].isupper()))
    )


def _message(problem: Any) -> str:
    if problem.get("type") == "string_pattern_mismatch":
        return words_for(str(problem.get("ctx", {}).get("pattern", "")))
    message = str(problem.get("msg", "invalid"))
    # A validator's own words, without Pydantic's "Value error, " in front of them.
    return message.removeprefix("Value error, ")


def _field_errors(problems: Sequence[Any]) -> list[dict[str, str]]:
    """One error per field, in words. A field typed ``X | NotNull`` fails both members of
    the union; the member that takes only null ("Input should be None") says nothing about
    the value sent, so another member's error is the one reported."""
    errors: dict[str, str] = {}
    only_null: set[str] = set()
    for problem in problems:
        location = tuple(problem.get("loc", ()))
        takes_null = problem.get("type") == "none_required"
        if takes_null and location[-1:] == ("none",):
            location = location[:-1]  # the union's null member, not a field
        field = _field_name(location)
        if field in errors and (takes_null or field not in only_null):
            continue
        errors[field] = _message(problem)
        if takes_null:
            only_null.add(field)
        else:
            only_null.discard(field)
    # A model's field that failed inside ``X | NotNull`` already says what is wrong with it.
    inner = {field for field in errors if field not in only_null}
    return [
        {"field": field, "message": message}
        for field, message in errors.items()
        if not (field in only_null and any(f.startswith(f"{field}.") for f in inner))
    ]


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return problem_response(
            400, "The request body is not valid JSON.", request_id=_request_id(request)
        )
    if any(
        p.get("type") == "missing" and tuple(p.get("loc", ())) == ("header", "If-Match")
        for p in problems
    ):
        # Optimistic concurrency is not optional on updates: RFC 6585's answer, not a 422.
        return problem_response(
            428,
            "Send If-Match with the ETag of the version you read.",
            request_id=_request_id(request),
        )
    errors = _field_errors(problems)
    return problem_response(
        422,
        "The request has invalid fields; see errors.",
        request_id=_request_id(request),
        errors=errors,
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else None
    if error.status_code == 404 and detail == "Not Found":
        detail = "There is no resource at this address."
    headers = dict(error.headers or {})
    if error.status_code == 405:
        detail = "This resource does not support the method; see Allow."
        # The route that answered knows only its own methods; the path may have more.
        headers["Allow"] = ", ".join(allowed_methods(request.scope) or [headers.get("Allow", "")])
    return problem_response(
        error.status_code, detail, request_id=_request_id(request), headers=headers
    )


async def _invalid_cursor(request: Request, error: Exception) -> Response:
    return problem_response(
        422,
        "The cursor does not belong to this list.",
        request_id=_request_id(request),
        errors=[{"field": "query.cursor", "message": str(error)}],
    )


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    if error.audited_as_denied:
        try:
            await record_denied(request, error.audit_action)
        except ServiceUnavailable as unavailable:
            error = unavailable  # a refusal, too, is answered only once it is recorded
    return problem_response(
        error.status,
        error.detail,
        request_id=_request_id(request),
        slug=error.slug,
        errors=[{"field": e.field, "message": e.message} for e in error.errors] or None,
        extensions=error.extensions,
        headers=_version_headers(error),
    )


def _version_headers(error: DomainError) -> dict[str, str]:
    """A stale ``If-Match`` (412) answers with the record's current version as its ETag."""
    current = error.extensions.get("current_version")
    if isinstance(error, PreconditionFailed) and isinstance(current, int):
        return {**error.headers, **answer_headers(version=current)}
    return error.headers


#: A stored value that fails its integrity check is not the caller's fault, and not shown.
INTEGRITY_ERROR = "integrity-error"
register_problem_type(INTEGRITY_ERROR, "Stored data failed its integrity check")


async def _sealed_value_rejected(request: Request, error: Exception) -> Response:
    """A sealed identifier that does not open (altered in the database, moved from another
    row, or sealed under a key this process lacks): logged for the operators (the place and
    key id, never a value) and answered 500 without any of the record."""
    assert isinstance(error, SealedValueRejected)
    log.error("sealed_value_rejected", place=error.place, key_id=error.key_id, reason=str(error))
    return problem_response(
        500,
        "A stored value of this record failed its integrity check, so nothing of the record "
        "is shown; the operators have been alerted. Quote the request id when reporting it.",
        request_id=_request_id(request),
        slug=INTEGRITY_ERROR,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(SealedValueRejected, _sealed_value_rejected)
