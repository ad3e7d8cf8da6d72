"""HTTP plumbing every route shares: problems, request ids, security headers, validation,
keyset pagination of the codifier, search, the body limit and what the access log keeps."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import structlog
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from registry.api.middleware import RequestContextMiddleware
from registry.api.problems import PROBLEM_JSON, install_problem_handlers
from registry.errors import PROBLEM_TYPE_PREFIX
from tests.support import KYIV_OBLAST, LINK_NEXT, assert_problem, bearer, error_fields

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
APOSTROPHES = "'ʼ’‘`´"


# --- routing errors -------------------------------------------------------------------------


async def test_unknown_route_is_a_404_problem(client):
    response = await client.get("/api/v1/no-such-thing")
    body = assert_problem(response, 404)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "not-found"


async def test_unknown_route_outside_the_api_is_a_404_problem(client):
    assert_problem(await client.get("/nowhere"), 404)


async def test_wrong_method_is_a_405_problem_with_allow(client, admin):
    response = await client.delete("/api/v1/territories", headers=admin)
    body = assert_problem(response, 405)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "method-not-allowed"
    assert response.headers["allow"] == "GET"


# --- request id -----------------------------------------------------------------------------


async def test_client_request_id_is_echoed(client, admin):
    supplied = "req-2024.01:abc_DEF"
    response = await client.get(
        "/api/v1/territories",
        params={"limit": 1},
        headers={
            **admin,
            "X-Request-ID": supplied,
        },
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == supplied


async def test_missing_request_id_is_generated_and_unique(client):
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert GENERATED_ID.match(first.headers["x-request-id"])
    assert GENERATED_ID.match(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("supplied", ["has spaces in it", "a" * 200, "semi;colon", "<script>"])
async def test_invalid_request_id_is_replaced(client, supplied):
    response = await client.get("/health/live", headers={"X-Request-ID": supplied})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != supplied
    assert GENERATED_ID.match(response.headers["x-request-id"])


async def test_problem_carries_the_request_id_of_the_header(client):
    supplied = "trace-me-123"
    response = await client.get("/api/v1/territories", headers={"X-Request-ID": supplied})
    body = assert_problem(response, 401)
    assert body["request_id"] == supplied


async def test_problem_carries_a_generated_request_id(client):
    response = await client.get("/api/v1/territories", headers={"X-Request-ID": "bad id"})
    body = assert_problem(response, 401)
    assert GENERATED_ID.match(body["request_id"])


# --- security headers and health --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/territories", "/nowhere", "/docs"])
async def test_nosniff_everywhere(client, path):
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_api_responses_are_not_cached(client, admin):
    ok = await client.get("/api/v1/territories", params={"limit": 1}, headers=admin)
    refused = await client.get("/api/v1/territories")
    missing = await client.get("/api/v1/nothing-here", headers=admin)
    assert (ok.status_code, refused.status_code, missing.status_code) == (200, 401, 404)
    for response in (ok, refused, missing):
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
async def test_health_needs_no_token(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_api_needs_a_token(client):
    response = await client.get("/api/v1/territories")
    body = assert_problem(response, 401)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"category": "Z"}, "query.category"),
        ({"parent": "UA123"}, "query.parent"),
        ({"q": ""}, "query.q"),
        ({"q": "x" * 101}, "query.q"),
        ({"cursor": "not/base64!"}, "query.cursor"),
    ],
)
async def test_invalid_query_is_a_422_naming_the_field(client, admin, params, field):
    response = await client.get("/api/v1/territories", params=params, headers=admin)
    body = assert_problem(response, 422)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "validation-error"
    assert field in error_fields(body)


async def test_limit_bounds_are_inclusive(client, admin):
    for limit in (1, 200):
        response = await client.get("/api/v1/territories", params={"limit": limit}, headers=admin)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("until", "0.5"),  # pydantic alone reads a number as seconds since 1970
        ("since", "1700000000"),
        ("since", "2024-05-01"),
        ("since", "2024-05-01T09:30:00"),  # no offset
        ("since", "2024-05-01 09:30:00Z"),
        ("until", "2024-05-01T09:30:00+0300"),
    ],
)
async def test_audit_dates_must_be_rfc3339(client, make_token, name, value):
    response = await client.get(
        "/api/v1/audit-events", params={name: value}, headers=bearer(make_token("auditor"))
    )
    body = assert_problem(response, 422)
    assert f"query.{name}" in error_fields(body)


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T09:30:00Z", "2024-05-01t09:30:00.123456+03:00", "2024-05-01T09:30:00-00:00"],
)
async def test_audit_dates_take_rfc3339(client, make_token, value):
    response = await client.get(
        "/api/v1/audit-events",
        params={"since": value, "until": value},
        headers=bearer(make_token("auditor")),
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "code", ["UA123", "ua80000000000093317", "UA8000000000009331X", "UA800000000000933170"]
)
async def test_malformed_code_in_path_is_a_422(client, admin, code):
    response = await client.get(f"/api/v1/territories/{code}", headers=admin)
    body = assert_problem(response, 422)
    assert "path.code" in error_fields(body)


async def test_unknown_code_is_a_404(client, admin):
    response = await client.get("/api/v1/territories/UA99999999999999999", headers=admin)
    body = assert_problem(response, 404)
    assert "UA99999999999999999" in body["detail"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "A",  # not base64 at all (a length no encoding produces)
        _b64(b"plain text"),  # base64, but not JSON
        _b64(b'{"code": "UA01"}'),  # JSON, but not a list
        _b64(b"[]"),  # an empty list
        _b64(b"[null]"),  # a key of the wrong type
        _b64(b'["UA01000000000013043", 2]'),  # a key of the wrong length
    ],
)
async def test_foreign_cursor_is_a_422(client, admin, cursor):
    response = await client.get("/api/v1/territories", params={"cursor": cursor}, headers=admin)
    body = assert_problem(response, 422)
    assert error_fields(body) == {"query.cursor"}


@pytest.mark.parametrize(
    "query", ["q=%00", "q=abc%00def", "category=O%00", "limit=1&parent=%00UA32000000000030281"]
)
async def test_nul_in_query_is_a_422_problem(client, admin, query):
    response = await client.get(f"/api/v1/territories?{query}", headers=admin)
    body = assert_problem(response, 422)
    assert "query" in error_fields(body)
    assert "NUL" in body["detail"]


async def test_nul_in_query_is_refused_before_authentication(client):
    assert_problem(await client.get("/api/v1/territories?q=%00"), 422)


async def test_nul_in_path_is_a_422_problem(client, admin):
    response = await client.get("/api/v1/territories/UA%0080000000000093317", headers=admin)
    assert "NUL" in assert_problem(response, 422)["detail"]


# --- pagination, filters, search, detail ------------------------------------------------------


async def test_walk_all_oblasts_by_cursor_and_link(client, admin):
    params = {"category": "O", "limit": 10}
    first = await client.get("/api/v1/territories", params=params, headers=admin)
    assert first.status_code == 200

    codes: list[str] = []
    page_sizes: list[int] = []
    response = first
    while True:
        body = response.json()
        assert all(item["category"] == "O" for item in body["items"])
        codes.extend(item["code"] for item in body["items"])
        page_sizes.append(len(body["items"]))
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            break
        link = LINK_NEXT.match(response.headers["link"])
        assert link is not None, response.headers["link"]
        next_url = httpx.URL(link.group(1))
        assert next_url.path == "/api/v1/territories"
        assert next_url.params["cursor"] == body["next_cursor"]
        assert next_url.params["category"] == "O"
        assert next_url.params["limit"] == "10"
        # The cursor alone continues the list, too.
        by_cursor = await client.get(
            "/api/v1/territories", params={**params, "cursor": body["next_cursor"]}, headers=admin
        )
        response = await client.get(link.group(1), headers=admin)
        assert response.status_code == 200
        assert by_cursor.json() == response.json()

    assert page_sizes == [10, 10, 5]
    assert len(codes) == len(set(codes)) == 25
    assert codes == sorted(codes)


async def _all_pages(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/territories", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the list did not end")


def _comparable(name: str) -> str:
    return re.sub(f"[{APOSTROPHES}]", "'", name).casefold()


async def test_search_is_case_insensitive_and_apostrophe_tolerant(client, admin, connection):
    code, name = (
        await connection.execute(
            text(
                "SELECT code, name FROM territories "
                "WHERE name ~ '[ʼ’'']' AND category = 'P' ORDER BY code LIMIT 1"
            )
        )
    ).one()
    typed_ascii = re.sub(f"[{APOSTROPHES}]", "'", name).upper()
    typed_typographic = re.sub(f"[{APOSTROPHES}]", "’", name).lower()
    typed_modifier = re.sub(f"[{APOSTROPHES}]", "ʼ", name).swapcase()
    assert len({name, typed_ascii, typed_typographic, typed_modifier}) == 4

    for typed in (typed_ascii, typed_typographic, typed_modifier):
        found = await _all_pages(client, admin, q=typed)
        assert code in {item["code"] for item in found}, typed
        assert all(_comparable(typed) in _comparable(item["name"]) for item in found)

    # A part of the name that holds the apostrophe, typed the other way, finds it too.
    at = re.search(f"[{APOSTROPHES}]", name)
    assert at is not None
    fragment = name[max(0, at.start() - 2) : at.start() + 3]
    found = await _all_pages(client, admin, q=re.sub(f"[{APOSTROPHES}]", "'", fragment).upper())
    assert code in {item["code"] for item in found}


async def test_search_finds_part_of_a_name_in_any_case(client, admin):
    found = await _all_pages(client, admin, q="ЧЕРНІГІВСЬК", category="O")
    assert [item["name"] for item in found] == ["Чернігівська"]


async def test_search_treats_like_wildcards_literally(client, admin):
    assert await _all_pages(client, admin, q="%") == []
    assert await _all_pages(client, admin, q="_") == []


async def test_parent_filter_returns_the_raions_of_an_oblast(client, admin, connection):
    expected = (
        (
            await connection.execute(
                text(
                    "SELECT code FROM territories WHERE parent_code = :p AND category = 'P' "
                    "ORDER BY code"
                ),
                {"p": KYIV_OBLAST},
            )
        )
        .scalars()
        .all()
    )
    assert len(expected) == 7

    raions = await _all_pages(client, admin, parent=KYIV_OBLAST, category="P")
    assert [item["code"] for item in raions] == list(expected)
    assert {item["parent_code"] for item in raions} == {KYIV_OBLAST}
    assert {item["level"] for item in raions} == {2}
    assert "Бучанський" in {item["name"] for item in raions}

    children = await _all_pages(client, admin, parent=KYIV_OBLAST)
    assert {item["parent_code"] for item in children} == {KYIV_OBLAST}
    assert set(expected) <= {item["code"] for item in children}


async def test_territory_detail_lists_ancestors_broadest_first(client, admin, connection):
    row = (
        await connection.execute(
            text(
                """
        SELECT c.code, h.code, p.code, o.code
        FROM territories c
        JOIN territories h ON h.code = c.parent_code AND h.category = 'H'
        JOIN territories p ON p.code = h.parent_code AND p.category = 'P'
        JOIN territories o ON o.code = p.parent_code AND o.category = 'O'
        WHERE c.category = 'C'
        ORDER BY c.code DESC LIMIT 1
        """
            )
        )
    ).one()
    village, hromada, raion, oblast = row

    response = await client.get(f"/api/v1/territories/{village}", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == village
    assert body["category"] == "C"
    assert body["parent_code"] == hromada
    assert [a["code"] for a in body["ancestors"]] == [oblast, raion, hromada]
    assert [a["category"] for a in body["ancestors"]] == ["O", "P", "H"]
    assert body["ancestors"][0]["parent_code"] is None
    levels = [a["level"] for a in body["ancestors"]] + [body["level"]]
    assert levels == sorted(levels)
    assert len(set(levels)) == len(levels)


async def test_top_level_unit_has_no_ancestors(client, admin):
    response = await client.get(f"/api/v1/territories/{KYIV_OBLAST}", headers=admin)
    assert response.status_code == 200
    assert response.json()["ancestors"] == []


# --- body limit, malformed JSON, unexpected errors (a small app: no POST route exists yet) ------


class Payload(BaseModel):
    name: str


SECRET = "secret-internal-detail-do-not-leak"


def _body_app(max_body_bytes: int) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes)

    @app.post("/items")
    async def create_item(payload: Payload) -> dict[str, int]:
        return {"length": len(payload.name)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET)

    return app


@pytest.fixture
async def body_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_body_app(settings.max_body_bytes))
    async with httpx.AsyncClient(transport=transport, base_url="http://plumbing.test") as c:
        yield c


def _json_of_size(size: int) -> bytes:
    overhead = len(orjson.dumps({"name": ""}))
    return orjson.dumps({"name": "x" * (size - overhead)})


async def test_body_at_the_limit_is_accepted(body_client, settings):
    body = _json_of_size(settings.max_body_bytes)
    assert len(body) == settings.max_body_bytes
    response = await body_client.post(
        "/items", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"length": settings.max_body_bytes - 11}


async def test_content_length_over_the_limit_is_a_413(body_client, settings):
    body = _json_of_size(settings.max_body_bytes + 1)
    response = await body_client.post(
        "/items", content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 413)
    assert problem["type"] == PROBLEM_TYPE_PREFIX + "payload-too-large"
    assert str(settings.max_body_bytes) in problem["detail"]


def _chunked(body: bytes, chunk: int = 4096):
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    return stream()


async def test_chunked_body_over_the_limit_is_a_413(body_client, settings):
    body = _json_of_size(settings.max_body_bytes + 4096)
    request = body_client.build_request(
        "POST", "/items", content=_chunked(body), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = await body_client.send(request)
    problem = assert_problem(response, 413)
    assert str(settings.max_body_bytes) in problem["detail"]


async def test_chunked_body_under_the_limit_is_accepted(body_client):
    body = _json_of_size(20_000)
    response = await body_client.post(
        "/items", content=_chunked(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"length": 20_000 - 11}


async def test_non_numeric_content_length_is_a_400(settings):
    app = _body_app(settings.max_body_bytes)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"name": "a"}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": b"",
        "server": ("plumbing.test", 80),
        "client": ("127.0.0.1", 1),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"lots")],
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert (b"content-type", PROBLEM_JSON.encode()) in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["status"] == 400


async def test_malformed_json_is_a_400_problem(body_client):
    response = await body_client.post(
        "/items", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400)
    assert problem["type"] == PROBLEM_TYPE_PREFIX + "malformed-request"


async def test_invalid_body_field_is_a_422_naming_it(body_client):
    response = await body_client.post("/items", json={"name": 5})
    problem = assert_problem(response, 422)
    assert "body.name" in error_fields(problem)


async def test_unexpected_error_is_a_bare_500_problem(body_client):
    response = await body_client.get("/boom", headers={"X-Request-ID": "boom-1"})
    problem = assert_problem(response, 500)
    assert set(problem) == {"type", "title", "status", "detail", "request_id"}
    assert problem["type"] == PROBLEM_TYPE_PREFIX + "internal-error"
    assert problem["request_id"] == "boom-1"
    assert "boom-1" in problem["detail"] or "request id" in problem["detail"]
    for leak in (SECRET, "Traceback", "RuntimeError", 'File "'):
        assert leak not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


# --- the access log ---------------------------------------------------------------------------


async def test_access_log_keeps_the_route_not_the_query(client, admin):
    with structlog.testing.capture_logs() as entries:
        response = await client.get(
            "/api/v1/territories",
            params={"q": "Шевченко"},
            headers={**admin, "X-Request-ID": "log-check-1"},
        )
    assert response.status_code == 200
    assert response.json()["items"], "the search should find something"

    requests = [e for e in entries if e.get("event") == "request"]
    assert len(requests) == 1
    access = requests[0]
    assert access["path"] == "/api/v1/territories"
    assert access["method"] == "GET"
    assert access["status"] == 200
    assert access["sub"] == "test-ministry_admin"
    everything = repr(entries)
    assert "Шевченко" not in everything
    assert "q=" not in everything
    assert admin["Authorization"].split()[1] not in everything


async def test_access_log_of_a_refused_search_keeps_no_query(client, admin):
    with structlog.testing.capture_logs() as entries:
        response = await client.get(
            "/api/v1/territories", params={"q": "Шевченко", "limit": 0}, headers=admin
        )
    assert response.status_code == 422
    requests = [e for e in entries if e.get("event") == "request"]
    assert [(e["path"], e["status"]) for e in requests] == [("/api/v1/territories", 422)]
    assert "Шевченко" not in repr(entries)
