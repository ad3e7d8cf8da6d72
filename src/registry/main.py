"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute

from registry import __version__
from registry.api.docs import install_docs
from registry.api.middleware import RequestContextMiddleware
from registry.api.openapi_responses import problem_components, problem_responses
from registry.api.problems import install_problem_handlers
from registry.api.routers import (
    audit,
    cases,
    classifier,
    families,
    health,
    providers,
    reference,
    service_records,
    territories,
)
from registry.auth.keys import VerificationKeys, development_keys
from registry.auth.tokens import TokenVerifier
from registry.db.engine import Database
from registry.domain.audit.commands import seal
from registry.domain.shared.clock import utc_today
from registry.settings import Settings, get_settings

log = structlog.get_logger("registry")

DESCRIPTION = """\
The national registry of social services: families in difficult life circumstances
and their social accompaniment, providers and the services they deliver, support for
servicemembers' families, community programmes.

Every `/api/v1` operation needs a bearer JWT. Errors are RFC 9457
`application/problem+json`. Lists use keyset pagination (`limit`, `cursor`).
Every read and write of personal data is recorded in the audit log; send `X-Purpose`
to say why you need the data.
"""


def verifier_for(settings: Settings) -> TokenVerifier:
    if settings.jwt_jwks_file is not None:
        keys = VerificationKeys.from_file(settings.jwt_jwks_file)
    else:
        _, keys = development_keys(settings.development_keys_dir)
    return TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def _operation_id(route: APIRoute) -> str:
    return route.name


async def _seal_periodically(database: Database, settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.audit_seal_interval_seconds)
        try:
            sealed = settings.audit_seal_block_size
            while sealed == settings.audit_seal_block_size:
                async with database.transaction() as session:
                    sealed = await seal(session, settings.audit_seal_block_size)
        except Exception:  # the next round tries again; writers are unaffected
            log.exception("audit_seal_failed")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    verifier: TokenVerifier | None = None,
    seal_audit: bool = True,
) -> FastAPI:
    """``database`` and ``verifier`` default to what ``settings`` describe, made at startup."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.database is None
        if owned:
            if settings.database_url is None:
                raise RuntimeError("REGISTRY_DATABASE_URL is not set; start with `registry serve`")
            app.state.database = Database.connect(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
        if app.state.verifier is None:
            app.state.verifier = verifier_for(settings)
        sealer = (
            asyncio.create_task(_seal_periodically(app.state.database, settings))
            if seal_audit
            else None
        )
        # What exists by now (modules, the application, its routes and schemas) lives as long
        # as the process: out of the cyclic collector's sight, its full collections stop
        # walking it (a 10 000-record batch set off collections costing 0.4–0.8 s).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if sealer is not None:
                sealer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sealer
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
    )
    app.state.database = database
    app.state.verifier = verifier
    app.state.settings = settings
    app.state.clock = utc_today

    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    install_docs(app)

    app.include_router(health.router)
    # Each area's router hangs off the application itself (not off an /api/v1 router):
    # a request is matched through every level of nesting. No router-wide authentication
    # either: each operation's permission dependency authenticates.
    for area in (
        territories,
        reference,
        families,
        service_records,
        classifier,
        providers,
        cases,
        audit,
    ):
        app.include_router(area.router, prefix="/api/v1", responses=problem_responses(401))

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_only_errors(original_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_only_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents 422 with its own HTTPValidationError shape; this API answers with a
    problem (and 400 for malformed JSON where there is a body)."""
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = problem_responses(422)[422]
            if "requestBody" in operation:
                for status in (400, 413, 422):
                    responses.setdefault(str(status), problem_responses(status)[status])
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(problem_components())
    return spec
