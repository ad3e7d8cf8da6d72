"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from registry import __version__
from registry.api.contract import check_contract, operation_contracts
from registry.api.dependencies import uses_database
from registry.api.docs import install_docs
from registry.api.middleware import CorsMiddleware, RateLimitMiddleware, RequestContextMiddleware
from registry.api.openapi_responses import problem_components, problem_responses
from registry.api.problems import install_problem_handlers
from registry.api.rate_limits import RateLimits
from registry.api.routers import (
    audit,
    cases,
    changes,
    classifier,
    exports,
    families,
    friendly_communities,
    health,
    military,
    programmes,
    providers,
    reference,
    reports,
    service_records,
    territories,
    webhooks,
)
from registry.auth.audit_keys import AuditKeys, AuditSigner
from registry.auth.audit_keys import audit_keys as load_audit_keys
from registry.auth.keys import VerificationKeys, development_keys
from registry.auth.tokens import TokenVerifier
from registry.db.engine import Database, Limits
from registry.db.reach import ROW_SECURITY_PROBE
from registry.domain import idempotency
from registry.domain.audit.commands import seal
from registry.domain.shared.clock import utc_today
from registry.domain.shared.sealing import IdentifierKeys, load_identifier_keys
from registry.errors import ServiceUnavailable
from registry.settings import Settings, get_settings

log = structlog.get_logger("registry")
#: Expired stored answers deleted per transaction while pruning.
_PRUNE_BATCH = 5000
#: Container objects allocated (net of those freed) before the cyclic collector looks at the
#: young generation. Python's 700 is passed within one page of families or cases, whose rows
#: and dicts are all alive then: a collection walked them on nearly every page, 120–150 µs of
#: a 4–5 ms page. Requests free what they made by reference counting, so what the collector
#: finds is mostly the pages in flight; 50 000 lies above a full pool of them.
YOUNG_GENERATION_THRESHOLD = 50_000

DESCRIPTION = """\
The national registry of social services: families in difficult life circumstances
and their social accompaniment, providers and the services they deliver, support for
servicemembers' families, community programmes.

Every `/api/v1` operation needs a bearer JWT. Errors are RFC 9457
`application/problem+json`. Lists use keyset pagination (`limit`, `cursor`).
Every read and write of personal data is recorded in the audit log; send `X-Purpose`
to say why you need the data.

Requests are limited per subject and per client address, and name searches and identifier
lookups of persons more strictly; over a limit the answer is a 429 with `Retry-After`.
Every `/api/` answer then says where the caller stands, in the fields of draft 6 of the IETF's
RateLimit fields: `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) of
the quota closest to exhaustion, and `RateLimit-Policy` (`limit;w=seconds`, …) of every quota
the request was counted against.
"""

#: Every tag an operation carries, described (Swagger UI and ReDoc show them in this order).
TAGS = [
    {
        "name": "families",
        "description": "Families in difficult life circumstances and their members: "
        "registration, search, changes, archiving, and the providers linked to serve them.",
    },
    {
        "name": "cases",
        "description": "Social accompaniment of a family: the case from its report through "
        "assessment, decision, plan, visits and reviews to its closing; referrals to "
        "providers; each social worker's caseload.",
    },
    {
        "name": "military",
        "description": "Support for servicemembers' families, organised per military unit: "
        "the units of the programme and their eligible civil-society providers, "
        "servicemembers and their status, the catalogue of support measures, and support "
        "cases. No unit location, deployment or strength, no rank or position is stored.",
    },
    {
        "name": "programmes",
        "description": "Community programmes: targeted financial support, grants and "
        "humanitarian aid in kind; budgets, allocations per hromada, eligibility and "
        "enrolment of families, distributions and their reversals, the catalogue of aid "
        "items, and each hromada's aid stock.",
    },
    {
        "name": "changes",
        "description": "The change feed for integration systems: every committed write of a "
        "resource within the caller's reach, as ids, versions and places (never personal "
        "data), in an order that never skips an event.",
    },
    {
        "name": "exports",
        "description": "Bulk NDJSON exports for integration systems: every record of some "
        "types within the caller's reach, as of one moment, in files of bounded size with "
        "their SHA-256, written by `registry worker` and downloadable (with `Range`) until "
        "they expire.",
    },
    {
        "name": "reports",
        "description": "Aggregate reports for the ministry's analysts and the territories' "
        "officers: families, cases, service records, providers, support cases and "
        "programmes' money counted by oblast, raion or hromada, with small counts suppressed "
        "so that no family can be singled out. No personal data.",
    },
    {
        "name": "webhooks",
        "description": "Webhook subscriptions: the change feed pushed to an integration "
        "system's URL by `registry worker`, signed the Standard Webhooks way, in order, at "
        "least once; every attempt logged; replay from any position.",
    },
    {
        "name": "friendly-communities",
        "description": "The Child and Youth Friendly Community initiative (UNICEF) per "
        "hromada: each hromada's way from its council's decision to the status, every step "
        "dated and resting on a document. The status is awarded and withdrawn by the "
        "ministry only.",
    },
    {
        "name": "service records",
        "description": "Services providers deliver to families, one at a time or in batches "
        "(JSON or NDJSON), corrected by amendment and voided, never deleted.",
    },
    {
        "name": "providers",
        "description": "The register of providers of social services: their entries, the "
        "services they offer, and their status in the register.",
    },
    {
        "name": "services",
        "description": "The classifier of social services (order No. 429 of 2020), kept by "
        "the ministry.",
    },
    {
        "name": "reference",
        "description": "Reference lists: categories of recipients, factors of difficult "
        "life circumstances, criteria for supporting servicemembers' families.",
    },
    {
        "name": "territories",
        "description": "The KATOTTG codifier of administrative and territorial units.",
    },
    {
        "name": "audit",
        "description": "The append-only log of every read and write of personal data, "
        "for auditors.",
    },
    {
        "name": "health",
        "description": "Liveness and readiness probes; no token needed.",
    },
]

#: The routers of ``/api/v1``, one per area.
API_ROUTERS = (
    territories.router,
    reference.router,
    families.router,
    service_records.router,
    classifier.router,
    providers.router,
    cases.router,
    military.router,
    programmes.router,
    friendly_communities.router,
    changes.router,
    exports.router,
    reports.router,
    webhooks.router,
    audit.router,
)

#: Where an operation's summary stops: its description's first clause.
_CLAUSE_END = re.compile(r"[.!?;:](\s|$)| \(| — ")


def verifier_for(settings: Settings) -> TokenVerifier:
    if settings.jwt_jwks_file is not None:
        keys = VerificationKeys.from_file(settings.jwt_jwks_file)
    else:
        _, keys = development_keys(settings.development_keys_dir)
    return TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
    )


def identifier_keys_for(settings: Settings) -> IdentifierKeys:
    return load_identifier_keys(settings.identifier_keys_file, settings.development_keys_dir)


def _operation_id(route: APIRoute) -> str:
    return route.name


def summary_of(description: str) -> str | None:
    """A short summary from an operation's docstring: its first sentence, up to the first
    colon, semicolon, parenthesis or dash outside backticks (what follows is detail)."""
    text = " ".join(description.strip().split("\n\n", 1)[0].split())
    code = False
    for at, char in enumerate(text):
        if char == "`":
            code = not code
        elif not code and _CLAUSE_END.match(text, at):
            text = text[:at]
            break
    return text.rstrip(" ,") or None


def _summarise(routers: Iterable[APIRouter]) -> None:
    """Give each operation without a summary its docstring's (Swagger UI would show the
    function's name title-cased)."""
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.summary is None:
                route.summary = summary_of(route.description)


def _declare_unavailable(routers: Iterable[APIRouter]) -> None:
    """Wherever an operation works on the database, it can answer 503 (a timeout, no
    connection to be had, the connection lost): its contract says so."""
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and uses_database(route.dependant):
                route.responses.setdefault(503, problem_responses(503)[503])


def cors_methods(routers: Iterable[APIRouter]) -> list[str]:
    """The methods the API's operations use: what a cross-origin page may send."""
    return sorted(
        {
            method
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
    )


def request_limits(settings: Settings) -> Limits:
    """What the API's connections allow a request: it fails fast with a 503 (a lock held
    elsewhere, a slow statement, no connection free) rather than queue behind the trouble."""
    return Limits(
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        idle_in_transaction_timeout_ms=settings.db_idle_in_transaction_timeout_ms,
        connection_timeout_seconds=settings.db_pool_timeout_seconds,
    )


def request_database(url: str, settings: Settings) -> Database:
    """The API's database: its pool and its limits, from ``settings``."""
    return Database.connect(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        limits=request_limits(settings),
    )


async def _seal_periodically(database: Database, settings: Settings, signer: AuditSigner) -> None:
    while True:
        await asyncio.sleep(settings.audit_seal_interval_seconds)
        try:
            sealed = settings.audit_seal_block_size
            while sealed == settings.audit_seal_block_size:
                async with database.transaction() as session:
                    sealed = await seal(session, settings.audit_seal_block_size, signer)
        except Exception:  # the next round tries again; writers are unaffected
            log.exception("audit_seal_failed")


async def _prune_idempotency_periodically(database: Database, settings: Settings) -> None:
    retention = timedelta(hours=settings.idempotency_retention_hours)
    while True:
        await asyncio.sleep(settings.idempotency_prune_interval_seconds)
        try:
            pruned = _PRUNE_BATCH
            while pruned == _PRUNE_BATCH:
                async with database.transaction() as session:
                    pruned = await idempotency.prune(session, retention, _PRUNE_BATCH)
        except Exception:  # the next round tries again; requests are unaffected
            log.exception("idempotency_prune_failed")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    verifier: TokenVerifier | None = None,
    audit_keys: AuditKeys | None = None,
    identifier_keys: IdentifierKeys | None = None,
    seal_audit: bool = True,
) -> FastAPI:
    """``database``, ``verifier``, ``audit_keys`` and ``identifier_keys`` default to what
    ``settings`` describe, made at startup."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.database is None
        if owned:
            if settings.database_url is None:
                raise RuntimeError("REGISTRY_DATABASE_URL is not set; start with `registry serve`")
            app.state.database = request_database(settings.database_url, settings)
        # Whether the database holds this role to the caller's reach (row-level security
        # switched on by `registry migrate`, the runtime role): then every unit of work sets
        # it. Not known while the database is unreachable: then set it anyway (where it is not
        # enforced the settings only cost their round trip), and the service still starts.
        try:
            await app.state.database.detect_row_security(ROW_SECURITY_PROBE)
        except (OSError, SQLAlchemyError, ServiceUnavailable):
            app.state.database.row_security = True
            log.warning("row_security_unknown", reason="the database did not answer at startup")
        if app.state.verifier is None:
            app.state.verifier = verifier_for(settings)
        if app.state.audit_keys is None:
            app.state.audit_keys = load_audit_keys(settings)
        if app.state.identifier_keys is None:
            app.state.identifier_keys = identifier_keys_for(settings)
        operation_contracts(app)  # read from the OpenAPI document now, not on a request
        sealer = (
            asyncio.create_task(
                _seal_periodically(app.state.database, settings, app.state.audit_keys.signer)
            )
            if seal_audit
            else None
        )
        pruner = asyncio.create_task(_prune_idempotency_periodically(app.state.database, settings))
        # What exists by now (modules, the application, its routes and schemas) lives as long
        # as the process: out of the cyclic collector's sight, its full collections stop
        # walking it (a 10 000-record batch set off collections costing 0.4–0.8 s).
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            for task in (sealer, pruner):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if owned:
                await app.state.database.dispose()

    app = FastAPI(
        title="Social Services Registry API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        responses=problem_responses(500),
        openapi_tags=TAGS,
        # No redirect from `/families/` to `/families`: Starlette builds its Location from
        # the Host header (`Host: evil.example` would send a client there); a 404 instead.
        redirect_slashes=False,
    )
    app.state.database = database
    app.state.verifier = verifier
    app.state.audit_keys = audit_keys
    app.state.identifier_keys = identifier_keys
    app.state.settings = settings
    app.state.clock = utc_today
    # Made with the application, not at startup: a test's transport runs no lifespan.
    app.state.rate_limits = RateLimits.of(settings)

    install_problem_handlers(app)
    if app.state.rate_limits is not None:
        # Inside the request context: a refusal has its request id, headers and access log.
        app.add_middleware(RateLimitMiddleware, limits=app.state.rate_limits)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Outermost, so that every answer (the last-resort 500 too) carries its CORS headers.
        app.add_middleware(
            CorsMiddleware, origins=settings.cors_origins, methods=cors_methods(API_ROUTERS)
        )
    install_docs(app)

    # Every operation first holds the request to what the operation declares (unknown query
    # parameters, a body's media type: `api.contract`).
    contract = [Depends(check_contract)]
    _summarise([health.router, *API_ROUTERS])
    _declare_unavailable([health.router, *API_ROUTERS])
    app.include_router(health.router, dependencies=contract)
    # Each area's router hangs off the application itself (not off an /api/v1 router):
    # a request is matched through every level of nesting. No router-wide authentication
    # either: each operation's permission dependency authenticates.
    for router in API_ROUTERS:
        app.include_router(
            router, prefix="/api/v1", responses=problem_responses(401), dependencies=contract
        )

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_only_errors(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_only_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents 422 with its own HTTPValidationError shape; this API answers with a
    problem: 422 on every operation (a query parameter it does not declare, if nothing
    else), 400 where `X-Purpose` is read (not UTF-8 text), and where there is a body 400
    (malformed JSON), 413 and 415 (`api.contract`); 429 on every `/api/` operation (the
    rate limits, whichever a deployment sets)."""
    for path, path_item in spec.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            responses["422"] = problem_responses(422)[422]
            if path.startswith("/api/"):
                responses["429"] = problem_responses(429)[429]
            if any(
                p.get("name", "").lower() == "x-purpose" for p in operation.get("parameters", [])
            ):
                responses.setdefault("400", problem_responses(400)[400])
            if "requestBody" in operation:
                for status in (400, 413, 415):
                    responses.setdefault(str(status), problem_responses(status)[status])
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(problem_components())
    return spec
