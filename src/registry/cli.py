"""The ``registry`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from registry import __version__
from registry.auth.roles import Role
from registry.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from registry.domain.shared.sealing import IdentifierKeys

log = structlog.get_logger("registry")

#: Confinement used by `--demo` tokens: Kyiv (a city with special status acts as oblast and
#: hromada); the fixed ids the demo data uses are ``registry.demo.providers.DEMO_PROVIDER_ID``
#: and ``registry.demo.military.DEMO_UNIT_ID``.
DEMO_TERRITORY = "UA80000000000093317"


def _token(
    settings: Settings,
    role: Role,
    *,
    sub: str | None = None,
    territory: str | None = None,
    provider_id: str | None = None,
    unit_id: str | None = None,
    scope: str | None = None,
    ttl: int = 3600,
) -> str:
    from registry.auth.keys import development_keys
    from registry.auth.tokens import issue

    if settings.jwt_jwks_file is not None:
        raise SystemExit("REGISTRY_JWT_JWKS_FILE is set: tokens come from the identity provider.")
    key, _ = development_keys(settings.development_keys_dir)
    return issue(
        key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        subject=sub or f"dev-{role.value}",
        role=role.value,
        ttl_seconds=ttl,
        territory=territory,
        provider_id=provider_id,
        unit_id=unit_id,
        scope=scope,
    )


def demo_tokens(settings: Settings, ttl: int = 12 * 3600) -> dict[str, str]:
    from registry.demo.cases import DEMO_OFFICER, DEMO_STAFF, DEMO_WORKER
    from registry.demo.military import DEMO_LIAISON, DEMO_UNIT_ID
    from registry.demo.providers import DEMO_PROVIDER_ID

    # The subjects are the ones the demo cases name: the demo social worker works some of
    # them, the demo provider's staff decided its referrals and works support cases, the
    # demo liaison opened the demo unit's support cases.
    confinement: dict[Role, dict[str, str]] = {
        Role.REGIONAL_OFFICER: {"territory": DEMO_TERRITORY},
        Role.COMMUNITY_OFFICER: {"territory": DEMO_TERRITORY, "sub": DEMO_OFFICER},
        Role.SOCIAL_WORKER: {"territory": DEMO_TERRITORY, "sub": DEMO_WORKER},
        Role.PROVIDER_STAFF: {"provider_id": DEMO_PROVIDER_ID, "sub": DEMO_STAFF},
        Role.MILITARY_LIAISON: {"unit_id": DEMO_UNIT_ID, "sub": DEMO_LIAISON},
        Role.INTEGRATION: {
            "scope": "territories:read reference:read providers:read families:read reach:national"
        },
    }
    return {
        role.value: _token(settings, role, ttl=ttl, **confinement.get(role, {})) for role in Role
    }


def _identifier_keys(settings: Settings) -> IdentifierKeys:
    """The configured identifier keys (or the development keys, made on first use); an
    unusable keys file stops the command."""
    from registry.domain.shared.sealing import IdentifierKeyError, load_identifier_keys

    try:
        return load_identifier_keys(settings.identifier_keys_file, settings.development_keys_dir)
    except IdentifierKeyError as error:
        raise SystemExit(f"registry: {error}") from None


def _prepare(url: str, settings: Settings) -> None:
    from registry.bootstrap import prepare_database

    timings = asyncio.run(
        prepare_database(
            url,
            settings.migrations_dir,
            runtime_role=settings.db_runtime_role,
            row_security=settings.db_row_security,
            identifier_keys=_identifier_keys(settings),
        )
    )
    print(f"database ready: {json.dumps(timings)}", file=sys.stderr)


def _prepare_apart(url: str, settings: Settings) -> None:
    """``_prepare`` in a process of its own, which ends with it. What migrating leaves
    behind (alembic, every migration module, the codifier's import: about 45 MB) is then not
    kept by the process that goes on to serve: with ``--workers 1`` uvicorn serves in this
    very process (with more, this process supervises them). Spawned, not forked: it starts
    clean, as on every platform. Its error (or ``SystemExit``) is raised here again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_configure_logging,
        initargs=(settings,),
    ) as apart:
        apart.submit(_prepare, url, settings).result()


def _configure_logging(settings: Settings) -> None:
    """The process's logging as ``serve``'s (to stdout)."""
    from registry.logs import configure_logging

    configure_logging(settings.log_level, json=settings.log_json)


def _serving_url(url: str, settings: Settings) -> str:
    """The URL the API connects with: REGISTRY_RUNTIME_DATABASE_URL when set; the embedded
    server's as the runtime role (it trusts its own socket); else ``url`` itself."""
    from registry.db.provision import as_role

    if settings.runtime_database_url is not None:
        return settings.runtime_database_url
    if settings.uses_embedded_database:
        return as_role(url, settings.db_runtime_role)
    return url


def _require_current_schema(url: str, settings: Settings) -> None:
    """Fail fast, saying what to do, unless the database (as ``url``) is at the head
    revision: for a `serve` that does not migrate."""
    from sqlalchemy.exc import SQLAlchemyError

    from registry.db.engine import Database
    from registry.db.migrate import pending_revision

    async def run() -> str | None:
        database = Database.connect(url, pool_size=1, max_overflow=0)
        try:
            return await pending_revision(database.engine, settings.migrations_dir)
        finally:
            await database.dispose()

    try:
        pending = asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        reason = getattr(error, "orig", None) or error
        raise SystemExit(f"registry: cannot read the database's schema version: {reason}") from None
    if pending is not None:
        raise SystemExit(
            f"registry: {pending}. REGISTRY_MIGRATE_ON_START is false: run `registry migrate` "
            "as the schema's owner first."
        )


def _seed_demo(url: str, settings: Settings) -> None:
    from registry.db.engine import Database
    from registry.demo.cases import DemoCases, seed_demo_cases
    from registry.demo.families import seed_demo_families
    from registry.demo.military import DemoMilitary, seed_demo_military
    from registry.demo.programmes import DemoProgrammes, seed_demo_programmes
    from registry.demo.providers import seed_demo_providers

    keys = _identifier_keys(settings)

    async def run() -> tuple[int, int, DemoCases, DemoMilitary, DemoProgrammes]:
        database = Database.connect(url, pool_size=1, max_overflow=0)
        try:
            async with database.transaction() as session:
                providers = await seed_demo_providers(session, keys)
                families = await seed_demo_families(session, keys)
                cases = await seed_demo_cases(
                    session, assessment_working_days=settings.assessment_working_days
                )
                military = await seed_demo_military(
                    session,
                    first_contact_days=settings.support_first_contact_days,
                    contact_interval_days=settings.support_contact_interval_days,
                )
                programmes = await seed_demo_programmes(session)
                return providers, families, cases, military, programmes
        finally:
            await database.dispose()

    started = time.perf_counter()
    providers, added, cases, military, programmes = asyncio.run(run())
    print(f"demo providers added: {providers}", file=sys.stderr)
    print(
        f"demo families added: {added}" if added else "demo families already present: none added",
        file=sys.stderr,
    )
    print(
        f"demo cases added: {cases.cases}, referrals: {cases.referrals}, "
        f"service records: {cases.service_records}"
        if cases.cases
        else "demo cases already present: none added",
        file=sys.stderr,
    )
    print(
        f"demo military units added: {military.units}, servicemembers: "
        f"{military.servicemembers}, support cases: {military.support_cases}"
        if military.units
        else "demo military units already present: none added",
        file=sys.stderr,
    )
    print(
        f"demo programmes added: {programmes.programmes}, enrolments: {programmes.enrolments}, "
        f"distributions: {programmes.distributions}, friendly communities: "
        f"{programmes.friendly_communities}"
        if programmes.programmes
        else "demo programmes already present: none added",
        file=sys.stderr,
    )
    print(f"demo data seeded in {time.perf_counter() - started:.2f} s", file=sys.stderr)


def _print_demo_tokens(settings: Settings) -> None:
    """A token per role, confined to what the demo data holds (the ``military_liaison``
    token names the demo unit, ``registry.demo.military.DEMO_UNIT_ID``)."""
    print("Demo tokens (valid 12 h):")
    for role, token in demo_tokens(settings).items():
        print(f"  {role:18} {token}")


def worker_app() -> FastAPI:
    """The application of a uvicorn worker, with logging configured as the command's: with
    ``--workers`` above 1 each worker is a freshly spawned process."""
    from registry.logs import configure_logging
    from registry.main import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from registry.db.provision import database_url

    started = time.perf_counter()
    log.info(
        "serve_starting",
        version=__version__,
        host=args.host,
        port=args.port,
        workers=args.workers,
        demo=args.demo,
        database="embedded" if settings.uses_embedded_database else "external",
        migrate_on_start=settings.migrate_on_start,
    )
    if (
        settings.rate_limits_enabled
        and settings.rate_limit_storage_url is None
        and args.workers > 1
    ):
        # Each worker counts in its own memory: every quota is as many times as large.
        log.warning(
            "rate_limits_counted_per_worker",
            workers=args.workers,
            remedy="set REGISTRY_RATE_LIMIT_STORAGE_URL (Redis) to share the counts",
        )
    with database_url(settings.database_url, settings.data_dir) as url:
        serving = _serving_url(url, settings)
        if settings.migrate_on_start:
            _prepare_apart(url, settings)
        else:
            _require_current_schema(serving, settings)
        if args.demo:
            _seed_demo(url, settings)
            _print_demo_tokens(settings)
            # A demo is development: webhooks may go to a receiver on this machine, over
            # http (unless the environment says otherwise).
            os.environ.setdefault("REGISTRY_WEBHOOK_ALLOW_HTTP", "true")
            os.environ.setdefault("REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        _log_serving_role(url, serving, settings)
        os.environ["REGISTRY_DATABASE_URL"] = serving  # the workers inherit it
        get_settings.cache_clear()
        # The demo runs the background worker too, as its own process (as a deployment
        # does): one, whatever --workers says, stopped with the API.
        background = _start_worker() if args.demo else None
        print(
            f"ready in {time.perf_counter() - started:.2f} s: http://{args.host}:{args.port}/docs",
            file=sys.stderr,
        )
        # uvicorn re-raises the signal that stopped it once it has shut down; as SystemExit it
        # unwinds through this block, which stops the embedded cluster cleanly.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            # uvicorn's own logging configuration and its access log (which writes URLs,
            # query strings and all) stay off: its server messages come through ours.
            uvicorn.run(
                "registry.cli:worker_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                access_log=False,
                log_config=None,
                proxy_headers=True,
            )
        finally:
            if background is not None:
                _stop_worker(background)
            log.info("serve_stopped", uptime_seconds=round(time.perf_counter() - started, 1))


def _log_serving_role(url: str, serving: str, settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    role = make_url(serving).username
    if settings.migrate_on_start and serving == url:
        # The API then holds the owner's rights (DDL, UPDATE of the audit log): say so.
        log.warning(
            "serving_as_schema_owner",
            role=role,
            hint="set REGISTRY_RUNTIME_DATABASE_URL to connect as the runtime role "
            f"({settings.db_runtime_role}), or serve with REGISTRY_MIGRATE_ON_START=false "
            "and its URL",
        )
    else:
        log.info("serving_as_role", role=role)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    """The background worker (``registry.worker``): until SIGTERM or SIGINT. It does not
    migrate; it waits for nothing but a schema at the head revision."""
    from registry.db.provision import database_url
    from registry.worker import run_worker

    with database_url(settings.database_url, settings.data_dir) as url:
        serving = _serving_url(url, settings)
        _require_current_schema(serving, settings)
        asyncio.run(run_worker(settings, url=serving))


def _start_worker() -> subprocess.Popen[bytes]:
    """``registry worker`` as a process of its own, beside the API (``serve --demo``): the
    same process a deployment runs, inheriting the environment (the database's URL)."""
    return subprocess.Popen([sys.executable, "-m", "registry.cli", "worker"])


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    from registry.db.provision import database_url

    with database_url(settings.database_url, settings.data_dir) as url:
        _prepare(url, settings)


def cmd_seed(args: argparse.Namespace, settings: Settings) -> None:
    # Reference data (the codifier) is loaded by the migration; `--demo` adds demo families
    # (once: a second run finds them and adds none).
    from registry.db.provision import database_url

    with database_url(settings.database_url, settings.data_dir) as url:
        _prepare(url, settings)
        if args.demo:
            _seed_demo(url, settings)
            if settings.jwt_jwks_file is None:  # else tokens come from the identity provider
                _print_demo_tokens(settings)


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    if not 0 < args.ttl <= settings.jwt_max_lifetime_seconds:
        raise SystemExit(
            f"--ttl must be from 1 to {settings.jwt_max_lifetime_seconds} seconds "
            "(REGISTRY_JWT_MAX_LIFETIME_SECONDS): a token the service would refuse is no use."
        )
    from registry.auth.principal import Principal
    from registry.errors import InvalidToken

    claims = {"sub": args.sub or f"dev-{args.role}", "role": args.role, "scope": args.scope or ""}
    for name in ("territory", "provider_id", "unit_id"):
        if getattr(args, name) is not None:
            claims[name] = getattr(args, name)
    try:  # the claims as the service reads them: a token it would refuse is no use either
        Principal.from_claims(claims)
    except InvalidToken as refused:
        raise SystemExit(f"the service would refuse this token: {refused.detail}") from None
    print(
        _token(
            settings,
            Role(args.role),
            sub=args.sub,
            territory=args.territory,
            provider_id=args.provider_id,
            unit_id=args.unit_id,
            scope=args.scope,
            ttl=args.ttl,
        )
    )


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> None:
    from registry.main import create_app

    spec = create_app(settings).openapi()
    text = json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> None:
    from registry.auth.audit_keys import audit_signer, verification_keys
    from registry.auth.keys import KeyConfigurationError
    from registry.db.engine import Database
    from registry.db.provision import database_url
    from registry.domain.audit.commands import seal
    from registry.domain.audit.queries import verify
    from registry.domain.audit.rules import kept_head

    if args.head is not None and args.action != "verify":
        raise SystemExit("--head is for `registry audit verify`")
    try:
        kept = None if args.head is None else kept_head(_head_text(args.head))
        signer = audit_signer(settings) if args.action == "seal" else None
        keys = verification_keys(settings) if args.action == "verify" else None
    except (ValueError, KeyConfigurationError) as error:
        raise SystemExit(f"--head {args.head}: {error}" if args.head else str(error)) from None

    async def run(url: str) -> int:
        database = Database.connect(url, pool_size=1, max_overflow=0)
        try:
            if signer is not None:
                total = 0
                while True:
                    async with database.transaction() as session:
                        sealed = await seal(session, settings.audit_seal_block_size, signer)
                    total += sealed
                    if sealed < settings.audit_seal_block_size:
                        break
                print(json.dumps({"sealed": total}))
                return 0
            assert keys is not None
            async with database.transaction() as session:
                report = await verify(session, keys, kept)
            print(json.dumps(report.as_dict(), indent=2))
            for problem in report.problems:
                print(f"audit problem: {problem}", file=sys.stderr)
            return 0 if report.intact else 1
        finally:
            await database.dispose()

    with database_url(settings.database_url, settings.data_dir) as url:
        code = asyncio.run(run(url))
    raise SystemExit(code)


def _head_text(head: str) -> str:
    """``--head``: a hex digest as given, else the file it names (a saved audit head)."""
    from registry.domain.audit.rules import is_hex_digest

    if is_hex_digest(head):
        return head
    try:
        return Path(head).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"neither a hex SHA-256 digest nor a readable file ({error})") from None


def cmd_keys(args: argparse.Namespace, settings: Settings) -> None:
    """``keys rotate``: reseal every sealed value under the active key, one batch per short
    transaction, while the service runs (it opens values under every configured key), and
    check that the others open."""
    from registry.db.engine import Database
    from registry.db.provision import database_url
    from registry.domain.families.tables import SEALED_PERSONS
    from registry.domain.idempotency import SEALED_ANSWERS
    from registry.domain.providers.tables import SEALED_PROVIDERS
    from registry.domain.shared.sealing import reseal_batch
    from registry.domain.webhooks.tables import SEALED_SUBSCRIPTIONS

    keys = _identifier_keys(settings)

    async def run(url: str) -> int:
        database = Database.connect(url, pool_size=1, max_overflow=0)
        started = time.perf_counter()
        summary: dict[str, object] = {"active_key": keys.active, "batch_size": args.batch_size}
        rejected: list[dict[str, object]] = []
        try:
            for target in (SEALED_PERSONS, SEALED_PROVIDERS, SEALED_ANSWERS, SEALED_SUBSCRIPTIONS):
                totals = {"rows_read": 0, "rows_resealed": 0, "values_resealed": 0}
                after = None
                while True:
                    async with database.transaction() as session:
                        report = await reseal_batch(
                            session, keys, target, after=after, limit=args.batch_size
                        )
                    totals["rows_read"] += report.rows_read
                    totals["rows_resealed"] += report.rows_resealed
                    totals["values_resealed"] += report.values_resealed
                    rejected.extend(
                        {"table": target.table.name, "key": [str(part) for part in key]}
                        for key in report.rejected
                    )
                    if report.last_key is None:
                        break
                    after = report.last_key
                summary[target.table.name] = totals
        finally:
            await database.dispose()
        summary["rejected"] = rejected
        summary["seconds"] = round(time.perf_counter() - started, 2)
        print(json.dumps(summary, indent=2))
        return 1 if rejected else 0

    with database_url(settings.database_url, settings.data_dir) as url:
        code = asyncio.run(run(url))
    raise SystemExit(code)


def cmd_services(args: argparse.Namespace, settings: Settings) -> None:
    from registry.db.engine import Database
    from registry.db.provision import database_url
    from registry.domain.classifier.commands import import_services_csv
    from registry.errors import InvalidInput

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"cannot read {args.file}: {error}") from None

    async def run(url: str) -> int:
        database = Database.connect(url, pool_size=1, max_overflow=0)
        try:
            async with database.transaction() as session:
                report = await import_services_csv(session, text, "cli:services-import")
        except InvalidInput as error:
            print(f"{args.file}: {error.detail}", file=sys.stderr)
            for problem in error.errors:
                print(f"  {problem.field}: {problem.message}", file=sys.stderr)
            return 1
        finally:
            await database.dispose()
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 0

    with database_url(settings.database_url, settings.data_dir) as url:
        _prepare(url, settings)
        code = asyncio.run(run(url))
    raise SystemExit(code)


def _batch_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= 100_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 100000")
    return size


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="registry", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate and serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed demo data, print tokens, and run a `registry worker` beside the API",
    )
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser(
        "worker",
        help="run the background worker (webhook deliveries, …) until stopped",
        description="Runs the background work (webhook deliveries and the other passes of "
        "registry.worker) until SIGTERM or SIGINT. Run one or more beside `serve`, on the "
        "same database (as the runtime role); it does not migrate.",
    ).set_defaults(handler=cmd_worker)

    commands.add_parser("migrate", help="migrate the schema, import reference data").set_defaults(
        handler=cmd_migrate
    )
    seed = commands.add_parser("seed", help="load reference (and with --demo, demo) data")
    seed.add_argument("--demo", action="store_true")
    seed.set_defaults(handler=cmd_seed)

    token = commands.add_parser("token", help="print a development token")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--territory")
    token.add_argument("--provider-id")
    token.add_argument("--unit-id")
    token.add_argument("--scope", help="space-separated scopes (integration clients)")
    token.add_argument("--sub")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    token.set_defaults(handler=cmd_token)

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", type=Path, default=PROJECT_ROOT / "openapi" / "openapi.json")
    openapi.set_defaults(handler=cmd_openapi)

    audit = commands.add_parser("audit", help="seal or verify the audit chain")
    audit.add_argument("action", choices=["seal", "verify"])
    audit.add_argument(
        "--head",
        metavar="FILE|DIGEST",
        help="verify: also prove that the block of this head (the JSON GET /api/v1/audit-head "
        "answered, saved to FILE, or its hex digest) is still there, unchanged, and that the "
        "chain from it to the end is intact and signed",
    )
    audit.set_defaults(handler=cmd_audit)

    keys = commands.add_parser(
        "keys",
        help="rotate the keys that seal national identifiers at rest",
        description="rotate: reseal every sealed identifier (and stored answer) that another "
        "key sealed under the active key of REGISTRY_IDENTIFIER_KEYS_FILE, in batches, each "
        "its own short transaction, while the service runs, and check that every other "
        "value opens. Safe to stop and run again. Prints a JSON summary; exits 1 if a value "
        "did not open (its row is listed under rejected and left as it is).",
    )
    keys.add_argument("action", choices=["rotate"])
    keys.add_argument(
        "--batch-size",
        type=_batch_size,
        default=1000,
        help="rows per transaction (1 to 100000; default 1000)",
    )
    keys.set_defaults(handler=cmd_keys)

    services = commands.add_parser(
        "services",
        help="import the official classifier of social services",
        description="Import a UTF-8 CSV file with the header "
        "code,name_uk,name_en,purpose,kind,is_basic,active: services are added or "
        "updated by code; a file with any bad row changes nothing.",
    )
    services.add_argument("action", choices=["import"])
    services.add_argument("file", type=Path, help="the CSV file")
    services.set_defaults(handler=cmd_services)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    from registry.db.embedded import EmbeddedPostgresMissing
    from registry.logs import configure_logging

    # The service and the worker log to stdout (where a container's logs are collected); every
    # other command prints its answer there (a token, a JSON report), so it logs to stderr.
    log_stream = sys.stdout if args.command in ("serve", "worker") else sys.stderr
    configure_logging(settings.log_level, json=settings.log_json, stream=log_stream)
    try:
        args.handler(args, settings)
    except EmbeddedPostgresMissing as missing:
        raise SystemExit(f"registry: {missing}") from None


if __name__ == "__main__":
    main()
