"""The Child and Youth Friendly Community initiative: a hromada's way through every stage,
the refusals of the state machine and of dates, who records which steps, who sees which
hromadas, the history kept, concurrency, idempotency and audit."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from registry.auth.roles import ROLE_PERMISSIONS, Permission, Role
from tests.support import (
    BUCHA,
    BUCHA_RAION,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    assert_problem,
    bearer,
    clock_set_to,
    error_fields,
    if_match,
    token,
)

COMMUNITIES = "/api/v1/friendly-communities"
TODAY = date(2026, 6, 1)
WAY = [
    "council_decision",
    "letter_of_interest",
    "memorandum",
    "situation_analysis",
    "action_plan",
    "candidate",
    "implementation",
    "assessment",
    "status_awarded",
    "status_withdrawn",
]
MINISTRY_STAGES = {"status_awarded", "status_withdrawn"}


@pytest.fixture(autouse=True)
def today(app):
    with clock_set_to(app, TODAY) as clock:
        yield clock


def headers_of(make_token: Any, role: str, **claims: Any) -> dict[str, str]:
    return bearer(token(make_token, role, **claims))


@pytest.fixture
def bucha(make_token) -> dict[str, str]:
    """A community officer of Bucha hromada."""
    return headers_of(make_token, "community_officer", territory=BUCHA)


def step_body(stage: str, taken_on: date, **extra: Any) -> dict[str, Any]:
    return {
        "stage": stage,
        "taken_on": taken_on.isoformat(),
        "document_reference": f"№ {stage}-{taken_on.isoformat()}",
        **extra,
    }


async def take(
    client: Any, headers: dict[str, str], code: str, stage: str, taken_on: date, **extra: Any
) -> Any:
    return await client.post(
        f"{COMMUNITIES}/{code}/steps", json=step_body(stage, taken_on, **extra), headers=headers
    )


async def walk(
    client: Any, officer: dict[str, str], admin: dict[str, str], code: str, to: str
) -> dict[str, Any]:
    """Take the hromada ``code`` through every stage up to ``to``, a month apart, the
    ministry's stages by ``admin``."""
    stages = WAY[: WAY.index(to) + 1]
    start = TODAY - timedelta(days=30 * len(stages))
    answer: dict[str, Any] = {}
    for i, stage in enumerate(stages):
        headers = admin if stage in MINISTRY_STAGES else officer
        response = await take(client, headers, code, stage, start + timedelta(days=30 * i))
        assert response.status_code == 201, response.text
        answer = response.json()
    return answer


# --- the way --------------------------------------------------------------------------------


async def test_a_hromada_goes_from_its_councils_decision_to_a_withdrawn_status(
    client, admin, bucha
):
    start = TODAY - timedelta(days=4 * 365)
    for i, stage in enumerate(WAY):
        taken_on = start + timedelta(days=120 * i)
        headers = admin if stage in MINISTRY_STAGES else bucha
        extra = {"note": "Рішення сесії\nміської ради"} if i == 0 else {}
        response = await take(client, headers, BUCHA, stage, taken_on, **extra)
        assert response.status_code == 201, response.text
        community = response.json()
        assert response.headers["etag"] == f'"{i + 1}"'
        assert response.headers["location"] == f"{COMMUNITIES}/{BUCHA}"
        assert community["hromada_code"] == BUCHA
        assert community["oblast_code"] == KYIV_OBLAST
        assert community["raion_code"] == BUCHA_RAION
        assert community["hromada_name"]
        assert (community["stage"], community["stage_on"]) == (stage, taken_on.isoformat())
        assert community["version"] == i + 1
        assert community["allowed_next_stages"] == WAY[i + 1 : i + 2]
        assert [s["stage"] for s in community["steps"]] == WAY[: i + 1]
        if stage == "implementation":
            assert community["implementation_started_on"] == taken_on.isoformat()
            due = taken_on.replace(year=taken_on.year + 3)
            assert community["assessment_due_by"] == due.isoformat()
        else:
            assert community["implementation_started_on"] is None
            assert community["assessment_due_by"] is None

    got = await client.get(f"{COMMUNITIES}/{BUCHA}", headers=admin)
    assert got.status_code == 200, got.text
    assert got.headers["etag"] == f'"{len(WAY)}"'
    history = got.json()["steps"]
    assert [(s["version"], s["stage"]) for s in history] == list(enumerate(WAY, start=1))
    assert history[0]["note"] == "Рішення сесії\nміської ради"
    assert history[0]["document_reference"] == f"№ council_decision-{start.isoformat()}"
    assert history[0]["recorded_by"] == "test-community_officer"
    assert history[-1]["recorded_by"] == "test-ministry_admin"
    assert got.json()["created_by"] == "test-community_officer"
    assert got.json()["allowed_next_stages"] == []


async def test_an_early_assessment_is_not_refused(client, admin, bucha):
    started = await walk(client, bucha, admin, BUCHA, "implementation")
    assert started["assessment_due_by"] == "2029-05-02"
    assessed = await take(client, bucha, BUCHA, "assessment", TODAY)
    assert assessed.status_code == 201, assessed.text
    assert assessed.json()["stage"] == "assessment"


async def test_the_history_is_append_only_in_the_database(client, connection, admin, bucha):
    await walk(client, bucha, admin, BUCHA, "memorandum")
    rows = (
        await connection.execute(
            text(
                "SELECT version, stage FROM friendly_community_steps "
                "WHERE hromada_code = :code ORDER BY version"
            ),
            {"code": BUCHA},
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (1, "council_decision"),
        (2, "letter_of_interest"),
        (3, "memorandum"),
    ]


# --- the state machine ----------------------------------------------------------------------


async def test_a_first_step_other_than_the_councils_decision_is_a_409(client, admin):
    for stage in WAY[1:]:
        response = await take(client, admin, BUCHA, stage, TODAY)
        problem = assert_problem(response, 409)
        assert problem["current_stage"] is None
        assert problem["allowed"] == ["council_decision"]
        assert "council_decision" in problem["detail"]
    missing = await client.get(f"{COMMUNITIES}/{BUCHA}", headers=admin)
    assert_problem(missing, 404)


async def test_every_move_but_the_next_is_a_409_naming_the_stage_and_the_allowed(client, admin):
    start = TODAY - timedelta(days=len(WAY))
    for i, stage in enumerate(WAY):
        response = await take(client, admin, BUCHA, stage, start + timedelta(days=i))
        assert response.status_code == 201, response.text
        allowed = WAY[i + 1 : i + 2]
        for wrong in WAY:
            if wrong in allowed:
                continue
            refused = await take(client, admin, BUCHA, wrong, TODAY)
            problem = assert_problem(refused, 409)
            assert problem["current_stage"] == stage
            assert problem["allowed"] == allowed
            assert stage in problem["detail"]
    got = (await client.get(f"{COMMUNITIES}/{BUCHA}", headers=admin)).json()
    assert got["version"] == len(WAY)
    assert len(got["steps"]) == len(WAY)


# --- dates ----------------------------------------------------------------------------------


async def test_a_step_in_the_future_is_a_422(client, bucha):
    response = await take(client, bucha, BUCHA, "council_decision", TODAY + timedelta(days=1))
    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.taken_on"}
    assert "future" in problem["errors"][0]["message"]


async def test_a_step_before_the_previous_one_is_a_422(client, bucha):
    first = await take(client, bucha, BUCHA, "council_decision", TODAY - timedelta(days=10))
    assert first.status_code == 201, first.text
    earlier = await take(client, bucha, BUCHA, "letter_of_interest", TODAY - timedelta(days=11))
    problem = assert_problem(earlier, 422)
    assert error_fields(problem) == {"body.taken_on"}
    assert (TODAY - timedelta(days=10)).isoformat() in problem["errors"][0]["message"]
    later = await take(client, bucha, BUCHA, "letter_of_interest", TODAY + timedelta(days=1))
    assert_problem(later, 422)
    same_day = await take(client, bucha, BUCHA, "letter_of_interest", TODAY - timedelta(days=10))
    assert same_day.status_code == 201, same_day.text


@pytest.mark.parametrize(
    "body",
    [
        {"stage": "council_decision", "taken_on": "2026-05-01"},
        {"stage": "council_decision", "taken_on": "2026-05-01", "document_reference": "  "},
        {"stage": "awarded", "taken_on": "2026-05-01", "document_reference": "№ 1"},
        {"stage": "council_decision", "taken_on": "01.05.2026", "document_reference": "№ 1"},
        {
            "stage": "council_decision",
            "taken_on": "2026-05-01",
            "document_reference": "№ 1",
            "status": "x",
        },
    ],
)
async def test_a_step_needs_a_known_stage_a_date_and_a_document(client, bucha, body):
    response = await client.post(f"{COMMUNITIES}/{BUCHA}/steps", json=body, headers=bucha)
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("code", "field"),
    [
        ("UA99999999999999999", "path.hromada_code"),  # not in the codifier
        (KYIV_OBLAST, "path.hromada_code"),  # an oblast, not a hromada
    ],
)
async def test_a_step_of_what_is_no_hromada_is_a_422(client, admin, code, field):
    response = await take(client, admin, code, "council_decision", TODAY)
    problem = assert_problem(response, 422)
    assert error_fields(problem) == {field}


# --- who records what -----------------------------------------------------------------------


async def test_the_hromada_records_up_to_the_assessment_and_the_ministry_the_status(
    client, admin, bucha
):
    await walk(client, bucha, admin, BUCHA, "assessment")
    refused = await take(client, bucha, BUCHA, "status_awarded", TODAY)
    problem = assert_problem(refused, 403)
    assert "ministry" in problem["detail"]
    assert "national committee" in problem["detail"]
    awarded = await take(client, admin, BUCHA, "status_awarded", TODAY)
    assert awarded.status_code == 201, awarded.text
    refused = await take(client, bucha, BUCHA, "status_withdrawn", TODAY)
    assert_problem(refused, 403)
    withdrawn = await take(client, admin, BUCHA, "status_withdrawn", TODAY)
    assert withdrawn.status_code == 201, withdrawn.text


async def test_an_award_out_of_turn_by_the_hromada_is_a_403_before_the_409(client, bucha):
    first = await take(client, bucha, BUCHA, "council_decision", TODAY)
    assert first.status_code == 201, first.text
    assert_problem(await take(client, bucha, BUCHA, "status_awarded", TODAY), 403)


async def test_the_ministry_records_any_step(client, admin):
    first = await take(client, admin, LVIV, "council_decision", TODAY)
    assert first.status_code == 201, first.text
    assert first.json()["created_by"] == "test-ministry_admin"
    assert first.json()["oblast_code"] == LVIV_OBLAST


async def test_a_regional_officer_reads_but_does_not_record(client, make_token, admin, bucha):
    regional = headers_of(make_token, "regional_officer", territory=KYIV_OBLAST)
    refused = await take(client, regional, BUCHA, "council_decision", TODAY)
    assert "does not record" in assert_problem(refused, 403)["detail"]
    await walk(client, bucha, admin, BUCHA, "council_decision")
    refused = await take(client, regional, BUCHA, "letter_of_interest", TODAY)
    assert_problem(refused, 403)


async def test_an_officer_of_another_hromada_finds_nothing_to_record(client, make_token, bucha):
    irpin = headers_of(make_token, "community_officer", territory=IRPIN)
    # No record yet, and a record: the same 404.
    assert_problem(await take(client, irpin, BUCHA, "council_decision", TODAY), 404)
    await take(client, bucha, BUCHA, "council_decision", TODAY)
    assert_problem(await take(client, irpin, BUCHA, "letter_of_interest", TODAY), 404)
    own = await take(client, irpin, IRPIN, "council_decision", TODAY)
    assert own.status_code == 201, own.text


# --- who sees what --------------------------------------------------------------------------


@pytest.fixture
async def three(client, admin) -> list[str]:
    """Bucha and Irpin (Kyiv oblast) at their council's decision, Lviv at its memorandum."""
    for code in (BUCHA, IRPIN, LVIV):
        response = await take(client, admin, code, "council_decision", TODAY - timedelta(days=5))
        assert response.status_code == 201, response.text
    for stage in ("letter_of_interest", "memorandum"):
        assert (await take(client, admin, LVIV, stage, TODAY)).status_code == 201
    return [BUCHA, IRPIN, LVIV]


async def listed(client: Any, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get(COMMUNITIES, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [item["hromada_code"] for item in response.json()["items"]]


async def test_each_role_sees_its_reach(client, make_token, admin, bucha, three):
    regional = headers_of(make_token, "regional_officer", territory=KYIV_OBLAST)
    lviv_regional = headers_of(make_token, "regional_officer", territory=LVIV_OBLAST)
    raion = headers_of(make_token, "integration", territory=BUCHA_RAION, scope="programmes:read")
    national = headers_of(make_token, "integration", scope="programmes:read reach:national")
    kyiv = headers_of(make_token, "community_officer", territory=KYIV)
    expected = {
        "bucha officer": (bucha, {BUCHA}),
        "kyiv officer": (kyiv, set()),
        "kyiv regional officer": (regional, {BUCHA, IRPIN}),
        "lviv regional officer": (lviv_regional, {LVIV}),
        "raion integration": (raion, {BUCHA, IRPIN}),
        "national integration": (national, {BUCHA, IRPIN, LVIV}),
        "ministry": (admin, {BUCHA, IRPIN, LVIV}),
    }
    for who, (headers, sees) in expected.items():
        assert set(await listed(client, headers)) == sees, who
        for code in three:
            got = await client.get(f"{COMMUNITIES}/{code}", headers=headers)
            if code in sees:
                assert got.status_code == 200, (who, code, got.text)
            else:
                assert_problem(got, 404)


async def test_a_social_worker_reads_its_hromada_once_it_may_read_programmes(
    client, make_token, three
):
    worker = headers_of(make_token, "social_worker", territory=BUCHA)
    got = await client.get(f"{COMMUNITIES}/{BUCHA}", headers=worker)
    if Permission.PROGRAMMES_READ not in ROLE_PERMISSIONS[Role.SOCIAL_WORKER]:
        assert_problem(got, 403)
        return
    assert got.status_code == 200, got.text
    assert await listed(client, worker) == [BUCHA]
    assert_problem(await client.get(f"{COMMUNITIES}/{IRPIN}", headers=worker), 404)
    assert_problem(await take(client, worker, BUCHA, "letter_of_interest", TODAY), 403)


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("ministry_analyst", {}),
        ("auditor", {}),
        ("military_liaison", {"unit_id": str(uuid.uuid4())}),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}),
        ("integration", {"provider_id": str(uuid.uuid4()), "scope": "programmes:read"}),
    ],
)
async def test_who_takes_no_part_is_refused_everything(client, make_token, three, role, claims):
    headers = headers_of(make_token, role, **claims)
    assert_problem(await client.get(COMMUNITIES, headers=headers), 403)
    assert_problem(await client.get(f"{COMMUNITIES}/{BUCHA}", headers=headers), 403)
    assert_problem(await take(client, headers, BUCHA, "letter_of_interest", TODAY), 403)


async def test_the_list_filters_by_stage_and_pages_by_code(client, admin, three):
    assert await listed(client, admin, stage="memorandum") == [LVIV]
    assert await listed(client, admin, stage="council_decision") == sorted([BUCHA, IRPIN])
    assert await listed(client, admin, stage="status_awarded") == []
    first = await client.get(COMMUNITIES, headers=admin, params={"limit": 2})
    page = first.json()
    assert [item["hromada_code"] for item in page["items"]] == sorted(three)[:2]
    assert "steps" not in page["items"][0]
    rest = await client.get(
        COMMUNITIES, headers=admin, params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert [item["hromada_code"] for item in rest.json()["items"]] == sorted(three)[2:]
    assert rest.json()["next_cursor"] is None
    assert_problem(await client.get(COMMUNITIES, headers=admin, params={"stage": "x"}), 422)


# --- concurrency and idempotency -----------------------------------------------------------


async def test_a_stale_if_match_is_a_412(client, admin, bucha):
    await walk(client, bucha, admin, BUCHA, "letter_of_interest")
    stale = await client.post(
        f"{COMMUNITIES}/{BUCHA}/steps",
        json=step_body("memorandum", TODAY),
        headers=if_match(bucha, 1),
    )
    problem = assert_problem(stale, 412)
    assert problem["current_version"] == 2
    assert "stage" in problem["changed_fields"]
    current = await client.post(
        f"{COMMUNITIES}/{BUCHA}/steps",
        json=step_body("memorandum", TODAY),
        headers=if_match(bucha, 2),
    )
    assert current.status_code == 201, current.text
    assert current.headers["etag"] == '"3"'


async def test_a_first_step_with_if_match_is_a_412(client, bucha):
    response = await client.post(
        f"{COMMUNITIES}/{BUCHA}/steps",
        json=step_body("council_decision", TODAY),
        headers=if_match(bucha, 1),
    )
    assert_problem(response, 412)


async def test_a_step_is_idempotent(client, connection, bucha):
    keyed = {**bucha, "Idempotency-Key": str(uuid.uuid4())}
    body = step_body("council_decision", TODAY)
    first = await client.post(f"{COMMUNITIES}/{BUCHA}/steps", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    replay = await client.post(f"{COMMUNITIES}/{BUCHA}/steps", json=body, headers=keyed)
    assert replay.status_code == 201, replay.text
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["etag"] == first.headers["etag"]
    steps = await connection.scalar(
        text("SELECT count(*) FROM friendly_community_steps WHERE hromada_code = :code"),
        {"code": BUCHA},
    )
    assert steps == 1
    other = await client.post(
        f"{COMMUNITIES}/{BUCHA}/steps",
        json=step_body("letter_of_interest", TODAY),
        headers=keyed,
    )
    assert_problem(other, 409)


# --- audit ----------------------------------------------------------------------------------


async def events(connection: Any, actor: str) -> list[tuple[str, str, list[str], str]]:
    rows = await connection.execute(
        text(
            "SELECT action, resource_type, resource_ids, outcome FROM audit_events "
            "WHERE actor = :actor ORDER BY id"
        ),
        {"actor": actor},
    )
    return [tuple(row) for row in rows]


async def test_every_read_and_write_is_audited(client, connection, make_token):
    sub = f"officer-{uuid.uuid4().hex[:8]}"
    officer = bearer(make_token("community_officer", sub=sub, territory=BUCHA))
    assert (await take(client, officer, BUCHA, "council_decision", TODAY)).status_code == 201
    assert (await take(client, officer, BUCHA, "letter_of_interest", TODAY)).status_code == 201
    assert (await client.get(f"{COMMUNITIES}/{BUCHA}", headers=officer)).status_code == 200
    assert (await client.get(COMMUNITIES, headers=officer)).status_code == 200
    assert_problem(await client.get(f"{COMMUNITIES}/{IRPIN}", headers=officer), 404)
    assert await events(connection, sub) == [
        ("record_friendly_community_step", "friendly_community", [BUCHA], "success"),
        ("record_friendly_community_step", "friendly_community", [BUCHA], "success"),
        ("get_friendly_community", "friendly_community", [BUCHA], "success"),
        ("list_friendly_communities", "friendly_community", [BUCHA], "success"),
        ("get_friendly_community", "friendly_community", [IRPIN], "denied"),
    ]
