"""`registry worker` delivering webhooks to a real HTTP receiver on 127.0.0.1 that fails,
times out and recovers: every event arrives, in order, signed as Standard Webhooks says (checked
here by the specification, independently of the registry's code), nothing is lost when the
worker is killed mid-delivery, and two workers never send one subscription's events at once."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import structlog.testing
from sqlalchemy import text

from registry.db.engine import Database
from registry.db.provision import as_role
from registry.db.reach import ROW_SECURITY_PROBE
from registry.domain.shared.web_addresses import is_public_address
from registry.main import create_app
from registry.settings import Settings
from registry.worker import run_worker
from registry.worker import webhooks as webhooks_pass
from tests.support import (
    IDENTIFIER_KEYS,
    KYIV,
    RUNTIME_ROLE,
    bearer,
    create_family,
    create_provider,
    family,
    if_match,
    provider_body,
    start_cli,
    token,
)

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions"
#: A tolerance of five minutes either way, as the Standard Webhooks libraries keep.
TIMESTAMP_TOLERANCE = 300


# --- a receiver -----------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answer: int | str

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering each POST as its script says, in turn (then
    200): a status, or ``("hang", seconds)`` (answering 200 after that long, if anyone is
    still there). It counts the requests in flight per subscription."""

    url: str = ""
    script: list[Any] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    most_in_flight: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answer == 200]

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        subscription = headers.get("webhook-id", "").rsplit("_", 1)[0]
        with self.lock:
            answer = self.script.pop(0) if self.script else 200
            self.requests.append(Received(headers, body, answer))
            self.in_flight[subscription] += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight[subscription])
        if isinstance(answer, tuple):
            return 200, answer[1]
        return answer, self.delay

    def done(self, headers: dict[str, str]) -> None:
        with self.lock:
            self.in_flight[headers.get("webhook-id", "").rsplit("_", 1)[0]] -= 1


@contextlib.contextmanager
def receiving(script: list[Any] | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(script=list(script or []), delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, wait = receiver.handle(headers, body)
            try:
                time.sleep(wait)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the worker gave up waiting
            finally:
                receiver.done(headers)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def verify(secret: str, received: Received) -> None:
    """The Standard Webhooks verification, from the specification: the signature is
    ``v1,`` + base64(HMAC-SHA256(base64-decoded secret after ``whsec_``,
    ``{webhook-id}.{webhook-timestamp}.{body}``)), one of the space-separated ones sent."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < TIMESTAMP_TOLERANCE
    content = f"{msg_id}.{timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    sent = received.headers["webhook-signature"].split(" ")
    assert any(hmac.compare_digest(f"v1,{expected}", signature) for signature in sent), (
        "the signature does not verify"
    )


# --- the registry and its worker ------------------------------------------------------------------


@dataclass
class Hub:
    client: httpx.AsyncClient
    database: Database
    runtime_url: str
    settings: Settings

    async def subscribe(self, headers: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
        answer = await self.client.post(SUBSCRIPTIONS, json={"url": url, **body}, headers=headers)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    async def deliveries(self, headers: dict[str, str], subscription_id: str) -> list[Any]:
        answer = await self.client.get(
            f"{SUBSCRIPTIONS}/{subscription_id}/deliveries",
            params={"limit": 200},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["items"]
        return items

    @contextlib.asynccontextmanager
    async def working(self, settings: Settings | None = None) -> AsyncIterator[None]:
        """``run_worker`` in this process while the block runs."""
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_worker(settings or self.settings, stop=stop, url=self.runtime_url)
        )
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


@pytest.fixture
def hub_settings(settings: Settings) -> Settings:
    """Development settings (a receiver on this machine, over http), short waits."""
    return settings.model_copy(
        update={
            "webhook_allow_http": True,
            "webhook_allow_private_targets": True,
            "webhook_timeout_seconds": 1.0,
            "webhook_backoff_base_seconds": 0.05,
            "webhook_backoff_cap_seconds": 0.2,
            "webhook_max_failures": 50,
            "worker_poll_seconds": 0.05,
        }
    )


@pytest.fixture
async def hub(fresh_database_url, hub_settings, verifier) -> AsyncIterator[Hub]:
    database = Database.connect(fresh_database_url, pool_size=2, max_overflow=2)
    runtime_url = as_role(fresh_database_url, RUNTIME_ROLE)
    runtime = Database.connect(runtime_url, pool_size=4, max_overflow=4)
    await runtime.detect_row_security(ROW_SECURITY_PROBE)
    app = create_app(
        hub_settings,
        database=runtime,
        verifier=verifier,
        identifier_keys=IDENTIFIER_KEYS,
        seal_audit=False,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield Hub(c, database, runtime_url, hub_settings)
    finally:
        await runtime.dispose()
        await database.dispose()


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def position(cursor: str) -> int:
    """The sequence number a feed cursor stands for (base64url of ``[n]``)."""
    (number,) = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return int(number)


def event_ids(received: list[Received]) -> list[str]:
    return [r.event["resource_id"] for r in received]


# --- the tests ------------------------------------------------------------------------------------


async def test_every_event_arrives_signed_and_in_order_through_failures_and_timeouts(
    hub, make_token
):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    # The first event fails twice (a 500, then no answer in time), the third once (a 503).
    script = [500, ("hang", 3.0), 200, 200, 503]
    with receiving(script) as receiver:
        subscription = await hub.subscribe(admin, receiver.url, types=["family"])
        families = [await create_family(hub.client, officer, family(KYIV)) for _ in range(5)]
        async with hub.working():
            await until(lambda: len(receiver.delivered()) >= 5)
            await asyncio.sleep(0.3)  # nothing more comes

    expected = [f["id"] for f in families]
    assert event_ids(receiver.delivered()) == expected  # each once, in order
    for received in receiver.requests:
        verify(subscription["secret"], received)
        assert received.headers["content-type"] == "application/json"
    # Retries carry the same webhook-id; an event is not sent before the one before it
    # was delivered.
    sent = [(r.headers["webhook-id"], r.event["resource_id"], r.answer) for r in receiver.requests]
    assert [s[1] for s in sent] == [expected[0]] * 3 + [expected[1]] + [expected[2]] * 2 + expected[
        3:
    ]
    assert len({s[0] for s in sent[:3]}) == 1
    first = receiver.delivered()[0].event
    assert first["type"] == "family.created"
    assert first["href"] == f"/api/v1/families/{expected[0]}"
    # The body is the feed's item, field for field.
    feed = await hub.client.get(
        "/api/v1/changes", params={"types": "family", "limit": 1000}, headers=admin
    )
    shown = {item["resource_id"]: item for item in feed.json()["items"]}
    for received in receiver.delivered():
        event = dict(received.event)
        assert event.pop("type") == f"{event['resource_type']}.{event['action']}"
        assert event == shown[event["resource_id"]]

    attempts = await hub.deliveries(admin, subscription["id"])
    assert [(a["attempt"], a["outcome"], a["status_code"], a["error"]) for a in attempts] == [
        (1, "failed", 500, None),
        (2, "failed", None, "timeout"),
        (3, "delivered", 200, None),
        (1, "delivered", 200, None),
        (1, "failed", 503, None),
        (2, "delivered", 200, None),
        (1, "delivered", 200, None),
        (1, "delivered", 200, None),
    ]
    assert attempts[1]["duration_ms"] >= 900
    assert [a["webhook_id"] for a in attempts[:3]] == [sent[0][0]] * 3
    read = (await hub.client.get(f"{SUBSCRIPTIONS}/{subscription['id']}", headers=admin)).json()
    # Past the last family's event (and past what followed it that is not a family's).
    assert position(read["position"]) >= shown[expected[-1]]["sequence"]
    assert read["failures"] == 0


async def test_a_subscription_carries_only_what_its_owners_feed_shows(hub, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    ours = await create_provider(hub.client, admin, provider_body())
    theirs = await create_provider(hub.client, admin, provider_body())
    system = bearer(
        token(
            make_token,
            "integration",
            sub="provider-system",
            scope="webhooks:manage changes:read",
            provider_id=ours["id"],
        )
    )
    with receiving() as receiver:
        await hub.subscribe(system, receiver.url, types=["provider"])
        for number, provider in enumerate((theirs, ours, theirs)):
            changed = await hub.client.patch(
                f"/api/v1/providers/{provider['id']}",
                json={"short_name": f"ГО «Громада {number}»"},
                headers=if_match(admin, provider["version"]),
            )
            assert changed.status_code == 200, changed.text
            provider["version"] = changed.json()["version"]
        async with hub.working():
            await until(lambda: len(receiver.delivered()) >= 1)
            await asyncio.sleep(0.5)
    assert event_ids(receiver.delivered()) == [ours["id"]]


async def test_failing_disables_and_enabling_resumes(hub, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    settings = hub.settings.model_copy(update={"webhook_max_failures": 3})
    with receiving([500, 500, 502]) as receiver:
        subscription = await hub.subscribe(admin, receiver.url, types=["family"])
        created = await create_family(hub.client, officer, family(KYIV))
        path = f"{SUBSCRIPTIONS}/{subscription['id']}"
        async with hub.working(settings):
            await until(lambda: len(receiver.requests) >= 3)
            await asyncio.sleep(0.5)  # no fourth attempt: it is disabled
            assert len(receiver.requests) == 3
        read = (await hub.client.get(path, headers=admin)).json()
        assert (read["status"], read["disabled_reason"], read["failures"]) == (
            "disabled",
            "failing",
            3,
        )
        assert read["version"] == 2
        enabled = await hub.client.patch(
            path, json={"status": "active"}, headers=if_match(admin, read["version"])
        )
        assert enabled.status_code == 200, enabled.text
        async with hub.working(settings):
            await until(lambda: len(receiver.delivered()) >= 1)
    assert event_ids(receiver.delivered()) == [created["id"]]
    attempts = await hub.deliveries(admin, subscription["id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (1, "delivered"),
    ]


async def test_replay_sends_again_from_a_position(hub, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    with receiving() as receiver:
        subscription = await hub.subscribe(admin, receiver.url, types=["family"])
        families = [await create_family(hub.client, officer, family(KYIV)) for _ in range(3)]
        async with hub.working():
            await until(lambda: len(receiver.delivered()) >= 3)
            first_cursor = receiver.delivered()[0].event["cursor"]
            replayed = await hub.client.post(
                f"{SUBSCRIPTIONS}/{subscription['id']}/replay",
                json={"after": first_cursor},
                headers=if_match(admin, 1),
            )
            assert replayed.status_code == 200, replayed.text
            assert replayed.json()["position"] == first_cursor
            await until(lambda: len(receiver.delivered()) >= 5)
    ids = [f["id"] for f in families]
    assert event_ids(receiver.delivered()) == [*ids, *ids[1:]]
    # The same event to the same subscription has the same webhook-id when sent again.
    delivered = receiver.delivered()
    assert delivered[1].headers["webhook-id"] == delivered[3].headers["webhook-id"]


async def test_two_workers_never_send_one_subscriptions_events_at_once(hub, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    with receiving(delay=0.15) as receiver:
        subscriptions = [
            await hub.subscribe(admin, receiver.url, types=["family"]) for _ in range(2)
        ]
        families = [await create_family(hub.client, officer, family(KYIV)) for _ in range(6)]
        async with hub.working(), hub.working():
            await until(lambda: len(receiver.delivered()) >= 12)
            await asyncio.sleep(0.3)
    assert receiver.most_in_flight == 1
    expected = [f["id"] for f in families]
    for subscription in subscriptions:
        prefix = f"msg_{subscription['id'].replace('-', '')}_"
        mine = [r for r in receiver.delivered() if r.headers["webhook-id"].startswith(prefix)]
        assert event_ids(mine) == expected
        for received in mine:
            verify(subscription["secret"], received)


async def test_a_target_that_resolves_to_a_private_address_is_refused_at_delivery(hub, make_token):
    """Subscribed where private targets were allowed; the worker, where they are not, checks
    every address the name resolves to and does not connect."""
    host = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)}
    assert addresses
    assert not all(is_public_address(str(a)) for a in addresses), addresses
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    strict = hub.settings.model_copy(update={"webhook_allow_private_targets": False})
    with receiving() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        by_name = await hub.subscribe(admin, f"http://{host}:{port}/hook", types=["family"])
        by_address = await hub.subscribe(admin, receiver.url, types=["family"])
        await create_family(hub.client, officer, family(KYIV))
        async with hub.working(strict):
            await asyncio.sleep(1.5)  # a few rounds
        assert receiver.requests == []
    for subscription in (by_name, by_address):
        attempts = await hub.deliveries(admin, subscription["id"])
        assert attempts, subscription["url"]
        assert {(a["outcome"], a["status_code"], a["error"]) for a in attempts} == {
            ("failed", None, "refused_target")
        }


async def test_nothing_is_lost_when_the_worker_is_killed_mid_delivery(hub, make_token, tmp_path):
    """``registry worker`` as a process: killed (SIGKILL) while a request is in flight, its
    transaction dies with it; the next worker sends that event again, and the rest, in
    order."""
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": hub.runtime_url,
        "REGISTRY_IDENTIFIER_KEYS_FILE": str(hub.settings.identifier_keys_file),
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_WEBHOOK_ALLOW_HTTP": "true",
        "REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "REGISTRY_WEBHOOK_TIMEOUT_SECONDS": "60",
        "REGISTRY_WORKER_POLL_SECONDS": "0.05",
        "REGISTRY_LOG_JSON": "true",
    }
    # The second event's first request hangs until the worker is gone.
    with receiving([200, ("hang", 20.0)]) as receiver:
        subscription = await hub.subscribe(admin, receiver.url, types=["family"])
        families = [await create_family(hub.client, officer, family(KYIV)) for _ in range(4)]
        first = await start_cli("worker", env=env)
        try:
            await until(lambda: len(receiver.requests) >= 2)
            assert receiver.requests[1].answer == ("hang", 20.0)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        attempts = await hub.deliveries(admin, subscription["id"])
        assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "delivered")]
        second = await start_cli("worker", env=env)
        try:
            await until(lambda: len(receiver.delivered()) >= 4)
        finally:
            second.send_signal(signal.SIGTERM)
            _, errors = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, errors.decode()
    expected = [f["id"] for f in families]
    assert event_ids(receiver.delivered()) == expected
    interrupted = receiver.requests[1]
    assert interrupted.headers["webhook-id"] == receiver.delivered()[1].headers["webhook-id"]
    for received in receiver.requests:
        verify(subscription["secret"], received)
    async with hub.database.engine.connect() as conn:
        logged = await conn.scalar(text("SELECT count(*) FROM webhook_deliveries"))
    assert logged == 4  # the killed attempt left no row; every other one did


async def test_a_failing_pass_is_logged_and_the_worker_goes_on(hub):
    calls: list[str] = []

    async def failing(database: Database, settings: Settings) -> int:
        calls.append("failing")
        raise RuntimeError("family 123 of Ivanenko")  # its text is never logged

    async def counting(database: Database, settings: Settings) -> int:
        calls.append("counting")
        return 0

    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logged:
        task = asyncio.create_task(
            run_worker(hub.settings, stop=stop, url=hub.runtime_url, passes=(failing, counting))
        )
        await until(lambda: calls.count("counting") >= 2)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert calls[:4] == ["failing", "counting", "failing", "counting"]
    failures = [entry for entry in logged if entry["event"] == "worker_pass_failed"]
    assert len(failures) >= 2
    assert failures[0]["error"] == "RuntimeError"
    assert "Ivanenko" not in repr(logged)


def test_the_webhooks_pass_is_a_pass_of_the_worker():
    from registry.worker import PASSES

    assert webhooks_pass.run_once in PASSES


async def test_one_broken_subscription_does_not_hold_up_the_others(hub, make_token):
    """A subscription whose sealed secret does not open (moved from another row) is logged
    and left; the others are delivered to."""
    admin = bearer(token(make_token, "ministry_admin"))
    officer = bearer(token(make_token, "community_officer", territory=KYIV))
    with receiving() as receiver:
        broken = await hub.subscribe(admin, receiver.url, types=["family"])
        healthy = await hub.subscribe(admin, receiver.url, types=["family"])
        async with hub.database.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE webhook_subscriptions SET secret_sealed = "
                    "(SELECT secret_sealed FROM webhook_subscriptions WHERE id = :healthy) "
                    "WHERE id = :broken"
                ),
                {"healthy": healthy["id"], "broken": broken["id"]},
            )
        created = await create_family(hub.client, officer, family(KYIV))
        patient = hub.settings.model_copy(update={"webhook_backoff_cap_seconds": 60})
        with structlog.testing.capture_logs() as logged:
            async with hub.working(patient):
                await until(lambda: len(receiver.delivered()) >= 1)
                await asyncio.sleep(0.5)
    assert event_ids(receiver.delivered()) == [created["id"]]
    assert (
        receiver.delivered()[0]
        .headers["webhook-id"]
        .startswith(f"msg_{healthy['id'].replace('-', '')}_")
    )
    assert any(
        entry["event"] == "webhook_attempt_broken" and entry["error"] == "SealedValueRejected"
        for entry in logged
    )
    broken_logs = [entry for entry in logged if entry["event"] == "webhook_attempt_broken"]
    assert len(broken_logs) == 1  # then left alone for a while, not logged every round
    assert broken_logs[0]["subscription_id"] == broken["id"]
    assert await hub.deliveries(admin, broken["id"]) == []
    # Its owner rotates the secret: due again at once, and delivered to.
    rotated = await hub.client.post(
        f"{SUBSCRIPTIONS}/{broken['id']}/secret", headers=if_match(admin, 1)
    )
    assert rotated.status_code == 200, rotated.text
    with receiving() as receiver:
        await hub.client.patch(
            f"{SUBSCRIPTIONS}/{broken['id']}",
            json={"url": receiver.url},
            headers=if_match(admin, 2),
        )
        async with hub.working(patient):
            await until(lambda: len(receiver.delivered()) >= 1)
    verify(rotated.json()["secret"], receiver.delivered()[0])
    assert event_ids(receiver.delivered()) == [created["id"]]


async def test_serve_demo_runs_a_worker_beside_the_api(fresh_database_url, tmp_path):
    """``registry serve --demo`` starts ``registry worker`` too (development settings: a
    receiver on this machine, over http), which delivers, and stops it with the API."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": fresh_database_url,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_LOG_JSON": "true",
        "REGISTRY_WORKER_POLL_SECONDS": "0.1",
    }
    for name in ("REGISTRY_WEBHOOK_ALLOW_HTTP", "REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        env.pop(name, None)
    lines: list[str] = []

    async def read_until(done: Callable[[], bool]) -> None:
        while not done():
            line = await asyncio.wait_for(process.stdout.readline(), 120)
            assert line, "the server stopped early"
            lines.append(line.decode())

    def events() -> list[str]:
        found = []
        for line in lines:
            with contextlib.suppress(ValueError):
                found.append(json.loads(line)["event"])
        return found

    process = await start_cli("serve", "--demo", "--port", "0", env=env)
    with receiving() as receiver:
        try:
            await read_until(
                lambda: (
                    {"listening", "application_started", "background_worker_started"}
                    <= set(events())
                )
            )
            tokens = dict(
                line.split() for line in lines if line.startswith("  ") and len(line.split()) == 2
            )
            address = next(json.loads(line)["address"] for line in lines if '"listening"' in line)
            admin = bearer(tokens["ministry_admin"])
            officer = bearer(tokens["community_officer"])
            async with httpx.AsyncClient(base_url=address, trust_env=False) as api:
                subscribed = await api.post(
                    SUBSCRIPTIONS, json={"url": receiver.url, "types": ["family"]}, headers=admin
                )
                assert subscribed.status_code == 201, subscribed.text
                created = await api.post("/api/v1/families", json=family(KYIV), headers=officer)
                assert created.status_code == 201, created.text
                await until(lambda: len(receiver.delivered()) >= 1)
            verify(subscribed.json()["secret"], receiver.delivered()[0])
            assert event_ids(receiver.delivered()) == [created.json()["id"]]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            rest, errors = await asyncio.wait_for(process.communicate(), 120)
    lines.extend(rest.decode().splitlines())
    assert process.returncode == 0, errors.decode()
    assert "background_worker_stopped" in events()
    assert events()[-1] == "serve_stopped"
