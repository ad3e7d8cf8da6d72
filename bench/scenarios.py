"""What ``bench/run`` measures: each scenario says which requests to send to the registry and,
where one exists, to the bare baseline app (``bare_app.py``) doing the same reads.

Adding a scenario: write a function from :class:`Context` to request specs (``method``,
``path``, ``headers``, ``body``; ``{seq}`` in any of them becomes a number unique within the
run), and add a :class:`Scenario` to ``SCENARIOS``. The load generator cycles through the list,
so give it enough distinct requests (a few thousand) to avoid measuring one cached row. A
scenario whose endpoint is still being built stays ``pending``: it is listed, not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

KYIV = "UA80000000000093317"
API = "/api/v1"

RequestSpec = dict[str, Any]


@dataclass
class Context:
    """The generated database's samples, and tokens the running service trusts."""

    manifest: dict[str, Any]
    kyiv_family_ids: list[str]
    search_terms: list[str]
    #: ``token(role, **claims)``: a signed development token for the role.
    token: Callable[..., str]

    def officer(self) -> dict[str, str]:
        """Headers of a Kyiv community officer: reads and writes Kyiv's families."""
        token = self.token("community_officer", territory=KYIV, sub="bench-officer")
        return {"Authorization": f"Bearer {token}"}


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
    return [{"method": "GET", "path": f"{API}/families/{family_id}", "headers": headers}
            for family_id in ctx.kyiv_family_ids]


def bare_family_by_id(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"/families/{family_id}"}
            for family_id in ctx.kyiv_family_ids]


def search_name_typo(ctx: Context) -> list[RequestSpec]:
    headers = ctx.officer()
    return [{"method": "GET", "path": f"{API}/families?q={quote(q)}", "headers": headers}
            for q in ctx.search_terms]


def list_hromada(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"{API}/families?hromada={KYIV}",
             "headers": ctx.officer()}]


def bare_list_hromada(ctx: Context) -> list[RequestSpec]:
    return [{"method": "GET", "path": f"/families?hromada={KYIV}&limit=50"}]


# --- endpoints being built (migration 0003 onwards) --------------------------------------------
#
# When an endpoint lands, give its scenario a ``registry=`` function and drop ``pending``:
#
# post_service_record: POST one service record as provider_staff (a ``provider_id`` claim) of
#   a provider serving Kyiv, for a sampled Kyiv family, with ``Idempotency-Key: bench-{seq}``
#   and an external reference containing ``{seq}`` so every request creates a record.
#   ``bench/generate`` then needs a providers stage (a ``Stage`` filling providers and
#   provider_services) so there is a provider to submit as.
# ingest_service_records: POST a batch of 10 000 records; run it with few connections
#   (``connections=2``) and ``items_per_request=10_000`` so records/s is reported.
# cases_visit_overdue: GET the case list filtered to cases whose visit is overdue, as the Kyiv
#   community officer; needs a cases stage in ``bench/generate`` (cases with last visits spread
#   over the past weeks, so about a tenth are overdue).


SCENARIOS = [
    Scenario("family_by_id", "GET one family with its members (own hromada, Kyiv)",
             registry=family_by_id, bare=bare_family_by_id),
    Scenario("search_name_typo",
             "GET /families?q= a member's surname with a one-letter typo and first name",
             registry=search_name_typo),
    Scenario("list_hromada", "GET /families?hromada= first page (50 families and members)",
             registry=list_hromada, bare=bare_list_hromada),
    Scenario("post_service_record", "POST one service record (idempotent)", registry=None,
             pending="service-record endpoints are being built"),
    Scenario("ingest_service_records", "POST a batch of 10 000 service records",
             registry=None, pending="service-record endpoints are being built",
             connections=2, items_per_request=10_000),
    Scenario("cases_visit_overdue", "GET the case list with visit_overdue", registry=None,
             pending="case endpoints are being built"),
]
