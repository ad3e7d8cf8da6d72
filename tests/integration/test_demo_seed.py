"""The demo seed (``registry seed --demo``): families valid, searchable and placed where they
belong; cases in every status that keep the rules of a case, with overdue ones for the demo
social worker, and referrals and service records for the demo provider; military units with
their servicemembers and support cases, overdue ones for the demo liaison's unit; community
programmes whose books balance, with enrolments, distributions and stock, and the friendly
communities of Kyiv and Bucha."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import text

from registry.cli import demo_tokens
from registry.db.engine import Database
from registry.demo.cases import (
    DEMO_OFFICER,
    DEMO_STAFF,
    DEMO_WORKER,
    KYIV_CORE,
    DemoCases,
    seed_demo_cases,
)
from registry.demo.families import DEMO_ACTOR, feminine_surname, patronymic, seed_demo_families
from registry.demo.military import (
    DEMO_LIAISON,
    DEMO_UNIT_CORE,
    DEMO_UNIT_ID,
    DemoMilitary,
    seed_demo_military,
)
from registry.demo.programmes import (
    BUCHA,
    COMMUNITIES,
    DemoProgrammes,
    seed_demo_programmes,
)
from registry.demo.providers import DEMO_PROVIDER_ID, seed_demo_providers
from registry.domain.cases.rules import CaseStatus
from registry.domain.families.queries import person_values
from registry.domain.programmes.rules import FamilyFacts, Member, unmet_conditions
from registry.domain.shared.identifiers import validate_rnokpp, validate_unzr
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from tests.support import (
    AID_STOCK,
    IDENTIFIER_KEYS,
    KYIV,
    PROGRAMMES,
    bearer,
    run_cli,
    token,
)

FAMILIES = 200
FEMALE_PATRONYMIC = re.compile(r".+(івна|ївна|вна)")
MALE_PATRONYMIC = re.compile(r".+(ович|йович|ич|іч)")  # Ілля → Ілліч


async def _seed(connection, families: int = FAMILIES) -> int:
    session = Database.bound_to(connection).session()
    added = await seed_demo_families(session, IDENTIFIER_KEYS, families=families)
    await session.flush()
    return added


async def _persons(connection):
    """The demo persons, their identifiers opened."""
    rows = (
        (
            await connection.execute(
                text(
                    "SELECT p.* FROM persons p JOIN families f ON f.id = p.family_id "
                    "WHERE f.created_by = :actor"
                ),
                {"actor": DEMO_ACTOR},
            )
        )
        .mappings()
        .all()
    )
    return [person_values(row, IDENTIFIER_KEYS) for row in rows]


async def test_seeding_adds_the_families_once(connection):
    assert await _seed(connection) == FAMILIES
    assert await _seed(connection) == 0
    count = await connection.scalar(
        text("SELECT count(*) FROM families WHERE created_by = :actor"), {"actor": DEMO_ACTOR}
    )
    assert count == FAMILIES
    sizes = (
        (
            await connection.execute(
                text(
                    "SELECT count(*) FROM persons p JOIN families f ON f.id = p.family_id "
                    "WHERE f.created_by = :actor GROUP BY f.id"
                ),
                {"actor": DEMO_ACTOR},
            )
        )
        .scalars()
        .all()
    )
    assert len(sizes) == FAMILIES
    assert min(sizes) >= 1
    assert max(sizes) <= 6


async def test_members_have_valid_names_and_identifiers(connection):
    await _seed(connection)
    persons = await _persons(connection)
    assert persons
    for person in persons:
        for part in ("last_name", "first_name", "patronymic"):
            assert clean_name_part(person[part]) == person[part]
        if person["rnokpp"] is not None:
            validate_rnokpp(person["rnokpp"], birth_date=person["birth_date"], sex=person["sex"])
            assert not person["rnokpp_refused"]
        if person["unzr"] is not None:
            validate_unzr(person["unzr"], birth_date=person["birth_date"])
    adults = [p for p in persons if p["relation"] != "child"]
    with_rnokpp = sum(p["rnokpp"] is not None for p in adults) / len(adults)
    assert 0.5 < with_rnokpp < 0.85
    assert 0.4 < sum(p["unzr"] is not None for p in persons) / len(persons) < 0.8


async def test_patronymics_agree_in_sex_and_children_share_the_fathers(connection):
    await _seed(connection)
    persons = await _persons(connection)
    for person in persons:
        pattern = FEMALE_PATRONYMIC if person["sex"] == "female" else MALE_PATRONYMIC
        assert pattern.fullmatch(person["patronymic"]), person["patronymic"]
    by_family: dict[object, list] = {}
    for person in persons:
        by_family.setdefault(person["family_id"], []).append(person)
    for members in by_family.values():
        fathers = [m for m in members if m["sex"] == "male" and m["relation"] in ("head", "spouse")]
        children = [m for m in members if m["relation"] == "child"]
        couple = any(m["relation"] == "spouse" for m in members)
        if couple and len(fathers) == 1 and children:
            father = fathers[0]["first_name"]
            assert all(c["patronymic"] == patronymic(father, c["sex"]) for c in children)


@pytest.mark.parametrize(
    ("father", "male", "female"),
    [
        ("Петро", "Петрович", "Петрівна"),
        ("Іван", "Іванович", "Іванівна"),
        ("Сергій", "Сергійович", "Сергіївна"),
        ("Олексій", "Олексійович", "Олексіївна"),
        ("Микола", "Миколайович", "Миколаївна"),
        ("Ілля", "Ілліч", "Іллівна"),
        ("Григорій", "Григорович", "Григорівна"),
        ("Яків", "Якович", "Яківна"),
        ("Лука", "Лукич", "Луківна"),
        ("Василь", "Васильович", "Василівна"),
        ("Демʼян", "Демʼянович", "Демʼянівна"),
    ],
)
def test_patronymics_follow_the_fathers_name(father, male, female):
    assert (patronymic(father, "male"), patronymic(father, "female")) == (male, female)


@pytest.mark.parametrize(
    ("masculine", "feminine"),
    [
        ("Ковальський", "Ковальська"),
        ("Білий", "Біла"),
        ("Шевченко", "Шевченко"),
        ("Ковальчук", "Ковальчук"),
        ("Прокопʼюк", "Прокопʼюк"),
        ("Григорʼєв", "Григорʼєва"),
    ],
)
def test_surnames_agree_in_sex_where_the_language_wants(masculine, feminine):
    assert feminine_surname(masculine) == feminine


async def test_families_lie_in_hromadas_with_their_oblast_and_raion(connection):
    await _seed(connection)
    wrong = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        JOIN territories h ON h.code = f.hromada_code
        LEFT JOIN territories r ON r.code = h.parent_code
        LEFT JOIN territories s ON s.code = f.settlement_code
        WHERE f.created_by = :actor AND NOT (
            CASE h.category
                WHEN 'K' THEN f.oblast_code = h.code AND f.raion_code IS NULL
                              AND f.settlement_code IS NULL
                WHEN 'H' THEN r.category = 'P' AND f.raion_code = r.code
                              AND f.oblast_code = r.parent_code
                              AND (f.settlement_code IS NULL
                                   OR s.parent_code = f.hromada_code)
                ELSE false
            END)
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert wrong == 0
    kyiv = await connection.scalar(
        text("SELECT count(*) FROM families WHERE created_by = :actor AND hromada_code = :kyiv"),
        {"actor": DEMO_ACTOR, "kyiv": KYIV},
    )
    assert 0.2 * FAMILIES < kyiv < 0.4 * FAMILIES
    members_elsewhere = await connection.scalar(
        text(
            "SELECT count(*) FROM persons p JOIN families f ON f.id = p.family_id "
            "WHERE f.created_by = :actor AND p.oblast_code <> f.oblast_code"
        ),
        {"actor": DEMO_ACTOR},
    )
    assert members_elsewhere == 0


async def test_categories_and_factors_are_known_codes(connection):
    await _seed(connection)
    unknown = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        WHERE f.created_by = :actor AND (
            NOT f.categories <@ ARRAY(SELECT code::text FROM recipient_categories)
            OR NOT f.factors <@ ARRAY(SELECT code::text FROM hardship_factors)
            OR cardinality(f.categories) > 3 OR cardinality(f.factors) > 3)
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert unknown == 0
    large_without_children = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        WHERE f.created_by = :actor AND 'large_family' = ANY (f.categories)
          AND (SELECT count(*) FROM persons p
               WHERE p.family_id = f.id AND p.relation = 'child') < 3
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert large_without_children == 0


async def test_search_keys_are_the_ones_the_api_computes(connection):
    await _seed(connection)
    for person in await _persons(connection):
        names = (person["last_name"], person["first_name"], person["patronymic"])
        assert person["name_key"] == name_key(*names)
        assert person["latin_key"] == latin_key(*names)


# --- demo cases, referrals and service records -------------------------------------------------


#: Enough families for every kind of demo case (a tenth of the demo's 3 000).
CASE_FAMILIES = 300
#: The tokens ``registry serve --demo`` prints, as the test issuer signs them.
DEMO_CLAIMS = {
    "social_worker": {"sub": DEMO_WORKER, "territory": KYIV},
    "community_officer": {"sub": DEMO_OFFICER, "territory": KYIV},
    "provider_staff": {"sub": DEMO_STAFF, "provider_id": DEMO_PROVIDER_ID},
    "military_liaison": {"sub": DEMO_LIAISON, "unit_id": DEMO_UNIT_ID},
}


async def _seed_families(connection, families: int = CASE_FAMILIES) -> None:
    session = Database.bound_to(connection).session()
    await seed_demo_providers(session, IDENTIFIER_KEYS)
    await seed_demo_families(session, IDENTIFIER_KEYS, families=families)
    await session.flush()


async def _seed_cases(connection) -> DemoCases:
    session = Database.bound_to(connection).session()
    cases = await seed_demo_cases(session)
    await session.flush()
    return cases


async def _seed_everything(connection) -> DemoCases:
    await _seed_families(connection)
    return await _seed_cases(connection)


async def _count(connection, sql: str) -> int:
    return int(await connection.scalar(text(sql)))


async def _cases(connection) -> list[tuple]:
    return [
        tuple(row)
        for row in await connection.execute(
            text("SELECT id, family_id, status, worker_sub, received_on FROM cases ORDER BY id")
        )
    ]


def _demo_token(make_token, role: str) -> dict[str, str]:
    return bearer(token(make_token, role, **DEMO_CLAIMS[role]))


def test_the_printed_demo_tokens_name_the_demo_cases_people(settings):
    """The demo cases are worked by the printed social worker, referred to the printed
    provider's staff: the tokens carry the subjects and confinement the test tokens use."""
    for role, jwt in demo_tokens(settings).items():
        if role in DEMO_CLAIMS:
            payload = jwt.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            assert {name: claims.get(name) for name in DEMO_CLAIMS[role]} == DEMO_CLAIMS[role]


async def test_demo_cases_are_added_once_and_the_same_each_time(connection):
    await _seed_families(connection)
    session = Database.bound_to(connection).session()
    first = await seed_demo_cases(session)
    made = await _cases(connection)
    await session.rollback()
    assert await _count(connection, "SELECT count(*) FROM cases") == 0

    again = await _seed_cases(connection)
    assert again == first
    assert first.cases >= len(KYIV_CORE)
    assert first.referrals
    assert first.service_records
    assert await _cases(connection) == made
    assert await _seed_cases(connection) == DemoCases(0, 0, 0)
    assert await _count(connection, "SELECT count(*) FROM cases") == first.cases


async def test_demo_cases_keep_the_rules_of_a_case(connection):
    """What the API would refuse, the demo does not hold either."""
    await _seed_everything(connection)
    broken = {
        "visit before the case was received or after today": """
            SELECT count(*) FROM case_visits v JOIN cases c ON c.id = v.case_id
            WHERE v.visited_on < c.received_on OR v.visited_on > current_date""",
        "measure due before the case was received": """
            SELECT count(*) FROM case_measures m JOIN cases c ON c.id = m.case_id
            WHERE m.due_on < c.received_on""",
        "status not the last transition's, or a version behind its history": """
            SELECT count(*) FROM cases c
            WHERE c.status <> (SELECT t.to_status FROM case_transitions t
                               WHERE t.case_id = c.id ORDER BY t.version DESC LIMIT 1)
               OR c.version < (SELECT max(t.version) FROM case_transitions t
                               WHERE t.case_id = c.id)""",
        "transition not allowed by the lifecycle": """
            SELECT count(*) FROM case_transitions t
            WHERE NOT (t.from_status, t.to_status) IN (VALUES
                ('referred', 'assessment'), ('assessment', 'planning'),
                ('planning', 'active'), ('active', 'review'), ('review', 'active'))
              AND NOT t.to_status IN ('suspended', 'transferred', 'closed')
              AND t.from_status IS NOT NULL""",
        "assessment without a worker": """
            SELECT count(*) FROM cases c
            WHERE c.status NOT IN ('referred', 'transferred') AND c.worker_sub IS NULL
              AND c.status <> 'closed'""",
        "planning or later without a completed assessment and a decision to provide": """
            SELECT count(*) FROM cases c
            WHERE c.status IN ('planning', 'active', 'review')
              AND (c.decision IS DISTINCT FROM 'provide' OR NOT EXISTS (
                   SELECT 1 FROM case_assessments a
                   WHERE a.case_id = c.id AND a.completed_at IS NOT NULL))""",
        "active without an agreed plan and a measure": """
            SELECT count(*) FROM cases c
            WHERE c.status IN ('active', 'review')
              AND (NOT EXISTS (SELECT 1 FROM case_plans p
                               WHERE p.case_id = c.id AND p.agreed_at IS NOT NULL)
                   OR NOT EXISTS (SELECT 1 FROM case_measures m WHERE m.case_id = c.id))""",
        "referral for a service the provider does not offer": """
            SELECT count(*) FROM referrals r
            WHERE NOT EXISTS (SELECT 1 FROM provider_services s
                              WHERE s.provider_id = r.provider_id
                                AND s.service_code = r.service_code AND s.active)""",
        "two pending referrals to one provider for one service": """
            SELECT count(*) FROM (SELECT 1 FROM referrals WHERE status = 'pending'
                                  GROUP BY case_id, provider_id, service_code
                                  HAVING count(*) > 1) duplicates""",
        "open case of an archived family, or two open cases of one family": """
            SELECT count(*) FROM cases c JOIN families f ON f.id = c.family_id
            WHERE c.status <> 'closed' AND (f.status <> 'active' OR EXISTS (
                SELECT 1 FROM cases o WHERE o.family_id = c.family_id AND o.id <> c.id
                  AND o.status <> 'closed'))""",
        "open referral of a closed case": """
            SELECT count(*) FROM referrals r JOIN cases c ON c.id = r.case_id
            WHERE c.status = 'closed' AND r.status IN ('pending', 'accepted')""",
        "record delivered outside the provider's access": """
            SELECT count(*) FROM service_records s
            LEFT JOIN family_provider_access a
              ON a.provider_id = s.provider_id AND a.family_id = s.family_id
            WHERE a.family_id IS NULL OR s.delivered_on < a.granted_at::date
               OR s.delivered_on > coalesce(a.revoked_at::date, current_date)""",
        "access of an accepted referral revoked, or of a closed case standing": """
            SELECT count(*) FROM referrals r JOIN cases c ON c.id = r.case_id
            JOIN family_provider_access a
              ON a.provider_id = r.provider_id AND a.family_id = c.family_id
            WHERE (r.status = 'accepted') = (a.revoked_at IS NOT NULL)""",
        "stamped in the future": """
            SELECT count(*) FROM case_transitions WHERE at > now()""",
    }
    found = {rule: await _count(connection, sql) for rule, sql in broken.items()}
    assert found == dict.fromkeys(broken, 0)


async def test_the_demo_social_worker_has_a_caseload_with_overdue_cases(
    client, connection, make_token
):
    await _seed_everything(connection)
    worker = _demo_token(make_token, "social_worker")
    load = await client.get("/api/v1/caseload", headers=worker)
    assert load.status_code == 200, load.text
    mine = [w for w in load.json()["workers"] if w["worker_sub"] == DEMO_WORKER]
    assert mine
    assert mine[0]["open_cases"] > 0
    assert mine[0]["visits_overdue"] > 0
    assert mine[0]["assessments_overdue"] > 0
    for overdue in ("visit_overdue", "assessment_overdue", "duration_exceeded"):
        cases = await client.get(
            "/api/v1/cases", params={"worker": DEMO_WORKER, overdue: "true"}, headers=worker
        )
        assert cases.status_code == 200, cases.text
        assert cases.json()["items"], overdue
    for status in CaseStatus:
        cases = await client.get(
            "/api/v1/cases", params={"status": status.value, "limit": 1}, headers=worker
        )
        assert cases.json()["items"], status


async def test_the_demo_officer_finds_demo_people_by_name_mistyped(client, connection, make_token):
    """The demo's rows are written past the families' commands: their names must reach the
    search's dictionary all the same (a surname with two neighbours swapped finds it)."""
    await _seed_families(connection, families=60)
    officer = _demo_token(make_token, "community_officer")
    person = (
        await connection.execute(
            text(
                "SELECT p.last_name, p.first_name, p.family_id FROM persons p "
                "JOIN families f ON f.id = p.family_id "
                "WHERE f.hromada_code = :kyiv AND length(p.last_name) >= 6 "
                "ORDER BY p.id LIMIT 1"
            ),
            {"kyiv": KYIV},
        )
    ).one()
    swapped = person.last_name[0] + person.last_name[2] + person.last_name[1] + person.last_name[3:]
    found = await client.get(
        "/api/v1/families", params={"q": f"{swapped} {person.first_name}"}, headers=officer
    )
    assert found.status_code == 200, found.text
    assert str(person.family_id) in {family["id"] for family in found.json()["items"]}


async def test_the_demo_provider_sees_its_referrals_and_records(client, connection, make_token):
    await _seed_everything(connection)
    staff = _demo_token(make_token, "provider_staff")
    seen = {}
    for status in ("pending", "accepted"):
        referrals = await client.get("/api/v1/referrals", params={"status": status}, headers=staff)
        assert referrals.status_code == 200, referrals.text
        seen[status] = referrals.json()["items"]
        assert seen[status], status
        assert {r["provider_id"] for r in seen[status]} == {DEMO_PROVIDER_ID}
    case = await client.get(f"/api/v1/cases/{seen['accepted'][0]['case_id']}", headers=staff)
    assert case.status_code == 200, case.text
    records = await client.get("/api/v1/service-records", headers=staff)
    assert records.status_code == 200, records.text
    assert records.json()["items"]
    assert {r["provider_id"] for r in records.json()["items"]} == {DEMO_PROVIDER_ID}


def test_registry_seed_runs_from_the_command_line(cli_database, monkeypatch):
    """`registry seed --demo`, as the README gives it (a check meant for `serve --workers`
    once read a `--workers` that `seed` does not have)."""
    monkeypatch.setenv("REGISTRY_RATE_LIMITS_ENABLED", "true")
    assert run_cli("seed", "--demo") == "returned without exiting"


# --- demo servicemember-family support ---------------------------------------------------------


async def _seed_military(connection) -> DemoMilitary:
    session = Database.bound_to(connection).session()
    military = await seed_demo_military(session)
    await session.flush()
    return military


async def _support_cases(connection) -> list[tuple]:
    return [
        tuple(row)
        for row in await connection.execute(
            text(
                "SELECT id, servicemember_id, unit_id, status, version, contact_due_on "
                "FROM support_cases ORDER BY id"
            )
        )
    ]


async def test_demo_support_cases_are_added_once_and_the_same_each_time(connection):
    await _seed_everything(connection)
    session = Database.bound_to(connection).session()
    first = await seed_demo_military(session)
    made = await _support_cases(connection)
    await session.rollback()
    assert await _count(connection, "SELECT count(*) FROM support_cases") == 0

    await _seed_cases(connection)
    again = await _seed_military(connection)
    assert again == first
    assert first.units == 5
    assert first.support_cases >= len(DEMO_UNIT_CORE)
    assert await _support_cases(connection) == made
    assert await _seed_military(connection) == DemoMilitary(0, 0, 0)
    assert await _count(connection, "SELECT count(*) FROM support_cases") == first.support_cases


async def test_demo_support_cases_keep_the_rules_the_api_enforces(connection):
    await _seed_everything(connection)
    await _seed_military(connection)
    broken = {
        "a unit's provider that fails the gate": """
            SELECT count(*) FROM military_unit_providers a JOIN providers p
              ON p.id = a.provider_id
            WHERE p.status <> 'active' OR p.sector <> 'non_state'
               OR p.support_verified_at IS NULL OR p.support_verified_by IS NULL
               OR NOT p.support_criteria_met @> ARRAY(
                   SELECT code::text FROM support_criteria WHERE active)""",
        "a case's provider not assigned to its unit": """
            SELECT count(*) FROM support_cases c WHERE c.provider_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM military_unit_providers a
                              WHERE a.unit_id = c.unit_id AND a.provider_id = c.provider_id
                                AND a.ended_on IS NULL)""",
        "active without a provider and a worker": """
            SELECT count(*) FROM support_cases
            WHERE status = 'active' AND (provider_id IS NULL OR worker_sub IS NULL)""",
        "two open cases of one servicemember": """
            SELECT count(*) FROM (SELECT 1 FROM support_cases
                                  WHERE status IN ('open', 'active', 'suspended')
                                  GROUP BY servicemember_id HAVING count(*) > 1) twice""",
        "status not the last transition's, or a version behind its history": """
            SELECT count(*) FROM support_cases c
            WHERE c.status <> (SELECT h.to_status FROM support_case_history h
                               WHERE h.case_id = c.id ORDER BY h.version DESC LIMIT 1)
               OR c.version < (SELECT max(h.version) FROM support_case_history h
                               WHERE h.case_id = c.id)""",
        "history versions repeated or out of order in time": """
            SELECT count(*) FROM support_case_history h JOIN support_case_history g
              ON g.case_id = h.case_id AND g.version > h.version AND g.at < h.at""",
        "a transition the lifecycle does not allow, or one without a reason": """
            SELECT count(*) FROM support_case_history WHERE kind = 'transition'
              AND from_status IS NOT NULL
              AND (NOT (from_status, to_status) IN (VALUES ('open', 'active'),
                   ('open', 'closed'), ('active', 'suspended'), ('active', 'closed'),
                   ('suspended', 'active'), ('suspended', 'closed'))
                   OR (to_status IN ('suspended', 'closed') AND reason IS NULL))""",
        "servicemember's status not its history's latest, or a version behind it": """
            SELECT count(*) FROM servicemembers s
            WHERE s.status <> (SELECT h.status FROM servicemember_statuses h
                               WHERE h.servicemember_id = s.id
                               ORDER BY h.effective_on DESC, h.version DESC LIMIT 1)
               OR s.version <> (SELECT max(h.version) FROM servicemember_statuses h
                                WHERE h.servicemember_id = s.id)""",
        "servicemember not a current member marked as one": """
            SELECT count(*) FROM servicemembers s JOIN persons p ON p.id = s.person_id
            WHERE NOT p.is_servicemember OR p.status <> 'active'
               OR p.family_id <> s.family_id""",
        "contact or measure before the case was opened, or after today": """
            SELECT (SELECT count(*) FROM support_case_contacts t JOIN support_cases c
                      ON c.id = t.case_id
                    WHERE t.contacted_on < c.opened_on OR t.contacted_on > current_date)
                 + (SELECT count(*) FROM support_case_measures m JOIN support_cases c
                      ON c.id = m.case_id
                    WHERE m.due_on < c.opened_on OR m.delivered_on < c.opened_on
                       OR m.delivered_on > current_date)""",
        "a contact due day that is not the API's": """
            SELECT count(*) FROM support_cases
            WHERE contact_due_on IS DISTINCT FROM CASE
                WHEN last_contact_on IS NULL THEN opened_on + 3
                ELSE last_contact_on + 30 END
              AND status <> 'closed'""",
        "stamped in the future": "SELECT count(*) FROM support_case_history WHERE at > now()",
    }
    found = {rule: await _count(connection, sql) for rule, sql in broken.items()}
    assert found == dict.fromkeys(broken, 0)
    statuses = {
        row[0]
        for row in await connection.execute(text("SELECT DISTINCT status FROM support_cases"))
    }
    assert statuses == {"open", "active", "suspended", "closed"}
    servicemember_statuses = {
        row[0]
        for row in await connection.execute(
            text("SELECT DISTINCT status FROM servicemember_statuses")
        )
    }
    assert servicemember_statuses >= {
        "mobilised",
        "serving",
        "missing",
        "captured",
        "fallen",
        "demobilised",
    }
    assert await _count(
        connection, "SELECT count(*) FROM support_case_measures WHERE status = 'delivered'"
    )
    assert await _count(
        connection, "SELECT count(*) FROM support_case_measures WHERE origin = 'status_change'"
    )


async def test_the_demo_liaison_lists_the_units_cases_some_overdue(client, connection, make_token):
    await _seed_everything(connection)
    await _seed_military(connection)
    liaison = _demo_token(make_token, "military_liaison")
    cases = await client.get("/api/v1/support-cases", headers=liaison)
    assert cases.status_code == 200, cases.text
    assert cases.json()["items"]
    assert {c["unit_id"] for c in cases.json()["items"]} == {DEMO_UNIT_ID}
    overdue = await client.get(
        "/api/v1/support-cases", params={"contact_overdue": "true"}, headers=liaison
    )
    assert overdue.status_code == 200, overdue.text
    assert overdue.json()["items"]
    assert all(c["contact_overdue"] for c in overdue.json()["items"])
    opened = await client.get("/api/v1/support-cases", params={"status": "open"}, headers=liaison)
    assert opened.json()["items"]
    one = await client.get(
        f"/api/v1/support-cases/{cases.json()['items'][0]['id']}", headers=liaison
    )
    assert one.status_code == 200, one.text
    unit = await client.get(f"/api/v1/military-units/{DEMO_UNIT_ID}", headers=liaison)
    assert unit.status_code == 200, unit.text
    assert unit.json()["providers"]
    assert all(p["eligible"] for p in unit.json()["providers"])
    staff = _demo_token(make_token, "provider_staff")
    theirs = await client.get("/api/v1/support-cases", headers=staff)
    assert theirs.status_code == 200, theirs.text
    assert {c["provider_id"] for c in theirs.json()["items"]} == {DEMO_PROVIDER_ID}


# --- demo community programmes and friendly communities ----------------------------------------


async def _seed_programmes(connection) -> DemoProgrammes:
    session = Database.bound_to(connection).session()
    programmes = await seed_demo_programmes(session)
    await session.flush()
    return programmes


async def _books(connection) -> list[tuple]:
    """What the programme seed wrote, in a comparable form."""
    return [
        tuple(row)
        for sql in (
            "SELECT id, name, status, version FROM programmes ORDER BY id",
            "SELECT id, hromada_code, item_id, allocated, distributed, reversed "
            "FROM programme_allocations ORDER BY id",
            "SELECT id, family_id, enrolled_on FROM programme_enrolments ORDER BY id",
            "SELECT id, family_id, provider_id, amount, distributed_on "
            "FROM programme_distributions ORDER BY id",
            "SELECT hromada_code, item_id, received, handed_out FROM aid_stock "
            "ORDER BY hromada_code, item_id",
            "SELECT hromada_code, version, stage, taken_on FROM friendly_community_steps "
            "ORDER BY hromada_code, version",
        )
        for row in await connection.execute(text(sql))
    ]


async def test_demo_programmes_are_added_once_and_the_same_each_time(connection):
    await _seed_families(connection)
    session = Database.bound_to(connection).session()
    first = await seed_demo_programmes(session)
    made = await _books(connection)
    await session.rollback()
    assert await _count(connection, "SELECT count(*) FROM programmes") == 0

    if not await _count(connection, "SELECT count(*) FROM families"):
        await _seed_families(connection)
    again = await _seed_programmes(connection)
    assert again == first
    assert first.programmes == 3
    assert first.enrolments
    assert first.distributions
    assert first.friendly_communities == len(COMMUNITIES)
    assert await _books(connection) == made
    assert await _seed_programmes(connection) == DemoProgrammes(0, 0, 0, 0)
    assert await _books(connection) == made


async def test_demo_programmes_keep_the_invariants_of_their_books(connection):
    """What the API's commands keep, the demo's books keep too: each balance line is what a
    recomputation from the ledger gives, the stock is receipts less hand-outs and was never
    short on any day, families were enrolled, and paid only once enrolled."""
    await _seed_families(connection)
    await _seed_programmes(connection)
    broken = {
        "a balance line that a recomputation from the ledger does not match": """
            WITH ledger AS (
                SELECT d.programme_id, d.hromada_code, NULL::uuid AS item_id,
                       sum(d.amount) AS distributed,
                       coalesce(sum(d.amount) FILTER (WHERE r.distribution_id IS NOT NULL), 0)
                           AS reversed
                FROM programme_distributions d
                LEFT JOIN programme_reversals r ON r.distribution_id = d.id
                WHERE d.amount IS NOT NULL
                GROUP BY d.programme_id, d.hromada_code
                UNION ALL
                SELECT d.programme_id, d.hromada_code, i.item_id, sum(i.quantity),
                       coalesce(sum(i.quantity) FILTER (WHERE r.distribution_id IS NOT NULL), 0)
                FROM programme_distributions d
                JOIN programme_distribution_items i ON i.distribution_id = d.id
                LEFT JOIN programme_reversals r ON r.distribution_id = d.id
                GROUP BY d.programme_id, d.hromada_code, i.item_id)
            SELECT count(*) FROM programme_allocations a
            FULL JOIN ledger l ON l.programme_id = a.programme_id
              AND l.hromada_code = a.hromada_code AND l.item_id IS NOT DISTINCT FROM a.item_id
            WHERE a.id IS NULL
               OR a.distributed <> coalesce(l.distributed, 0)
               OR a.reversed <> coalesce(l.reversed, 0)
               OR a.distributed - a.reversed > a.allocated""",
        "stock not receipts less hand-outs, or below zero": """
            SELECT count(*) FROM aid_stock s
            WHERE s.received <> (SELECT coalesce(sum(r.quantity), 0) FROM aid_receipts r
                                 WHERE r.hromada_code = s.hromada_code
                                   AND r.item_id = s.item_id)
               OR s.handed_out <> (
                   SELECT coalesce(sum(i.quantity), 0) FROM programme_distributions d
                   JOIN programme_distribution_items i ON i.distribution_id = d.id
                   WHERE d.hromada_code = s.hromada_code AND i.item_id = s.item_id
                     AND NOT EXISTS (SELECT 1 FROM programme_reversals r
                                     WHERE r.distribution_id = d.id))
               OR s.handed_out < 0 OR s.handed_out > s.received""",
        "items handed out on a day the stock held too few": """
            SELECT count(*) FROM programme_distributions d
            JOIN programme_distribution_items i ON i.distribution_id = d.id
            WHERE (SELECT coalesce(sum(r.quantity), 0) FROM aid_receipts r
                   WHERE r.hromada_code = d.hromada_code AND r.item_id = i.item_id
                     AND r.received_on <= d.distributed_on)
                < (SELECT sum(j.quantity) FROM programme_distributions e
                   JOIN programme_distribution_items j ON j.distribution_id = e.id
                   WHERE e.hromada_code = d.hromada_code AND j.item_id = i.item_id
                     AND e.distributed_on <= d.distributed_on)""",
        "a family paid without being enrolled, or before it was": """
            SELECT count(*) FROM programme_distributions d
            LEFT JOIN programme_enrolments e ON e.id = d.enrolment_id
            WHERE d.family_id IS NOT NULL
              AND (e.id IS NULL OR e.status <> 'enrolled' OR e.family_id <> d.family_id
                   OR e.programme_id <> d.programme_id OR e.hromada_code <> d.hromada_code
                   OR d.distributed_on < e.enrolled_on)""",
        "an enrolment in a hromada the programme allocates nothing to": """
            SELECT count(*) FROM programme_enrolments e
            WHERE NOT EXISTS (SELECT 1 FROM programme_allocations a
                              WHERE a.programme_id = e.programme_id
                                AND a.hromada_code = e.hromada_code)""",
        "money and items not as the programme's kind and currency": """
            SELECT count(*) FROM programme_distributions d JOIN programmes p
              ON p.id = d.programme_id
            WHERE d.currency <> p.currency
               OR (p.kind = 'cash') <> (d.amount IS NOT NULL)
               OR (p.kind = 'in_kind') <> EXISTS (SELECT 1 FROM programme_distribution_items i
                                                  WHERE i.distribution_id = d.id)
               OR EXISTS (SELECT 1 FROM programme_allocations a JOIN aid_items i
                            ON i.id = a.item_id
                          WHERE a.programme_id = p.id AND i.currency <> p.currency)""",
        "allocations beyond the budget": """
            SELECT count(*) FROM programmes p
            WHERE p.budget < (SELECT coalesce(sum(a.allocated * coalesce(i.unit_value, 1)), 0)
                              FROM programme_allocations a
                              LEFT JOIN aid_items i ON i.id = a.item_id
                              WHERE a.programme_id = p.id)""",
        "distributed outside the programme's period, or after today": """
            SELECT count(*) FROM programme_distributions d JOIN programmes p
              ON p.id = d.programme_id
            WHERE d.distributed_on NOT BETWEEN p.starts_on AND least(p.ends_on, current_date)""",
        "reversed before it was distributed, or after today": """
            SELECT count(*) FROM programme_reversals r JOIN programme_distributions d
              ON d.id = r.distribution_id
            WHERE r.reversed_on < d.distributed_on OR r.reversed_on > current_date""",
        "stamped in the future": """
            SELECT (SELECT count(*) FROM programme_distributions WHERE recorded_at > now())
                 + (SELECT count(*) FROM programme_enrolments WHERE created_at > now())
                 + (SELECT count(*) FROM aid_receipts WHERE recorded_at > now())
                 + (SELECT count(*) FROM friendly_community_steps WHERE recorded_at > now())""",
        "a friendly community not at its last step, or steps out of order": """
            SELECT count(*) FROM friendly_communities c
            WHERE NOT EXISTS (SELECT 1 FROM friendly_community_steps s
                              WHERE s.hromada_code = c.hromada_code AND s.version = c.version
                                AND s.stage = c.stage AND s.taken_on = c.stage_on)
               OR EXISTS (SELECT 1 FROM friendly_community_steps s
                          WHERE s.hromada_code = c.hromada_code AND s.version > c.version)
               OR EXISTS (SELECT 1 FROM friendly_community_steps s
                          JOIN friendly_community_steps t ON t.hromada_code = s.hromada_code
                           AND t.version = s.version + 1
                          WHERE s.hromada_code = c.hromada_code AND t.taken_on < s.taken_on)""",
    }
    found = {rule: await _count(connection, sql) for rule, sql in broken.items()}
    assert found == dict.fromkeys(broken, 0)
    assert await _count(connection, "SELECT count(*) FROM programme_reversals") == 1
    assert await _count(
        connection, "SELECT count(*) FROM programme_distributions WHERE provider_id IS NOT NULL"
    )


async def test_demo_families_are_enrolled_only_when_the_rule_holds_on_the_day(connection):
    await _seed_families(connection)
    await _seed_programmes(connection)
    enrolments = (
        await connection.execute(
            text(
                "SELECT e.family_id, e.enrolled_on, p.eligibility, f.categories, f.factors "
                "FROM programme_enrolments e JOIN programmes p ON p.id = e.programme_id "
                "JOIN families f ON f.id = e.family_id"
            )
        )
    ).all()
    assert enrolments
    members: dict[object, list[Member]] = {}
    for family_id, *member in await connection.execute(
        text(
            "SELECT family_id, birth_date, disability_group, is_servicemember FROM persons "
            "WHERE status = 'active' AND family_id IN (SELECT family_id FROM programme_enrolments)"
        )
    ):
        members.setdefault(family_id, []).append(Member(*member))
    for family_id, enrolled_on, rule, categories, factors in enrolments:
        facts = FamilyFacts(
            frozenset(categories), frozenset(factors), tuple(members[family_id]), enrolled_on
        )
        assert unmet_conditions(rule, facts) == [], family_id


async def test_the_demo_officer_reads_kyivs_enrolments_balances_and_stock(
    client, connection, make_token
):
    await _seed_families(connection)
    await _seed_programmes(connection)
    officer = _demo_token(make_token, "community_officer")
    listed = await client.get(PROGRAMMES, headers=officer)
    assert listed.status_code == 200, listed.text
    by_funder = {p["funder"]: p for p in listed.json()["items"]}
    assert {"UNICEF", "UNHCR"} <= set(by_funder)
    cash, winter = by_funder["UNICEF"], by_funder["UNHCR"]
    assert (cash["kind"], cash["status"]) == ("cash", "open")
    enrolments = await client.get(f"{PROGRAMMES}/{cash['id']}/enrolments", headers=officer)
    assert enrolments.status_code == 200, enrolments.text
    assert enrolments.json()["items"]
    assert {e["hromada_code"] for e in enrolments.json()["items"]} == {KYIV}
    balances = await client.get(f"{PROGRAMMES}/{cash['id']}/allocations", headers=officer)
    assert balances.status_code == 200, balances.text
    (kyiv,) = balances.json()["items"]
    assert kyiv["hromada_code"] == KYIV
    assert kyiv["amount"]["currency"] == "USD"
    assert float(kyiv["amount"]["distributed"]) > 0
    assert float(kyiv["amount"]["reversed"]) > 0
    reversed_ = await client.get(
        f"{PROGRAMMES}/{cash['id']}/distributions", params={"reversed": "true"}, headers=officer
    )
    assert reversed_.status_code == 200, reversed_.text
    (reversal,) = reversed_.json()["items"]
    assert reversal["reversal"]["reason"]
    items = await client.get(f"{PROGRAMMES}/{winter['id']}/allocations", headers=officer)
    assert items.status_code == 200, items.text
    (kyiv,) = items.json()["items"]
    assert kyiv["amount"] is None
    assert len(kyiv["items"]) == 3
    assert any(item["distributed"] for item in kyiv["items"])
    stock = await client.get(AID_STOCK, headers=officer)
    assert stock.status_code == 200, stock.text
    assert stock.json()["items"]
    assert {s["hromada_code"] for s in stock.json()["items"]} == {KYIV}


async def test_the_demo_provider_sees_the_tablets_handed_to_it(client, connection, make_token):
    await _seed_families(connection)
    await _seed_programmes(connection)
    staff = _demo_token(make_token, "provider_staff")
    listed = await client.get(PROGRAMMES, headers=staff)
    assert listed.status_code == 200, listed.text
    (tablets,) = listed.json()["items"]
    assert tablets["kind"] == "in_kind"
    handed = await client.get(f"{PROGRAMMES}/{tablets['id']}/distributions", headers=staff)
    assert handed.status_code == 200, handed.text
    assert handed.json()["items"]
    for distribution in handed.json()["items"]:
        assert distribution["provider_id"] == DEMO_PROVIDER_ID
        assert distribution["family_id"] is None
        assert distribution["items"]


async def test_the_demo_friendly_communities_stand_at_their_stages(client, connection, make_token):
    await _seed_families(connection)
    await _seed_programmes(connection)
    officer = _demo_token(make_token, "community_officer")
    kyiv = await client.get(f"/api/v1/friendly-communities/{KYIV}", headers=officer)
    assert kyiv.status_code == 200, kyiv.text
    assert kyiv.json()["stage"] == "situation_analysis"
    assert [s["stage"] for s in kyiv.json()["steps"]] == [
        "council_decision",
        "letter_of_interest",
        "memorandum",
        "situation_analysis",
    ]
    assert all(s["document_reference"] for s in kyiv.json()["steps"])
    bucha = await connection.scalar(
        text("SELECT stage FROM friendly_communities WHERE hromada_code = :code"),
        {"code": BUCHA},
    )
    assert bucha == "memorandum"
