"""Rate limits: per subject, per client address, and stricter for name searches and
identifier lookups of persons (each refusal of those audited); a 429 problem with
`Retry-After` and the RateLimit fields; shared across applications through Redis; lifted by
a setting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from registry.api.middleware import CORS_EXPOSED_HEADERS
from registry.api.rate_limits import ProcessCounters, client_address
from registry.db.engine import Database
from registry.main import create_app
from registry.settings import Settings
from tests.support import (
    BUCHA,
    FAMILIES,
    PROBLEM_TYPE_PREFIX,
    assert_problem,
    bearer,
    family,
    rnokpp,
    years_ago,
)

REDIS = "async+redis://127.0.0.1:6379/0"
#: A moment 15 s into a minute (and an hour, and a day) of the clock: far from a window's
#: edge, so a test's requests share their windows whatever the time it runs.
START = 1_800_000_000.0 + 15
TERRITORY = "/api/v1/territories/UA80000000000093317"


class FrozenClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited(
    settings: Settings, verifier: Any, clock: FrozenClock | None = None, **quotas: Any
) -> FastAPI:
    """An application with these rate limit settings, its windows on ``clock``."""
    app = create_app(settings.model_copy(update=quotas), verifier=verifier, seal_audit=False)
    if app.state.rate_limits is not None:
        app.state.rate_limits.clock = clock or FrozenClock()
    return app


@asynccontextmanager
async def client_of(
    app: FastAPI, connection: Any, address: str = "192.0.2.10"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` from ``address``, inside the test's rolled-back transaction."""
    app.state.database = Database.bound_to(connection)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        yield client


@pytest.fixture
def officer_of(make_token) -> Callable[[str], dict[str, str]]:
    """Headers of a Bucha community officer with the subject given."""
    return lambda sub: bearer(make_token("community_officer", sub=sub, territory=BUCHA))


def assert_too_many(response: httpx.Response) -> dict[str, Any]:
    problem = assert_problem(response, 429)
    assert problem["type"] == PROBLEM_TYPE_PREFIX + "too-many-requests"
    assert problem["title"] == "Too many requests"
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["retry-after"] == response.headers["ratelimit-reset"]
    return problem


# --- per subject ------------------------------------------------------------------------------


async def test_a_subject_over_its_quota_is_refused_and_another_is_not(
    settings, verifier, connection, officer_of
):
    app = limited(
        settings, verifier, rate_limit_per_address="3000/minute", rate_limit_per_subject="3/minute"
    )
    async with client_of(app, connection) as client:
        remaining = []
        for _ in range(3):
            response = await client.get(TERRITORY, headers=officer_of("greedy"))
            assert response.status_code == 200
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]

        refused = await client.get(TERRITORY, headers=officer_of("greedy"))
        problem = assert_too_many(refused)
        assert "3 per 1 minute" in problem["detail"]
        # 15 s into the minute: the window ends in 45 s.
        assert refused.headers["retry-after"] == "45"
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-policy"] == "3000;w=60, 3;w=60"

        other = await client.get(TERRITORY, headers=officer_of("patient"))
        assert other.status_code == 200
        assert other.headers["ratelimit-remaining"] == "2"


async def test_every_answer_says_where_the_caller_stands(settings, verifier, connection, admin):
    app = limited(
        settings, verifier, rate_limit_per_address="5/minute", rate_limit_per_subject="100/hour"
    )
    async with client_of(app, connection) as client:
        response = await client.get(TERRITORY, headers=admin)
        assert response.status_code == 200
        # The address's quota is the closer to exhaustion: 4 of 5 left, against 99 of 100.
        assert response.headers["ratelimit-limit"] == "5"
        assert response.headers["ratelimit-remaining"] == "4"
        assert response.headers["ratelimit-reset"] == "45"
        assert response.headers["ratelimit-policy"] == "5;w=60, 100;w=3600"

        unauthenticated = await client.get(TERRITORY)
        assert_problem(unauthenticated, 401)
        assert unauthenticated.headers["ratelimit-remaining"] == "3"
        assert unauthenticated.headers["ratelimit-policy"] == "5;w=60"

        # Outside /api/: no limit, no fields.
        health = await client.get("/health/live")
        assert health.status_code == 200
        assert "ratelimit-limit" not in health.headers


async def test_after_the_window_the_subject_may_ask_again(
    settings, verifier, connection, officer_of
):
    clock = FrozenClock()
    app = limited(settings, verifier, clock, rate_limit_per_subject="2/minute")
    async with client_of(app, connection) as client:
        for _ in range(2):
            assert (await client.get(TERRITORY, headers=officer_of("w"))).status_code == 200
        refused = await client.get(TERRITORY, headers=officer_of("w"))
        assert_too_many(refused)

        clock.now += int(refused.headers["retry-after"]) - 1
        assert_too_many(await client.get(TERRITORY, headers=officer_of("w")))

        clock.now += 1
        again = await client.get(TERRITORY, headers=officer_of("w"))
        assert again.status_code == 200
        assert again.headers["ratelimit-remaining"] == "1"


async def test_an_idempotent_write_counts_once(settings, verifier, connection, officer_of):
    """The caller is reached through two dependencies of the operation (its permission and
    its idempotency): it is verified and counted once."""
    app = limited(settings, verifier, rate_limit_per_subject="3/minute")
    async with client_of(app, connection) as client:
        created = await client.post(
            FAMILIES,
            json=family(BUCHA),
            headers={**officer_of("writer"), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        assert created.headers["ratelimit-remaining"] == "2"


# --- per client address -------------------------------------------------------------------------


async def test_an_address_over_its_quota_is_refused_before_any_token_is_read(
    settings, verifier, connection, admin
):
    app = limited(settings, verifier, rate_limit_per_address="3/minute")
    async with client_of(app, connection, address="198.51.100.7") as flood:
        for _ in range(3):
            bad_token = await flood.get(TERRITORY, headers=bearer("not-a-token"))
            assert_problem(bad_token, 401)
        with structlog.testing.capture_logs() as entries:
            refused = await flood.get(TERRITORY, headers=admin)
            again = await flood.get(TERRITORY, headers=admin)
        problem = assert_too_many(refused)
        assert "address" in problem["detail"]
        assert refused.headers["ratelimit-policy"] == "3;w=60"
        assert "www-authenticate" not in refused.headers
        assert_too_many(again)
        # Unknown addresses under /api/ count as well.
        assert_too_many(await flood.get("/api/v1/nothing-here"))
        assert (await flood.get("/health/live")).status_code == 200

    tripped = [e for e in entries if e.get("event") == "rate_limit_exceeded"]
    assert len(tripped) == 1, "one line when the limit trips, not one per refusal"
    assert tripped[0]["limit"] == "address"
    assert "198.51.100.7" not in repr(entries)

    async with client_of(app, connection, address="198.51.100.8") as neighbour:
        assert (await neighbour.get(TERRITORY, headers=admin)).status_code == 200


def test_an_ipv6_client_is_counted_by_its_64_network():
    def of(host: str) -> str:
        return client_address({"client": (host, 1)})

    assert of("2001:db8:1:2::5") == of("2001:db8:1:2:ffff:ffff:ffff:1") == "2001:db8:1:2::/64"
    assert of("2001:db8:1:3::5") != of("2001:db8:1:2::5")
    assert of("::ffff:192.0.2.1") == "192.0.2.1"
    assert of("192.0.2.1") == "192.0.2.1"
    assert client_address({"client": None}) == "unknown"


# --- name searches and identifier lookups ------------------------------------------------------


async def test_lookups_of_persons_trip_earlier_and_each_refusal_is_audited(
    settings, verifier, connection, officer_of
):
    app = limited(
        settings,
        verifier,
        rate_limit_per_address="3000/minute",
        rate_limit_per_subject="100/minute",
        rate_limit_lookups="2/minute",
    )
    searcher = officer_of("searcher")
    wanted = rnokpp(years_ago(40))
    async with client_of(app, connection) as client:
        assert (
            await client.get(FAMILIES, params={"rnokpp": wanted}, headers=searcher)
        ).status_code == 200
        found = await client.get(FAMILIES, params={"q": "Шевченко"}, headers=searcher)
        assert found.status_code == 200
        assert found.headers["ratelimit-limit"] == "2"
        assert found.headers["ratelimit-remaining"] == "0"
        assert found.headers["ratelimit-policy"] == "3000;w=60, 100;w=60, 2;w=60"

        with structlog.testing.capture_logs() as entries:
            refused = await client.get(FAMILIES, params={"rnokpp": wanted}, headers=searcher)
            refused_again = await client.get(
                FAMILIES, params={"unzr": "19850412-00011"}, headers=searcher
            )
        problem = assert_too_many(refused)
        assert "name searches and identifier lookups" in problem["detail"]
        assert wanted not in refused.text
        assert_too_many(refused_again)

        # Reading without searching for a person is not a lookup.
        listed = await client.get(FAMILIES, headers=searcher)
        assert listed.status_code == 200
        assert listed.headers["ratelimit-limit"] == "100"
        # Nor is another subject's search held against this one.
        other = await client.get(FAMILIES, params={"q": "Шевченко"}, headers=officer_of("other"))
        assert other.status_code == 200

    events = (
        await connection.execute(
            text(
                "SELECT actor, role, action, resource_type, resource_ids, outcome, request_id "
                "FROM audit_events WHERE actor = 'searcher' AND action = 'rate_limited' "
                "ORDER BY id"
            )
        )
    ).all()
    assert [(e.role, e.resource_type, e.resource_ids, e.outcome) for e in events] == [
        ("community_officer", "family", [], "denied"),
        ("community_officer", "family", [], "denied"),
    ]
    assert [e.request_id for e in events] == [
        refused.headers["x-request-id"],
        refused_again.headers["x-request-id"],
    ]

    tripped = [e for e in entries if e.get("event") == "rate_limit_exceeded"]
    assert len(tripped) == 1
    assert tripped[0]["limit"] == "lookups"
    assert tripped[0]["sub"] == "searcher"
    assert tripped[0]["operation"] == "list_families"
    logged = repr(entries)
    for value in (wanted, "19850412-00011", "rnokpp=", "unzr="):
        assert value not in logged


async def test_a_lookup_over_the_hourly_quota_waits_for_the_hour(
    settings, verifier, connection, officer_of
):
    clock = FrozenClock()
    app = limited(settings, verifier, clock, rate_limit_lookups="5/minute;2/hour")
    async with client_of(app, connection) as client:
        for _ in range(2):
            ok = await client.get(FAMILIES, params={"q": "Коваль"}, headers=officer_of("h"))
            assert ok.status_code == 200
        clock.now += 60  # a new minute, the same hour
        refused = await client.get(FAMILIES, params={"q": "Коваль"}, headers=officer_of("h"))
        assert_too_many(refused)
        assert refused.headers["ratelimit-limit"] == "2"
        assert refused.headers["retry-after"] == str(3600 - 15 - 60)


async def test_the_counters_of_one_process_forget_what_has_expired():
    clock = FrozenClock()
    counters = ProcessCounters(clock)
    assert [await counters.incr("a", 60) for _ in range(3)] == [1, 2, 3]
    assert await counters.incr("b", 10) == 1

    clock.now += 30  # b has expired: counted again from 1, and swept when the second passes
    assert await counters.get("b") == 0
    assert await counters.incr("c", 60) == 1
    assert await counters.incr("a", 60) == 4

    clock.now += 40  # a too; c lives on
    assert await counters.incr("a", 60) == 1
    assert await counters.reset() == 2, "only a and c are left"


# --- switched off ------------------------------------------------------------------------------


async def test_switched_off_nothing_is_refused_or_announced(
    settings, verifier, connection, officer_of
):
    app = limited(
        settings,
        verifier,
        rate_limits_enabled=False,
        rate_limit_per_address="1/minute",
        rate_limit_per_subject="1/minute",
        rate_limit_lookups="1/minute",
    )
    async with client_of(app, connection) as client:
        for _ in range(5):
            response = await client.get(
                FAMILIES, params={"q": "Шевченко"}, headers=officer_of("free")
            )
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


# --- shared across workers and replicas --------------------------------------------------------


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    """Counting in the local Redis, under a prefix of this test's own (tests running at the
    same time do not share counters)."""
    return settings.model_copy(
        update={
            "rate_limit_storage_url": REDIS,
            "rate_limit_key_prefix": f"registry-test-{uuid.uuid4().hex}",
        }
    )


async def test_two_applications_on_one_redis_share_their_counts(
    redis_settings, verifier, connection, officer_of
):
    clock = FrozenClock()
    one = limited(redis_settings, verifier, clock, rate_limit_per_subject="3/minute")
    two = limited(redis_settings, verifier, clock, rate_limit_per_subject="3/minute")
    headers = officer_of("everywhere")
    async with client_of(one, connection) as first, client_of(two, connection) as second:
        assert (await first.get(TERRITORY, headers=headers)).status_code == 200
        assert (await second.get(TERRITORY, headers=headers)).status_code == 200
        third = await first.get(TERRITORY, headers=headers)
        assert third.headers["ratelimit-remaining"] == "0"

        refused = await second.get(TERRITORY, headers=headers)
        assert_too_many(refused)
        assert refused.headers["retry-after"] == "45"

        clock.now += 45
        assert (await second.get(TERRITORY, headers=headers)).status_code == 200


async def test_an_unreachable_storage_leaves_requests_uncounted(
    settings, verifier, connection, officer_of
):
    """The limits protect the service from floods; they are not why a social worker is
    refused. The failure is logged, and the storage not asked again for a few seconds."""
    unreachable = settings.model_copy(
        update={"rate_limit_storage_url": "async+redis://127.0.0.1:1/0"}
    )
    app = limited(unreachable, verifier, rate_limit_per_subject="1/minute")
    async with client_of(app, connection) as client:
        with structlog.testing.capture_logs() as entries:
            for _ in range(3):
                response = await client.get(TERRITORY, headers=officer_of("unlucky"))
                assert response.status_code == 200
                assert "ratelimit-limit" not in response.headers
    failures = [e for e in entries if e.get("event") == "rate_limit_storage_unavailable"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "error"


# --- configuration and contract ------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["", "lots", "0/minute", "10/fortnight", "ten/minute"])
def test_a_limit_must_be_a_rate(wrong):
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(rate_limit_per_subject=wrong)


def test_the_storage_must_be_a_shared_one_and_its_password_is_not_repeated():
    with pytest.raises(ValidationError) as refused:
        Settings(rate_limit_storage_url="memcached://user:s3cret@cache:11211")
    assert "s3cret" not in str(refused.value)
    assert Settings(rate_limit_storage_url=REDIS).rate_limit_storage_url == REDIS
    assert Settings(rate_limit_storage_url="").rate_limit_storage_url is None


def test_every_api_operation_documents_its_429(app):
    spec = app.openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            documented = operation["responses"].get("429")
            if path.startswith("/api/"):
                assert documented, f"{method} {path}"
                assert "Retry-After" in documented["headers"]
            else:
                assert documented is None, f"{method} {path}"


def test_a_page_of_another_origin_may_read_the_limits():
    exposed = {name.lower() for name in CORS_EXPOSED_HEADERS}
    assert {
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy",
    } <= exposed
