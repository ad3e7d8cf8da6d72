"""Request plumbing as pure ASGI middleware: request id, body size limit, NUL guard,
security headers, the access log, and the last-resort 500; the per-address rate limit and
the RateLimit headers; and CORS for listed origins."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.api.problems import problem_response
from registry.api.rate_limits import RateLimits, client_address, held, hold, tripped
from registry.api.routes import route_template

log = structlog.get_logger("registry.access")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit; FastAPI lets HTTPException
    through its body parsing unchanged, so it renders as the 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            rejection = self._reject_early(scope)
            if rejection is not None:
                await rejection(scope, receive, send_with_headers)
            else:
                await self.app(scope, self._limited(scope, receive), send_with_headers)
        except Exception:
            log.exception("unhandled_error", method=scope["method"], path=route_template(scope))
            if status_holder["started"]:
                raise
            response = problem_response(
                500,
                "An unexpected error occurred; quote the request id when reporting it.",
                request_id=request_id,
            )
            await response(scope, receive, send_with_headers)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=route_template(scope),
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                sub=state.get("principal_sub"),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    def _reject_early(self, scope: Scope) -> Any:
        request_id = scope["state"]["request_id"]
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_body_bytes
                except ValueError:
                    return problem_response(
                        400, "Content-Length is not a number.", request_id=request_id
                    )
                if too_large:
                    return problem_response(
                        413,
                        f"The request body is larger than {self.max_body_bytes} bytes.",
                        request_id=request_id,
                    )
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            return problem_response(
                422,
                "The address contains a NUL character.",
                request_id=request_id,
                errors=[{"field": "query", "message": "must not contain NUL (%00)"}],
            )
        return None

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return receive_limited


class RateLimitMiddleware:
    """Counts every ``/api/`` request against its client address's quota before anything
    else is done with it (a flood of bad tokens is refused before a token is verified or a
    body read), and gives every ``/api/`` answer the RateLimit fields of what the request was
    counted against (its address, and later its subject: ``api.rate_limits``)."""

    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict = held(scope)
                if verdict is not None:
                    message["headers"] = [*message.get("headers", []), *verdict.headers()]
            await send(message)

        verdict = await self.limits.count(self.limits.address, client_address(scope))
        if verdict is not None:
            hold(scope, verdict)
            if verdict.refused:
                tripped(verdict, limit="address")
                refusal = problem_response(
                    429,
                    f"Too many requests from your address: at most {verdict.quota}; "
                    f"try again in {verdict.reset} s.",
                    request_id=scope["state"].get("request_id"),
                    headers={"Retry-After": str(verdict.reset)},
                )
                await refusal(scope, receive, send_with_limits)
                return
        await self.app(scope, receive, send_with_limits)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = str(value.decode("latin-1"))
            if _CLIENT_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


#: What a browser page may send, and read back, across origins: every header the API reads
#: besides the CORS-safelisted ones, and every header it answers with.
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "X-Purpose",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Link",
    "X-Request-ID",
    "Idempotent-Replayed",
    "WWW-Authenticate",
    "Allow",
    "Accept-Patch",
    "Accept-Post",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
)


class _ProblemCORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as a problem."""

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.startswith("access-control-") or name == "vary"
        }
        return problem_response(
            400,
            f"The preflight asks for what this API does not allow across origins: {refused}.",
            headers=headers,
        )


class CorsMiddleware:
    """CORS for the listed origins and no other: a request from an origin not listed (or
    with none) passes by untouched, without any CORS header; one from a listed origin gets
    Starlette's answers (a preflight, or the allowed origin and exposed headers)."""

    def __init__(self, app: ASGIApp, *, origins: list[str], methods: list[str]) -> None:
        self.app = app
        self.origins = frozenset(origin.encode("latin-1") for origin in origins)
        self.cors = _ProblemCORS(
            app,
            allow_origins=list(origins),
            allow_methods=methods,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"origin":
                    if value in self.origins:
                        await self.cors(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
