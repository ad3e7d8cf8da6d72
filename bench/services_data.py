"""Links between families and providers, and the service records providers submitted, as
COPY-ready rows for ``bench/generate``.

A share of active families is linked to one to three active providers of their hromada (a
hromada's centre of social services and territorial care centre draw most links; families
with an old-age hardship factor go to care centres more); a few links were revoked since.
A case's accepted referral grants the same access (``cases_data`` adds those). Every grant
gets the records its provider submitted while it stood, over the last two years: services
the provider offers, at a place it offers them at, for the family or one of its members,
naming the case when the provider was referred to it. As the API writes them: version 1 and
no ``service_record_versions`` row on creation; amended and voided records (a few percent)
are at version 2 with the superseded version kept.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from clock import during_work, not_after, uuid7
from draw import between, pick, weighted
from households import FAMILY_COLUMNS, PERSON_COLUMNS
from providers_data import LINK_WEIGHTS, Provider

ACCESS_COLUMNS = (
    "provider_id",
    "family_id",
    "granted_at",
    "granted_by",
    "reason",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)
RECORD_COLUMNS = (
    "id",
    "provider_id",
    "external_ref",
    "family_id",
    "person_id",
    "oblast_code",
    "raion_code",
    "hromada_code",
    "service_code",
    "delivered_on",
    "units",
    "duration_minutes",
    "place",
    "outcome",
    "notes",
    "case_id",
    "status",
    "void_reason",
    "voided_at",
    "changed_by",
    "change_reason",
    "created_at",
    "updated_at",
    "version",
)
VERSION_COLUMNS = (
    "service_record_id",
    "version",
    "record",
    "changed_by",
    "change_reason",
    "valid_from",
    "valid_to",
)

F_ID, F_OBLAST, F_RAION, F_HROMADA, F_FACTORS, F_STATUS, F_CREATED = (
    FAMILY_COLUMNS.index(name)
    for name in (
        "id",
        "oblast_code",
        "raion_code",
        "hromada_code",
        "factors",
        "status",
        "created_at",
    )
)
P_ID, P_STATUS, P_BIRTH, P_RELATION = (
    PERSON_COLUMNS.index(name) for name in ("id", "status", "birth_date", "relation")
)

LINK_SHARE = 0.3  # of active families, linked to at least one provider
_LINK_COUNTS, _LINK_COUNT_WEIGHTS = (1, 2, 3), (70, 25, 5)
REVOKED_SHARE = 0.06
LINK_REASONS = (
    "направлено для отримання соціальних послуг",
    "за заявою сімʼї",
    "за рішенням служби у справах дітей",
    "продовження обслуговування",
)
REVOKE_REASONS = (
    "сімʼя відмовилася від послуг",
    "послуги надано в повному обсязі",
    "сімʼя переїхала",
)
HISTORY_DAYS = 730  # records over the last two years
#: Records a provider submits per family over a link's life: mean about 5.
_RECORD_COUNTS, _RECORD_COUNT_WEIGHTS = (
    tuple(range(1, 13)),
    (14, 14, 13, 12, 10, 9, 8, 6, 5, 4, 3, 2),
)
_OUTCOMES = (
    "delivered",
    "partially_delivered",
    "refused_by_recipient",
    "recipient_absent",
    "referred_elsewhere",
)
_OUTCOME_WEIGHTS = tuple(itertools.accumulate((85, 6, 3, 4, 2)))
_DURATIONS = (30, 45, 60, 60, 60, 90, 120, 180, 240, None)
_NOTES = (
    "консультацію надано телефоном",
    "проведено бесіду з батьками",
    "допомога в оформленні документів",
    "супровід до ЦНАП",
    "доставлено продукти",
    "психологічна підтримка",
    "сімʼю не застали вдома",
)
EXTERNAL_REF_SHARE = 0.75  # records sent by providers' own systems, with their reference
AMENDED_SHARE, VOIDED_SHARE = 0.03, 0.01
AMENDMENT_REASON = "виправлено кількість одиниць"
VOID_REASON = "запис внесено помилково"


@dataclass(slots=True)
class Access:
    """A provider's access to a family (``family_provider_access``): a link, or the grant of
    an accepted referral. ``case_*``: the case the provider was referred to, and while."""

    provider: Provider
    granted_at: datetime
    granted_by: str
    reason: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    case_id: uuid.UUID | None = None
    case_from: datetime | None = None
    case_until: datetime | None = None


def officer_of(hromada_code: str) -> str:
    """The token subject of a hromada's community officer in generated rows."""
    return f"officer-{hromada_code}"


class Services:
    """Links and service records for the families of one generating process."""

    def __init__(
        self, *, providers: dict[str, list[Provider]], seed: int, worker: int, now: datetime
    ) -> None:
        self.rng = random.Random(seed * 1000 + 500 + worker)
        self.worker = worker
        self.now = now
        self.today = now.date()
        self.providers = providers
        # Cumulative link weights per hromada: as drawn, and for elderly families.
        self.weights = {
            code: list(itertools.accumulate(LINK_WEIGHTS[p.role] for p in ps))
            for code, ps in providers.items()
        }
        self.elderly_weights = {
            code: list(
                itertools.accumulate(
                    LINK_WEIGHTS[p.role] * (4 if p.role == "care" else 1) for p in ps
                )
            )
            for code, ps in providers.items()
        }
        self.refs = itertools.count(1)
        self.access_rows: list[tuple[Any, ...]] = []
        self.record_rows: list[tuple[Any, ...]] = []
        self.version_rows: list[tuple[Any, ...]] = []

    # --- links -------------------------------------------------------------------------------

    def links(self, family: tuple[Any, ...]) -> list[Access]:
        """The providers an officer linked this family to (none for most families)."""
        rng = self.rng
        if family[F_STATUS] != "active" or rng.random() >= LINK_SHARE:
            return []
        hromada = family[F_HROMADA]
        providers = self.providers.get(hromada)
        if not providers:
            return []
        weights = (self.elderly_weights if "old_age" in family[F_FACTORS] else self.weights)[
            hromada
        ]
        count = weighted(rng, _LINK_COUNTS, _LINK_CUMULATIVE)
        chosen = {p.id: p for p in (weighted(rng, providers, weights) for _ in range(count))}
        links = []
        for provider in chosen.values():
            start = max(family[F_CREATED], _midnight(provider.included_on))  # type: ignore[arg-type]
            if start >= self.now:
                continue
            granted_at = start + (self.now - start) * rng.random()
            link = Access(provider, granted_at, officer_of(hromada), pick(rng, LINK_REASONS))
            if rng.random() < REVOKED_SHARE:
                link.revoked_at = granted_at + (self.now - granted_at) * rng.random()
                link.revoked_by = link.granted_by
                link.revoke_reason = pick(rng, REVOKE_REASONS)
            links.append(link)
        return links

    # --- rows --------------------------------------------------------------------------------

    def write(
        self, family: tuple[Any, ...], persons: list[tuple[Any, ...]], accesses: list[Access]
    ) -> None:
        """The family's access rows and the records each provider submitted under them."""
        family_id = family[F_ID]
        members = [p[P_ID] for p in persons if p[P_STATUS] == "active"]
        for access in accesses:
            self.access_rows.append(
                (
                    access.provider.id,
                    family_id,
                    access.granted_at,
                    access.granted_by,
                    access.reason,
                    access.revoked_at,
                    access.revoked_by,
                    access.revoke_reason,
                )
            )
            self._records(family, members, access)

    def _records(self, family: tuple[Any, ...], members: list[uuid.UUID], access: Access) -> None:
        rng = self.rng
        provider = access.provider
        if not provider.offers:
            return
        end = access.revoked_at or self.now
        start = max(access.granted_at, self.now - timedelta(days=HISTORY_DAYS))
        if end <= start:
            return
        first_day, span = start.date(), (end.date() - start.date()).days
        count = min(span + 1, weighted(rng, _RECORD_COUNTS, _RECORD_CUMULATIVE))
        for _ in range(count):
            delivered_on = first_day + timedelta(days=between(rng, 0, span))
            created_at = not_after(
                during_work(
                    delivered_on + timedelta(days=pick(rng, (0, 0, 0, 1, 1, 2, 3, 5))), rng
                ),
                end,
            )
            if created_at < access.granted_at:
                created_at = access.granted_at
            offer = pick(rng, provider.offers)
            case_id = None
            if (
                access.case_id is not None
                and access.case_from is not None
                and access.case_from <= created_at
                and (access.case_until is None or created_at <= access.case_until)
                and rng.random() < 0.8
            ):
                case_id = access.case_id
            content = [
                family[F_ID],
                pick(rng, members) if members and rng.random() < 0.6 else None,
                offer.code,
                delivered_on,
                1 if rng.random() < 0.7 else between(rng, 2, 4),
                pick(rng, _DURATIONS),
                pick(rng, offer.places),
                weighted(rng, _OUTCOMES, _OUTCOME_WEIGHTS),
                pick(rng, _NOTES) if rng.random() < 0.15 else None,
                case_id,
            ]
            record_id = uuid7(created_at, rng)
            status, void_reason, voided_at, change_reason = "active", None, None, None
            version, updated_at = 1, created_at
            draw = rng.random()
            if draw < AMENDED_SHARE + VOIDED_SHARE:
                updated_at = not_after(
                    created_at + timedelta(days=between(rng, 1, 20), seconds=between(rng, 0, 3599)),
                    self.now,
                )
                version = 2
                # The first version as it was, kept when the second superseded it.
                self.version_rows.append(
                    (
                        record_id,
                        1,
                        _snapshot(content, "active", None),
                        provider.staff,
                        None,
                        created_at,
                        updated_at,
                    )
                )
                if draw < AMENDED_SHARE:
                    content[4] += 1  # units: the correction
                    change_reason = AMENDMENT_REASON
                else:
                    status = "voided"
                    void_reason = change_reason = VOID_REASON
                    voided_at = updated_at
            self.record_rows.append(
                (
                    record_id,
                    provider.id,
                    f"sr{self.worker}-{next(self.refs)}"
                    if rng.random() < EXTERNAL_REF_SHARE
                    else None,
                    content[0],
                    content[1],
                    family[F_OBLAST],
                    family[F_RAION],
                    family[F_HROMADA],
                    *content[2:],
                    status,
                    void_reason,
                    voided_at,
                    provider.staff,
                    change_reason,
                    created_at,
                    updated_at,
                    version,
                )
            )

    def take_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        rows = {
            "family_provider_access": self.access_rows,
            "service_records": self.record_rows,
            "service_record_versions": self.version_rows,
        }
        self.access_rows, self.record_rows, self.version_rows = [], [], []
        return rows


_RECORD_CUMULATIVE = tuple(itertools.accumulate(_RECORD_COUNT_WEIGHTS))
_LINK_CUMULATIVE = tuple(itertools.accumulate(_LINK_COUNT_WEIGHTS))
COLUMNS = {
    "family_provider_access": ACCESS_COLUMNS,
    "service_records": RECORD_COLUMNS,
    "service_record_versions": VERSION_COLUMNS,
}


def _snapshot(content: list[Any], status: str, void_reason: str | None) -> str:
    """A version as ``records._keep_superseded`` keeps it (``jsonb_build_object`` of the
    versioned fields)."""
    (
        family_id,
        person_id,
        service_code,
        delivered_on,
        units,
        duration,
        place,
        outcome,
        notes,
        case_id,
    ) = content
    return orjson.dumps(
        {
            "family_id": str(family_id),
            "person_id": str(person_id) if person_id else None,
            "service_code": service_code,
            "delivered_on": delivered_on,
            "units": units,
            "duration_minutes": duration,
            "place": place,
            "outcome": outcome,
            "notes": notes,
            "case_id": str(case_id) if case_id else None,
            "status": status,
            "void_reason": void_reason,
        }
    ).decode()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
