"""The Principal: the verified caller, parsed once from the token's claims."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from registry.auth.roles import (
    NATIONAL_REACH_SCOPE,
    REACHED_PERMISSIONS,
    REQUIRED_CONFINEMENT,
    ROLE_PERMISSIONS,
    TERRITORY_CATEGORIES,
    Permission,
    Role,
)
from registry.errors import InvalidToken

KATOTTG_CODE = re.compile(r"\AUA[0-9]{17}\Z")  # ASCII digits; no trailing newline
_KNOWN_PERMISSIONS = {p.value for p in Permission}

#: Where each level of a KATOTTG code sits in it (after ``UA``): oblast (2 digits), raion (2),
#: hromada (3), settlement (3), city district (2); a unit's level is its deepest non-zero one.
_LEVEL_SLICES = (slice(2, 4), slice(4, 6), slice(6, 9), slice(9, 12), slice(12, 14))
#: Level-1 units that are cities with special status (category K): Kyiv (80), Sevastopol (85).
_SPECIAL_STATUS_CITIES = frozenset({"80", "85"})
_CATEGORY_OF_LEVEL = {2: "P", 3: "H"}
_CATEGORY_WORDS = {"O": "an oblast", "K": "Kyiv or Sevastopol", "P": "a raion", "H": "a hromada"}


def territory_category(code: str) -> str | None:
    """The KATOTTG category a code's own digits tell: O (oblast) or K (Kyiv, Sevastopol) at
    level 1, P (raion), H (hromada); None below (settlements and city districts, whose
    category the digits do not tell) and for a code with no level filled."""
    levels = [i for i, digits in enumerate(_LEVEL_SLICES, 1) if int(code[digits])]
    if not levels:
        return None
    if levels[-1] == 1:
        return "K" if code[_LEVEL_SLICES[0]] in _SPECIAL_STATUS_CITIES else "O"
    return _CATEGORY_OF_LEVEL.get(levels[-1])


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
    def national_reach(self) -> bool:
        """Whether an integration client reaches personal records across the country: only
        when its token says so (``reach:national``, with no territory or provider)."""
        return self.role is Role.INTEGRATION and NATIONAL_REACH_SCOPE in self.scopes

    @property
    def confinement(self) -> Principal:
        """Only what decides which records the caller reaches and in which shape (role,
        confinement claims, national reach), as a principal of its own: the key statements
        compiled once per confinement are cached by."""
        return Principal(
            sub="",
            role=self.role,
            scopes=frozenset({NATIONAL_REACH_SCOPE}) if self.national_reach else frozenset(),
            territory=self.territory,
            provider_id=self.provider_id,
            unit_id=self.unit_id,
        )

    @property
    def acts_for_provider(self) -> bool:
        """Whether the caller acts for a provider: its staff, or its own system (an
        integration client whose token names the provider). Every context confines such a
        caller to what the provider serves and shows it the provider's shapes."""
        return self.provider_id is not None and self.role in (Role.PROVIDER_STAFF, Role.INTEGRATION)

    @property
    def acts_for_unit(self) -> bool:
        """Whether the caller acts for a military unit: its liaison, or an integration client
        whose token names the unit. The military context confines such a caller to the
        unit's servicemembers and support cases."""
        return self.unit_id is not None and self.role in (
            Role.MILITARY_LIAISON,
            Role.INTEGRATION,
        )

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
        if territory is not None and role in TERRITORY_CATEGORIES:
            _require_territory_level(role, territory)

        if role is Role.INTEGRATION:
            permissions = frozenset(Permission(s) for s in scopes if s in _KNOWN_PERMISSIONS)
            _require_integration_reach(scopes, permissions, confinement)
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


def _require_territory_level(role: Role, territory: str) -> None:
    """401 when the territory is not of the level the role works at (a community officer
    naming an oblast would otherwise see nothing, or worse, be taken for another role)."""
    allowed = TERRITORY_CATEGORIES[role]
    if territory_category(territory) not in allowed:
        levels = " or ".join(_CATEGORY_WORDS[c] for c in sorted(allowed, key="OKPH".index))
        raise InvalidToken(f"A {role.value} token's territory claim must name {levels}.")


def _require_integration_reach(
    scopes: frozenset[str], permissions: frozenset[Permission], confinement: dict[str, Any]
) -> None:
    """An integration client reaches records within its territory, provider or unit; across
    the country only with ``reach:national``. Neither, with a scope a reach bounds, is a token
    that would otherwise fall back to national reach: 401."""
    confined = any(value is not None for value in confinement.values())
    national = NATIONAL_REACH_SCOPE in scopes
    if national and confined:
        raise InvalidToken(
            f"An integration token with a territory, provider_id or unit_id claim cannot "
            f"also carry the {NATIONAL_REACH_SCOPE} scope."
        )
    if not national and not confined and permissions & REACHED_PERMISSIONS:
        raise InvalidToken(
            "An integration token whose scopes reach personal records or providers must carry "
            f"a territory, provider_id or unit_id claim, or the {NATIONAL_REACH_SCOPE} scope."
        )


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidToken(f"The token's {name} claim is not a UUID.") from None
