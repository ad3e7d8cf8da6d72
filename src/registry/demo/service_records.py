"""Demo service records: what the demo providers delivered to the families they may serve —
referred to them by an accepted referral, or linked by the community officer — each within
the time its access stood, in the rhythm of the service (counselling weekly, home care twice
a week, an escort now and then), as their staff would have submitted it.

Called by the case seed (``registry.demo.cases``), which decides who was referred or linked
and when; only inserts (the caller commits), with the case seed's ``random.Random``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.demo.clock import latest_moment
from registry.domain.families.tables import family_provider_access_table
from registry.domain.providers.tables import provider_service_table
from registry.domain.service_records.tables import service_record_table


@dataclass(frozen=True)
class Grant:
    """A provider's access to a family for a service: from ``granted_at`` until
    ``revoked_at`` (standing when ``None``), through a case's referral or a link."""

    provider_id: str
    family_id: uuid.UUID
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    service_code: str
    case_id: uuid.UUID | None
    granted_at: datetime
    granted_by: str
    reason: str
    revoked_at: datetime | None
    revoked_by: str | None
    #: Who of the provider's staff submits its records.
    staff: str


@dataclass(frozen=True)
class _Rhythm:
    """How often a service is delivered (days between, low–high), for how long (minutes),
    and how many of the latest deliveries the demo keeps."""

    every: tuple[int, int]
    minutes: tuple[int, int]
    most: int


_RHYTHMS = {
    "001.0": _Rhythm((14, 30), (20, 40), most=2),
    "002.0": _Rhythm((6, 9), (45, 60), most=20),
    "004.0": _Rhythm((10, 20), (60, 120), most=4),
    "012.0": _Rhythm((2, 4), (90, 120), most=4),
    "013.0": _Rhythm((7, 7), (120, 120), most=12),
    "015.1": _Rhythm((3, 4), (120, 180), most=30),
    "021.0": _Rhythm((10, 14), (90, 180), most=12),
}
_DEFAULT_RHYTHM = _Rhythm((7, 14), (60, 60), most=12)
_OUTCOMES = (
    ("delivered", 90),
    ("partially_delivered", 4),
    ("recipient_absent", 4),
    ("refused_by_recipient", 2),
)
_NOTES = {
    "partially_delivered": "Зустріч перервано: дитина захворіла",
    "recipient_absent": "Нікого не було вдома; домовилися про інший день",
    "refused_by_recipient": "Отримувач відмовився від послуги цього дня",
}
#: Each provider's own numbering of its records (``external_ref``), by the last id digits.
_REF_PREFIXES = {"01": "RP", "02": "KMCSS", "03": "TC-PECH", "08": "FOP-KOV"}


async def seed_demo_service_records(
    session: AsyncSession, rng: random.Random, today: date, grants: Sequence[Grant]
) -> int:
    """Insert the providers' access to the families of ``grants`` and the records they
    submitted; how many records. Only executes."""
    if not grants:
        return 0
    places = {
        (str(provider_id), code): sorted(offered)
        for provider_id, code, offered in await session.execute(
            select(
                provider_service_table.c.provider_id,
                provider_service_table.c.service_code,
                provider_service_table.c.places,
            ).where(
                provider_service_table.c.provider_id.in_({uuid.UUID(g.provider_id) for g in grants})
            )
        )
    }
    latest = await latest_moment(session, today)
    numbers: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    for grant in grants:
        rhythm = _RHYTHMS.get(grant.service_code, _DEFAULT_RHYTHM)
        offered = places.get((grant.provider_id, grant.service_code)) or ["home"]
        until = grant.revoked_at.date() if grant.revoked_at else today
        days = []
        delivered = grant.granted_at.date() + timedelta(days=rng.randint(1, 3))
        while delivered <= until:
            days.append(delivered)
            delivered += timedelta(days=rng.randint(*rhythm.every))
        for delivered in days[-rhythm.most :]:  # the latest ones
            number = numbers[grant.provider_id] = numbers.get(grant.provider_id, 0) + 1
            outcome = rng.choices([o for o, _ in _OUTCOMES], weights=[w for _, w in _OUTCOMES])[0]
            submitted = min(
                datetime.combine(
                    delivered + timedelta(days=rng.randint(0, 6)),
                    time(rng.randint(9, 18), rng.randrange(60)),
                    UTC,
                ),
                latest,
            )
            prefix = _REF_PREFIXES.get(grant.provider_id[-2:], "SR")
            records.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "provider_id": uuid.UUID(grant.provider_id),
                    "external_ref": f"{prefix}-{delivered.year}-{number:05d}",
                    "family_id": grant.family_id,
                    "person_id": None,
                    "oblast_code": grant.oblast_code,
                    "raion_code": grant.raion_code,
                    "hromada_code": grant.hromada_code,
                    "service_code": grant.service_code,
                    "delivered_on": delivered,
                    "units": 1,
                    "duration_minutes": rng.randint(*rhythm.minutes)
                    if outcome != "recipient_absent"
                    else None,
                    "place": rng.choice(offered),
                    "outcome": outcome,
                    "notes": _NOTES.get(outcome),
                    "case_id": grant.case_id,
                    "status": "active",
                    "changed_by": grant.staff,
                    "created_at": submitted,
                    "updated_at": submitted,
                }
            )
    await session.execute(
        pg_insert(family_provider_access_table).on_conflict_do_nothing(),
        _access(grants),
    )
    if records:
        # An external reference taken already (the seed runs once, but a provider may have
        # used the same numbering) keeps the provider's own record.
        await session.execute(pg_insert(service_record_table).on_conflict_do_nothing(), records)
    return len(records)


def _access(grants: Sequence[Grant]) -> list[dict[str, Any]]:
    """One access row per provider and family: from the first grant, revoked only when
    every grant was."""
    rows: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for grant in sorted(grants, key=lambda g: g.granted_at):
        key = (grant.provider_id, grant.family_id)
        row = rows.get(key)
        if row is None:
            rows[key] = {
                "provider_id": uuid.UUID(grant.provider_id),
                "family_id": grant.family_id,
                "granted_at": grant.granted_at,
                "granted_by": grant.granted_by,
                "reason": grant.reason,
                "revoked_at": grant.revoked_at,
                "revoked_on": grant.revoked_at.date() if grant.revoked_at else None,
                "revoked_by": grant.revoked_by,
                "revoke_reason": "referral closed" if grant.revoked_at else None,
            }
        elif grant.revoked_at is None:
            row.update(revoked_at=None, revoked_on=None, revoked_by=None, revoke_reason=None)
    return list(rows.values())
