"""Servicemember-family support as COPY-ready rows, for ``bench/generate``.

35 units of the programme at every scale (ten in the pilot stage, the rest in expansion),
each serving families of one to three oblasts (every oblast and Kyiv served by at least one),
with one to four eligible providers assigned (active non-state providers meeting every active
support criterion, verified: those of its oblasts where there are any). Servicemembers: 2 %
of the families (20 000 at 1M, 2 000 at 100k), drawn from the current members of active
families that ``households.py`` marked ``is_servicemember``, each in a unit serving the
family's oblast. Their statuses (mobilised, serving, and some missing, captured, fallen or
demobilised) and about one support case each in every status, a quarter of the open and
active ones overdue for a contact, are made and replayed by the demo seed's
``registry.demo.military.Chronicle``: each step the next version of the case with its history
row, a status change planning the catalogue's measures on an open case, as
``military.commands`` does.

Made in one process after the households (the stage reads the servicemembers' persons back):
a few seconds at 1M.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from clock import during_work, uuid7

from registry.demo.military import Chronicle, Place, status_of_family

UNITS = 35
PILOT_UNITS = 10
SERVICEMEMBER_SHARE = 0.02
CREATED_BY = "bench-generate"
MINISTRY = "bench-ministry-admin"
UNIT_NAMES = (
    "Окрема механізована бригада",
    "Окрема штурмова бригада",
    "Окрема бригада територіальної оборони",
    "Окрема артилерійська бригада",
    "Окремий батальйон",
)

UNIT_COLUMNS = (
    "id",
    "number",
    "name",
    "oblast_codes",
    "stage",
    "joined_on",
    "left_on",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
ASSIGNMENT_COLUMNS = ("id", "unit_id", "provider_id", "assigned_on", "assigned_by")
COLUMNS = {
    "servicemembers": (
        "id",
        "person_id",
        "family_id",
        "unit_id",
        "status",
        "status_effective_on",
        "created_by",
        "created_at",
        "updated_at",
        "version",
    ),
    "servicemember_statuses": (
        "servicemember_id",
        "version",
        "status",
        "effective_on",
        "recorded_by",
        "recorded_at",
    ),
    "servicemember_units": (
        "servicemember_id",
        "version",
        "unit_id",
        "from_unit_id",
        "effective_on",
        "reason",
        "recorded_by",
        "recorded_at",
    ),
    "support_cases": (
        "id",
        "servicemember_id",
        "family_id",
        "unit_id",
        "status",
        "summary",
        "opened_on",
        "provider_id",
        "worker_sub",
        "assigned_at",
        "assigned_by",
        "last_contact_on",
        "contact_due_on",
        "closure_reason",
        "closed_at",
        "created_by",
        "created_at",
        "updated_at",
        "version",
    ),
    "support_case_history": (
        "case_id",
        "version",
        "kind",
        "from_status",
        "to_status",
        "reason",
        "servicemember_status",
        "details",
        "actor",
        "at",
    ),
    "support_case_measures": (
        "id",
        "case_id",
        "measure_code",
        "status",
        "origin",
        "servicemember_status",
        "responsible",
        "due_on",
        "delivered_on",
        "outcome",
        "notes",
        "delivered_by",
        "created_by",
        "created_at",
        "updated_at",
        "version",
    ),
    "support_case_contacts": (
        "id",
        "case_id",
        "contacted_on",
        "channel",
        "notes",
        "created_by",
        "created_at",
    ),
}
TABLES = ("military_units", "military_unit_providers", *COLUMNS)


async def load(dsn: str, seed: int, kyiv: str) -> tuple[dict[str, int], dict[str, float]]:
    """Units, their providers, servicemembers and their support cases, COPYed; rows per
    table (and no per-kind seconds: the stage is short)."""
    rng = random.Random(seed * 1000 + 800)
    today = date.today()
    connection = await asyncpg.connect(dsn)
    try:
        families = await connection.fetchval("SELECT count(*) FROM families")
        oblasts = [
            r["oblast_code"]
            for r in await connection.fetch(
                "SELECT DISTINCT oblast_code FROM families ORDER BY oblast_code"
            )
        ]
        eligible = await connection.fetch(
            """
            SELECT id, oblast_code, coalesce(short_name, full_name) AS name, included_on
            FROM providers
            WHERE status = 'active' AND sector = 'non_state'
              AND support_verified_at IS NOT NULL AND support_verified_by IS NOT NULL
              AND support_criteria_met @> ARRAY(SELECT code::text FROM support_criteria
                                                WHERE active)
            ORDER BY id
            """
        )
        catalogue: dict[str, list[str]] = {}
        for row in await connection.fetch(
            "SELECT code, statuses FROM support_measures WHERE active ORDER BY sort_order, code"
        ):
            for status in row["statuses"]:
                catalogue.setdefault(status, []).append(row["code"])
        wanted = round(families * SERVICEMEMBER_SHARE)
        # The households were just COPYed with their indexes dropped and no statistics: without
        # these the planner takes both tables for a few rows and joins them by a nested loop
        # (quadratic: more than ten minutes at 3M families), not by hash.
        await connection.execute("ANALYZE persons, families")
        # Person ids are random: the first in id order are a random sample.
        people = await connection.fetch(
            """
            SELECT p.id, p.family_id, f.oblast_code, f.categories
            FROM persons p JOIN families f ON f.id = p.family_id
            WHERE p.is_servicemember AND p.status = 'active' AND f.status = 'active'
            ORDER BY p.id LIMIT $1
            """,
            wanted,
        )
        units, assignments, places, serving = _units(rng, today, oblasts, eligible, kyiv)
        chronicle = Chronicle(
            rng,
            today,
            {status: tuple(codes) for status, codes in catalogue.items()},
            new_id=lambda at: uuid7(at, rng),
            stamp=lambda day: during_work(day, rng),
            latest=datetime.now(UTC),
        )
        for person in people:
            candidates = serving.get(person["oblast_code"]) or places
            place = candidates[int(rng.random() * len(candidates))]
            chronicle.servicemember(
                chronicle.draw(place),
                place,
                person_id=person["id"],
                family_id=person["family_id"],
                status_of_family=status_of_family(person["categories"]),
            )
        rows: dict[str, list[tuple[Any, ...]]] = {
            "military_units": units,
            "military_unit_providers": assignments,
        }
        columns: dict[str, tuple[str, ...]] = {
            "military_units": UNIT_COLUMNS,
            "military_unit_providers": ASSIGNMENT_COLUMNS,
            **COLUMNS,
        }
        for table, made in chronicle.rows.take().items():
            rows[table] = [tuple(_stored(row.get(name)) for name in COLUMNS[table]) for row in made]
        for table in TABLES:
            if rows[table]:
                await connection.copy_records_to_table(
                    table, records=rows[table], columns=columns[table]
                )
    finally:
        await connection.close()
    return {table: len(rows[table]) for table in TABLES}, {}


def _stored(value: Any) -> Any:
    """A value as COPY takes it: a history row's details as JSON text."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def _units(
    rng: random.Random,
    today: date,
    oblasts: list[str],
    eligible: list[asyncpg.Record],
    kyiv: str,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[Place], dict[str, list[Place]]]:
    """The units (the n-th serves the n-th oblast first, so every oblast is served; Kyiv by a
    few more), their assignments, each as its cases need it, and the units serving each
    oblast."""
    numbers = rng.sample(range(100, 10_000), UNITS)
    by_oblast: dict[str, list[asyncpg.Record]] = {}
    for provider in eligible:
        by_oblast.setdefault(provider["oblast_code"], []).append(provider)
    units, assignments, places = [], [], []
    serving: dict[str, list[Place]] = {}
    for n in range(UNITS):
        served = {oblasts[n % len(oblasts)]}
        served.update(rng.sample(oblasts, int(rng.random() * 3)))
        if n % 7 == 0:
            served.add(kyiv)
        unit_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        number = f"{'АВ'[n % 2]}{numbers[n]:04d}"
        # The pilot began before any case generated; the others joined since.
        joined = today - timedelta(
            days=rng.randint(820, 900) if n < PILOT_UNITS else rng.randint(300, 700)
        )
        created = during_work(joined, rng)
        units.append(
            (
                unit_id,
                number,
                f"{UNIT_NAMES[n % len(UNIT_NAMES)]} (військова частина {number})",
                sorted(served),
                "pilot" if n < PILOT_UNITS else "expansion",
                joined,
                None,
                MINISTRY,
                created,
                created,
                1,
            )
        )
        nearby = [p for oblast in sorted(served) for p in by_oblast.get(oblast, ())]
        pool = nearby or eligible
        chosen = rng.sample(pool, min(len(pool), 1 + int(rng.random() * 4))) if pool else []
        providers = []
        for provider in chosen:
            assigned_on = max(joined, provider["included_on"] or joined)
            assignments.append(
                (
                    uuid7(during_work(assigned_on, rng), rng),
                    unit_id,
                    provider["id"],
                    assigned_on,
                    MINISTRY,
                )
            )
            workers = tuple(
                f"worker-{str(provider['id'])[-6:]}-{i}"
                for i in range(1, 2 + int(rng.random() * 3))
            )
            providers.append((provider["id"], provider["name"], workers))
        place = Place(unit_id, f"liaison-{number}", tuple(providers))
        places.append(place)
        for oblast in served:
            serving.setdefault(oblast, []).append(place)
    return units, assignments, places, serving
