"""The service as a newcomer starts it: the codifier is there, and ``registry serve`` says in
its JSON log when it starts, where it listens and when it stops, and nothing personal."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx

from registry import __version__
from tests.support import KYIV, bearer, start_cli

#: A name searched for while the server runs: it must not reach the log.
SEARCHED_NAME = "Шевченко"
#: How long a starting or stopping server may keep the test waiting.
WAIT_SECONDS = 120


async def test_oblasts_listed(client, make_token):
    response = await client.get(
        "/api/v1/territories",
        params={"category": "O", "limit": 200},
        headers=bearer(make_token("ministry_admin")),
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 25
    assert body["next_cursor"] is None


async def test_kyiv(client, make_token):
    response = await client.get(
        f"/api/v1/territories/{KYIV}", headers=bearer(make_token("ministry_admin"))
    )
    assert response.json()["name"] == "Київ"


async def _events_until(process, done) -> list[dict]:
    """The JSON lines the server writes, read until ``done(events)``."""
    events: list[dict] = []
    while not done(events):
        line = await asyncio.wait_for(process.stdout.readline(), WAIT_SECONDS)
        assert line, "the server stopped early"
        events.append(json.loads(line))
    return events


async def test_serve_logs_its_start_address_and_stop_as_json(fresh_database_url, tmp_path):
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": fresh_database_url,
        "REGISTRY_DATA_DIR": str(tmp_path),
        "REGISTRY_LOG_JSON": "true",
        "REGISTRY_LOG_LEVEL": "INFO",
    }
    process = await start_cli("serve", "--port", "0", "--workers", "2", env=env)
    try:
        events = await _events_until(
            process, lambda e: sum(x["event"] == "application_started" for x in e) == 2
        )
        (listening,) = [e for e in events if e["event"] == "listening"]
        async with httpx.AsyncClient(base_url=listening["address"], trust_env=False) as client:
            searched = await client.get("/api/v1/families", params={"q": SEARCHED_NAME})
            assert searched.status_code == 401
            assert (await client.get("/health/live")).status_code == 200
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest, errors = await asyncio.wait_for(process.communicate(), WAIT_SECONDS)
    events += [json.loads(line) for line in rest.decode().splitlines()]
    assert process.returncode == 0, errors.decode()

    names = [e["event"] for e in events]
    assert names[0] == "serve_starting"
    assert events[0]["version"] == __version__
    assert events[0]["workers"] == 2
    # Two workers counting rate limits each in its own memory: the operator is told.
    (per_worker,) = [e for e in events if e["event"] == "rate_limits_counted_per_worker"]
    assert per_worker["level"] == "warning"
    assert per_worker["workers"] == 2
    assert listening["host"] == "127.0.0.1"
    assert listening["port"] > 0
    assert listening["address"] == f"http://127.0.0.1:{listening['port']}"
    for event in ("worker_started", "application_started", "worker_stopped"):
        assert names.count(event) == 2, event
    assert "shutting_down" in names
    assert names[-1] == "serve_stopped"
    requests = [e for e in events if e["event"] == "request"]
    assert {e["path"] for e in requests} == {"/api/v1/families", "/health/live"}
    everything = (json.dumps(events, ensure_ascii=False) + errors.decode()).casefold()
    assert SEARCHED_NAME.casefold() not in everything
    assert "q=" not in everything
