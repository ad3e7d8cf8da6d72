"""Cases of social accompaniment: the lifecycle and the rules the API enforces, deadlines on a
controllable clock, who works and who sees a case, referrals to providers, the caseload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from registry.domain.cases.rules import TRANSITIONS, CaseStatus, add_working_days
from tests.support import (
    BUCHA,
    IRPIN,
    KYIV,
    Clock,
    assert_problem,
    bearer,
    clock_set_to,
    create_family,
    create_provider,
    family,
    provider_body,
    token,
)

CASES = "/api/v1/cases"
MONDAY = date(2026, 3, 2)
S = CaseStatus


@pytest.fixture
def clock(app) -> Iterator[Clock]:
    """The application's clock, set to a Monday (restored afterwards)."""
    with clock_set_to(app, MONDAY) as clock:
        yield clock


@pytest.fixture
def case_worker(make_token) -> dict[str, str]:
    """The social worker of Kyiv the cases are assigned to."""
    return bearer(token(make_token, "social_worker", sub="worker-1", territory=KYIV))


@pytest.fixture
def colleague(make_token) -> dict[str, str]:
    return bearer(token(make_token, "social_worker", sub="worker-2", territory=KYIV))


class Cases:
    """Drives cases through the API, sending each change with the case's current ETag."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        officer: dict[str, str],
        worker: dict[str, str],
        clock: Clock,
    ) -> None:
        self.client, self.officer, self.worker, self.clock = client, officer, worker, clock

    async def open(self, **overrides: Any) -> dict[str, Any]:
        created = await create_family(self.client, self.officer, family(KYIV))
        body = {
            "family_id": created["id"],
            "source": "report",
            "reporter": {"kind": "school", "name": "Школа №5"},
            "summary": "дитина пропускає школу",
            "received_on": MONDAY.isoformat(),
            **overrides,
        }
        response = await self.client.post(CASES, json=body, headers=self.officer)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def send(
        self,
        case: dict[str, Any],
        path: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        method: str = "POST",
    ) -> httpx.Response:
        return await self.client.request(
            method,
            f"{CASES}/{case['id']}/{path}",
            json=body,
            headers={**(headers or self.worker), "If-Match": f'"{case["version"]}"'},
        )

    async def do(
        self,
        case: dict[str, Any],
        path: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        response = await self.send(case, path, body, headers=headers, method=method)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def move(self, case: dict[str, Any], to: CaseStatus, **extra: Any) -> dict[str, Any]:
        return await self.do(case, "transitions", {"to": to.value, **extra})

    async def reach(self, status: CaseStatus) -> dict[str, Any]:
        """A new case brought to ``status`` the way the standard allows, every requirement
        of the next step met."""
        case = await self.open()
        case = await self.do(case, "assignment", {"worker_sub": "worker-1"}, headers=self.officer)
        if status is S.REFERRED:
            return case
        if status is S.SUSPENDED:
            return await self.move(case, status, reason="because")
        if status is S.CLOSED:
            return await self.move(case, status, reason="because", closure_reason="no_grounds")
        if status is S.TRANSFERRED:  # an active case handed to another worker
            active = await self.reach(S.ACTIVE)
            return await self.do(
                active,
                "transitions",
                {
                    "to": "transferred",
                    "reason": "відпустка",
                    "transfer_to": {"worker_sub": "worker-1"},
                },
                headers=self.officer,
            )
        case = await self.move(case, S.ASSESSMENT)
        case = await self.do(case, "assessment", complete_assessment(), method="PUT")
        case = await self.do(
            case, "decision", {"decision": "provide", "reason": "СЖО підтверджено"}
        )
        if status is S.ASSESSMENT:
            return case
        case = await self.move(case, S.PLANNING)
        case = await self.do(case, "plan", agreed_plan(), method="PUT")
        measure = await self.client.post(
            f"{CASES}/{case['id']}/measures",
            json={
                "description": "психологічна підтримка",
                "service_code": "002.0",
                "responsible": "worker-1",
                "due_on": (MONDAY + timedelta(days=30)).isoformat(),
            },
            headers=self.worker,
        )
        assert measure.status_code == 201, measure.text
        case = await self.get(case)
        if status is S.PLANNING:
            return case
        case = await self.move(case, S.ACTIVE)
        if status is S.ACTIVE:
            return case
        return await self.move(case, S.REVIEW)

    async def get(
        self, case: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.get(f"{CASES}/{case['id']}", headers=headers or self.worker)
        assert response.status_code == 200, response.text
        return dict(response.json())


def complete_assessment() -> dict[str, Any]:
    return {
        "child_development": {"level": "medium", "notes": "відставання у читанні"},
        "parenting_capacity": {"level": "low", "notes": "мати працює у дві зміни"},
        "family_environment": {"level": "high", "notes": "пошкоджене житло"},
        "conclusions": "потрібен соціальний супровід",
        "complete": True,
    }


def agreed_plan() -> dict[str, Any]:
    return {
        "goals": ["регулярне відвідування школи"],
        "agreement": {"agreed_by": "мати", "agreed_at": f"{MONDAY.isoformat()}T10:00:00Z"},
    }


@pytest.fixture
def cases(client, officer, case_worker, clock) -> Cases:
    return Cases(client, officer, case_worker, clock)


# --- the state machine ---------------------------------------------------------------------------


async def test_a_case_opens_referred_with_its_assessment_due(cases, clock):
    case = await cases.open()
    assert case["status"] == "referred"
    assert case["assessment_due_on"] == add_working_days(MONDAY, 10).isoformat() == "2026-03-16"
    assert case["reporter"] == {"kind": "school", "name": "Школа №5", "contact": None}
    assert case["worker_sub"] is None
    assert sorted(case["allowed_transitions"]) == sorted(TRANSITIONS[S.REFERRED])


@pytest.mark.parametrize("start", list(CaseStatus))
async def test_every_forbidden_transition_is_a_409_naming_the_allowed(cases, officer, start):
    case = await cases.reach(start)
    assert case["status"] == start
    allowed = set(case["allowed_transitions"])
    # a suspended case may also resume where it stopped (here: referred)
    assert allowed == set(TRANSITIONS[start]) | ({S.REFERRED} if start is S.SUSPENDED else set())
    for to in CaseStatus:
        if to in allowed:
            continue
        response = await cases.send(
            case,
            "transitions",
            {
                "to": to.value,
                "reason": "x",
                "closure_reason": "other",
                "transfer_to": {"worker_sub": "worker-1"},
            },
            headers=officer,
        )
        problem = assert_problem(response, 409)
        if start is S.CLOSED:
            assert "closed" in problem["detail"]
        else:
            assert problem["allowed"] == sorted(allowed), (start, to)
    assert (await cases.get(case))["version"] == case["version"]  # nothing changed


@pytest.mark.parametrize(
    ("start", "to"),
    [(start, to) for start, targets in TRANSITIONS.items() for to in sorted(targets)],
)
async def test_every_allowed_transition_succeeds_and_is_recorded(cases, officer, start, to):
    case = await cases.reach(start)
    extra: dict[str, Any] = {"reason": "за рішенням"}
    if to is S.CLOSED:
        extra.update(closure_reason="goals_achieved", outcome="сім'я впорається")
    if to is S.TRANSFERRED:
        extra["transfer_to"] = {"worker_sub": "worker-3"}
    moved = await cases.do(case, "transitions", {"to": to.value, **extra}, headers=officer)
    assert moved["status"] == to
    assert moved["version"] == case["version"] + 1
    history = (await cases.client.get(f"{CASES}/{case['id']}/history", headers=officer)).json()[
        "items"
    ]
    assert (history[-1]["from_status"], history[-1]["to_status"]) == (start, to)
    assert history[-1]["actor"] == "test-community_officer"


async def test_a_suspended_case_resumes_where_it_stopped(cases):
    case = await cases.reach(S.ACTIVE)
    case = await cases.move(case, S.SUSPENDED, reason="сім'я виїхала на місяць")
    assert case["suspended_from"] == "active"
    assert sorted(case["allowed_transitions"]) == ["active", "closed"]
    assert_problem(await cases.send(case, "transitions", {"to": "planning"}), 409)
    case = await cases.move(case, S.ACTIVE)
    assert (case["status"], case["suspended_from"]) == ("active", None)


async def test_what_each_step_requires(cases, officer):
    case = await cases.open()
    missing = assert_problem(
        await cases.send(case, "transitions", {"to": "assessment"}, headers=officer), 409
    )
    assert missing["missing"] == ["worker"]
    case = await cases.do(case, "assignment", {"worker_sub": "worker-1"}, headers=officer)
    case = await cases.move(case, S.ASSESSMENT)
    problem = assert_problem(await cases.send(case, "transitions", {"to": "planning"}), 409)
    assert problem["missing"] == ["completed_assessment", "decision_to_provide"]
    incomplete = await cases.send(
        case, "assessment", {"conclusions": "ще триває", "complete": True}, method="PUT"
    )
    assert {e["field"] for e in assert_problem(incomplete, 422)["errors"]} == {
        "body.child_development.level",
        "body.parenting_capacity.level",
        "body.family_environment.level",
    }
    assert_problem(await cases.send(case, "decision", {"decision": "provide", "reason": "x"}), 409)
    case = await cases.do(case, "assessment", complete_assessment(), method="PUT")
    assert case["assessment"]["completed_by"] == "worker-1"
    assert_problem(
        await cases.send(case, "assessment", complete_assessment(), method="PUT"), 409
    )  # a completed assessment no longer changes
    case = await cases.do(case, "decision", {"decision": "provide", "reason": "так"})
    case = await cases.move(case, S.PLANNING)
    problem = assert_problem(await cases.send(case, "transitions", {"to": "active"}), 409)
    assert problem["missing"] == ["agreed_plan", "measure"]
    case = await cases.do(case, "plan", {"goals": ["ціль"]}, method="PUT")
    problem = assert_problem(await cases.send(case, "transitions", {"to": "active"}), 409)
    assert problem["missing"] == ["agreed_plan", "measure"]
    closing = await cases.send(case, "transitions", {"to": "closed", "reason": "x"})
    assert [e["field"] for e in assert_problem(closing, 422)["errors"]] == ["body.closure_reason"]


async def test_every_change_needs_the_current_etag(cases, officer):
    case = await cases.open()
    url = f"{CASES}/{case['id']}/assignment"
    assert_problem(await cases.client.post(url, json={"worker_sub": "w"}, headers=officer), 428)
    await cases.do(case, "assignment", {"worker_sub": "w"}, headers=officer)
    stale = await cases.send(case, "assignment", {"worker_sub": "x"}, headers=officer)
    assert assert_problem(stale, 412)["changed_fields"] == ["worker_sub"]


async def test_a_closed_case_is_read_only(cases, officer):
    case = await cases.reach(S.CLOSED)
    assert case["closure"]["reason"] == "no_grounds"
    for path, body in (
        ("assignment", {"worker_sub": "w"}),
        ("decision", {"decision": "refuse", "reason": "x"}),
    ):
        assert_problem(await cases.send(case, path, body, headers=officer), 409)
    visit = await cases.client.post(
        f"{CASES}/{case['id']}/visits",
        json={"visited_on": MONDAY.isoformat(), "kind": "home"},
        headers=cases.worker,
    )
    assert_problem(visit, 409)


# --- deadlines -----------------------------------------------------------------------------------


async def test_overdue_assessments_are_found_by_the_clock(cases, clock, officer):
    case = await cases.open()
    overdue = {"assessment_overdue": "true"}
    clock.day = date(2026, 3, 16)  # the due day itself is not overdue
    assert (await cases.client.get(CASES, params=overdue, headers=officer)).json()["items"] == []
    clock.day = date(2026, 3, 17)
    listed = (await cases.client.get(CASES, params=overdue, headers=officer)).json()["items"]
    assert [c["id"] for c in listed] == [case["id"]]
    assert listed[0]["assessment_overdue"] is True
    not_overdue = (
        await cases.client.get(CASES, params={"assessment_overdue": "false"}, headers=officer)
    ).json()["items"]
    assert case["id"] not in [c["id"] for c in not_overdue]


async def test_a_visit_is_due_every_14_days_while_active(cases, clock, officer):
    case = await cases.reach(S.ACTIVE)
    assert case["visit_due_on"] == (MONDAY + timedelta(days=14)).isoformat()
    clock.advance(10)
    visit = await cases.client.post(
        f"{CASES}/{case['id']}/visits",
        json={
            "visited_on": clock.day.isoformat(),
            "kind": "home",
            "participants": ["мати", "син"],
            "notes": "житлові умови покращились",
        },
        headers=cases.worker,
    )
    assert visit.status_code == 201, visit.text
    case = await cases.get(case)
    assert case["visit_due_on"] == (clock.day + timedelta(days=14)).isoformat()
    clock.advance(15)
    overdue = (
        await cases.client.get(CASES, params={"visit_overdue": "true"}, headers=officer)
    ).json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]]
    case = await cases.move(case, S.REVIEW)
    case = await cases.move(case, S.SUSPENDED, reason="лікарня")
    assert case["visit_due_on"] is None
    assert (
        await cases.client.get(CASES, params={"visit_overdue": "true"}, headers=officer)
    ).json()["items"] == []
    future = await cases.client.post(
        f"{CASES}/{case['id']}/visits",
        json={"visited_on": (clock.day + timedelta(days=1)).isoformat(), "kind": "phone"},
        headers=cases.worker,
    )
    assert_problem(future, 422)


async def test_accompaniment_lasts_six_months_unless_extended(cases, clock, officer):
    case = await cases.reach(S.ACTIVE)
    assert case["accompaniment_until"] == "2026-09-02"
    clock.day = date(2026, 9, 3)
    exceeded = (
        await cases.client.get(CASES, params={"duration_exceeded": "true"}, headers=officer)
    ).json()["items"]
    assert [c["id"] for c in exceeded] == [case["id"]]
    case = await cases.get(case)
    assert_problem(await cases.send(case, "extension", {"until": "2026-09-01", "reason": "x"}), 422)
    case = await cases.do(case, "extension", {"until": "2026-12-01", "reason": "складний випадок"})
    assert (case["accompaniment_until"], case["duration_exceeded"]) == ("2026-12-01", False)


# --- who works, who sees -------------------------------------------------------------------------


async def test_a_social_worker_works_only_their_own_cases(cases, colleague):
    case = await cases.reach(S.ACTIVE)
    assert (await cases.client.get(f"{CASES}/{case['id']}", headers=colleague)).status_code == 200
    for path, body in (("transitions", {"to": "review"}),):
        assert_problem(await cases.send(case, path, body, headers=colleague), 403)
    visit = await cases.client.post(
        f"{CASES}/{case['id']}/visits",
        json={"visited_on": MONDAY.isoformat(), "kind": "home"},
        headers=colleague,
    )
    assert_problem(visit, 403)
    assign = await cases.send(case, "assignment", {"worker_sub": "worker-2"}, headers=colleague)
    assert_problem(assign, 403)  # officers assign


async def test_other_hromadas_do_not_see_a_case(cases, make_token):
    case = await cases.open()
    for headers in (
        bearer(token(make_token, "community_officer", territory=IRPIN)),
        bearer(token(make_token, "social_worker", territory=BUCHA)),
    ):
        assert (await cases.client.get(f"{CASES}/{case['id']}", headers=headers)).status_code == 404
        assert_problem(
            await cases.send(case, "transitions", {"to": "closed"}, headers=headers), 404
        )
        assert (await cases.client.get(CASES, headers=headers)).json()["items"] == []
    for role in ("ministry_analyst", "auditor", "military_liaison"):
        claims = (
            {"unit_id": "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c10"}
            if role == ("military_liaison")
            else {}
        )
        headers = bearer(token(make_token, role, **claims))
        assert (await cases.client.get(f"{CASES}/{case['id']}", headers=headers)).status_code == 403


async def test_a_transfer_moves_the_case_and_its_reach(cases, officer, make_token):
    case = await cases.reach(S.ACTIVE)
    moved = await cases.send(
        case,
        "transitions",
        {"to": "transferred", "reason": "сім'я переїхала", "transfer_to": {"hromada_code": BUCHA}},
        headers=officer,
    )
    assert moved.status_code == 200, moved.text
    assert (await cases.client.get(f"{CASES}/{case['id']}", headers=officer)).status_code == 404
    bucha = bearer(token(make_token, "community_officer", territory=BUCHA))
    there = (await cases.client.get(f"{CASES}/{case['id']}", headers=bucha)).json()
    assert (there["status"], there["hromada_code"], there["worker_sub"]) == (
        "transferred",
        BUCHA,
        None,
    )
    history = (await cases.client.get(f"{CASES}/{case['id']}/history", headers=bucha)).json()[
        "items"
    ]
    assert [h["to_status"] for h in history] == [
        "referred",
        "assessment",
        "planning",
        "active",
        "transferred",
    ]
    assert history[-1]["details"]["from_hromada"] == KYIV


# --- referrals -----------------------------------------------------------------------------------


async def test_an_accepted_referral_shows_the_provider_only_what_it_needs(
    cases, make_token, officer
):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    case = await cases.reach(S.ACTIVE)
    url = f"{CASES}/{case['id']}"
    referral = await cases.client.post(
        f"{url}/referrals",
        json={"provider_id": provider["id"], "service_code": "002.0", "note": "консультації"},
        headers=cases.worker,
    )
    assert referral.status_code == 201, referral.text
    referral_id = referral.json()["id"]
    assert (await cases.client.get(url, headers=staff)).status_code == 404
    incoming = (await cases.client.get("/api/v1/referrals", headers=staff)).json()["items"]
    assert [r["id"] for r in incoming] == [referral_id]

    accepted = await cases.client.post(f"/api/v1/referrals/{referral_id}/accept", headers=staff)
    assert accepted.json()["status"] == "accepted"
    seen = (await cases.client.get(url, headers=staff)).json()
    assert set(seen) == {
        "id",
        "status",
        "hromada_code",
        "worker_sub",
        "family",
        "referrals",
        "version",
    }
    assert "reporter" not in seen
    assert {m["first_name"] for m in seen["family"]["members"]}
    record = await cases.client.post(
        "/api/v1/service-records",
        json={
            "family_id": case["family_id"],
            "service_code": "002.0",
            "place": "home",
            "delivered_on": MONDAY.isoformat(),
            "outcome": "delivered",
            "case_id": case["id"],
        },
        headers=staff,
    )
    assert record.status_code == 201, record.text

    closed = await cases.client.post(f"/api/v1/referrals/{referral_id}/close", headers=cases.worker)
    assert closed.json()["status"] == "closed"
    assert (await cases.client.get(url, headers=staff)).status_code == 404
    assert (
        await cases.client.get(f"/api/v1/families/{case['family_id']}", headers=staff)
    ).status_code == 404


async def test_a_declined_referral_grants_nothing(cases, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    other = await create_provider(cases.client, admin, provider_body())
    stranger = bearer(token(make_token, "provider_staff", provider_id=other["id"]))
    case = await cases.reach(S.PLANNING)
    referral = (
        await cases.client.post(
            f"{CASES}/{case['id']}/referrals",
            json={"provider_id": provider["id"]},
            headers=cases.worker,
        )
    ).json()
    url = f"/api/v1/referrals/{referral['id']}"
    assert (await cases.client.post(f"{url}/accept", headers=stranger)).status_code == 404
    assert_problem(await cases.client.post(f"{url}/decline", json={}, headers=staff), 422)
    declined = await cases.client.post(
        f"{url}/decline", json={"reason": "немає місць"}, headers=staff
    )
    assert (declined.json()["status"], declined.json()["decline_reason"]) == (
        "declined",
        "немає місць",
    )
    assert_problem(await cases.client.post(f"{url}/accept", headers=staff), 409)
    assert (await cases.client.get(f"{CASES}/{case['id']}", headers=staff)).status_code == 404


# --- caseload ------------------------------------------------------------------------------------


async def test_the_caseload_counts_what_a_manager_needs(cases, clock, officer, make_token):
    await cases.reach(S.ACTIVE)
    await cases.reach(S.REFERRED)  # assigned to worker-1
    await cases.open()  # unassigned
    closed = await cases.reach(S.CLOSED)
    assert closed["status"] == "closed"
    clock.day = MONDAY + timedelta(days=20)  # the visit and the open assessments are overdue
    load = (await cases.client.get("/api/v1/caseload", headers=officer)).json()
    assert load["as_of"] == clock.day.isoformat()
    (worker,) = load["workers"]
    assert (
        worker["worker_sub"],
        worker["open_cases"],
        worker["visits_overdue"],
        worker["assessments_overdue"],
    ) == ("worker-1", 2, 1, 1)
    (hromada,) = load["hromadas"]
    assert (
        hromada["hromada_code"],
        hromada["open_cases"],
        hromada["unassigned"],
        hromada["workers"],
    ) == (KYIV, 3, 1, 1)
    irpin = bearer(token(make_token, "community_officer", territory=IRPIN))
    assert (await cases.client.get("/api/v1/caseload", headers=irpin)).json()["hromadas"] == []


async def test_a_provider_is_not_shown_the_caseload(cases, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    for headers in (
        bearer(token(make_token, "provider_staff", provider_id=provider["id"])),
        bearer(token(make_token, "integration", provider_id=provider["id"], scope="cases:read")),
    ):
        assert_problem(await cases.client.get("/api/v1/caseload", headers=headers), 403)


# --- referral checks -----------------------------------------------------------------------------


async def _refer(cases: Cases, case: dict[str, Any], **body: Any) -> httpx.Response:
    return await cases.client.post(
        f"{CASES}/{case['id']}/referrals", json=body, headers=cases.worker
    )


async def test_a_referral_is_for_a_service_the_provider_offers(cases, make_token, connection):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())  # 002.0, 012.0
    case = await cases.reach(S.PLANNING)
    before = (await cases.get(case))["version"]

    problem = assert_problem(
        await _refer(cases, case, provider_id=provider["id"], service_code="015.1"), 422
    )
    assert "015.1" in problem["detail"]
    assert provider["id"] in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["body.service_code"]
    assert (problem["provider_id"], problem["service_code"]) == (provider["id"], "015.1")

    measure = await cases.client.post(
        f"{CASES}/{case['id']}/measures",
        json={
            "description": "догляд вдома",
            "service_code": "015.1",
            "responsible": "worker-1",
            "due_on": (MONDAY + timedelta(days=20)).isoformat(),
        },
        headers=cases.worker,
    )
    assert measure.status_code == 201, measure.text
    by_measure = await _refer(
        cases, case, provider_id=provider["id"], measure_id=measure.json()["id"]
    )
    problem = assert_problem(by_measure, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.measure_id"]
    assert "015.1" in problem["errors"][0]["message"]

    pending = await create_provider(cases.client, admin, provider_body(), activate=False)
    problem = assert_problem(
        await _refer(cases, case, provider_id=pending["id"], service_code="002.0"), 422
    )
    assert "pending" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["body.provider_id"]
    count = "SELECT count(*) FROM referrals"
    assert int((await connection.execute(text(count))).scalar_one()) == 0
    assert (await cases.get(case))["version"] == before + 1  # only the measure changed it


async def test_one_open_referral_per_provider_and_need(cases, make_token):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    case = await cases.reach(S.ACTIVE)
    first = await _refer(cases, case, provider_id=provider["id"], service_code="002.0")
    assert first.status_code == 201, first.text
    first_id = first.json()["id"]

    again = await _refer(
        cases, case, provider_id=provider["id"], service_code="002.0", note="ще раз"
    )
    problem = assert_problem(again, 409)
    assert problem["existing_referral_id"] == first_id
    assert first_id in problem["detail"]
    assert "002.0" in problem["detail"]

    # another need of the same provider, or no named service, is a referral of its own
    other = await _refer(cases, case, provider_id=provider["id"], service_code="012.0")
    assert other.status_code == 201, other.text
    unnamed = await _refer(cases, case, provider_id=provider["id"])
    assert unnamed.status_code == 201, unnamed.text
    unnamed_again = assert_problem(await _refer(cases, case, provider_id=provider["id"]), 409)
    assert unnamed_again["existing_referral_id"] == unnamed.json()["id"]

    # an accepted referral is still open; a declined one no longer is
    accepted = await cases.client.post(f"/api/v1/referrals/{first_id}/accept", headers=staff)
    assert accepted.status_code == 200
    assert_problem(await _refer(cases, case, provider_id=provider["id"], service_code="002.0"), 409)
    declined = await cases.client.post(
        f"/api/v1/referrals/{other.json()['id']}/decline",
        json={"reason": "немає місць"},
        headers=staff,
    )
    assert declined.status_code == 200
    again = await _refer(cases, case, provider_id=provider["id"], service_code="012.0")
    assert again.status_code == 201, again.text


async def test_the_database_holds_one_open_referral_per_need(cases, make_token, connection):
    """Whatever writes referrals, the partial unique index of migration 0007 refuses a second
    open one for the same case, provider and service."""
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    case = await cases.reach(S.PLANNING)
    first = (await _refer(cases, case, provider_id=provider["id"], service_code="002.0")).json()
    duplicate = text(
        "INSERT INTO referrals (id, case_id, provider_id, service_code, status, created_by) "
        "VALUES (gen_random_uuid(), :case, :provider, '002.0', :status, 'x')"
    )
    params = {"case": case["id"], "provider": provider["id"]}
    with pytest.raises(IntegrityError, match="uq_referrals_open_provider_service"):
        async with connection.begin_nested():
            await connection.execute(duplicate, {**params, "status": "pending"})
    async with connection.begin_nested():  # a closed one beside it is history
        await connection.execute(duplicate, {**params, "status": "closed"})
    assert first["status"] == "pending"


# --- nothing of a case before it was received ---------------------------------------------------


async def test_nothing_of_a_case_is_dated_before_it_was_received(cases, clock):
    case = await cases.reach(S.ACTIVE)  # received on MONDAY
    day_before = (MONDAY - timedelta(days=1)).isoformat()
    url = f"{CASES}/{case['id']}"
    visit = await cases.client.post(
        f"{url}/visits", json={"visited_on": day_before, "kind": "home"}, headers=cases.worker
    )
    problem = assert_problem(visit, 422)
    assert [e["field"] for e in problem["errors"]] == ["body.visited_on"]
    assert MONDAY.isoformat() in problem["errors"][0]["message"]
    review = await cases.client.post(
        f"{url}/reviews",
        json={"reviewed_on": day_before, "outcome": "progressing"},
        headers=cases.worker,
    )
    assert [e["field"] for e in assert_problem(review, 422)["errors"]] == ["body.reviewed_on"]
    measure = await cases.client.post(
        f"{url}/measures",
        json={"description": "x", "responsible": "worker-1", "due_on": day_before},
        headers=cases.worker,
    )
    assert [e["field"] for e in assert_problem(measure, 422)["errors"]] == ["body.due_on"]
    assert (await cases.get(case))["version"] == case["version"]  # nothing was written

    on_the_day = await cases.client.post(
        f"{url}/visits",
        json={"visited_on": MONDAY.isoformat(), "kind": "home"},
        headers=cases.worker,
    )
    assert on_the_day.status_code == 201, on_the_day.text

    case = await cases.get(case)
    (planned,) = case["plan"]["measures"]
    path = f"measures/{planned['id']}"
    moved_back = await cases.send(case, path, {"due_on": day_before}, method="PATCH")
    assert [e["field"] for e in assert_problem(moved_back, 422)["errors"]] == ["body.due_on"]
    for empty in ({}, {"due_on": None}, {"status": None}):
        assert_problem(await cases.send(case, path, empty, method="PATCH"), 422)
    later = (MONDAY + timedelta(days=45)).isoformat()
    case = await cases.do(case, path, {"due_on": later}, method="PATCH")
    assert [(m["due_on"], m["status"]) for m in case["plan"]["measures"]] == [(later, "planned")]
    case = await cases.do(case, path, {"status": "in_progress"}, method="PATCH")
    assert [(m["due_on"], m["status"]) for m in case["plan"]["measures"]] == [
        (later, "in_progress")
    ]


# --- late reporting after a referral closed ------------------------------------------------------


async def test_a_closed_referral_leaves_the_provider_its_late_reports(cases, make_token, clock):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    case = await cases.reach(S.ACTIVE)
    referral = (await _refer(cases, case, provider_id=provider["id"], service_code="002.0")).json()
    await cases.client.post(f"/api/v1/referrals/{referral['id']}/accept", headers=staff)
    closed = await cases.client.post(
        f"/api/v1/referrals/{referral['id']}/close", headers=cases.worker
    )
    assert closed.json()["status"] == "closed"

    clock.advance(30)
    body = {
        "family_id": case["family_id"],
        "service_code": "002.0",
        "place": "home",
        "delivered_on": MONDAY.isoformat(),
        "outcome": "delivered",
        "case_id": case["id"],
        "external_ref": "late-1",
    }
    late = await cases.client.post("/api/v1/service-records", json=body, headers=staff)
    assert late.status_code == 201, late.text
    after = {
        **body,
        "delivered_on": (MONDAY + timedelta(days=1)).isoformat(),
        "external_ref": "late-2",
    }
    problem = assert_problem(
        await cases.client.post("/api/v1/service-records", json=after, headers=staff), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["body.delivered_on"]


async def test_a_referral_closed_before_it_was_accepted_names_no_case_of_the_provider(
    cases, make_token, officer
):
    """A referral closed while pending never gave the provider the case: a record naming
    that case is refused even though the family is linked."""
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    case = await cases.reach(S.ACTIVE)
    referral = (await _refer(cases, case, provider_id=provider["id"], service_code="002.0")).json()
    await cases.client.post(f"/api/v1/referrals/{referral['id']}/close", headers=cases.worker)
    linked = await cases.client.post(
        f"/api/v1/families/{case['family_id']}/providers",
        json={"provider_id": provider["id"], "reason": "serves the family"},
        headers=officer,
    )
    assert linked.status_code == 201, linked.text
    body = {
        "family_id": case["family_id"],
        "service_code": "002.0",
        "place": "home",
        "delivered_on": MONDAY.isoformat(),
        "outcome": "delivered",
        "case_id": case["id"],
    }
    problem = assert_problem(
        await cases.client.post("/api/v1/service-records", json=body, headers=staff), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["body.case_id"]


# --- a provider's own system ---------------------------------------------------------------------


async def test_a_providers_system_sees_cases_as_the_provider_does(cases, make_token):
    """An integration client whose token names a provider reads only the cases referred to
    that provider, in the provider's shapes, and works none."""
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    system = bearer(
        token(
            make_token,
            "integration",
            provider_id=provider["id"],
            scope="cases:read cases:write",
        )
    )
    unrelated = await cases.reach(S.ACTIVE)
    case = await cases.reach(S.ACTIVE)
    referral = (await _refer(cases, case, provider_id=provider["id"], service_code="002.0")).json()
    assert (await cases.client.get(f"{CASES}/{case['id']}", headers=system)).status_code == 404
    await cases.client.post(f"/api/v1/referrals/{referral['id']}/accept", headers=staff)

    listed = (await cases.client.get(CASES, headers=system)).json()["items"]
    assert [c["id"] for c in listed] == [case["id"]]
    assert "summary" not in listed[0]
    assert (await cases.client.get(f"{CASES}/{unrelated['id']}", headers=system)).status_code == 404
    history = (await cases.client.get(f"{CASES}/{case['id']}/history", headers=system)).json()
    assert {key for item in history["items"] for key in item} == {
        "version",
        "from_status",
        "to_status",
        "at",
    }
    seen = await cases.get(case, headers=system)
    moved = await cases.send(seen, "transitions", {"to": "review"}, headers=system)
    assert_problem(moved, 403)
    opened = await cases.client.post(
        CASES, json={"family_id": case["family_id"], "source": "application"}, headers=system
    )
    assert_problem(opened, 403)


async def test_closing_a_case_closes_its_referrals_as_new_versions_noting_what_changed(
    cases, connection, make_token
):
    admin = bearer(token(make_token, "ministry_admin"))
    provider = await create_provider(cases.client, admin, provider_body())
    case = await cases.reach(S.PLANNING)
    referred = await cases.client.post(
        f"{CASES}/{case['id']}/referrals",
        json={"provider_id": provider["id"], "service_code": "002.0"},
        headers=cases.worker,
    )
    assert referred.status_code == 201, referred.text
    referral = referred.json()
    case = (await cases.client.get(f"{CASES}/{case['id']}", headers=cases.worker)).json()
    await cases.move(case, S.CLOSED, reason="сім'я виїхала", closure_reason="no_grounds")

    closed = await cases.client.get("/api/v1/referrals", headers=cases.worker)
    (after,) = [r for r in closed.json()["items"] if r["id"] == referral["id"]]
    assert (after["status"], after["version"]) == ("closed", referral["version"] + 1)
    changed = await connection.scalar(
        text(
            "SELECT changed_fields FROM record_changes WHERE resource_type = 'referral' "
            "AND resource_id = :id AND version = :v"
        ),
        {"id": referral["id"], "v": after["version"]},
    )
    assert sorted(changed) == ["closed_at", "status"]
