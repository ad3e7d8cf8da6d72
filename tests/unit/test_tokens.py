"""TokenVerifier and Principal.from_claims, without a database.

Every forged token must end in ``Unauthenticated`` whose detail never repeats the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jose.jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jose import jwt

from registry.auth import tokens
from registry.auth.keys import SigningKey, VerificationKeys, development_keys
from registry.auth.principal import Principal
from registry.auth.roles import ROLE_PERMISSIONS, Permission, Role
from registry.auth.tokens import TokenVerifier
from registry.errors import Unauthenticated
from tests.support import (
    BUCHA,
    BUCHA_CITY,
    BUCHA_RAION,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    run_cli,
)

ISSUER = "https://idp.test/realms/registry"
AUDIENCE = "registry-api"


# --- forging helpers --------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value).encode())


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """``header.payload.signature`` assembled by hand; the signature is whatever we say."""
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def signing_input(header: dict[str, Any], payload: dict[str, Any]) -> bytes:
    return f"{segment(header)}.{segment(payload)}".encode()


def rsa_private(key: SigningKey) -> rsa.RSAPrivateKey:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private


def rs256_forge(private: rsa.RSAPrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A correctly RS256-signed token over an arbitrary header (for headers jose refuses)."""
    signature = private.sign(signing_input(header, payload), padding.PKCS1v15(), hashes.SHA256())
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def es256_forge(
    private: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]
) -> str:
    der = private.sign(signing_input(header, payload), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def hs256_forge(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    mac = hmac.new(secret, signing_input(header, payload), hashlib.sha256).digest()
    return f"{segment(header)}.{segment(payload)}.{b64url(mac)}"


def claims(**overrides: Any) -> dict[str, Any]:
    """A complete, currently valid claim set; ``None`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "role": "ministry_admin",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any], **headers: Any) -> str:
    token: str = jwt.encode(
        payload, key.private_pem.decode(), algorithm="RS256", headers={"kid": key.kid, **headers}
    )
    return token


def assert_rejected(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    error = caught.value
    assert error.status == 401
    assert error.detail
    if token:
        assert token not in error.detail
        assert token not in str(error)
        for part in token.split("."):
            if len(part) > 16:  # the signature or payload must not be echoed either
                assert part not in error.detail
    return error


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> tuple[SigningKey, VerificationKeys]:
    return development_keys(tmp_path / "keys")


@pytest.fixture
def key(keys: tuple[SigningKey, VerificationKeys]) -> SigningKey:
    return keys[0]


@pytest.fixture
def verifier(keys: tuple[SigningKey, VerificationKeys]) -> TokenVerifier:
    return TokenVerifier(keys[1], issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def other_key(tmp_path: Path) -> SigningKey:
    """Another RSA key pair, trusted by nobody."""
    return development_keys(tmp_path / "other")[0]


def public_key_bytes(key: SigningKey, encoding: serialization.Encoding) -> bytes:
    return (
        rsa_private(key)
        .public_key()
        .public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- rejections -------------------------------------------------------------------------

Forger = Callable[[SigningKey, SigningKey], str]

_RS256 = {"alg": "RS256", "typ": "JWT"}


def _header(key: SigningKey, **fields: Any) -> dict[str, Any]:
    return {**_RS256, "kid": key.kid, **fields}


REJECTED: dict[str, Forger] = {
    "empty": lambda k, o: "",
    "garbage": lambda k, o: "this-is-not-a-token",
    "one dot": lambda k, o: "abc.def",
    "four parts": lambda k, o: sign(k, claims()) + ".extra",
    "bad base64 header": lambda k, o: "!!!$$$.%%%.^^^",
    "bad base64 in header": lambda k, o: (
        "eyJhbGciOi*JSUzI1NiJ9." + sign(k, claims()).split(".", 1)[1]
    ),
    "header not json": lambda k, o: b64url(b"{not json") + "." + segment(claims()) + ".c2ln",
    "header json list": lambda k, o: segment(["RS256"]) + "." + segment(claims()) + ".c2ln",
    "header not utf-8": lambda k, o: b64url(b"\xff\xfe\xfd") + "." + segment(claims()) + ".c2ln",
    "over-long": lambda k, o: sign(k, claims(padding="x" * 9000)),
    "valid header, payload not json": lambda k, o: (
        segment(_header(k))
        + "."
        + b64url(b"{not json")
        + "."
        + b64url(
            rsa_private(k).sign(
                (segment(_header(k)) + "." + b64url(b"{not json")).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        )
    ),
    "expired": lambda k, o: sign(
        k, claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    ),
    "expired beyond leeway": lambda k, o: sign(k, claims(exp=int(time.time()) - 120)),
    "not yet valid": lambda k, o: sign(k, claims(nbf=int(time.time()) + 3600)),
    "exp is a string": lambda k, o: sign(k, claims(exp=str(int(time.time()) + 600))),
    "wrong aud": lambda k, o: sign(k, claims(aud="some-other-api")),
    "aud list without ours": lambda k, o: sign(k, claims(aud=["a", "b"])),
    "wrong iss": lambda k, o: sign(k, claims(iss="https://evil.test/")),
    "sub not a string": lambda k, o: sign(k, claims(sub=42)),
    "missing exp": lambda k, o: sign(k, claims(exp=None)),
    "missing iat": lambda k, o: sign(k, claims(iat=None)),
    "missing sub": lambda k, o: sign(k, claims(sub=None)),
    "missing aud": lambda k, o: sign(k, claims(aud=None)),
    "missing iss": lambda k, o: sign(k, claims(iss=None)),
    "alg none": lambda k, o: forge({"alg": "none", "typ": "JWT", "kid": k.kid}, claims()),
    "alg None": lambda k, o: forge({"alg": "None", "kid": k.kid}, claims()),
    "alg none with a real signature": lambda k, o: (
        forge({"alg": "none", "kid": k.kid}, claims()) + sign(k, claims()).rsplit(".", 1)[1]
    ),
    "alg missing": lambda k, o: forge({"kid": k.kid}, claims(), b"sig"),
    "alg not a string": lambda k, o: rs256_forge(
        rsa_private(k), _header(k, alg=["RS256"]), claims()
    ),
    "alg RS512": lambda k, o: jwt.encode(
        claims(), k.private_pem.decode(), algorithm="RS512", headers={"kid": k.kid}
    ),
    "alg PS256": lambda k, o: (
        segment(_header(k, alg="PS256"))
        + "."
        + segment(claims())
        + "."
        + b64url(
            rsa_private(k).sign(
                signing_input(_header(k, alg="PS256"), claims()),
                padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                hashes.SHA256(),
            )
        )
    ),
    "HS256 with public key PEM": lambda k, o: hs256_forge(
        public_key_bytes(k, serialization.Encoding.PEM),
        {"alg": "HS256", "typ": "JWT", "kid": k.kid},
        claims(),
    ),
    "HS256 with public key DER": lambda k, o: hs256_forge(
        public_key_bytes(k, serialization.Encoding.DER),
        {"alg": "HS256", "typ": "JWT", "kid": k.kid},
        claims(),
    ),
    "HS256 with public key PEM, no kid": lambda k, o: hs256_forge(
        public_key_bytes(k, serialization.Encoding.PEM), {"alg": "HS256"}, claims()
    ),
    "unknown kid": lambda k, o: sign(o, claims()),
    "unknown kid, right signature": lambda k, o: rs256_forge(
        rsa_private(k), _header(k, kid="not-" + k.kid), claims()
    ),
    "no kid": lambda k, o: rs256_forge(rsa_private(k), dict(_RS256), claims()),
    "kid not a string": lambda k, o: rs256_forge(rsa_private(k), _header(k, kid=[k.kid]), claims()),
    "other RSA key, same kid": lambda k, o: sign(
        SigningKey(k.kid, "RS256", o.private_pem), claims()
    ),
    "RS256 header signed by an EC key": lambda k, o: es256_forge(
        ec.generate_private_key(ec.SECP256R1()), _header(k), claims()
    ),
    "ES256 header on an RSA kid": lambda k, o: es256_forge(
        ec.generate_private_key(ec.SECP256R1()), _header(k, alg="ES256"), claims()
    ),
    "tampered payload": lambda k, o: (
        lambda t: (
            t.split(".")[0]
            + "."
            + segment(claims(role="auditor", sub="someone-else"))
            + "."
            + t.split(".")[2]
        )
    )(sign(k, claims())),
    "signature stripped": lambda k, o: sign(k, claims()).rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("forger", REJECTED.values(), ids=REJECTED.keys())
def test_forged_token_is_rejected(
    verifier: TokenVerifier, key: SigningKey, other_key: SigningKey, forger: Forger
) -> None:
    token = forger(key, other_key)
    assert_rejected(verifier, token)
    assert_rejected(verifier, token)  # still rejected: a failure is never cached as success


def test_rejection_details_say_what_is_wrong(
    verifier: TokenVerifier, key: SigningKey, other_key: SigningKey
) -> None:
    def detail(name: str) -> str:
        return assert_rejected(verifier, REJECTED[name](key, other_key)).detail

    assert "not a JWT" in detail("garbage")
    assert "expired" in detail("expired")
    assert "algorithm is not accepted" in detail("alg none")
    assert "algorithm is not accepted" in detail("HS256 with public key PEM")
    assert "key id" in detail("unknown kid")
    assert "does not match its key" in detail("ES256 header on an RSA kid")
    assert "signature is not valid" in detail("other RSA key, same kid")
    assert "signature is not valid" in detail("tampered payload")
    assert "required claim" in detail("missing iat")
    assert "audience" in detail("wrong aud").lower()
    assert "issuer" in detail("wrong iss").lower()


# --- Principal.from_claims rejections ---------------------------------------------------

PRINCIPAL_REJECTED: dict[str, dict[str, Any]] = {
    "unknown role": {"role": "superuser"},
    "role missing": {"role": None},
    "role not a string": {"role": ["ministry_admin"]},
    "role wrong case": {"role": "MINISTRY_ADMIN"},
    "blank sub": {"sub": "   "},
    "community officer without territory": {"role": "community_officer"},
    "regional officer without territory": {"role": "regional_officer"},
    "social worker without territory": {"role": "social_worker"},
    "provider staff without provider_id": {"role": "provider_staff"},
    "provider staff with non-UUID provider_id": {
        "role": "provider_staff",
        "provider_id": "provider-7",
    },
    "provider staff with integer provider_id": {"role": "provider_staff", "provider_id": 7},
    "military liaison without unit_id": {"role": "military_liaison"},
    "military liaison with non-UUID unit_id": {"role": "military_liaison", "unit_id": "7th"},
    "scope not a string": {"role": "integration", "scope": ["territories:read"]},
    "territory too short": {"role": "community_officer", "territory": "UA8000000000009331"},
    "territory too long": {"role": "community_officer", "territory": KYIV + "7"},
    "territory without UA": {"role": "community_officer", "territory": KYIV[2:]},
    "territory lower-case ua": {"role": "community_officer", "territory": "ua" + KYIV[2:]},
    "territory with a letter": {"role": "community_officer", "territory": KYIV[:-1] + "X"},
    "territory with trailing newline": {"role": "community_officer", "territory": KYIV + "\n"},
    "territory with leading space": {"role": "community_officer", "territory": " " + KYIV},
    "territory with non-ASCII digits": {
        "role": "community_officer",
        "territory": "UA" + "\u0661" * 17,
    },
    "territory an integer": {"role": "community_officer", "territory": 80000000000093317},
    "territory on a ministry role, malformed": {"role": "ministry_admin", "territory": "UA1"},
    "community officer with an oblast": {"role": "community_officer", "territory": KYIV_OBLAST},
    "community officer with a raion": {"role": "community_officer", "territory": BUCHA_RAION},
    "community officer with a settlement": {"role": "community_officer", "territory": BUCHA_CITY},
    "social worker with an oblast": {"role": "social_worker", "territory": LVIV_OBLAST},
    "regional officer with a hromada": {"role": "regional_officer", "territory": BUCHA},
    "regional officer with a raion": {"role": "regional_officer", "territory": BUCHA_RAION},
    "territory with no level filled": {"role": "community_officer", "territory": "UA" + "0" * 17},
    "integration with a settlement": {
        "role": "integration",
        "scope": "families:read",
        "territory": BUCHA_CITY,
    },
    "integration over families with no reach": {"role": "integration", "scope": "families:read"},
    "integration over cases with no reach": {"role": "integration", "scope": "cases:write"},
    "integration over records with no reach": {
        "role": "integration",
        "scope": "service-records:read",
    },
    "integration managing providers with no reach": {
        "role": "integration",
        "scope": "providers:manage",
    },
    "integration with a territory and national reach": {
        "role": "integration",
        "scope": "families:read reach:national",
        "territory": BUCHA,
    },
    "integration of a provider with national reach": {
        "role": "integration",
        "scope": "families:read reach:national",
        "provider_id": str(uuid.UUID(int=7)),
    },
}


@pytest.mark.parametrize("overrides", PRINCIPAL_REJECTED.values(), ids=PRINCIPAL_REJECTED.keys())
def test_principal_rejects_bad_claims(overrides: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated) as caught:
        Principal.from_claims(claims(**overrides))
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("role", "territory"),
    [
        ("community_officer", BUCHA),
        ("community_officer", KYIV),
        ("social_worker", IRPIN),
        ("regional_officer", KYIV_OBLAST),
        ("regional_officer", KYIV),
        ("integration", KYIV_OBLAST),
        ("integration", BUCHA_RAION),
        ("integration", LVIV),
    ],
)
def test_a_territory_of_the_roles_level_is_accepted(role: str, territory: str) -> None:
    principal = Principal.from_claims(claims(role=role, territory=territory, scope="families:read"))
    assert principal.territory == territory


def test_the_level_of_a_territory_is_named_in_the_refusal() -> None:
    with pytest.raises(Unauthenticated) as caught:
        Principal.from_claims(claims(role="community_officer", territory=KYIV_OBLAST))
    assert caught.value.detail == (
        "A community_officer token's territory claim must name Kyiv or Sevastopol or a hromada."
    )


def test_integration_reach_is_national_only_when_the_token_says_so() -> None:
    national = Principal.from_claims(
        claims(role="integration", scope="families:read reach:national")
    )
    assert national.national_reach
    assert national.can(Permission.FAMILIES_READ)
    reference_only = Principal.from_claims(
        claims(role="integration", scope="territories:read reference:read")
    )
    assert not reference_only.national_reach
    confined = Principal.from_claims(
        claims(role="integration", scope="families:read", territory=KYIV_OBLAST)
    )
    assert not confined.national_reach
    # reach:national is an integration client's scope: a person's token cannot use it
    officer = Principal.from_claims(claims(role="ministry_admin", scope="reach:national"))
    assert not officer.national_reach


def test_principal_rejection_messages() -> None:
    def detail(**overrides: Any) -> str:
        with pytest.raises(Unauthenticated) as caught:
            Principal.from_claims(claims(**overrides))
        return caught.value.detail

    assert "role" in detail(role="superuser")
    assert "territory" in detail(role="community_officer")
    assert "provider_id" in detail(role="provider_staff", provider_id="nope")
    assert "KATOTTG" in detail(role="community_officer", territory="UA123")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role": "superuser"}, "role"),
        ({"role": "community_officer"}, "territory"),
        ({"role": "provider_staff", "provider_id": "not-a-uuid"}, "provider_id"),
        ({"role": "community_officer", "territory": "UA12345"}, "KATOTTG"),
    ],
    ids=["unknown role", "officer without territory", "bad provider_id", "bad territory"],
)
def test_signed_token_with_bad_claims_fails_after_verification(
    verifier: TokenVerifier, key: SigningKey, overrides: dict[str, Any], message: str
) -> None:
    """The signature is fine; the caller is still unauthenticated once the claims are parsed."""
    token = sign(key, claims(**overrides))
    verified = verifier.verify(token)
    with pytest.raises(Unauthenticated) as caught:
        Principal.from_claims(verified)
    assert message in caught.value.detail
    assert token not in caught.value.detail


# --- acceptance -------------------------------------------------------------------------


def test_valid_token_verifies(verifier: TokenVerifier, key: SigningKey) -> None:
    expected = claims(role="ministry_analyst")
    verified = verifier.verify(sign(key, expected))
    assert verified == expected
    principal = Principal.from_claims(verified)
    assert principal.sub == "user-42"
    assert principal.role is Role.MINISTRY_ANALYST
    assert principal.permissions == ROLE_PERMISSIONS[Role.MINISTRY_ANALYST]
    assert principal.can(Permission.TERRITORIES_READ)
    assert principal.can(Permission.REPORTS_READ)
    assert not principal.can(Permission.FAMILIES_READ)
    assert not principal.can(Permission.AUDIT_READ)


def test_token_made_by_issue_verifies(verifier: TokenVerifier, key: SigningKey) -> None:
    token = tokens.issue(key, issuer=ISSUER, audience=AUDIENCE, subject="auditor-1", role="auditor")
    principal = Principal.from_claims(verifier.verify(token))
    assert principal.role is Role.AUDITOR
    assert principal.permissions == frozenset({Permission.AUDIT_READ})


def test_aud_list_containing_ours_verifies(verifier: TokenVerifier, key: SigningKey) -> None:
    verified = verifier.verify(sign(key, claims(aud=["account", AUDIENCE])))
    assert verified["aud"] == ["account", AUDIENCE]


def test_expired_within_leeway_still_verifies(verifier: TokenVerifier, key: SigningKey) -> None:
    """30 s of clock skew is tolerated; the ``expired`` cases above are well past it."""
    now = int(time.time())
    verified = verifier.verify(sign(key, claims(iat=now - 600, exp=now - 5)))
    assert verified["exp"] == now - 5


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.INTEGRATION])
def test_every_role_gets_its_permissions(
    verifier: TokenVerifier, key: SigningKey, role: Role
) -> None:
    confinement = {
        "territory": KYIV,
        "provider_id": str(uuid.uuid4()),
        "unit_id": str(uuid.uuid4()),
    }
    principal = Principal.from_claims(
        verifier.verify(sign(key, claims(role=role.value, **confinement)))
    )
    assert principal.role is role
    assert principal.permissions == ROLE_PERMISSIONS[role]
    assert principal.permissions  # every human role can do something


def test_confined_roles_carry_their_confinement(verifier: TokenVerifier, key: SigningKey) -> None:
    provider = uuid.uuid4()
    staff = Principal.from_claims(
        verifier.verify(sign(key, claims(role="provider_staff", provider_id=str(provider))))
    )
    assert staff.provider_id == provider
    assert staff.territory is None
    officer = Principal.from_claims(
        verifier.verify(sign(key, claims(role="community_officer", territory=KYIV)))
    )
    assert officer.territory == KYIV
    assert officer.can(Permission.FAMILIES_WRITE)


def test_integration_permissions_are_exactly_its_known_scopes(
    verifier: TokenVerifier, key: SigningKey
) -> None:
    scope = (
        "territories:read families:read admin:everything audit:read:all  territories:read "
        "reach:national"
    )
    principal = Principal.from_claims(
        verifier.verify(sign(key, claims(role="integration", sub="client-1", scope=scope)))
    )
    assert principal.role is Role.INTEGRATION
    assert principal.permissions == frozenset(
        {Permission.TERRITORIES_READ, Permission.FAMILIES_READ}
    )
    assert principal.scopes == frozenset(
        {
            "territories:read",
            "families:read",
            "admin:everything",
            "audit:read:all",
            "reach:national",
        }
    )
    assert not principal.can(Permission.AUDIT_READ)
    assert not principal.can(Permission.FAMILIES_WRITE)


def test_integration_without_scope_may_do_nothing(verifier: TokenVerifier, key: SigningKey) -> None:
    principal = Principal.from_claims(verifier.verify(sign(key, claims(role="integration"))))
    assert principal.permissions == frozenset()
    assert not any(principal.can(p) for p in Permission)


def test_ec_key_verifies_es256_and_refuses_rs256_header(tmp_path: Path) -> None:
    """The kid's key type decides the algorithm: an EC key never verifies an RS256 header."""
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": "ec-1",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }
    verifier = TokenVerifier(
        VerificationKeys.from_jwks({"keys": [jwk]}), issuer=ISSUER, audience=AUDIENCE
    )
    good = es256_forge(private, {"alg": "ES256", "kid": "ec-1"}, claims())
    assert verifier.verify(good)["sub"] == "user-42"
    mismatched = es256_forge(private, {"alg": "RS256", "kid": "ec-1"}, claims())
    assert "does not match" in assert_rejected(verifier, mismatched).detail


# --- the verification cache -------------------------------------------------------------


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_decode = jose.jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting_decode)
    return calls


def _move_clocks(monkeypatch: pytest.MonkeyPatch, to: float, *, jose_too: bool) -> None:
    """Make ``time.time`` (the cache's clock) and optionally jose's clock read ``to``."""
    monkeypatch.setattr(tokens.time, "time", lambda: to)
    if jose_too:

        class Later(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return datetime.fromtimestamp(to, tz)

        monkeypatch.setattr(jose.jwt, "datetime", Later)


def test_cache_returns_the_same_claims_without_reverifying(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = _count_decodes(monkeypatch)
    token = sign(key, claims())
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert second is first
    assert decodes == [token]


def test_principal_is_parsed_once_per_token(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = _count_decodes(monkeypatch)
    token = sign(key, claims(role="community_officer", territory="UA80000000000093317"))
    first = verifier.principal(token)
    assert first.role is Role.COMMUNITY_OFFICER
    assert first.territory == "UA80000000000093317"
    assert verifier.principal(token) is first
    assert decodes == [token]


def test_principal_of_bad_claims_is_refused_every_time(
    verifier: TokenVerifier, key: SigningKey
) -> None:
    """A signed token whose claims do not make a caller is never remembered as one."""
    token = sign(key, claims(role="community_officer"))  # no territory
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="territory"):
            verifier.principal(token)


def test_principal_of_an_expired_token_is_refused(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    token = sign(key, claims(iat=now, exp=now + 60))
    verifier.principal(token)
    _move_clocks(monkeypatch, now + 3600, jose_too=True)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.principal(token)


def test_cache_does_not_serve_an_expired_token(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    token = sign(key, claims(iat=now, exp=now + 60))
    assert verifier.verify(token)["exp"] == now + 60  # now cached
    _move_clocks(monkeypatch, now + 3600, jose_too=True)
    assert "expired" in assert_rejected(verifier, token).detail


def test_cache_reverifies_once_the_entry_expires(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``exp`` by the cache's clock, the signature and claims are checked again."""
    decodes = _count_decodes(monkeypatch)
    now = int(time.time())
    token = sign(key, claims(iat=now, exp=now + 60))
    verifier.verify(token)
    verifier.verify(token)
    assert len(decodes) == 1
    _move_clocks(monkeypatch, now + 61, jose_too=False)
    verifier.verify(token)  # jose's real clock still says it is valid
    assert len(decodes) == 2


def test_cache_evicts_least_recently_used(
    keys: tuple[SigningKey, VerificationKeys], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keys[0]
    verifier = TokenVerifier(keys[1], issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    decodes = _count_decodes(monkeypatch)
    a, b, c = (sign(key, claims(sub=name)) for name in "abc")
    verifier.verify(a)
    verifier.verify(b)
    verifier.verify(a)  # a is now the most recently used
    verifier.verify(c)  # evicts b
    assert decodes == [a, b, c]
    verifier.verify(a)
    assert decodes == [a, b, c]
    assert verifier.verify(b)["sub"] == "b"
    assert decodes == [a, b, c, b]


def test_rejected_token_is_not_cached(
    verifier: TokenVerifier, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = _count_decodes(monkeypatch)
    token = sign(key, claims(aud="elsewhere"))
    assert_rejected(verifier, token)
    assert_rejected(verifier, token)
    assert decodes == [token, token]


def test_a_token_issued_in_the_future_is_rejected(tmp_path: Path) -> None:
    key, public = development_keys(tmp_path)
    verifier = TokenVerifier(public, issuer="iss", audience="aud")
    now = int(time.time())
    token = tokens.sign(
        {
            "iss": "iss",
            "aud": "aud",
            "sub": "s",
            "role": "auditor",
            "iat": now + 3600,
            "exp": now + 7200,
        },
        key,
    )
    with pytest.raises(Unauthenticated, match="in the future"):
        verifier.verify(token)


# --- lifetime -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lifetime",
    [12 * 3600 + 1, 365 * 24 * 3600, int(datetime(9999, 12, 31).timestamp()) - int(time.time())],
)
def test_a_token_living_longer_than_allowed_is_refused(key, verifier, lifetime):
    """A stolen token must not work for years: ``exp - iat`` is at most 12 hours here."""
    now = int(time.time())
    token = sign(key, claims(iat=now, exp=now + lifetime))
    with pytest.raises(Unauthenticated, match="lives longer"):
        verifier.verify(token)


def test_a_token_living_exactly_the_longest_is_accepted(key, verifier):
    now = int(time.time())
    assert verifier.verify(sign(key, claims(iat=now, exp=now + 12 * 3600)))["sub"] == "user-42"


def test_the_longest_lifetime_is_a_setting(keys, key):
    verifier = TokenVerifier(keys[1], issuer=ISSUER, audience=AUDIENCE, max_lifetime_seconds=600)
    now = int(time.time())
    assert verifier.verify(sign(key, claims(iat=now, exp=now + 600)))
    with pytest.raises(Unauthenticated, match="600 seconds"):
        verifier.verify(sign(key, claims(iat=now, exp=now + 601)))


@pytest.mark.parametrize("ttl", ["-5", "0", str(12 * 3600 + 1)])
def test_the_token_command_refuses_a_lifetime_the_service_would_refuse(
    ttl, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    code = run_cli("token", "--role", "ministry_admin", "--ttl", ttl)
    assert isinstance(code, str)
    assert "--ttl must be from 1 to 43200 seconds" in code
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("claims_given", "refusal"),
    [
        (["--role", "community_officer", "--territory", KYIV_OBLAST], "territory claim must name"),
        (["--role", "integration", "--scope", "families:read"], "reach:national"),
        (["--role", "provider_staff"], "provider_id claim"),
    ],
)
def test_the_token_command_refuses_claims_the_service_would_refuse(
    claims_given, refusal, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    code = run_cli("token", *claims_given)
    assert isinstance(code, str)
    assert code.startswith("the service would refuse this token: ")
    assert refusal in code
    assert capsys.readouterr().out == ""
