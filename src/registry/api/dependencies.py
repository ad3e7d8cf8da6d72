"""Dependencies every router uses: the unit of work, the caller, pagination.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in a worker
thread, a thread hop per request for work that never blocks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Header, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from registry.api.purpose import PURPOSE_MAX_LENGTH, PURPOSE_PATTERN, purpose_text
from registry.api.rate_limits import limit_lookups, limit_subject
from registry.api.schemas.words import worded
from registry.auth.audit_keys import AuditKeys, audit_keys
from registry.auth.roles import Permission
from registry.auth.tokens import TokenVerifier
from registry.db.engine import Database
from registry.db.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from registry.db.pagination import encode_cursor as encode_cursor  # the lists' cursors
from registry.db.reach import NOWHERE, Reach
from registry.domain.shared.caller import Caller
from registry.domain.shared.reach import reach_of
from registry.domain.shared.sealing import IdentifierKeys, load_identifier_keys
from registry.errors import FieldError, Forbidden, InvalidInput, Unauthenticated
from registry.settings import Settings


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request. ``scope="function"`` (below) makes FastAPI leave this
    block as soon as the handler returns, so the commit happens before the response is
    sent, and a failed commit is an error response rather than a 200 for lost work."""
    database: Database = request.app.state.database
    async with database.transaction(reach=lambda: _reach(request)) as session:
        yield session


Session = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


def _reach(request: Request) -> Reach:
    """The caller's reach, for the database's row-level security: by a unit of work's first
    statement its caller is known (no caller, no personal row)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    return NOWHERE if caller is None else reach_of(caller.principal)


async def _statement_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """The fast path: the driver's connection for one compiled statement that is a whole
    unit of work by itself (it reads and audits at once), with no transaction around it
    unless the caller's reach must be set for it (a handler names its caller before its
    connection, so the caller is known here)."""
    database: Database = request.app.state.database
    reach = _reach(request) if database.row_security else None
    async with database.statement_connection(reach=reach) as connection:
        yield connection


DriverConnection = Annotated[asyncpg.Connection, Depends(_statement_connection, scope="function")]


def uses_database(dependant: Dependant) -> bool:
    """Whether an operation (its dependency tree) works on the database: a session or a
    statement connection, where a 503 can answer it (``registry.db.availability``)."""
    return dependant.call in (_unit_of_work, _statement_connection) or any(
        uses_database(dependency) for dependency in dependant.dependencies
    )


@asynccontextmanager
async def own_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction apart from the request's (which may have rolled back): for what must be
    written whatever the request's fate (a refusal's audit event) and the readiness probe."""
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


async def database_reachable(request: Request) -> bool:
    """Whether a connection to the database is had and answers, within the wait a request
    is allowed (the readiness probe)."""
    database: Database = request.app.state.database
    return await database.reachable()


async def _audit_keys(request: Request) -> AuditKeys:
    """The application's audit keys: loaded at startup, or here on first use (an application
    served without its lifespan, as in tests)."""
    keys: AuditKeys | None = request.app.state.audit_keys
    if keys is None:
        keys = request.app.state.audit_keys = audit_keys(request.app.state.settings)
    return keys


AuditSigningKeys = Annotated[AuditKeys, Depends(_audit_keys)]


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_settings)]

_bearer = HTTPBearer(auto_error=False, description="A JWT from the ministry's identity provider.")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

Purpose = Annotated[
    str | None,
    Header(
        description="Why the caller needs the data; kept in the audit log. UTF-8 text of at "
        f"most {PURPOSE_MAX_LENGTH} characters without control characters, sent as raw UTF-8, "
        "percent-encoded (`%D0%BF…`: every `%` begins an escape, a literal `%` is `%25`) or "
        "as an RFC 8187 value (`UTF-8''%D0%BF…`). Anything else is a 400.",
    ),
    # Shown, not enforced: FastAPI would hold the pattern against the Latin-1 reading.
    WithJsonSchema(
        {
            "type": "string",
            "pattern": worded(
                PURPOSE_PATTERN,
                "must be UTF-8 text of at most 200 characters, raw or percent-encoded",
            ),
        }
    ),
]


def _identifier_keys(request: Request) -> IdentifierKeys:
    """The application's identifier keys: loaded at startup, or here on first use by an
    application run without its lifespan (as the tests drive it)."""
    keys: IdentifierKeys | None = request.app.state.identifier_keys
    if keys is None:
        settings: Settings = request.app.state.settings
        keys = load_identifier_keys(settings.identifier_keys_file, settings.development_keys_dir)
        request.app.state.identifier_keys = keys
    return keys


async def _caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None, purpose: str | None
) -> Caller:
    """The verified caller (401 without a valid bearer token), kept on the request so that
    the access log names the subject and a refusal rendered later is audited as theirs;
    counted against the subject's rate limit (429 over it). Once per request: an operation
    may reach it through two dependencies (its permission, its idempotency)."""
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.principal(credentials.credentials)
    request.state.principal_sub = principal.sub
    caller = Caller(
        principal,
        request.state.request_id,
        purpose_text(purpose),
        request.app.state.clock(),
        keys=_identifier_keys(request),
    )
    request.state.caller = caller
    await limit_subject(request, principal.sub)
    return caller


async def caller_of(
    request: Request, credentials: Credentials, x_purpose: Purpose = None
) -> Caller:
    """The caller, whatever they may do (the permission dependencies below check that)."""
    return await _caller(request, credentials, x_purpose)


def require(
    permission: Permission, *, lookups: tuple[str, ...] = ()
) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and admits them if they hold
    ``permission`` (403 otherwise). Every ``/api/v1`` operation has one (a test holds it so).
    A request carrying any of the query parameters ``lookups`` searches for persons by name
    or identifier, and counts against the subject's stricter quota of lookups too.
    """

    # Flat on purpose: FastAPI solves every node of the dependency tree on every request.
    async def dependency(
        request: Request, credentials: Credentials, x_purpose: Purpose = None
    ) -> Caller:
        caller = await _caller(request, credentials, x_purpose)
        if not caller.principal.can(permission):
            raise Forbidden(f"The {caller.principal.role.value} role may not do this.")
        if lookups and any(name in request.query_params for name in lookups):
            await limit_lookups(request, caller.principal.sub)
        return caller

    dependency.__name__ = f"require_{permission.value.replace(':', '_').replace('-', '_')}"
    return dependency


TerritoriesRead = Annotated[Caller, Depends(require(Permission.TERRITORIES_READ))]
ReferenceRead = Annotated[Caller, Depends(require(Permission.REFERENCE_READ))]
FamiliesRead = Annotated[Caller, Depends(require(Permission.FAMILIES_READ))]
#: Reading families, where a name (`q`) or a national identifier may be searched for.
FamiliesSearch = Annotated[
    Caller, Depends(require(Permission.FAMILIES_READ, lookups=("q", "rnokpp", "unzr")))
]
FamiliesWrite = Annotated[Caller, Depends(require(Permission.FAMILIES_WRITE))]
AuditRead = Annotated[Caller, Depends(require(Permission.AUDIT_READ))]
ClassifiersManage = Annotated[Caller, Depends(require(Permission.CLASSIFIERS_MANAGE))]
ProvidersRead = Annotated[Caller, Depends(require(Permission.PROVIDERS_READ))]
ProvidersManage = Annotated[Caller, Depends(require(Permission.PROVIDERS_MANAGE))]
ServiceRecordsRead = Annotated[Caller, Depends(require(Permission.SERVICE_RECORDS_READ))]
ServiceRecordsWrite = Annotated[Caller, Depends(require(Permission.SERVICE_RECORDS_WRITE))]
CasesRead = Annotated[Caller, Depends(require(Permission.CASES_READ))]
CasesWrite = Annotated[Caller, Depends(require(Permission.CASES_WRITE))]
MilitaryRead = Annotated[Caller, Depends(require(Permission.MILITARY_READ))]
MilitaryWrite = Annotated[Caller, Depends(require(Permission.MILITARY_WRITE))]
MilitaryManage = Annotated[Caller, Depends(require(Permission.MILITARY_MANAGE))]
ProgrammesRead = Annotated[Caller, Depends(require(Permission.PROGRAMMES_READ))]
ProgrammesWrite = Annotated[Caller, Depends(require(Permission.PROGRAMMES_WRITE))]
ProgrammesManage = Annotated[Caller, Depends(require(Permission.PROGRAMMES_MANAGE))]
ChangesRead = Annotated[Caller, Depends(require(Permission.CHANGES_READ))]
ExportsCreate = Annotated[Caller, Depends(require(Permission.EXPORTS_CREATE))]
ReportsRead = Annotated[Caller, Depends(require(Permission.REPORTS_READ))]
WebhooksManage = Annotated[Caller, Depends(require(Permission.WEBHOOKS_MANAGE))]


def decode_cursor(cursor: str, field: str = "query.cursor") -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError):
        values = None
    if not isinstance(values, list) or not values:
        raise InvalidInput(
            "The cursor is not one this API issued.",
            errors=[FieldError(field, "not a cursor from this list")],
        )
    return tuple(values)


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = (
        DEFAULT_LIMIT
    ),
    cursor: Annotated[
        str | None,
        Query(
            max_length=1024,
            pattern=worded(
                r"^[A-Za-z0-9_\-]+$", "must be the next_cursor of the previous page, unchanged"
            ),
            description="`next_cursor` of the previous page.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


Pagination = Annotated[PageRequest, Depends(page_request)]
