"""What ``bench/run`` measures: each scenario says which requests to send to the registry and,
where one exists, to the bare baseline app (``bare_app.py``) doing the same reads.

Adding a scenario: write a function from :class:`Context` to request specs (``method``,
``path``, ``headers``, ``body``; ``{seq}`` in any of them becomes a number unique within the
run), and add a :class:`Scenario` to ``SCENARIOS``. The load generator cycles through the list,
so give it enough distinct requests (a few thousand) to avoid measuring one cached row. A
scenario whose endpoint is still being built stays ``pending``: it is listed, not run.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from registry.demo.families import (
    FEMALE_NAMES,
    MALE_NAMES,
    SURNAMES,
    feminine_surname,
    patronymic,
)

KYIV = "UA80000000000093317"
API = "/api/v1"
BATCH_SIZE = 10_000  # records per batch: the most the API takes (MAX_BATCH)

RequestSpec = dict[str, Any]


@dataclass
class Context:
    """The generated database's samples, and tokens the running service trusts."""

    manifest: dict[str, Any]
    kyiv_family_ids: list[str]
    search_terms: list[str]
    #: ``token(role, **claims)``: a signed development token for the role.
    token: Callable[..., str]
    #: The Kyiv provider with the most families linked to it, and what it offers (service
    #: code → places); None in a database generated before providers were.
    provider_id: str | None = None
    provider_offers: dict[str, list[str]] = field(default_factory=dict)
    #: Families linked to that provider, each with one active member: (family, person).
    provider_families: list[tuple[str, str | None]] = field(default_factory=list)
    #: RNOKPPs of Kyiv members (current ones of active families), to look families up by.
    kyiv_rnokpps: list[str] = field(default_factory=list)
    #: The military units of the programme (ids), whose liaisons list their support cases.
    unit_ids: list[str] = field(default_factory=list)

    def officer(self) -> dict[str, str]:
        """Headers of a Kyiv community officer: reads and writes Kyiv's families and cases."""
        token = self.token("community_officer", territory=KYIV, sub="bench-officer")
        return {"Authorization": f"Bearer {token}"}

    def provider_staff(self) -> dict[str, str]:
        """Headers of the sampled Kyiv provider's staff, for JSON bodies."""
        if self.provider_id is None or not self.provider_families:
            raise SystemExit(
                "this database has no provider samples (bench.kyiv_provider): "
                "generate it again with bench/generate"
            )
        token = self.token("provider_staff", provider_id=self.provider_id, sub="bench-staff")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    registry: Callable[[Context], list[RequestSpec]] | None
    #: The same reads on the bare app; None: compare with the bare ``family_by_id``.
    bare: Callable[[Context], list[RequestSpec]] | None = None
    #: Why it cannot run yet (its endpoint is being built); listed in the results, not run.
    pending: str | None = None
    connections: int | None = None  # None: the run's --connections
    #: Records each request carries (a batch): throughput is also reported per record.
    items_per_request: int = 1


# --- families --------------------------------------------------------------------------------


def family_by_id(ctx: Context) -> list[RequestSpec]:
    headers = ctx.officer()
    return [
        {"method": "GET", "path": f"{API}/families/{family_id}", "headers": headers}
        for family_id in ctx.kyiv_family_ids
    ]


def bare_family_by_id(ctx: Context) -> list[RequestSpec]:
    return [
        {"method": "GET", "path": f"/families/{family_id}"} for family_id in ctx.kyiv_family_ids
    ]


def search_name_typo(ctx: Context) -> list[RequestSpec]:
    headers = ctx.officer()
    return [
        {"method": "GET", "path": f"{API}/families?q={quote(q)}", "headers": headers}
        for q in ctx.search_terms
    ]


def family_by_rnokpp(ctx: Context) -> list[RequestSpec]:
    if not ctx.kyiv_rnokpps:
        raise SystemExit("this database has no bench.kyiv_rnokpps: generate it again")
    headers = ctx.officer()
    return [
        {"method": "GET", "path": f"{API}/families?rnokpp={number}", "headers": headers}
        for number in ctx.kyiv_rnokpps
    ]


def post_family(ctx: Context) -> list[RequestSpec]:
    """Register a Kyiv family of a mother (a new RNOKPP, an IDP certificate) and a child (an
    IDP certificate): the identifiers' checks and writes, duplicate detection by name and
    birth date, the stored answer. Names and birth dates vary (duplicates are rare, as in
    life); the numbers and the Idempotency-Key come from ``{seq}``."""
    rng = random.Random(_run_tag())
    headers = {
        **ctx.officer(),
        "Content-Type": "application/json",
        "Idempotency-Key": f"bench-family-{_run_tag()}-{{seq}}",
    }
    women = [name for name, _ in FEMALE_NAMES]
    men = [name for name, _ in MALE_NAMES]
    requests = []
    for _ in range(4000):
        surname = feminine_surname(rng.choice(SURNAMES))
        father = rng.choice(men)
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
        child_born = date(2010, 1, 1) + timedelta(days=rng.randrange(14 * 365))
        member = {"last_name": surname, "sex": "female", "patronymic": patronymic(father, "female")}
        body = {
            "hromada_code": KYIV,
            "address_line": f"вул. Хрещатик, {rng.randrange(1, 60)}, кв. {rng.randrange(1, 200)}",
            "phone": "+380441234567",
            "categories": ["idp"],
            "factors": ["low_income"],
            "members": [
                {
                    **member,
                    "first_name": rng.choice(women),
                    "patronymic": patronymic(rng.choice(men), "female"),
                    "birth_date": born.isoformat(),
                    "relation": "head",
                    "rnokpp": "{rnokpp}",
                    "idp_certificate": "IDP-{seq}",
                },
                {
                    **member,
                    "first_name": rng.choice(women),
                    "birth_date": child_born.isoformat(),
                    "relation": "child",
                    "idp_certificate": "IDPC-{seq}",
                },
            ],
        }
        requests.append(
            {"method": "POST", "path": f"{API}/families", "headers": headers, "body": body}
        )
    return requests


def list_hromada(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"{API}/families?hromada={KYIV}", "headers": ctx.officer()}]


def bare_list_hromada(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"/families?hromada={KYIV}&limit=50"}]


# --- service records and cases ------------------------------------------------------------------


def _record(ctx: Context, n: int, external_ref: str) -> dict[str, Any]:
    """The ``n``-th valid record of the sampled provider: one of its linked families (every
    other one naming the member), one of its offers at a place it offers, delivered in the
    last four weeks."""
    family_id, person_id = ctx.provider_families[n % len(ctx.provider_families)]
    offers = sorted(ctx.provider_offers.items())
    code, places = offers[n % len(offers)]
    return {
        "family_id": family_id,
        "person_id": person_id if n % 2 else None,
        "service_code": code,
        "place": places[n // len(offers) % len(places)],
        "delivered_on": (date.today() - timedelta(days=1 + n % 28)).isoformat(),
        "units": 1 + n % 3,
        "duration_minutes": 60,
        "outcome": "delivered",
        "external_ref": external_ref,
    }


def _run_tag() -> str:
    """Part of every idempotency key and external reference: ``{seq}`` starts again at 1 in
    every load generator run, the tag keeps one measurement's records from being
    resubmissions of another's."""
    return secrets.token_hex(4)


def post_service_record(ctx: Context) -> list[RequestSpec]:
    tag = _run_tag()
    headers = {**ctx.provider_staff(), "Idempotency-Key": f"bench-{tag}-{{seq}}"}
    return [
        {
            "method": "POST",
            "path": f"{API}/service-records",
            "headers": headers,
            "body": _record(ctx, n, f"bench-{tag}-{{seq}}"),
        }
        for n in range(2 * len(ctx.provider_families))
    ]


def ingest_service_records(ctx: Context) -> list[RequestSpec]:
    tag = _run_tag()
    headers = {**ctx.provider_staff(), "Idempotency-Key": f"bench-batch-{tag}-{{seq}}"}
    records = [_record(ctx, n, f"bench-{tag}-{{seq}}-{n}") for n in range(BATCH_SIZE)]
    return [
        {
            "method": "POST",
            "path": f"{API}/service-records/batch",
            "headers": headers,
            "body": {"records": records},
        }
    ]


def cases_visit_overdue(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"{API}/cases?visit_overdue=true", "headers": ctx.officer()}]


def liaison_cases(ctx: Context) -> list[RequestSpec]:
    """A first page of support cases as the liaison of a unit, the units in a shuffled
    order (one token each): confinement by unit, the flags (contact overdue, the provider's
    gate), the servicemember's name, the audit."""
    if not ctx.unit_ids:
        raise SystemExit("this database has no military units: generate it again")
    units = list(ctx.unit_ids)
    random.Random(len(units)).shuffle(units)
    return [
        {
            "method": "GET",
            "path": f"{API}/support-cases?limit=50",
            "headers": {
                "Authorization": "Bearer "
                + ctx.token("military_liaison", unit_id=unit_id, sub=f"bench-liaison-{n}")
            },
        }
        for n, unit_id in enumerate(units)
    ]


def bare_liaison_cases(ctx: Context) -> list[RequestSpec]:
    units = list(ctx.unit_ids)
    random.Random(len(units)).shuffle(units)
    return [{"method": "GET", "path": f"/support-cases?unit_id={u}&limit=50"} for u in units]


SCENARIOS = [
    Scenario(
        "family_by_id",
        "GET one family with its members (own hromada, Kyiv)",
        registry=family_by_id,
        bare=bare_family_by_id,
    ),
    Scenario(
        "search_name_typo",
        "GET /families?q= a member's surname with a one-letter typo and first name",
        registry=search_name_typo,
    ),
    Scenario(
        "family_by_rnokpp",
        "GET /families?rnokpp= a Kyiv member's number (exact lookup)",
        registry=family_by_rnokpp,
    ),
    Scenario(
        "post_family",
        "POST a new Kyiv family of two (a new RNOKPP, IDP certificates, Idempotency-Key)",
        registry=post_family,
    ),
    Scenario(
        "list_hromada",
        "GET /families?hromada= first page (50 families and members)",
        registry=list_hromada,
        bare=bare_list_hromada,
    ),
    Scenario(
        "post_service_record",
        "POST one service record (Idempotency-Key, a new external_ref) as provider staff",
        registry=post_service_record,
    ),
    Scenario(
        "ingest_service_records",
        "POST a batch of 10 000 service records",
        registry=ingest_service_records,
        connections=2,
        items_per_request=BATCH_SIZE,
    ),
    Scenario(
        "cases_visit_overdue",
        "GET /cases?visit_overdue=true first page (Kyiv)",
        registry=cases_visit_overdue,
    ),
    Scenario(
        "liaison_cases",
        "GET /support-cases first page (50) as the liaison of a unit, 35 units in turn",
        registry=liaison_cases,
        bare=bare_liaison_cases,
    ),
]
