"""JWT signing and verification. The only module that imports python-jose.

Verification is strict: the header's ``alg`` must be on the allow-list and match
the type of the key its ``kid`` names; ``exp``, ``iat``, ``sub``, ``aud`` and
``iss`` are required. A verified token is remembered until it expires, so a
client's next request skips the signature check and the parsing of its claims.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jose import ExpiredSignatureError, JWTError, jwk, jwt
from jose.exceptions import JWTClaimsError

from registry.auth.keys import ALLOWED_ALGORITHMS, SigningKey, VerificationKeys
from registry.auth.principal import Principal
from registry.errors import InvalidToken

REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss")
_LEEWAY = 30  # seconds of clock skew tolerated between the issuer and this service
_OPTIONS = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iat": True,
    "verify_exp": True,
    "verify_nbf": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_jti": True,
    "verify_at_hash": False,
    "leeway": _LEEWAY,
    **{f"require_{claim}": True for claim in REQUIRED_CLAIMS},
}
_MAX_TOKEN_LENGTH = 8192


@dataclass(slots=True)
class _Verified:
    expires_at: float
    claims: dict[str, Any]
    principal: Principal | None = None  # parsed on first use


class TokenVerifier:
    def __init__(
        self,
        keys: VerificationKeys,
        *,
        issuer: str,
        audience: str,
        max_lifetime_seconds: int = 12 * 3600,
        cache_size: int = 4096,
    ) -> None:
        self._keys = {
            kid: jwk.construct(key, key.get("alg") or _default_alg(key))
            for kid, key in keys.by_kid.items()
        }
        self._key_types = {kid: key["kty"] for kid, key in keys.by_kid.items()}
        self._issuer = issuer
        self._audience = audience
        self._max_lifetime = max_lifetime_seconds
        self._cache: OrderedDict[str, _Verified] = OrderedDict()
        self._cache_size = cache_size

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``InvalidToken`` saying what is wrong (never the token)."""
        return self._verified(token).claims

    def principal(self, token: str) -> Principal:
        """The caller the token names: ``verify`` then ``Principal.from_claims``, both done
        once per token while it is valid."""
        verified = self._verified(token)
        if verified.principal is None:
            verified.principal = Principal.from_claims(verified.claims)
        return verified.principal

    def _verified(self, token: str) -> _Verified:
        cached = self._cache.get(token)
        if cached is not None:
            if time.time() < cached.expires_at:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        claims = self._verify(token)
        verified = _Verified(float(claims["exp"]), claims)
        self._cache[token] = verified
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return verified

    def _verify(self, token: str) -> dict[str, Any]:
        if len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("The bearer token is not a JWT.")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise InvalidToken("The bearer token is not a JWT.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken("The token's signing algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._keys:
            raise InvalidToken("The token's key id is not a trusted key.")
        if ALLOWED_ALGORITHMS[algorithm] != self._key_types[kid]:
            raise InvalidToken("The token's signing algorithm does not match its key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys[kid],
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options=_OPTIONS,
            )
        except ExpiredSignatureError:
            raise InvalidToken("The token has expired.") from None
        except JWTClaimsError as error:
            raise InvalidToken(f"The token's claims are not acceptable: {error}.") from None
        except JWTError as error:
            message = str(error)
            if message.startswith("missing required key"):
                raise InvalidToken(f"The token lacks a required claim ({message}).") from None
            raise InvalidToken("The token's signature is not valid.") from None
        if not isinstance(claims.get("exp"), (int, float)):
            raise InvalidToken("The token's exp claim is not a number.")
        # python-jose checks that iat is a number, not that it has already happened.
        if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > time.time() + _LEEWAY:
            raise InvalidToken("The token's iat claim is in the future.")
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise InvalidToken(
                f"The token lives longer (exp - iat) than the {self._max_lifetime} seconds "
                "a token may."
            )
        return claims


def _default_alg(key: dict[str, Any]) -> str:
    return "RS256" if key.get("kty") == "RSA" else "ES256"


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    """Sign ``claims`` with the development key (for ``registry token`` and the tests)."""
    token: str = jwt.encode(
        claims, key.private_pem.decode(), algorithm=key.algorithm, headers={"kid": key.kid}
    )
    return token


def issue(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    role: str,
    ttl_seconds: int = 3600,
    **extra: Any,
) -> str:
    """A complete development token for ``role``; ``extra`` adds confinement claims or scope."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    claims.update({name: value for name, value in extra.items() if value is not None})
    return sign(claims, key)
