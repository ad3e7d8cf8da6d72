"""Request bodies and tokens for tests: valid by default, overridden per test."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from registry.domain.shared.identifiers import rnokpp_for, unzr_for

KYIV = "UA80000000000093317"  # city with special status: oblast- and hromada-level
BUCHA = "UA32080070000050759"  # hromada in Kyiv oblast, Bucha raion
BUCHA_CITY = "UA32080070010087821"  # the city of Bucha, a settlement of that hromada
VORZEL = "UA32080070030073716"
IRPIN = "UA32080150000035443"  # another hromada of the same raion and oblast
KYIV_OBLAST = "UA32000000000030281"
BUCHA_RAION = "UA32080000000084076"
LVIV = "UA46060250000025047"  # hromada in Lviv oblast
LVIV_OBLAST = "UA46000000000026241"

_serials = itertools.count(1)


def person(**overrides: Any) -> dict[str, Any]:
    """A valid member (with a unique RNOKPP and UNZR unless overridden)."""
    born = overrides.get("birth_date", date(1985, 4, 12))
    if isinstance(born, str):
        born = date.fromisoformat(born)
    sex = overrides.get("sex", "female")
    serial = next(_serials)
    body = {
        "last_name": "Шевченко",
        "first_name": "Оксана",
        "patronymic": "Петрівна",
        "birth_date": born.isoformat(),
        "sex": sex,
        "relation": "head",
        "rnokpp": rnokpp_for(born, sex, serial % 5000),
        "unzr": unzr_for(born, serial % 10000),
    }
    body.update(overrides)
    if isinstance(body["birth_date"], date):
        body["birth_date"] = body["birth_date"].isoformat()
    return body


def child(**overrides: Any) -> dict[str, Any]:
    return person(
        **{
            "first_name": "Марʼяна",
            "patronymic": "Андріївна",
            "birth_date": "2016-09-01",
            "relation": "child",
            "rnokpp": None,
            **overrides,
        }
    )


def family(hromada: str = KYIV, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hromada_code": hromada,
        "address_line": "вул. Хрещатик, 1, кв. 5",
        "phone": "+380441234567",
        "categories": ["idp", "large_family"],
        "factors": ["hostilities_harm", "low_income"],
        "consent": {
            "given_at": "2025-03-01T10:00:00Z",
            "given_by": "head of the family",
            "scope": ["registry", "social_accompaniment"],
        },
        "members": [person()],
    }
    body.update(overrides)
    return body


def territorial_tokens(make_token: Any) -> dict[str, str]:
    """Tokens whose reach the role × place tests compare."""
    return {
        "admin": make_token("ministry_admin"),
        "analyst": make_token("ministry_analyst"),
        "auditor": make_token("auditor"),
        "kyiv_officer": make_token("community_officer", territory=KYIV),
        "kyiv_worker": make_token("social_worker", territory=KYIV),
        "bucha_worker": make_token("social_worker", territory=BUCHA),
        "irpin_officer": make_token("community_officer", territory=IRPIN),
        "kyiv_oblast_regional": make_token("regional_officer", territory=KYIV_OBLAST),
        "lviv_worker": make_token("social_worker", territory=LVIV),
    }


# --- families through the API (integration tests) ---------------------------------------------

FAMILIES = "/api/v1/families"


def years_ago(years: int, *, days: int = 30) -> date:
    """A birth date ``years`` years and ``days`` days before today: the person is ``years``
    old (for a small ``days``)."""
    today = date.today()
    anniversary = today.replace(year=today.year - years, day=min(today.day, 28))
    return anniversary - timedelta(days=days)


def rnokpp(born: date | str, sex: str = "female") -> str:
    """A valid RNOKPP for that birth date and sex, unique in this test session."""
    if isinstance(born, str):
        born = date.fromisoformat(born)
    return rnokpp_for(born, sex, next(_serials) % 5000)


def unzr(born: date | str) -> str:
    """A valid UNZR for that birth date, unique in this test session."""
    if isinstance(born, str):
        born = date.fromisoformat(born)
    return unzr_for(born, next(_serials) % 10000)


async def create_family(
    client: Any, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """POST the family; it must be created. Returns the created family."""
    response = await client.post(FAMILIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


_signed: dict[tuple[Any, ...], str] = {}


def token(make_token: Any, role: str, **claims: Any) -> str:
    """``make_token``, remembered for the session: signing a token takes tens of
    milliseconds, and the matrix tests use the same few hundreds of times."""
    key = (role, *sorted(claims.items()))
    if key not in _signed:
        _signed[key] = make_token(role, **claims)
    return _signed[key]


# --- providers through the API (integration tests) --------------------------------------------

PROVIDERS = "/api/v1/providers"
_edrpou_serials = itertools.count(2_000_000)


def edrpou() -> str:
    """A valid EDRPOU, unique in this test session."""
    from stdnum.ua import edrpou as stdnum_edrpou

    base = f"{next(_edrpou_serials):07d}"
    return base + stdnum_edrpou.calc_check_digit(base)


def provider_body(**overrides: Any) -> dict[str, Any]:
    """A valid non-state organisation in Kyiv offering counselling and crisis intervention
    (with a unique EDRPOU unless overridden)."""
    body: dict[str, Any] = {
        "kind": "organisation",
        "sector": "non_state",
        "edrpou": edrpou(),
        "full_name": "Громадська організація «Дружня громада»",
        "short_name": "ГО «Дружня громада»",
        "legal_form": "громадська організація",
        "phone": "+380441234567",
        "email": "info@druzhnia.org.ua",
        "hromada_code": KYIV,
        "address_line": "вул. Хрещатик, 10",
        "services": [
            {"service_code": "002.0", "frequency": "periodic", "places": ["home", "online"]},
            {"service_code": "012.0", "frequency": "crisis", "places": ["home", "online"]},
        ],
    }
    body.update(overrides)
    return body


async def create_provider(
    client: Any,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    *,
    activate: bool = True,
) -> dict[str, Any]:
    """POST the provider (it must be created) and, when ``activate``, include it in the
    register. Returns the provider."""
    response = await client.post(PROVIDERS, json=body or provider_body(), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    if activate:
        response = await client.post(
            f"{PROVIDERS}/{created['id']}/status", json={"to": "active"}, headers=headers
        )
        assert response.status_code == 200, response.text
        created = response.json()
    return created
