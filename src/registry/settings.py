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
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Embedded PostgreSQL cluster and development key pair live here.",
    )
    # Connections a worker keeps open. Beyond them the pool opens overflow connections and
    # closes them again on release: a new PostgreSQL backend, its caches and prepared
    # statements each time, so the steady load must fit in the pool itself.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)

    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS document with the trusted issuer's public keys."
    )
    jwt_issuer: str = "registry-dev"
    jwt_audience: str = "registry"
    #: The longest a token may live (``exp - iat``): a stolen token must not work for years.
    jwt_max_lifetime_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True

    audit_seal_interval_seconds: float = Field(default=5.0, gt=0)
    audit_seal_block_size: int = Field(default=5000, ge=1, le=100_000)
    #: Working days from a case's referral within which its needs assessment is due.
    assessment_working_days: int = Field(default=10, ge=1, le=60)
    #: Days after a provider's access to a family ended during which it may still submit
    #: (and resubmit, and amend) records of services delivered while the access stood.
    late_reporting_days: int = Field(
        default=90,
        ge=0,
        le=366,
        description="Days after a provider's access to a family ended (link revoked, "
        "referral closed) during which it may still report services delivered before the end.",
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
    def development_keys_dir(self) -> Path:
        return self.data_dir / "keys"


@lru_cache
def get_settings() -> Settings:
    return Settings()
