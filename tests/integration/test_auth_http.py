"""Authentication and authorisation over HTTP: every refusal is an RFC 9457 problem."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry.auth.keys import SigningKey
from tests.support import (
    AUDIENCE,
    BUCHA,
    BUCHA_RAION,
    ISSUER,
    KYIV_OBLAST,
    PROBLEM_JSON,
    TokenFactory,
    bearer,
    create_family,
    family,
)

TERRITORIES = "/api/v1/territories"
AUDIT_EVENTS = "/api/v1/audit-events"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(value: Any) -> str:
    return _b64url(json.dumps(value).encode())


def _claims(role: str = "ministry_admin") -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "forger",
        "role": role,
        "iat": now,
        "exp": now + 600,
    }


def _public_key(key: SigningKey, encoding: serialization.Encoding) -> bytes:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private.public_key().public_bytes(
        encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _alg_none(key: SigningKey, make_token: TokenFactory) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{_segment(_claims())}."


def _hs256_with_public_pem(key: SigningKey, make_token: TokenFactory) -> str:
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}." + _segment(
        _claims()
    )
    secret = _public_key(key, serialization.Encoding.PEM)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def _unknown_kid(key: SigningKey, make_token: TokenFactory) -> str:
    header, payload, signature = make_token("ministry_admin").split(".")
    forged_header = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    forged_header["kid"] = "no-such-key"
    return f"{_segment(forged_header)}.{payload}.{signature}"


def _tampered(key: SigningKey, make_token: TokenFactory) -> str:
    header, _payload, signature = make_token("auditor").split(".")
    return f"{header}.{_segment(_claims('ministry_admin'))}.{signature}"


Credentials = Callable[[SigningKey, TokenFactory], tuple[dict[str, str], str]]


def _bearer_of(forger: Callable[[SigningKey, TokenFactory], str]) -> Credentials:
    def credentials(key: SigningKey, make_token: TokenFactory) -> tuple[dict[str, str], str]:
        token = forger(key, make_token)
        return bearer(token), token

    return credentials


def _without_scheme(key: SigningKey, make_token: TokenFactory) -> tuple[dict[str, str], str]:
    token = make_token("ministry_admin")
    return {"Authorization": token}, token


UNAUTHENTICATED: dict[str, Credentials] = {
    "no header": lambda k, m: ({}, ""),
    "basic scheme": lambda k, m: (
        {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        "dXNlcjpwYXNzd29yZA==",
    ),
    "token without scheme": _without_scheme,
    "empty bearer": lambda k, m: ({"Authorization": "Bearer "}, ""),
    "malformed": _bearer_of(lambda k, m: "not.a-jwt.at-all"),
    "garbage": _bearer_of(lambda k, m: "garbage-token-value"),
    "expired": _bearer_of(lambda k, m: m("ministry_admin", ttl_seconds=-3600)),
    "alg none": _bearer_of(_alg_none),
    "HS256 with public key PEM": _bearer_of(_hs256_with_public_pem),
    "unknown kid": _bearer_of(_unknown_kid),
    "tampered payload": _bearer_of(_tampered),
    "unknown role": _bearer_of(lambda k, m: m("superuser")),
    "officer without territory": _bearer_of(lambda k, m: m("community_officer")),
}


#: The cases where no bearer token was presented at all: RFC 6750 §3.1 wants no error code.
NO_CREDENTIALS = {"no header", "basic scheme", "token without scheme", "empty bearer"}


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:registry:problem:{slug}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("case", UNAUTHENTICATED.keys())
async def test_bad_credentials_get_401_problem(
    client: httpx.AsyncClient,
    signing_key: SigningKey,
    make_token: TokenFactory,
    case: str,
) -> None:
    headers, token = UNAUTHENTICATED[case](signing_key, make_token)
    response = await client.get(TERRITORIES, headers=headers)
    body = _assert_problem(response, 401, "unauthenticated")
    assert body["title"] == "Authentication required"
    if case in NO_CREDENTIALS:
        # No token was sent: the challenge names no error (RFC 6750 §3.1).
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "items" not in body
    if token:
        assert token not in response.text
        assert all(token not in value for value in response.headers.values())
        signature = token.rsplit(".", 1)[-1]
        if len(signature) > 16:
            assert signature not in response.text


async def test_valid_token_is_the_control(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    """The same request with a genuine token succeeds, so the 401s above are about the token."""
    response = await client.get(TERRITORIES, headers=bearer(make_token("ministry_admin")))
    assert response.status_code == 200
    assert "www-authenticate" not in response.headers


async def test_auditor_may_not_read_territories(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await client.get(TERRITORIES, headers=bearer(make_token("auditor")))
    body = _assert_problem(response, 403, "forbidden")
    assert "auditor" in body["detail"]
    assert "www-authenticate" not in response.headers


async def test_ministry_analyst_may_read_territories(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await client.get(
        TERRITORIES,
        params={"category": "O", "limit": 200},
        headers=bearer(make_token("ministry_analyst")),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.json()["items"]) == 25


async def test_ministry_admin_may_not_read_audit_events(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await client.get(AUDIT_EVENTS, headers=bearer(make_token("ministry_admin")))
    body = _assert_problem(response, 403, "forbidden")
    assert "ministry_admin" in body["detail"]


async def test_auditor_may_read_audit_events(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    response = await client.get(AUDIT_EVENTS, headers=bearer(make_token("auditor")))
    assert response.status_code == 200, response.text
    assert "items" in response.json()


async def test_integration_client_limited_to_its_scopes(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    allowed = make_token("integration", sub="client-a", scope="territories:read")
    assert (await client.get(TERRITORIES, headers=bearer(allowed))).status_code == 200
    denied = make_token("integration", sub="client-b", scope="audit:reads territories:write")
    _assert_problem(await client.get(TERRITORIES, headers=bearer(denied)), 403, "forbidden")


async def test_an_integration_client_reaches_the_whole_country_only_when_its_token_says_so(
    client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    """A machine token naming no territory, provider or unit used to read every family of
    the country: national reach is now a scope of its own, and its absence fails closed."""
    officer = bearer(make_token("community_officer", territory=BUCHA))
    created = await create_family(client, officer, family(BUCHA))
    families = "/api/v1/families"

    unbounded = make_token("integration", sub="client-u", scope="families:read")
    problem = _assert_problem(
        await client.get(families, headers=bearer(unbounded)), 401, "unauthenticated"
    )
    assert "reach:national" in problem["detail"]

    national = make_token("integration", sub="client-n", scope="families:read reach:national")
    response = await client.get(f"{families}/{created['id']}", headers=bearer(national))
    assert response.status_code == 200, response.text

    # A unit's client reaches that unit's support cases, not the country's families.
    of_a_unit = make_token(
        "integration", sub="client-m", scope="families:read", unit_id=str(uuid.UUID(int=5))
    )
    response = await client.get(f"{families}/{created['id']}", headers=bearer(of_a_unit))
    _assert_problem(response, 404, "not-found")
    listed = await client.get(families, headers=bearer(of_a_unit))
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("role", "territory"),
    [
        ("community_officer", KYIV_OBLAST),
        ("social_worker", BUCHA_RAION),
        ("regional_officer", BUCHA),
    ],
)
async def test_a_territory_of_the_wrong_level_is_401(
    client: httpx.AsyncClient, make_token: TokenFactory, role: str, territory: str
) -> None:
    response = await client.get(
        "/api/v1/families", headers=bearer(make_token(role, territory=territory))
    )
    problem = _assert_problem(response, 401, "unauthenticated")
    assert "territory claim must name" in problem["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
