"""What clients rely on of every operation: a query parameter it does not declare fails
closed, a body in a media type it does not read is a 415, CORS for the listed origins only,
one title per problem type, no redirect built from the Host header, and a spec whose
operations have summaries and whose tags have descriptions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.api.contract import check_contract, operation_contracts
from registry.api.problems import install_problem_handlers
from registry.api.routers import health
from registry.api.schemas.words import has_words
from registry.auth.tokens import TokenVerifier
from registry.db.engine import Database
from registry.errors import PROBLEM_TITLES, PROBLEM_TYPE_PREFIX, DomainError
from registry.main import API_ROUTERS, create_app
from registry.settings import Settings
from tests.support import (
    BATCH,
    FAMILIES,
    KYIV,
    PROVIDERS,
    assert_problem,
    bearer,
    create_family,
    error_fields,
    family,
    if_match,
    person,
    token,
)

PLACEHOLDERS = {
    "code": KYIV,
    "family_id": str(uuid.uuid4()),
    "person_id": str(uuid.uuid4()),
    "provider_id": str(uuid.uuid4()),
    "record_id": str(uuid.uuid4()),
    "case_id": str(uuid.uuid4()),
    "measure_id": str(uuid.uuid4()),
    "referral_id": str(uuid.uuid4()),
    "unit_id": str(uuid.uuid4()),
    "servicemember_id": str(uuid.uuid4()),
    "measure_code": "psychosocial_support",
    "hromada_code": KYIV,
    "programme_id": str(uuid.uuid4()),
    "enrolment_id": str(uuid.uuid4()),
    "distribution_id": str(uuid.uuid4()),
    "item_id": str(uuid.uuid4()),
    "export_id": str(uuid.uuid4()),
    "number": "1",
    "subscription_id": str(uuid.uuid4()),
}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def _address(path: str) -> str:
    return path.format(**{name: PLACEHOLDERS[name] for name in PLACEHOLDERS})


# --- unknown query parameters fail closed ------------------------------------------------------


async def test_a_misspelt_filter_is_a_422_naming_it_not_every_provider(client, admin):
    response = await client.get(PROVIDERS, params={"service": "002.0"}, headers=admin)
    body = assert_problem(response, 422)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "validation-error"
    assert error_fields(body) == {"query.service"}
    assert "service" in body["detail"]
    assert "service_code" in body["detail"]  # what it takes instead
    assert "service_code" in body["accepted_parameters"]
    assert "limit" in body["accepted_parameters"]  # pagination's, a dependency's, too


async def test_the_declared_filter_still_works(client, admin):
    response = await client.get(PROVIDERS, params={"service_code": "002.0"}, headers=admin)
    assert response.status_code == 200, response.text


async def test_every_unknown_parameter_is_named(client, admin):
    response = await client.get(
        FAMILIES, params={"q": "Шевченко", "stauts": "archived", "hromda": KYIV}, headers=admin
    )
    body = assert_problem(response, 422)
    assert error_fields(body) == {"query.stauts", "query.hromda"}


async def test_an_unknown_name_is_quoted_back_without_control_characters(client, admin):
    response = await client.get(f"{PROVIDERS}?%1B%5B31mred=1", headers=admin)
    body = assert_problem(response, 422)
    assert "\x1b" not in response.text
    assert "\\u001b" not in response.text
    assert error_fields(body) == {"query.?[31mred"}


async def test_every_operation_refuses_an_unknown_query_parameter(app, client):
    """Every operation of the spec, every method: the parameter is refused before anything
    else (a token, the path, the body) is looked at, so no list is ever widened by it."""
    operations = _operations(app)
    assert len(operations) > 50
    for method, path, operation in operations:
        response = await client.request(method, _address(path), params={"no_such_filter": "1"})
        body = assert_problem(response, 422)
        assert error_fields(body) == {"query.no_such_filter"}, (operation["operationId"], body)


async def test_a_parameter_given_twice_is_refused_when_it_takes_one_value(client, admin):
    response = await client.get(FAMILIES, params=[("limit", "1"), ("limit", "200")], headers=admin)
    body = assert_problem(response, 422)
    assert error_fields(body) == {"query.limit"}
    assert "once" in body["detail"]


async def test_next_page_links_pass_the_check(client, admin):
    first = await client.get("/api/v1/territories", params={"limit": 2}, headers=admin)
    link = first.headers["link"].split(";")[0].strip("<>")
    assert (await client.get(link, headers=admin)).status_code == 200


def test_every_api_operation_has_its_contract(app):
    """The check finds an operation's contract by its route's name: the operation id."""
    contracts = operation_contracts(app)
    names = {operation["operationId"] for _, _, operation in _operations(app)}
    assert names == set(contracts)
    for router in (*API_ROUTERS, health.router):
        for route in router.routes:
            assert route.name in contracts, route.name


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_the_documentation_is_left_alone(client, path):
    assert (await client.get(path, params={"anything": "1"})).status_code == 200


def _list_app() -> FastAPI:
    """A small application with a parameter that takes a list."""
    app = FastAPI(generate_unique_id_function=lambda route: route.name)
    install_problem_handlers(app)
    router = APIRouter()

    @router.get("/things", name="list_things")
    async def list_things(
        tag: Annotated[list[str] | None, Query()] = None, limit: int = 10
    ) -> dict[str, Any]:
        return {"tag": tag, "limit": limit}

    app.include_router(router, dependencies=[Depends(check_contract)])
    return app


async def test_a_parameter_that_takes_a_list_may_be_repeated():
    transport = httpx.ASGITransport(app=_list_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://list.test") as c:
        repeated = await c.get("/things", params=[("tag", "a"), ("tag", "b"), ("limit", "2")])
        assert repeated.status_code == 200, repeated.text
        assert repeated.json() == {"tag": ["a", "b"], "limit": 2}
        twice = await c.get("/things", params=[("limit", "1"), ("limit", "200")])
        assert twice.status_code == 422
        assert {e["field"] for e in twice.json()["errors"]} == {"query.limit"}


# --- the body's media type -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},  # none at all
    ],
    ids=["text", "form", "multipart", "none"],
)
async def test_a_body_in_another_media_type_is_a_415_listing_the_accepted(client, officer, headers):
    request = client.build_request(
        "POST", FAMILIES, content=orjson.dumps(family()), headers={**officer, **headers}
    )
    if not headers:
        request.headers.pop("content-type", None)
    response = await client.send(request)
    body = assert_problem(response, 415)
    assert body["type"] == PROBLEM_TYPE_PREFIX + "unsupported-media-type"
    assert body["accepted"] == ["application/json"]
    assert "application/json" in body["detail"]
    assert response.headers["accept-post"] == "application/json"
    # Nothing was stored.
    listed = await client.get(FAMILIES, headers=officer)
    assert listed.json()["items"] == []


async def test_a_patch_lists_merge_patch_too(client, officer):
    created = await create_family(client, officer, family())
    response = await client.patch(
        f"{FAMILIES}/{created['id']}",
        content=b'{"phone": "+380441112233"}',
        headers={**if_match(officer, created["version"]), "Content-Type": "text/plain"},
    )
    body = assert_problem(response, 415)
    assert body["accepted"] == ["application/json", "application/merge-patch+json"]
    assert "application/merge-patch+json" in response.headers["accept-patch"]
    unchanged = await client.get(f"{FAMILIES}/{created['id']}", headers=officer)
    assert unchanged.json()["version"] == created["version"]


@pytest.mark.parametrize(
    "content_type", ["application/merge-patch+json", "application/json; charset=utf-8"]
)
async def test_the_accepted_media_types_are_read(client, officer, content_type):
    created = await create_family(client, officer, family())
    response = await client.patch(
        f"{FAMILIES}/{created['id']}",
        content=b'{"phone": "+380441112233"}',
        headers={**if_match(officer, created["version"]), "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text


async def test_the_batch_lists_json_and_ndjson(client, make_token):
    provider_staff = bearer(
        token(make_token, "provider_staff", provider_id=PLACEHOLDERS["provider_id"])
    )
    response = await client.post(
        BATCH, content=b"a,b\n1,2\n", headers={**provider_staff, "Content-Type": "text/csv"}
    )
    body = assert_problem(response, 415)
    assert body["accepted"] == ["application/json", "application/x-ndjson"]


async def test_an_empty_body_without_media_type_is_the_operations_422(client, officer):
    response = await client.post(FAMILIES, headers=officer)
    assert_problem(response, 422)


async def test_an_operation_without_a_body_ignores_the_media_type(client, make_token):
    provider_staff = bearer(
        token(make_token, "provider_staff", provider_id=PLACEHOLDERS["provider_id"])
    )
    response = await client.post(
        f"/api/v1/referrals/{uuid.uuid4()}/accept",
        content=b"anything",
        headers={**provider_staff, "Content-Type": "text/plain"},
    )
    assert_problem(response, 404)


# --- CORS ----------------------------------------------------------------------------------------

ORIGIN = "https://frontend.example"


@pytest.fixture(scope="module")
def cors_app(settings: Settings, verifier: TokenVerifier) -> FastAPI:
    configured = settings.model_copy(update={"cors_origins": [ORIGIN, "http://localhost:3000"]})
    return create_app(configured, verifier=verifier, seal_audit=False)


@pytest.fixture
async def cors_client(
    cors_app: FastAPI, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    cors_app.state.database = Database.bound_to(connection)
    transport = httpx.ASGITransport(app=cors_app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            yield c
    finally:
        cors_app.state.database = None


def _cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def _listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


async def test_a_listed_origin_gets_its_preflight_answered(cors_client):
    response = await cors_client.options(
        FAMILIES,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match, "
            "idempotency-key, x-purpose, x-request-id",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"get", "post", "put", "patch"} <= _listed(
        response.headers["access-control-allow-methods"]
    )
    assert {
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
        "x-purpose",
        "x-request-id",
    } <= _listed(response.headers["access-control-allow-headers"])
    # Bearer tokens, not cookies: the browser sends no credentials of its own.
    assert "access-control-allow-credentials" not in response.headers


async def test_a_listed_origin_may_read_the_answer_and_its_headers(cors_client, officer):
    created = await cors_client.post(FAMILIES, json=family(), headers={**officer, "Origin": ORIGIN})
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == ORIGIN
    exposed = _listed(created.headers["access-control-expose-headers"])
    assert {"etag", "location", "link", "x-request-id"} <= exposed
    refused = await cors_client.get(FAMILIES, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN  # errors are readable too


async def test_an_unlisted_origin_gets_no_cors_headers(cors_client, officer):
    evil = "https://evil.example"
    simple = await cors_client.get(FAMILIES, headers={**officer, "Origin": evil})
    assert simple.status_code == 200
    assert _cors_headers(simple) == {}
    preflight = await cors_client.options(
        FAMILIES,
        headers={
            "Origin": evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert _cors_headers(preflight) == {}
    assert_problem(preflight, 405)


async def test_a_preflight_asking_for_more_is_a_problem(cors_client):
    response = await cors_client.options(
        FAMILIES,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-evil",
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "headers" in response.json()["detail"]


async def test_without_origins_configured_there_are_no_cors_headers(client, officer):
    simple = await client.get(FAMILIES, headers={**officer, "Origin": ORIGIN})
    assert simple.status_code == 200
    assert _cors_headers(simple) == {}
    preflight = await client.options(
        FAMILIES, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert _cors_headers(preflight) == {}


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", []),
        (
            "https://a.example, http://localhost:3000/",
            ["https://a.example", "http://localhost:3000"],
        ),
        ('["https://A.example:8443"]', ["https://a.example:8443"]),
    ],
)
def test_cors_origins_are_read_as_a_list_or_json(monkeypatch, value, origins):
    monkeypatch.setenv("REGISTRY_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins


@pytest.mark.parametrize("value", ["*", "null", "https://a.example/app", "a.example", "[1"])
def test_cors_origins_refuse_what_is_no_origin(monkeypatch, value):
    monkeypatch.setenv("REGISTRY_CORS_ORIGINS", value)
    with pytest.raises(ValidationError):
        Settings()


# --- one title per problem type --------------------------------------------------------------


def test_every_error_class_has_its_types_one_title():
    def classes(cls: type[DomainError]) -> list[type[DomainError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in classes(sub))]

    for cls in classes(DomainError):
        assert PROBLEM_TITLES[cls.slug] == cls.title, cls


async def test_each_problem_type_has_one_title_everywhere(client, officer, make_token, settings):
    created = await create_family(client, officer, family())
    member = person()
    await create_family(client, officer, family(members=[member]))
    one = f"{FAMILIES}/{created['id']}"
    auditor = bearer(token(make_token, "auditor"))
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/no-such-thing", {}),  # no route
        ("GET", f"{FAMILIES}/", {"headers": {**officer, "Host": "evil.example"}}),
        ("GET", f"{FAMILIES}/{uuid.uuid4()}", {"headers": officer}),  # the domain's 404
        ("DELETE", "/api/v1/territories", {"headers": officer}),  # 405
        ("GET", "/api/v1/territories", {}),  # 401, no token
        ("GET", "/api/v1/territories", {"headers": bearer("not-a-token")}),  # 401
        ("GET", "/api/v1/territories", {"headers": auditor}),  # 403
        ("GET", "/api/v1/territories", {"params": {"limit": 0}, "headers": officer}),
        ("GET", "/api/v1/territories", {"params": {"cursor": "A"}, "headers": officer}),
        ("GET", "/api/v1/territories", {"params": {"limt": 5}, "headers": officer}),
        ("GET", "/api/v1/territories?q=%00", {"headers": officer}),  # the middleware's 422
        ("POST", FAMILIES, {"json": {}, "headers": officer}),  # a body's 422
        (
            "POST",
            FAMILIES,
            {"content": b'{"a": ', "headers": {**officer, "Content-Type": "application/json"}},
        ),
        ("POST", FAMILIES, {"content": b"x", "headers": {**officer, "Content-Type": "text/plain"}}),
        (
            "POST",
            FAMILIES,
            {
                "content": b"x" * (settings.max_body_bytes + 1),
                "headers": {**officer, "Content-Type": "application/json"},
            },
        ),  # 413
        ("POST", FAMILIES, {"json": family(members=[member]), "headers": officer}),  # 409
        ("PATCH", one, {"json": {"phone": "+380441112233"}, "headers": officer}),  # 428
        (
            "PATCH",
            one,
            {"json": {"phone": "+380441112233"}, "headers": if_match(officer, 99)},
        ),  # 412
    ]
    titles: dict[str, set[str]] = defaultdict(set)
    statuses: set[int] = set()
    for method, path, options in requests:
        response = await client.request(method, path, **options)
        assert response.headers["content-type"] == "application/problem+json", (path, response)
        body = response.json()
        titles[body["type"]].add(body["title"])
        statuses.add(response.status_code)
    assert statuses >= {400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 428}
    for problem_type, seen in titles.items():
        assert len(seen) == 1, (problem_type, seen)
        assert seen == {PROBLEM_TITLES[problem_type.removeprefix(PROBLEM_TYPE_PREFIX)]}
    assert titles[PROBLEM_TYPE_PREFIX + "validation-error"] == {"Invalid input"}
    assert titles[PROBLEM_TYPE_PREFIX + "not-found"] == {"Not found"}


# --- no redirect built from the Host header ------------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"{FAMILIES}/", "/api/v1/territories/", "/health/live/", "/api/v1/families//"]
)
async def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_host(client, officer, path):
    response = await client.get(path, headers={**officer, "Host": "evil.example"})
    body = assert_problem(response, 404)
    assert "location" not in response.headers
    assert "evil.example" not in response.text
    assert body["type"] == PROBLEM_TYPE_PREFIX + "not-found"


# --- the spec: summaries and tags -------------------------------------------------------------


def test_every_operation_has_a_short_human_summary(app):
    for _, _, operation in _operations(app):
        summary = operation.get("summary")
        name = operation["operationId"]
        assert summary, name
        assert summary != name.replace("_", " ").title(), name
        assert len(summary) <= 80, (name, summary)
        assert not summary.endswith((".", ":", ",", ";")), (name, summary)


def test_every_tag_used_is_described(app):
    spec = app.openapi()
    described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    used = {tag for _, _, operation in _operations(app) for tag in operation.get("tags", [])}
    assert used, "operations carry tags"
    for tag in used:
        assert described.get(tag), tag
    assert set(described) == used  # no description of a tag nothing uses


# --- errors in words ------------------------------------------------------------------------------


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_every_pattern_of_the_spec_is_said_in_words(app):
    """A 422 says what a field takes, never the regular expression it failed: every pattern
    the document shows has been given its words where it is declared (``worded``)."""
    patterns = set(_patterns(app.openapi()))
    assert len(patterns) > 10
    assert sorted(p for p in patterns if not has_words(p)) == []


@pytest.mark.parametrize(
    ("path", "params", "field", "words"),
    [
        ("/api/v1/providers", {"q": "!!"}, "query.q", "must contain a letter or a digit"),
        ("/api/v1/providers", {"edrpou": "12"}, "query.edrpou", "must be an EDRPOU code"),
        ("/api/v1/families", {"rnokpp": "12"}, "query.rnokpp", "must be an RNOKPP: ten digits"),
        ("/api/v1/territories", {"parent": "UA1"}, "query.parent", "must be a KATOTTG code"),
        ("/api/v1/families", {"cursor": "a b"}, "query.cursor", "must be the next_cursor"),
    ],
)
async def test_a_value_in_the_wrong_form_is_told_in_words(
    client, admin, path, params, field, words
):
    problem = assert_problem(await client.get(path, params=params, headers=admin), 422)
    (error,) = [e for e in problem["errors"] if e["field"] == field]
    assert error["message"].startswith(words)
    assert "^" not in error["message"]
    assert "pattern" not in error["message"]


async def test_a_field_that_may_not_be_null_names_itself_once_in_words(client, officer):
    created = await create_family(client, officer, family(KYIV))
    member = created["members"][0]
    response = await client.patch(
        f"/api/v1/families/{created['id']}/members/{member['id']}",
        json={"birth_date": "yesterday", "rnokpp": "12"},
        headers={
            **if_match(officer, member["version"]),
            "Content-Type": "application/merge-patch+json",
        },
    )
    problem = assert_problem(response, 422)
    assert sorted(e["field"] for e in problem["errors"]) == ["body.birth_date", "body.rnokpp"]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages["body.rnokpp"] == "must be an RNOKPP: ten digits"
    assert "None" not in messages["body.birth_date"]


@pytest.mark.parametrize("tag", ['"x"', '"99999999999999999999"', '"2147483648"', 'W/"-1"'])
async def test_an_if_match_that_names_no_version_is_412(client, officer, tag):
    """Whatever If-Match holds, it is a precondition that fails, never a 500 (a number past
    the largest version would be out of the database's range)."""
    created = await create_family(client, officer, family(KYIV))
    response = await client.patch(
        f"{FAMILIES}/{created['id']}",
        json={"address_line": "вул. Нова, 1"},
        headers={**officer, "If-Match": tag},
    )
    assert_problem(response, 412)
    unchanged = await client.get(f"{FAMILIES}/{created['id']}", headers=officer)
    assert unchanged.json()["version"] == created["version"]


async def test_a_version_past_the_largest_is_412_on_the_classifier_too(client, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    response = await client.patch(
        "/api/v1/services/002.0",
        json={"active": True},
        headers={**admin, "If-Match": '"999999999999999999999999999999"'},
    )
    assert_problem(response, 412)
