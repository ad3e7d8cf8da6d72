"""Configuration: every setting is an environment variable prefixed ``REGISTRY_``."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: A browser origin: scheme, host (a name or an IPv6 address in brackets) and maybe a port.
_ORIGIN = re.compile(r"^https?://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$")


def _default_data_dir() -> Path:
    # The embedded PostgreSQL refuses to run as root, so as root it runs as a
    # system user and opens the data directory's parent folders to it; a folder
    # under /var/lib keeps that loosening away from root's home.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/registry")
    return Path(platformdirs.user_data_dir("registry"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://… of an external server; unset: the embedded server.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Embedded PostgreSQL cluster and development keys live here.",
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

    migrations_dir: Path = PROJECT_ROOT / "migrations"

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
