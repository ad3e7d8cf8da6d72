"""Aggregate reports: who counts what (the analyst the country, a regional officer their
oblast, a community officer their hromada, no one else), small counts suppressed through the
API so that the published totals do not give them back, k from the setting, one audit event
per report naming no record, and the parameters' refusals."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.db.engine import Database
from registry.db.provision import as_role
from registry.db.reach import switch_row_security
from registry.domain.reports.rules import Protected
from registry.main import ROW_SECURITY_PROBE, create_app
from tests.support import (
    BUCHA,
    BUCHA_RAION,
    FAMILIES,
    IRPIN,
    KYIV_OBLAST,
    LVIV,
    LVIV_OBLAST,
    RECORDS,
    RUNTIME_ROLE,
    assert_problem,
    bearer,
    clock_set_to,
    create_family,
    create_provider,
    enrol,
    error_fields,
    family,
    if_match,
    money,
    open_programme,
    provider_body,
    token,
)
from tests.support import record as service_record
from tests.unit.test_report_suppression import recovered

REPORTS = "/api/v1/reports"
RECORDS_BATCH = f"{RECORDS}/batch"
ALL_REPORTS = (
    "families",
    "cases",
    "service-records",
    "providers",
    "support-cases",
    "programmes",
)


def _officer(make_token: Any, hromada: str) -> dict[str, str]:
    return bearer(token(make_token, "community_officer", territory=hromada))


async def _families(client: Any, make_token: Any, counts: dict[str, dict[str, int]]) -> None:
    """Families registered per hromada, each of one recipient category (so that a row's
    total is the sum of its cells, and the attacker's equations are exact)."""
    for hromada, by_category in counts.items():
        officer = _officer(make_token, hromada)
        for category, count in by_category.items():
            for _ in range(count):
                await create_family(
                    client, officer, family(hromada, categories=[category], factors=[])
                )


#: Bucha and Irpin are hromadas of Bucha raion, Kyiv oblast; Lviv a hromada of Lviv oblast.
WORLD = {
    BUCHA: {"idp": 6, "large_family": 2},
    IRPIN: {"idp": 5, "large_family": 5},
    LVIV: {"idp": 7, "large_family": 1},
}


@pytest.fixture
async def world(client: Any, make_token: Any) -> None:
    await _families(client, make_token, WORLD)


def _table(body: dict[str, Any], name: str) -> dict[str, Any]:
    (table,) = [t for t in body["tables"] if t["name"] == name]
    return table


def _cells(table: dict[str, Any], key: str) -> dict[str, int | None]:
    """Each row's count in column ``key``, by the row's territory code."""
    return {row["territory"]["code"]: row["cells"][key]["count"] for row in table["rows"]}


def _as_published(table: dict[str, Any]) -> Protected:
    """The table as a reader has it: the figures shown, and which are withheld (their
    values unknown: zero here, which the attacker never reads)."""
    keys = [column["key"] for column in table["columns"]]
    lines = [(row["cells"], row["total"]) for row in table["rows"]]
    lines.append((table["totals"]["cells"], table["totals"]["total"]))
    grid, hidden = [], set()
    for i, (cells, total) in enumerate(lines):
        figures = [cells[key] for key in keys] + [total]
        for j, figure in enumerate(figures):
            assert figure["suppressed"] is (figure["count"] is None)
            if figure["suppressed"]:
                hidden.add((i, j))
        grid.append(tuple(figure["count"] or 0 for figure in figures))
    return Protected(tuple(grid), frozenset(hidden))


async def _report(client: Any, headers: dict[str, str], name: str, **params: Any) -> Any:
    answer = await client.get(f"{REPORTS}/{name}", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- reach ---------------------------------------------------------------------------------


async def test_the_analyst_counts_the_country_by_oblast(client, make_token, world) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(client, analyst, "families")
    assert body["group_by"] == "oblast"
    assert body["territory"] is None
    assert body["min_cell"] == 5
    table = _table(body, "recipient_category")
    idp = _cells(table, "idp")
    assert set(idp) == {KYIV_OBLAST, LVIV_OBLAST}
    assert idp[KYIV_OBLAST] in (11, None)
    assert idp[LVIV_OBLAST] in (7, None)
    # Lviv oblast's one large family is withheld, and the 7 of Kyiv oblast beside it in its
    # column (else the column's total would give it back)
    assert _cells(table, "large_family") == {KYIV_OBLAST: None, LVIV_OBLAST: None}
    assert all(row["territory"]["name"] for row in table["rows"])
    assert recovered(_as_published(table)) == {}


async def test_a_regional_officer_counts_only_their_oblast(client, make_token, world) -> None:
    regional = bearer(token(make_token, "regional_officer", territory=KYIV_OBLAST))
    body = await _report(client, regional, "families")
    assert body["group_by"] == "raion"  # the level below the oblast
    assert _cells(_table(body, "recipient_category"), "idp") == {BUCHA_RAION: 11}
    by_hromada = await _report(client, regional, "families", group_by="hromada")
    assert set(_cells(_table(by_hromada, "recipient_category"), "idp")) == {BUCHA, IRPIN}
    outside = await client.get(f"{REPORTS}/families", params={"territory": LVIV}, headers=regional)
    assert_problem(outside, 403)


async def test_a_community_officer_counts_only_their_hromada(client, make_token, world) -> None:
    officer = _officer(make_token, BUCHA)
    body = await _report(client, officer, "families")
    assert body["group_by"] == "hromada"
    table = _table(body, "recipient_category")
    assert set(_cells(table, "idp")) == {BUCHA}
    # one row: each column's total is that row's cell, withheld with it; and the row's total
    # less its 6 families of IDPs would give the 2 back, so the 6 is withheld too
    assert _cells(table, "large_family") == {BUCHA: None}
    assert _cells(table, "idp") == {BUCHA: None}
    assert table["totals"]["cells"]["large_family"] == {"count": None, "suppressed": True}
    assert recovered(_as_published(table)) == {}
    coarser = await client.get(
        f"{REPORTS}/families", params={"group_by": "oblast"}, headers=officer
    )
    assert "query.group_by" in error_fields(assert_problem(coarser, 422))
    other = await client.get(f"{REPORTS}/families", params={"territory": IRPIN}, headers=officer)
    assert_problem(other, 403)


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("social_worker", {"territory": BUCHA}),
        ("provider_staff", {"provider_id": "7b4cb7b0-4bd3-4bd1-9a43-6f6f3d7f38c1"}),
        ("military_liaison", {"unit_id": "0d5e1f63-3b8a-4c8e-8a3c-5a52e0ef2b11"}),
        ("auditor", {}),
    ],
)
async def test_other_roles_may_not_read_reports(client, make_token, role, claims) -> None:
    headers = bearer(token(make_token, role, **claims))
    for name in ALL_REPORTS:
        answer = await client.get(f"{REPORTS}/{name}", headers=headers)
        assert_problem(answer, 403)


async def test_a_providers_system_holding_the_scope_has_no_territory_to_count(
    client, make_token
) -> None:
    system = bearer(
        token(
            make_token,
            "integration",
            scope="reports:read",
            provider_id="7b4cb7b0-4bd3-4bd1-9a43-6f6f3d7f38c1",
        )
    )
    assert_problem(await client.get(f"{REPORTS}/families", headers=system), 403)


async def test_reports_count_beyond_the_row_level_reach_within_their_own_scope(
    fresh_database_url, settings, verifier, make_token
) -> None:
    """With row-level security on, the analyst reaches no personal row, and a community
    officer only their hromada's; a report still counts what its own scope admits, and no
    more."""
    owner = Database.connect(fresh_database_url, pool_size=2, max_overflow=0)
    runtime = Database.connect(as_role(fresh_database_url, RUNTIME_ROLE), pool_size=2)
    try:
        async with owner.engine.begin() as connection:
            await switch_row_security(connection, True)
        assert await runtime.detect_row_security(ROW_SECURITY_PROBE)
        app = create_app(settings, database=runtime, verifier=verifier, seal_audit=False)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            await _families(c, make_token, {BUCHA: {"idp": 6}, LVIV: {"idp": 5}})
            analyst = bearer(token(make_token, "ministry_analyst"))
            national = await _report(c, analyst, "families", group_by="hromada")
            assert _cells(_table(national, "recipient_category"), "idp") == {BUCHA: 6, LVIV: 5}
            bucha = await _report(c, _officer(make_token, BUCHA), "families")
            assert _cells(_table(bucha, "recipient_category"), "idp") == {BUCHA: 6}
    finally:
        await runtime.dispose()
        await owner.dispose()


async def test_the_families_counts_follow_every_write(client, make_token) -> None:
    """The families report reads counts kept by a trigger on families: a change of
    categories, an archiving and a move to another hromada are counted at the next read."""
    bucha, irpin = _officer(make_token, BUCHA), _officer(make_token, IRPIN)
    created = [
        await create_family(client, bucha, family(BUCHA, categories=["idp"], factors=[]))
        for _ in range(7)
    ]
    analyst = bearer(token(make_token, "ministry_analyst"))

    async def counted() -> dict[str, dict[str, int | None]]:
        body = await _report(client, analyst, "families", group_by="hromada")
        table = _table(body, "recipient_category")
        return {key: _cells(table, key) for key in ("idp", "large_family")}

    assert await counted() == {"idp": {BUCHA: 7}, "large_family": {BUCHA: 0}}
    first, second, third = created[:3]
    changed = await client.patch(
        f"{FAMILIES}/{first['id']}",
        json={"categories": ["idp", "large_family"]},
        headers=if_match(bucha, first["version"]),
    )
    assert changed.status_code == 200, changed.text
    archived = await client.post(
        f"{FAMILIES}/{second['id']}/archive", json={"reason": "переїхали за кордон"}, headers=bucha
    )
    assert archived.status_code == 200, archived.text
    moved = await client.post(
        f"{FAMILIES}/{third['id']}/relocation",
        json={"to_hromada_code": IRPIN, "address_line": "вул. Соборна, 1", "reason": "переїзд"},
        headers=if_match(bucha, third["version"]),
    )
    assert moved.status_code == 200, moved.text
    # 5 families of IDPs left in Bucha (one also large: withheld, with its complements)
    after = await counted()
    assert after["idp"][BUCHA] in (5, None)
    assert after["large_family"][BUCHA] is None
    assert after["idp"][IRPIN] is None  # the one that moved: 1
    for _ in range(4):
        await create_family(client, irpin, family(IRPIN, categories=["idp"], factors=[]))
    assert (await counted())["idp"][IRPIN] == 5


async def test_kept_counts_lose_no_change_to_concurrent_writes_and_folds(live, make_token) -> None:
    """Families registered at once while reports fold the changes, and a change committed
    after a fold that ran while it was being written: every one is counted, once."""
    officer = _officer(make_token, BUCHA)
    analyst = bearer(token(make_token, "ministry_analyst"))

    async def register() -> dict[str, Any]:
        return await create_family(
            live.client, officer, family(BUCHA, categories=["idp"], factors=[])
        )

    async def read() -> dict[str, Any]:
        return await _report(live.client, analyst, "families", group_by="hromada")

    results = await asyncio.gather(*(register() for _ in range(8)), *(read() for _ in range(4)))
    created = [r for r in results if "id" in r]
    assert len(created) == 8
    assert _cells(_table(await read(), "recipient_category"), "idp") == {BUCHA: 8}

    # a change written, not committed, while a report folds: left for the next fold
    async with live.database.engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            text("UPDATE families SET categories = ARRAY['large_family'] WHERE id = :id"),
            {"id": created[0]["id"]},
        )
        during = _table(await read(), "recipient_category")
        assert _cells(during, "idp") == {BUCHA: 8}
        await transaction.commit()
    after = _table(await read(), "recipient_category")
    # 7 and 1: the 1 withheld, and the 7 with it (the row's total of 8 would give it back)
    assert _cells(after, "large_family") == {BUCHA: None}
    assert after["rows"][0]["total"] == {"count": 8, "suppressed": False}
    assert await live.count("SELECT count(*) FROM report_count_changes") == 0
    assert (
        await live.count(
            "SELECT counted FROM report_counts WHERE subject = 'families' "
            "AND hromada_code = :hromada AND kind = 'recipient_category' AND code = 'idp'",
            hromada=BUCHA,
        )
        == 7
    )


# --- suppression -------------------------------------------------------------------------------


async def test_small_counts_are_withheld_and_the_totals_do_not_give_them_back(
    client, make_token, world
) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(client, analyst, "families", group_by="hromada")
    table = _table(body, "recipient_category")
    large = _cells(table, "large_family")
    assert large[BUCHA] is None
    assert large[LVIV] is None
    published = _as_published(table)
    # every withheld figure could be anything the published relations allow
    assert len(published.hidden) >= 4
    assert recovered(published) == {}
    # and what is shown is true
    rows = {row["territory"]["code"]: row for row in table["rows"]}
    assert set(rows) == set(WORLD)
    for code, by_category in WORLD.items():
        for category, count in by_category.items():
            assert rows[code]["cells"][category]["count"] in (count, None)
        assert rows[code]["total"]["count"] in (sum(by_category.values()), None)


async def test_k_is_the_setting(client, app, make_token, world) -> None:
    """Bucha's 2 large families: withheld under the default k of 5, shown under k = 2."""
    officer = _officer(make_token, BUCHA)
    default = await _report(client, officer, "families")
    assert _cells(_table(default, "recipient_category"), "large_family") == {BUCHA: None}
    original = app.state.settings
    app.state.settings = original.model_copy(update={"report_min_cell": 2})
    try:
        body = await _report(client, officer, "families")
    finally:
        app.state.settings = original
    assert body["min_cell"] == 2
    table = _table(body, "recipient_category")
    assert _cells(table, "large_family") == {BUCHA: 2}
    assert _cells(table, "idp") == {BUCHA: 6}
    assert table["totals"]["total"] == {"count": 8, "suppressed": False}


def test_k_outside_its_range_is_refused_at_startup(settings) -> None:
    for wrong in (1, 101):
        with pytest.raises(ValueError, match="report_min_cell"):
            type(settings)(report_min_cell=wrong)


# --- audit ---------------------------------------------------------------------------------


async def test_each_report_read_is_one_audit_event_naming_no_record(
    client, connection, make_token, world
) -> None:
    analyst = bearer(token(make_token, "ministry_analyst", sub="analyst-7"))
    for name in ALL_REPORTS:
        await _report(client, analyst, name)
    events = (
        await connection.execute(
            text(
                "SELECT action, resource_type, resource_ids, outcome FROM audit_events "
                "WHERE actor = 'analyst-7' ORDER BY id"
            )
        )
    ).all()
    assert [tuple(e) for e in events] == [
        (f"get_{name.replace('-', '_')}_report", "report", [], "success") for name in ALL_REPORTS
    ]


# --- parameters ------------------------------------------------------------------------------


async def test_group_by_and_territory_are_validated(client, make_token) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    for params, field in (
        ({"group_by": "county"}, "query.group_by"),
        ({"territory": "UA123"}, "query.territory"),
        ({"territory": "UA99999999999999999"}, "query.territory"),
    ):
        answer = await client.get(f"{REPORTS}/cases", params=params, headers=analyst)
        assert field in error_fields(assert_problem(answer, 422)), params


async def test_the_analyst_may_narrow_to_a_territory(client, make_token, world) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(client, analyst, "families", territory=KYIV_OBLAST)
    assert body["territory"] == KYIV_OBLAST
    assert body["group_by"] == "raion"
    assert _cells(_table(body, "recipient_category"), "idp") == {BUCHA_RAION: 11}


async def test_the_period_of_service_records_is_validated(client, make_token) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    for params, field in (
        ({"from_month": "2026-05", "to_month": "2026-04"}, "query.to_month"),
        ({"from_month": "2023-01", "to_month": "2026-04"}, "query.from_month"),
        ({"from_month": "2026-13"}, "query.from_month"),
    ):
        answer = await client.get(f"{REPORTS}/service-records", params=params, headers=analyst)
        assert field in error_fields(assert_problem(answer, 422)), params
    body = await _report(
        client, analyst, "service-records", from_month="2026-01", to_month="2026-03"
    )
    assert body["period"] == {"from_month": "2026-01", "to_month": "2026-03"}
    assert [t["name"] for t in body["tables"]] == ["2026-01", "2026-02", "2026-03"]


async def test_service_records_by_month_and_code_follow_submissions_and_corrections(
    client, admin, make_token
) -> None:
    """Records are counted by the month they were delivered in and their service, from the
    counts kept as they are written: a voided record no longer counts, an amended one counts
    under its new service."""
    provider = await create_provider(
        client,
        admin,
        provider_body(
            services=[
                {"service_code": "002.0", "frequency": "periodic", "places": ["home"]},
                {"service_code": "012.0", "frequency": "crisis", "places": ["home"]},
            ]
        ),
    )
    staff = bearer(token(make_token, "provider_staff", provider_id=provider["id"]))
    officer = _officer(make_token, BUCHA)
    served = await create_family(client, officer, family(BUCHA))
    linked = await client.post(
        f"{FAMILIES}/{served['id']}/providers",
        json={"provider_id": provider["id"], "reason": "referred"},
        headers=officer,
    )
    assert linked.status_code == 201, linked.text
    delivered = date.today() - timedelta(days=3)
    records = [
        service_record(served["id"], delivered_on=delivered.isoformat(), external_ref=f"r-{n}")
        for n in range(7)
    ]
    batch = await client.post(RECORDS_BATCH, json={"records": records}, headers=staff)
    assert batch.status_code == 200, batch.text
    assert batch.json()["accepted"] == 7
    ids = [result["id"] for result in batch.json()["results"]]
    voided = await client.post(
        f"{RECORDS}/{ids[0]}/void", json={"reason": "entered twice"}, headers=staff
    )
    assert voided.status_code == 200, voided.text
    amended = await client.post(
        f"{RECORDS}/{ids[1]}/amendments",
        json={"reason": "crisis, not counselling", "service_code": "012.0"},
        headers={**staff, "If-Match": '"1"'},
    )
    assert amended.status_code == 200, amended.text
    month = delivered.strftime("%Y-%m")
    body = await _report(client, officer, "service-records", from_month=month, to_month=month)
    (table,) = body["tables"]
    assert table["name"] == month
    assert [c["key"] for c in table["columns"]] == ["002.0", "012.0"]
    # 5 counselling sessions are shown; the 1 crisis intervention is withheld, and so is the
    # 5 beside it (the row's total would give it back)
    assert _cells(table, "012.0") == {BUCHA: None}
    assert _cells(table, "002.0") == {BUCHA: None}
    assert table["rows"][0]["total"]["count"] in (6, None)
    assert recovered(_as_published(table)) == {}


# --- the other reports ---------------------------------------------------------------------


async def test_cases_by_status_and_overdue(client, app, make_token) -> None:
    """Five cases received yesterday: referred, and past their assessment's due day (ten
    working days) when counted forty days later, by the cases' own deadline rule."""
    officer = _officer(make_token, BUCHA)
    received = date.today() - timedelta(days=1)
    for _ in range(5):
        created = await create_family(client, officer, family(BUCHA))
        opened = await client.post(
            "/api/v1/cases",
            json={
                "family_id": created["id"],
                "source": "report",
                "reporter": {"kind": "school", "name": "Школа №5"},
                "summary": "дитина пропускає школу",
                "received_on": received.isoformat(),
            },
            headers=officer,
        )
        assert opened.status_code == 201, opened.text
    today = await _report(client, officer, "cases")
    assert [t["name"] for t in today["tables"]] == ["status", "overdue"]
    assert _cells(_table(today, "status"), "referred") == {BUCHA: 5}
    assert _table(today, "overdue")["rows"] == []
    with clock_set_to(app, received + timedelta(days=40)):
        later = await _report(client, officer, "cases")
    overdue = _table(later, "overdue")
    assert [c["key"] for c in overdue["columns"]] == ["visit", "assessment", "duration"]
    assert _cells(overdue, "assessment") == {BUCHA: 5}
    assert _cells(overdue, "visit") == {BUCHA: 0}
    assert later["as_of"] == (received + timedelta(days=40)).isoformat()


async def test_providers_by_sector_per_status(client, make_token) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(client, analyst, "providers")
    assert [t["name"] for t in body["tables"]] == ["pending", "active", "excluded"]
    assert [c["key"] for c in body["tables"][0]["columns"]] == ["state", "communal", "non_state"]


async def test_support_cases_by_unit_and_measure(client, make_token) -> None:
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(client, analyst, "support-cases", status="open")
    assert [t["name"] for t in body["tables"]] == ["unit", "measure"]
    bad = await client.get(f"{REPORTS}/support-cases", params={"status": "lost"}, headers=analyst)
    assert "query.status" in error_fields(assert_problem(bad, 422))


async def test_programme_money_is_decimal_text_and_hidden_with_few_families(
    client, admin, make_token
) -> None:
    programme = await open_programme(
        client,
        admin,
        {BUCHA: {"amount": money("1000.00")}, IRPIN: {"amount": money("2500.50")}},
    )
    for hromada, count in ((BUCHA, 2), (IRPIN, 6)):
        officer = _officer(make_token, hromada)
        for _ in range(count):
            created = await create_family(client, officer, family(hromada))
            await enrol(client, officer, programme["id"], created["id"])
            paid = await client.post(
                f"/api/v1/programmes/{programme['id']}/distributions",
                json={
                    "family_id": created["id"],
                    "amount": money("10.00"),
                    "distributed_on": date.today().isoformat(),
                    "handed_over_by": "Олена Коваль",
                },
                headers=officer,
            )
            assert paid.status_code == 201, paid.text
    analyst = bearer(token(make_token, "ministry_analyst"))
    body = await _report(
        client, analyst, "programmes", group_by="hromada", programme_id=programme["id"]
    )
    (report,) = body["programmes"]
    assert report["programme"]["currency"] == "USD"
    rows = {row["territory"]["code"]: row for row in report["rows"]}
    assert rows[BUCHA]["allocated"] == {"amount": "1000.00", "currency": "USD", "suppressed": False}
    # two families: what they received is withheld with their count
    assert rows[BUCHA]["distributed"] == {"amount": None, "currency": "USD", "suppressed": True}
    assert rows[BUCHA]["families_enrolled"] == {"count": None, "suppressed": True}
    # and Irpin's with it (else the total would give Bucha's back); allocations stay public
    assert rows[IRPIN]["distributed"]["suppressed"] is True or (
        report["totals"]["distributed"]["suppressed"] is True
    )
    assert report["totals"]["allocated"] == {
        "amount": "3500.50",
        "currency": "USD",
        "suppressed": False,
    }
