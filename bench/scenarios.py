"""What ``bench/run`` measures: each scenario says which requests to send to the registry and,
where one exists, to the bare baseline app (``bare_app.py``) doing the same reads.

Adding a scenario: write a function from :class:`Context` to request specs (``method``,
``path``, ``headers``, ``body``; ``{seq}`` in any of them becomes a number unique within the
run), and add a :class:`Scenario` to ``SCENARIOS``. The load generator cycles through the list,
so give it enough distinct requests (a few thousand) to avoid measuring one cached row. A
scenario whose endpoint is still being built stays ``pending``: it is listed, not run. One
that needs rows of its own made through the running server first (a programme to draw on)
has a ``setup``, whose values fill placeholders such as ``{programme_id}``, and a ``check``
of what the load left in the database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import change_feed
import programme_ledger

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
    #: postgresql://… of the generated database, for a scenario's check.
    database_url: str = ""

    def officer(self, sub: str = "bench-officer") -> dict[str, str]:
        """Headers of a Kyiv community officer: reads and writes Kyiv's families, cases and
        programme distributions (``sub``: which officer)."""
        token = self.token("community_officer", territory=KYIV, sub=sub)
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
class Api:
    """JSON requests to the running server, for a scenario's set-up and check."""

    base_url: str

    def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        """The answer's status and JSON body (None when it has none)."""
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={**headers, "Content-Type": "application/json"} if body else headers,
            data=json.dumps(body).encode() if body else None,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def expect(
        self, status: int, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> Any:
        """The answer's JSON body; stops the run when the status is another."""
        code, answer = self.call(method, path, headers, body)
        if code != status:
            raise SystemExit(f"set-up: {method} {path} answered {code}, not {status}: {answer}")
        return answer


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
    #: Rows the load draws on, made through the running server: called before the preflight
    #: and warm-up and again before the measured run, so the measured load has rows of its
    #: own. Returns the values of the placeholders (``{programme_id}``) in the requests.
    setup: Callable[[Context, Api], dict[str, str]] | None = None
    #: After the measured run, the server still up: what the database holds against what was
    #: answered (the setup's values, the load's result). Its ``figures`` (column → value) go
    #: into a table of their own, all of it into the results.
    check: Callable[[Context, Api, dict[str, str], dict[str, Any]], dict[str, Any]] | None = None
    #: Statuses the scenario expects as answers, not errors (None: the 2xx ones).
    expected_statuses: tuple[int, ...] | None = None


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


# --- programmes ----------------------------------------------------------------------------------

#: The allocation's size: what a payment is and how many it holds, plus less than one more,
#: so the last refusals name a remaining balance above zero.
PAYMENT = Decimal("1500.00")
PAYMENTS = 400
ALLOCATION = PAYMENT * PAYMENTS + Decimal("750.00")
ENROLLED_FAMILIES = 200
OFFICERS = 50  # the hromada's community officers distributing at once, one connection each


def _programme_families(ctx: Context) -> list[str]:
    if len(ctx.kyiv_family_ids) < ENROLLED_FAMILIES:
        raise SystemExit(f"programme_distributions needs {ENROLLED_FAMILIES} Kyiv families")
    return ctx.kyiv_family_ids[:ENROLLED_FAMILIES]


def _payment(family_id: str) -> dict[str, Any]:
    return {
        "family_id": family_id,
        "amount": {"amount": str(PAYMENT), "currency": "USD"},
        "distributed_on": (date.today() - timedelta(days=1)).isoformat(),
        "handed_over_by": "Каса громади",
    }


def programme_setup(ctx: Context, api: Api) -> dict[str, str]:
    """A cash programme with one finite allocation, to Kyiv, opened by the ministry, and the
    first ``ENROLLED_FAMILIES`` sampled Kyiv families enrolled by the officer: all through the
    API, as the ministry and the hromada would."""
    ministry = {"Authorization": "Bearer " + ctx.token("ministry_admin", sub="bench-ministry")}
    today = date.today()
    amount = {"amount": str(ALLOCATION), "currency": "USD"}
    programme = api.expect(
        201,
        "POST",
        f"{API}/programmes",
        ministry,
        {
            "funder": "UNICEF",
            "name": f"Bench: concurrent distributions {_run_tag()}",
            "kind": "cash",
            "budget": amount,
            "starts_on": (today - timedelta(days=30)).isoformat(),
            "ends_on": (today + timedelta(days=300)).isoformat(),
        },
    )
    path = f"{API}/programmes/{programme['id']}"
    api.expect(200, "PUT", f"{path}/allocations/{KYIV}", ministry, {"amount": amount})
    api.expect(
        200,
        "PATCH",
        path,
        {**ministry, "If-Match": f'"{programme["version"]}"'},
        {"status": "open"},
    )
    officer = ctx.officer()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda family_id: api.expect(
                    201, "POST", f"{path}/enrolments", officer, {"family_id": family_id}
                ),
                _programme_families(ctx),
            )
        )
    return {"programme_id": programme["id"]}


def programme_distributions(ctx: Context) -> list[RequestSpec]:
    """One fixed payment to an enrolled family, by one of ``OFFICERS`` officers in turn, each
    with its own Idempotency-Key: drawn on the one allocation the set-up made, until its funds
    run out (201s), and past that (409s naming what remains)."""
    tag = _run_tag()
    families = _programme_families(ctx)
    officers = [
        {**ctx.officer(f"bench-officer-{n}"), "Content-Type": "application/json"}
        for n in range(OFFICERS)
    ]
    return [
        {
            "method": "POST",
            "path": f"{API}/programmes/{{programme_id}}/distributions",
            "headers": {
                **officers[n % OFFICERS],
                "Idempotency-Key": f"bench-pay-{tag}-{{seq}}",
            },
            "body": _payment(families[n % len(families)]),
        }
        for n in range(4 * len(families))
    ]


def programme_check(
    ctx: Context, api: Api, values: dict[str, str], result: dict[str, Any]
) -> dict[str, Any]:
    """One more payment by hand (a 409 naming what remains, once the funds ran out), then the
    ledger against the answers: ``programme_ledger.prove``."""
    status, answer = api.call(
        "POST",
        f"{API}/programmes/{values['programme_id']}/distributions",
        {**ctx.officer(), "Idempotency-Key": f"bench-pay-probe-{_run_tag()}"},
        _payment(_programme_families(ctx)[0]),
    )
    answered = [result["statuses"], result["statuses_after_deadline"], {str(status): 1}]
    created = sum(counts.get("201", 0) for counts in answered)
    refused = sum(counts.get("409", 0) for counts in answered)
    proof = asyncio.run(
        programme_ledger.prove(
            ctx.database_url,
            values["programme_id"],
            KYIV,
            payment=PAYMENT,
            created=created,
            refused=refused,
            remaining_named=(answer or {}).get("remaining", {}).get("amount")
            if status == 409
            else None,
        )
    )
    by_status = result["by_status"]
    paid = by_status.get("201")
    # While the funds lasted: up to the last 201 of the window (all of it if none was refused).
    lasted_s = paid["last_s"] if paid and "409" in by_status else result["duration_s"]

    def latency(status: str, q: str) -> float | None:
        return by_status[status]["latency_ms"][q] if status in by_status else None

    return {
        "figures": {
            "created": created,
            "refused": refused,
            "other": sum(sum(counts.values()) for counts in answered) - created - refused,
            "unanswered": sum(result["failures"].values()),
            "created/s": round(paid["count"] / lasted_s, 1) if paid else 0,
            "funds lasted s": round(lasted_s, 2),
            "201 p50 ms": latency("201", "p50"),
            "201 p99 ms": latency("201", "p99"),
            "409 p50 ms": latency("409", "p50"),
            "409 p99 ms": latency("409", "p99"),
            "allocated": proof["ledger"]["allocated"],
            "distributed": proof["ledger"]["distributed"],
            "remaining named": proof["remaining_named"],
            "ledger": "holds" if proof["holds"] else "BROKEN",
        },
        "probe_status": status,
        "programme_id": values["programme_id"],
        **proof,
    }


# --- the change feed ------------------------------------------------------------------------------

#: Events the backlog holds at least (every family's version bumped, round after round).
FEED_BACKLOG = 200_000
#: The follower of the measured run (one scenario runs at a time, its set-up twice).
_feed: dict[str, Any] = {}


def _integration(ctx: Context, sub: str, **claims: Any) -> str:
    return ctx.token("integration", scope="changes:read reach:national", sub=sub, **claims)


def feed_setup(ctx: Context, api: Api) -> dict[str, str]:
    """A backlog of ``FEED_BACKLOG`` events made in the database, drained by a national
    integration client (events/s, page latency: no writer at work), then by one confined to
    Kyiv; then a follower starts reading from the end while the load's writers commit."""
    if (previous := _feed.pop("follower", None)) is not None:
        previous.stop()  # the warm-up's
    backlog = change_feed.run(change_feed.make_backlog(ctx.database_url, FEED_BACKLOG))
    start = backlog["sequence_before"]
    after = _cursor(start)
    national = change_feed.Consumer(api.base_url, _integration(ctx, "bench-feed-national"))
    drained = change_feed.Pages()
    end = national.drain(after, drained)
    national.close()
    kyiv = change_feed.Consumer(
        api.base_url,
        ctx.token("integration", scope="changes:read", territory=KYIV, sub="bench-feed-kyiv"),
    )
    confined = change_feed.Pages()
    kyiv.drain(after, confined)
    kyiv.close()
    # A territory with few events: each poll from its last event (or from the backlog's
    # start) finds a handful among 200 000; ten polls, as a consumer catching up would.
    hromada = change_feed.run(change_feed.quiet_hromada(ctx.database_url))
    quiet = change_feed.Consumer(
        api.base_url,
        ctx.token("integration", scope="changes:read", territory=hromada, sub="bench-feed-quiet"),
    )
    polls = change_feed.Pages()
    for _ in range(10):
        quiet.drain(after, polls)
    quiet.close()
    last = drained.sequences[-1] if drained.sequences else start
    follower = change_feed.Follower(
        change_feed.Consumer(api.base_url, _integration(ctx, "bench-feed-follower")), end
    )
    follower.start()
    _feed.update(
        follower=follower,
        backlog=backlog,
        drain=drained.figures(),
        drain_kyiv=confined.figures(),
        quiet_polls=polls,
        drain_sequences=(drained.sequences, start),
        follow_from=last,
    )
    print(f"  backlog {backlog}; drained {_feed['drain']}; Kyiv {_feed['drain_kyiv']}", flush=True)
    return {"feed_from": str(last)}


def _median(values: list[float]) -> float | None:
    return round(sorted(values)[len(values) // 2], 1) if values else None


def _cursor(sequence: int) -> str | None:
    if sequence == 0:
        return None
    return base64.urlsafe_b64encode(json.dumps([sequence]).encode()).rstrip(b"=").decode()


def feed_writers(ctx: Context) -> list[RequestSpec]:
    """The writers committing while the follower reads: Kyiv families registered (a family
    and its two members: three events each), as in ``post_family``."""
    return post_family(ctx)


def feed_check(
    ctx: Context, api: Api, values: dict[str, str], result: dict[str, Any]
) -> dict[str, Any]:
    """The backlog's drain figures; the follower stopped once it has read all, and each event
    the database numbered after its start checked seen once, in order."""
    follower: change_feed.Follower = _feed.pop("follower")
    followed = follower.stop()
    proof = change_feed.run(
        change_feed.verify(ctx.database_url, _feed["follow_from"], followed.sequences)
    )
    sequences, start = _feed["drain_sequences"]
    created = sum(
        counts.get("201", 0) for counts in (result["statuses"], result["statuses_after_deadline"])
    )
    claims = {
        "the backlog drained once, in order": sequences
        == list(range(start + 1, start + 1 + len(sequences)))
        and len(sequences) >= _feed["backlog"]["backlog_events"],
        "the follower saw every event once, in order": proof["duplicates"] == 0
        and proof["missing"] == 0
        and proof["in order"]
        and proof["seen"] == proof["held"],
        "one family event per family created": proof["families created (events)"] == created,
    }
    drain, kyiv, follow = _feed["drain"], _feed["drain_kyiv"], followed.figures()
    return {
        "figures": {
            "backlog events": _feed["backlog"]["backlog_events"],
            "drain events/s": drain["events/s"],
            "drain page p50 ms": drain["page p50 ms"],
            "drain page p99 ms": drain["page p99 ms"],
            "drain page max ms": drain["page max ms"],
            "Kyiv events": kyiv["events"],
            "Kyiv events/s": kyiv["events/s"],
            "Kyiv page p50 ms": kyiv["page p50 ms"],
            "Kyiv page p99 ms": kyiv["page p99 ms"],
            "quiet hromada poll p50 ms": _median(_feed["quiet_polls"].poll_ms),
            "families created": created,
            "followed events": proof["seen"],
            "follow page p50 ms": follow["page p50 ms"],
            "follow page p99 ms": follow["page p99 ms"],
            "duplicates": proof["duplicates"],
            "missing": proof["missing"],
            "exactly once": "holds" if all(claims.values()) else "BROKEN",
        },
        "claims": claims,
        "backlog": _feed["backlog"],
        "drain": drain,
        "drain_kyiv": kyiv,
        "follow": follow,
        "proof": proof,
    }


# --- aggregate reports ----------------------------------------------------------------------


def report_families_national(ctx: Context) -> list[RequestSpec]:
    """The heaviest report: every active family of the country counted by oblast, under each
    recipient category and hardship factor, as the ministry's analyst (then suppressed)."""
    token = ctx.token("ministry_analyst", sub="bench-analyst")
    return [
        {
            "method": "GET",
            "path": f"{API}/reports/families",
            "headers": {"Authorization": f"Bearer {token}"},
        }
    ]


def report_service_records_kyiv(ctx: Context) -> list[RequestSpec]:
    """Kyiv's service records of the last twelve months by service code and month, as its
    community officer (one row, twelve tables)."""
    return [{"method": "GET", "path": f"{API}/reports/service-records", "headers": ctx.officer()}]


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
    Scenario(
        "programme_distributions",
        f"POST fixed cash payments by {OFFICERS} officers at one hromada's allocation "
        f"({PAYMENTS} payments' worth) until and after its funds run out; the ledger checked",
        registry=programme_distributions,
        connections=OFFICERS,
        setup=programme_setup,
        check=programme_check,
        expected_statuses=(201, 409),
    ),
    Scenario(
        "change_feed",
        f"GET /changes page by page (1 000 events): a backlog of {FEED_BACKLOG} events drained "
        "(national, then Kyiv), then followed while Kyiv families are registered; every "
        "event checked seen once",
        registry=feed_writers,
        setup=feed_setup,
        check=feed_check,
    ),
    Scenario(
        "report_families_national",
        "GET /reports/families as the ministry's analyst: all families by oblast, by "
        "recipient category and hardship factor, suppressed",
        registry=report_families_national,
        connections=4,
    ),
    Scenario(
        "report_service_records_kyiv",
        "GET /reports/service-records as Kyiv's officer: twelve months by service code",
        registry=report_service_records_kyiv,
        connections=4,
    ),
]
