"""Demo providers: fourteen made-up but plausible entries of the register (communal centres,
civil-society organisations, an individual entrepreneur, a natural person) so a newcomer can
search the register, and the demo provider token (``DEMO_PROVIDER_ID``) names an active
provider in Kyiv (``registry seed --demo``, ``registry serve --demo``).

Each provider has a fixed id: the seed only inserts (the caller commits) and skips the ones
already there. Identifiers are made with valid check digits; they name no real organisation
or person on purpose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.ua import edrpou

from registry.domain.providers.rules import provider_name_key
from registry.domain.providers.tables import (
    PROVIDER_RNOKPP,
    provider_service_table,
    provider_status_change_table,
    provider_table,
)
from registry.domain.shared.identifiers import rnokpp_for
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.queries import locate_address

#: The provider the demo ``provider_staff`` token works for: an active civil-society
#: organisation in Kyiv that supports servicemembers' families.
DEMO_PROVIDER_ID = "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e01"
#: Civil-society organisations of the servicemember-family programme in Kyiv oblast and Lviv.
BUCHA_FUND_ID = "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e13"
LVIV_FAMILIES_ID = "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e14"
#: ``providers.created_by`` of demo providers.
DEMO_ACTOR = "demo-seed"

KYIV = "UA80000000000093317"
BUCHA = "UA32080070000050759"
IRPIN = "UA32080150000035443"
LVIV = "UA46060250000025047"
KHARKIV = "UA63120270000028556"
DNIPRO = "UA12020010000033698"
ODESA = "UA51100270000073549"
VINNYTSIA = "UA05020030000031457"

ALL_CRITERIA = [
    "accompaniment_experience",
    "in_register",
    "mobile_team",
    "no_sanctions",
    "psychologist",
    "trained_staff",
]


def _edrpou(base: str) -> str:
    return base + edrpou.calc_check_digit(base)


@dataclass(frozen=True)
class _Offer:
    code: str
    frequency: str
    places: tuple[str, ...]
    capacity: int | None = None
    tariff: tuple[str, str] | None = None  # (amount, unit)
    urgent: bool = False


@dataclass(frozen=True)
class _Demo:
    id: str
    kind: str
    sector: str
    full_name: str
    short_name: str | None
    legal_form: str | None
    hromada: str
    address_line: str
    offers: tuple[_Offer, ...]
    #: (status, effective on, reason) after the application, in order.
    history: tuple[tuple[str, date, str | None], ...]
    applied_on: date
    edrpou: str | None = None
    rnokpp: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    served: tuple[str, ...] = ()
    criteria: list[str] = field(default_factory=list)


_ACTIVE = "active"
_EXCLUDED = "excluded"

PROVIDERS = (
    _Demo(
        DEMO_PROVIDER_ID,
        "organisation",
        "non_state",
        "Громадська організація «Родина поруч»",
        "ГО «Родина поруч»",
        "громадська організація",
        KYIV,
        "вул. Антоновича, 48, офіс 12",
        (
            _Offer("002.0", "periodic", ("home", "online", "phone"), capacity=60),
            _Offer("012.0", "crisis", ("home", "street", "phone"), urgent=True),
            _Offer("013.0", "temporary", ("semi_residential", "online"), capacity=25),
            _Offer("021.0", "one_off", ("street",), capacity=10),
        ),
        ((_ACTIVE, date(2023, 2, 14), None),),
        date(2023, 1, 20),
        edrpou=_edrpou("4401783"),
        phone="+380442345678",
        email="hello@rodyna-poruch.org.ua",
        website="https://rodyna-poruch.org.ua",
        criteria=ALL_CRITERIA,
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e02",
        "organisation",
        "communal",
        "Київський міський центр соціальних служб",
        "КМЦСС",
        "комунальна установа",
        KYIV,
        "вул. Прорізна, 19",
        (
            _Offer("001.0", "permanent", ("semi_residential", "online", "phone")),
            _Offer("002.0", "periodic", ("home", "semi_residential", "online"), capacity=200),
            _Offer("004.0", "temporary", ("semi_residential",)),
            _Offer("010.2", "permanent", ("home",), capacity=80),
            _Offer("013.0", "temporary", ("semi_residential",), capacity=40),
        ),
        ((_ACTIVE, date(2021, 6, 1), None),),
        date(2021, 5, 17),
        edrpou=_edrpou("2591064"),
        phone="+380442795631",
        email="kmcss@kyivcity.gov.ua",
        criteria=["in_register", "accompaniment_experience", "psychologist"],
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e03",
        "organisation",
        "communal",
        "Територіальний центр соціального обслуговування Печерського району міста Києва",
        "Терцентр Печерського району",
        "комунальна установа",
        KYIV,
        "вул. Кіквідзе, 4",
        (
            _Offer("015.1", "permanent", ("home",), capacity=350),
            _Offer("015.3", "permanent", ("semi_residential",), capacity=60),
            _Offer("021.0", "one_off", ("street",)),
        ),
        ((_ACTIVE, date(2021, 7, 12), None),),
        date(2021, 6, 28),
        edrpou=_edrpou("2614917"),
        phone="+380442856114",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e04",
        "organisation",
        "communal",
        "Центр надання соціальних послуг Бучанської міської ради",
        "ЦНСП Бучанської МР",
        "комунальна установа",
        BUCHA,
        "вул. Енергетиків, 12",
        (
            _Offer("002.0", "periodic", ("home", "semi_residential", "phone")),
            _Offer("012.0", "crisis", ("home", "street"), urgent=True),
            _Offer("015.1", "permanent", ("home",), capacity=120),
        ),
        ((_ACTIVE, date(2022, 9, 5), None),),
        date(2022, 8, 15),
        edrpou=_edrpou("4318826"),
        phone="+380459768210",
        served=(BUCHA, IRPIN),
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e05",
        "organisation",
        "communal",
        "Львівський міський центр соціальних служб",
        "ЛМЦСС",
        "комунальна установа",
        LVIV,
        "вул. Стрийська, 98",
        (
            _Offer("002.0", "periodic", ("semi_residential", "online")),
            _Offer("010.2", "permanent", ("home",)),
            _Offer("013.0", "temporary", ("semi_residential",)),
        ),
        ((_ACTIVE, date(2021, 4, 20), None),),
        date(2021, 4, 1),
        edrpou=_edrpou("3390452"),
        phone="+380322547310",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e06",
        "organisation",
        "non_state",
        "Благодійний фонд «Добре серце Львова»",
        "БФ «Добре серце»",
        "благодійний фонд",
        LVIV,
        "вул. Личаківська, 31",
        (
            _Offer("009.1", "permanent", ("residential",), capacity=18),
            _Offer("012.0", "crisis", ("residential", "phone"), capacity=12, urgent=True),
        ),
        ((_ACTIVE, date(2022, 3, 28), None),),
        date(2022, 3, 10),
        edrpou=_edrpou("4120379"),
        email="office@dobreserce.lviv.ua",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e07",
        "organisation",
        "non_state",
        "Громадська організація «Кризовий центр „Світанок“»",
        "ГО «Світанок»",
        "громадська організація",
        KYIV,
        "вул. Миколи Бажана, 7",
        (
            _Offer("003.0", "one_off", ("semi_residential", "online")),
            _Offer("012.0", "crisis", ("residential", "phone"), capacity=8, urgent=True),
        ),
        (),
        date(2025, 10, 30),
        edrpou=_edrpou("4500216"),
        phone="+380671234560",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e08",
        "individual_entrepreneur",
        "non_state",
        "Фізична особа – підприємець Коваленко Олена Петрівна",
        "ФОП Коваленко О. П.",
        "фізична особа – підприємець",
        KYIV,
        "просп. Оболонський, 22",
        (_Offer("015.1", "periodic", ("home",), capacity=6, tariff=("200.00", "година")),),
        ((_ACTIVE, date(2024, 2, 1), None),),
        date(2024, 1, 12),
        rnokpp=rnokpp_for(date(1979, 8, 23), "female", 417),
        phone="+380503456789",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e09",
        "natural_person",
        "non_state",
        "Мельник Ганна Іванівна",
        None,
        None,
        IRPIN,
        "вул. Соборна, 40",
        (_Offer("018.1", "periodic", ("home",), capacity=2, tariff=("150.00", "година")),),
        ((_ACTIVE, date(2024, 5, 6), None),),
        date(2024, 4, 18),
        rnokpp=rnokpp_for(date(1968, 3, 2), "female", 233),
        phone="+380672223344",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e10",
        "organisation",
        "non_state",
        "Товариство з обмеженою відповідальністю «Турбота плюс»",
        "ТОВ «Турбота плюс»",
        "товариство з обмеженою відповідальністю",
        KHARKIV,
        "вул. Сумська, 64",
        (
            _Offer("015.1", "permanent", ("home",), capacity=40, tariff=("3500.00", "місяць")),
            _Offer(
                "015.3", "permanent", ("semi_residential",), capacity=20, tariff=("450.00", "день")
            ),
        ),
        (
            (_ACTIVE, date(2022, 11, 14), None),
            (_EXCLUDED, date(2025, 6, 30), "припинення діяльності за рішенням засновників"),
        ),
        date(2022, 10, 24),
        edrpou=_edrpou("4277351"),
        phone="+380577001122",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e11",
        "organisation",
        "state",
        "Державна установа «Центр соціальної реабілітації дітей з інвалідністю»",
        "ДУ «Центр реабілітації»",
        "державна установа",
        DNIPRO,
        "вул. Робоча, 150",
        (
            _Offer("017.1", "permanent", ("semi_residential", "residential"), capacity=90),
            _Offer("018.1", "temporary", ("residential",), capacity=15),
        ),
        ((_ACTIVE, date(2021, 9, 1), None),),
        date(2021, 8, 2),
        edrpou=_edrpou("0219283"),
        phone="+380567445566",
    ),
    _Demo(
        "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e12",
        "organisation",
        "non_state",
        "Благодійна організація «Мережа підтримки ветеранів та їхніх родин»",
        "БО «Мережа підтримки»",
        "благодійна організація",
        ODESA,
        "вул. Канатна, 83",
        (
            _Offer("002.0", "periodic", ("online", "phone")),
            _Offer("004.0", "temporary", ("semi_residential",)),
            _Offer("013.0", "temporary", ("semi_residential", "online")),
        ),
        ((_ACTIVE, date(2024, 3, 18), None),),
        date(2024, 2, 26),
        edrpou=_edrpou("4491507"),
        website="https://merezha-pidtrymky.org",
        served=(ODESA, VINNYTSIA),
        criteria=["accompaniment_experience", "in_register", "no_sanctions", "trained_staff"],
    ),
    # The programme's providers outside Kyiv (``registry.demo.military`` assigns them to
    # units): civil-society organisations that meet every support criterion, verified.
    _Demo(
        BUCHA_FUND_ID,
        "organisation",
        "non_state",
        "Благодійний фонд «Поруч із захисниками»",
        "БФ «Поруч із захисниками»",
        "благодійний фонд",
        BUCHA,
        "вул. Вокзальна, 62",
        (
            _Offer("002.0", "periodic", ("home", "online", "phone"), capacity=45),
            _Offer("003.0", "one_off", ("semi_residential", "online")),
        ),
        ((_ACTIVE, date(2023, 5, 15), None),),
        date(2023, 4, 24),
        edrpou=_edrpou("4517302"),
        phone="+380459871245",
        email="info@poruch-fund.org.ua",
        served=(BUCHA, IRPIN),
        criteria=ALL_CRITERIA,
    ),
    _Demo(
        LVIV_FAMILIES_ID,
        "organisation",
        "non_state",
        "Громадська організація «Родини захисників Львівщини»",
        "ГО «Родини захисників»",
        "громадська організація",
        LVIV,
        "вул. Городоцька, 120",
        (
            _Offer("002.0", "periodic", ("semi_residential", "online", "phone"), capacity=70),
            _Offer("013.0", "temporary", ("semi_residential",), capacity=20),
        ),
        ((_ACTIVE, date(2023, 9, 4), None),),
        date(2023, 8, 10),
        edrpou=_edrpou("4538815"),
        phone="+380322409918",
        criteria=ALL_CRITERIA,
    ),
)


async def seed_demo_providers(session: AsyncSession, keys: IdentifierKeys) -> int:
    """Insert the demo providers that are not there yet (an individual's RNOKPP sealed with
    ``keys``); return how many were inserted. Only executes and flushes."""
    ids = [uuid.UUID(demo.id) for demo in PROVIDERS]
    present = set(
        (
            await session.scalars(select(provider_table.c.id).where(provider_table.c.id.in_(ids)))
        ).all()
    )
    added = 0
    for demo in PROVIDERS:
        provider_id = uuid.UUID(demo.id)
        if provider_id in present:
            continue
        address = await locate_address(session, demo.hromada, None)
        status, included_on, excluded_on, reason = "pending", None, None, None
        for to, effective_on, why in demo.history:
            status, reason = to, why
            if to == _ACTIVE:
                included_on = effective_on
            else:
                excluded_on = effective_on
        inserted = await session.scalar(
            pg_insert(provider_table)
            .values(
                id=provider_id,
                kind=demo.kind,
                sector=demo.sector,
                edrpou=demo.edrpou,
                **PROVIDER_RNOKPP.stored(keys, demo.rnokpp, provider_id),
                full_name=demo.full_name,
                short_name=demo.short_name,
                name_key=provider_name_key(demo.full_name, demo.short_name),
                legal_form=demo.legal_form,
                status=status,
                status_reason=reason,
                included_on=included_on,
                excluded_on=excluded_on,
                phone=demo.phone,
                email=demo.email,
                website=demo.website,
                **address,
                address_line=demo.address_line,
                hromadas_served=sorted(demo.served or (demo.hromada,)),
                support_criteria_met=sorted(demo.criteria),
                support_verified_by=DEMO_ACTOR if demo.criteria else None,
                support_verified_at=(
                    datetime.combine(included_on or demo.applied_on, time(12), tzinfo=UTC)
                    if demo.criteria
                    else None
                ),
                created_by=DEMO_ACTOR,
                version=1 + len(demo.history),
            )
            .on_conflict_do_nothing()
            .returning(provider_table.c.id)
        )
        if inserted is None:  # its EDRPOU or RNOKPP is registered already
            continue
        await session.execute(
            insert(provider_service_table),
            [
                {
                    "provider_id": provider_id,
                    "service_code": offer.code,
                    "frequency": offer.frequency,
                    "places": sorted(offer.places),
                    "capacity": offer.capacity,
                    "tariff_amount": Decimal(offer.tariff[0]) if offer.tariff else None,
                    "tariff_unit": offer.tariff[1] if offer.tariff else None,
                    "urgent": offer.urgent,
                }
                for offer in demo.offers
            ],
        )
        changes = [("pending", demo.applied_on, None), *demo.history]
        await session.execute(
            insert(provider_status_change_table),
            [
                {
                    "provider_id": provider_id,
                    "version": version,
                    "from_status": changes[version - 2][0] if version > 1 else None,
                    "to_status": to,
                    "effective_on": effective_on,
                    "reason": why,
                    "actor": DEMO_ACTOR,
                }
                for version, (to, effective_on, why) in enumerate(changes, start=1)
            ],
        )
        added += 1
    await session.flush()
    return added
