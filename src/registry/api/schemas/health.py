"""The shape of the liveness and readiness answers."""

from __future__ import annotations

from registry.api.schemas.base import Schema


class Health(Schema):
    status: str
