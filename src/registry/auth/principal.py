"""The Principal: the verified caller, parsed once from the token's claims."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from registry.auth.roles import REQUIRED_CONFINEMENT, ROLE_PERMISSIONS, Permission, Role
from registry.errors import InvalidToken

KATOTTG_CODE = re.compile(r"\AUA[0-9]{17}\Z")  # ASCII digits; no trailing newline
_KNOWN_PERMISSIONS = {p.value for p in Permission}


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: Role
    scopes: frozenset[str] = frozenset()
    territory: str | None = None
    provider_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None
    permissions: frozenset[Permission] = field(default=frozenset())

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def identity(self) -> str:
        """Everything that decides what the caller may see and do, as one string: the same
        subject with another role, reach or scopes is another caller (a stored answer is
        replayed only to the identity it was made for)."""
        return "|".join(
            (
                self.sub,
                self.role.value,
                self.territory or "",
                str(self.provider_id or ""),
                str(self.unit_id or ""),
                " ".join(sorted(self.scopes)),
            )
        )

    @property
    def acts_for_provider(self) -> bool:
        """Whether the caller acts for a provider: its staff, or its own system (an
        integration client whose token names the provider). Every context confines such a
        caller to what the provider serves and shows it the provider's shapes."""
        return self.provider_id is not None and self.role in (Role.PROVIDER_STAFF, Role.INTEGRATION)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise InvalidToken("The token has no subject.")
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise InvalidToken("The token names no known role.") from None

        raw_scope = claims.get("scope", "")
        if not isinstance(raw_scope, str):
            raise InvalidToken("The token's scope claim must be a space-separated string.")
        scopes = frozenset(raw_scope.split())

        territory = claims.get("territory")
        if territory is not None and not (
            isinstance(territory, str) and KATOTTG_CODE.match(territory)
        ):
            raise InvalidToken("The token's territory claim is not a KATOTTG code.")
        provider_id = _uuid_claim(claims, "provider_id")
        unit_id = _uuid_claim(claims, "unit_id")

        required = REQUIRED_CONFINEMENT.get(role)
        confinement = {"territory": territory, "provider_id": provider_id, "unit_id": unit_id}
        if required is not None and confinement[required] is None:
            raise InvalidToken(f"A {role.value} token must carry a {required} claim.")

        if role is Role.INTEGRATION:
            permissions = frozenset(Permission(s) for s in scopes if s in _KNOWN_PERMISSIONS)
        else:
            permissions = ROLE_PERMISSIONS[role]
        return cls(
            sub=sub,
            role=role,
            scopes=scopes,
            territory=territory,
            provider_id=provider_id,
            unit_id=unit_id,
            permissions=permissions,
        )


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidToken(f"The token's {name} claim is not a UUID.") from None
