"""Configuration: every setting is an environment variable prefixed ``REGISTRY_``."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: A browser origin: scheme, host (a name or an IPv6 address in brackets) and maybe a port.
_ORIGIN = re.compile(r"^https?://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$")
#: The storages of rate limit counters whose client the registry ships (redis-py).
RATE_LIMIT_STORAGE_SCHEMES = (
    "async+redis",
    "async+rediss",
    "async+redis+unix",
    "async+redis+sentinel",
    "async+redis+cluster",
)


def _default_data_dir() -> Path:
    # The embedded PostgreSQL refuses to run as root, so as root it runs as a
    # system user and opens the data directory's parent folders to it; a folder
    # under /var/lib keeps that loosening away from root's home.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/registry")
    return Path(platformdirs.user_data_dir("registry"))


class Settings(BaseSettings):
    # A wrong value is not repeated in the error: URLs of the database and of Redis carry
    # passwords.
    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://… of an external server; unset: the embedded server.",
    )
    runtime_database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://… as the runtime role, for a `registry serve` that "
        "migrates as REGISTRY_DATABASE_URL's owner and then serves as the runtime role; "
        "unset: serve as REGISTRY_DATABASE_URL (the embedded server: as the runtime role).",
    )
    #: The role the API runs as: the migrations create it (if missing) and grant it what the
    #: API needs and no more (no DDL; the audit tables append-only).
    db_runtime_role: str = Field(
        default="registry_app",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role the API runs as (lower-case letters, digits, _).",
    )
    db_row_security: bool = Field(
        default=False,
        description="`registry migrate` switches PostgreSQL row-level security on the personal "
        "tables on (or off): the runtime role then sees only rows within the caller's reach.",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="`registry serve` migrates the database first (as REGISTRY_DATABASE_URL); "
        "false: it only checks that the schema is current, and serves.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Embedded PostgreSQL cluster and development keys live here.",
    )
    # Connections a worker keeps open. Beyond them the pool opens overflow connections and
    # closes them again on release: a new PostgreSQL backend, its caches and prepared
    # statements each time. Under a load above the pool that is a connection opened and
    # closed for every few requests, exactly when the machine has no time for it (issue 18:
    # a third of by-id's throughput at 32 connections on one worker), so by default a
    # request beyond the pool waits for a connection (at most ``db_pool_timeout_seconds``).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    # An API request fails fast with a 503 rather than wait: on a lock, a slow statement, a
    # connection. The command line's jobs (migrate, seed, seal, imports) are not held to these.
    db_pool_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="The longest an API request waits for a database connection (every "
        "connection of the pool in use, or a new one opening) before it answers 503.",
    )
    db_statement_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="PostgreSQL's statement_timeout for the API's connections; 0: no limit.",
    )
    db_lock_timeout_ms: int = Field(
        default=2000,
        ge=0,
        description="PostgreSQL's lock_timeout for the API's connections; 0: no limit.",
    )
    db_idle_in_transaction_timeout_ms: int = Field(
        default=10000,
        ge=0,
        description="PostgreSQL's idle_in_transaction_session_timeout for the API's "
        "connections; 0: no limit.",
    )

    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS document with the trusted issuer's public keys."
    )
    jwt_issuer: str = "registry-dev"
    jwt_audience: str = "registry"
    #: The longest a token may live (``exp - iat``): a stolen token must not work for years.
    jwt_max_lifetime_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)

    identifier_keys_file: Path | None = Field(
        default=None,
        description="JSON file with the keys that seal national identifiers at rest: "
        '{"active": ID, "keys": {ID: base64 32 bytes, …}, "index_key": base64 32 bytes}. '
        "Unset: development keys made in the data directory.",
    )

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True

    audit_seal_interval_seconds: float = Field(default=5.0, gt=0)
    audit_seal_block_size: int = Field(default=5000, ge=1, le=100_000)
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="PEM Ed25519 private key the service signs audit block heads with (the "
        "database never holds it); unset: a development key made once in the data directory.",
    )
    audit_public_keys_file: Path | None = Field(
        default=None,
        description="PEM Ed25519 public keys audit signatures are verified with (keep a retired "
        "key here after a rotation); the signing key's own is always trusted.",
    )
    #: Working days from a case's referral within which its needs assessment is due.
    assessment_working_days: int = Field(default=10, ge=1, le=60)
    support_first_contact_days: int = Field(
        default=3,
        ge=0,
        le=60,
        description="Days after a support case of a servicemember's family opens (or resumes) "
        "within which the first contact with the family is due.",
    )
    support_contact_interval_days: int = Field(
        default=30,
        ge=1,
        le=180,
        description="Days after a contact with a servicemember's family within which the next "
        "is due while the support case is open or active.",
    )
    deadline_scan_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Seconds the worker waits, after a scan for passed deadlines that found "
        "none, before it scans again the same day (a new day is scanned at once).",
    )
    deadline_batch_size: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="Passed deadlines of each kind the worker records per scan; it scans again "
        "at once while there are more.",
    )
    #: Days after a provider's access to a family ended during which it may still submit
    #: (and resubmit, and amend) records of services delivered while the access stood.
    late_reporting_days: int = Field(
        default=90,
        ge=0,
        le=366,
        description="Days after a provider's access to a family ended (link revoked, "
        "referral closed) during which it may still report services delivered before the end.",
    )

    #: k of small-cell suppression in aggregate reports (``domain.reports.rules``).
    report_min_cell: int = Field(
        default=5,
        ge=2,
        le=100,
        description="Aggregate reports withhold every count from 1 to this minus one, and the "
        "counts that would give one back from the totals.",
    )

    idempotency_retention_hours: int = Field(
        default=24,
        ge=1,
        le=30 * 24,
        description="Hours a first answer is kept for replay to an Idempotency-Key; after "
        "them the key is free again and the stored answer (which holds what it disclosed) "
        "is deleted.",
    )
    idempotency_prune_interval_seconds: float = Field(default=600, gt=0, le=24 * 3600)

    export_dir: Path | None = Field(
        default=None,
        description="Where the worker writes bulk exports' NDJSON files (one directory per "
        "export); default `exports` under the data directory.",
    )
    export_portion_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="The most bytes one file of an export holds: the national exchange's "
        "message limit (100 MB) by default.",
    )
    export_retention_hours: int = Field(
        default=72,
        ge=1,
        le=30 * 24,
        description="Hours an export's files may be downloaded after it is ready; then the "
        "worker deletes them and the export is `expired`.",
    )
    export_lease_seconds: int = Field(
        default=300,
        ge=10,
        le=24 * 3600,
        description="How long a worker's claim on a running export lasts without a sign of "
        "life; after it another worker starts the export again (the first one died).",
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins (https://host[:port]) whose pages may call the API, "
        "comma-separated or a JSON list; none: no CORS headers at all.",
    )

    rate_limits_enabled: bool = Field(
        default=True,
        description="Refuse requests over the rate limits below with 429 (off: no limits, "
        "no RateLimit headers; for benchmarks).",
    )
    rate_limit_per_subject: str = Field(
        default="600/minute",
        description="Requests one subject (a token's `sub`) may make, e.g. `600/minute`; "
        "several limits separated by `;` (`600/minute;10000/hour`).",
    )
    rate_limit_per_address: str = Field(
        default="3000/minute",
        description="Requests one client address (an IPv6 /64) may make, with or without a "
        "valid token; many users behind one NAT share it.",
    )
    rate_limit_lookups: str = Field(
        default="60/minute;600/hour",
        description="Name searches and identifier lookups of persons (`q`, `rnokpp`, `unzr`) "
        "one subject may make; a refusal is audited.",
    )
    rate_limit_storage_url: str | None = Field(
        default=None,
        description="Where the counters live, shared by every worker and replica: "
        "`async+redis://host:6379/0` (`async+rediss`, `async+redis+unix`, "
        "`async+redis+sentinel`, `async+redis+cluster`); unset: each worker process counts "
        "in its own memory.",
    )
    rate_limit_key_prefix: str = Field(
        default="registry",
        min_length=1,
        max_length=100,
        description="Prefix of the counters' keys in a shared storage (several deployments "
        "may share one Redis).",
    )

    worker_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="How long `registry worker` sleeps when a round of its passes found "
        "nothing to do (a new change is pushed at most this late).",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="The longest one webhook delivery may take, connecting to the last byte "
        "of the answer's status line; longer is a failed attempt (`timeout`).",
    )
    webhook_backoff_base_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="The wait after a subscription's first failed attempt; each further "
        "failure doubles it (with jitter), up to REGISTRY_WEBHOOK_BACKOFF_CAP_SECONDS.",
    )
    webhook_backoff_cap_seconds: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 24 * 3600,
        description="The longest wait between two attempts of one subscription.",
    )
    webhook_max_failures: int = Field(
        default=15,
        ge=1,
        le=1000,
        description="Consecutive failed attempts after which a subscription is disabled "
        "(its owner enables it again with PATCH status=active).",
    )
    webhook_allow_http: bool = Field(
        default=False,
        description="Accept `http://` webhook URLs (development only); false: `https` only.",
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Accept webhook targets that are, or resolve to, loopback, private, "
        "link-local or other non-public addresses (development, or a ministry's own network); "
        "false: such targets are refused when subscribed and again at each delivery.",
    )

    migrations_dir: Path = PROJECT_ROOT / "migrations"

    @field_validator("rate_limit_per_subject", "rate_limit_per_address", "rate_limit_lookups")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        try:
            usable = all(item.amount >= 1 for item in parse_many(value))
        except ValueError:
            usable = False
        if not usable:
            raise ValueError(
                f"{value!r} is not a rate limit such as 600/minute or 60/minute;600/hour"
            )
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in RATE_LIMIT_STORAGE_SCHEMES:
            # Not the URL itself in the message: it may hold a password.
            raise ValueError(
                f"{scheme!r} is not a storage of rate limits; use async+redis://host:6379/0 "
                f"or another of {', '.join(RATE_LIMIT_STORAGE_SCHEMES)}"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(value, list):
            return value
        origins = [str(origin).strip().rstrip("/").lower() for origin in value]
        for origin in filter(None, origins):
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port]; no '*')")
        return [origin for origin in origins if origin]

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def exports_dir(self) -> Path:
        """Where exports' files are written (``export_dir``, else under the data directory)."""
        return self.export_dir if self.export_dir is not None else self.data_dir / "exports"

    @property
    def development_keys_dir(self) -> Path:
        return self.data_dir / "keys"


@lru_cache
def get_settings() -> Settings:
    return Settings()
