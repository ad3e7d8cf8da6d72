"""What makes a provider's values valid, checked on the whole record (a create, or the record
with a merge patch applied), and which register statuses follow which.

Shapes (types, lengths, patterns) are checked by the API schemas; these rules need the
domain's knowledge: check digits, which identifier each kind of provider has, the sector an
individual belongs to. What needs the database (territories, the classifier, the criteria,
identifiers already registered) is checked by ``commands``. Every broken rule becomes one
``FieldError``; all are reported at once.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from stdnum.exceptions import ValidationError
from stdnum.ua import edrpou

from registry.domain.shared.identifiers import validate_rnokpp
from registry.domain.shared.names import name_key
from registry.domain.shared.phones import clean_phone
from registry.domain.shared.web_addresses import public_web_address
from registry.errors import FieldError, InvalidInput

#: Register entries are made under the Law "On Social Services" (in force 2020-01-01).
EARLIEST_STATUS_DATE = date(2020, 1, 1)
MAX_CAPACITY = 1_000_000
_EDRPOU = re.compile(r"[0-9]{8}")
_WHITESPACE = re.compile(r"\s+")


class ProviderKind(StrEnum):
    ORGANISATION = "organisation"
    INDIVIDUAL_ENTREPRENEUR = "individual_entrepreneur"
    NATURAL_PERSON = "natural_person"


class Sector(StrEnum):
    STATE = "state"
    COMMUNAL = "communal"
    NON_STATE = "non_state"


class ProviderStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXCLUDED = "excluded"


class Frequency(StrEnum):
    ONE_OFF = "one_off"
    CRISIS = "crisis"
    TEMPORARY = "temporary"
    PERIODIC = "periodic"
    PERMANENT = "permanent"


#: Register status changes: an application is accepted or refused, an included provider is
#: excluded, an excluded one may apply again.
TRANSITIONS: dict[ProviderStatus, tuple[ProviderStatus, ...]] = {
    ProviderStatus.PENDING: (ProviderStatus.ACTIVE, ProviderStatus.EXCLUDED),
    ProviderStatus.ACTIVE: (ProviderStatus.EXCLUDED,),
    ProviderStatus.EXCLUDED: (ProviderStatus.PENDING,),
}


def validate_edrpou(value: str) -> str:
    """Return the EDRPOU as 8 digits, checking its check digit."""
    number = _WHITESPACE.sub("", value)
    if not _EDRPOU.fullmatch(number):
        raise ValueError("must be 8 digits")
    try:
        edrpou.validate(number)
    except ValidationError:
        raise ValueError("has an invalid check digit") from None
    return number


def validate_provider_rnokpp(value: str) -> str:
    """An individual provider's RNOKPP: the check digit only (the register does not hold the
    person's birth date and sex to compare it with)."""
    return validate_rnokpp(value, birth_date=None, sex=None)


def is_individual(kind: str) -> bool:
    return kind != ProviderKind.ORGANISATION


def provider_name_key(full_name: str, short_name: str | None) -> str:
    """What name search compares: both names, case-folded, apostrophes dropped, single
    spaces (the same key a search text is turned into)."""
    return name_key(full_name, short_name)


def clean_provider(values: dict[str, Any], *, prefix: str = "body.") -> dict[str, Any]:
    """The provider's values, cleaned and checked together; ``values`` holds every field
    (after a merge patch, the merged record)."""
    cleaned = dict(values)
    errors: list[FieldError] = []

    def check(name: str, rule: Any) -> None:
        if cleaned.get(name) is None:
            return
        try:
            cleaned[name] = rule(cleaned[name])
        except ValueError as error:
            errors.append(FieldError(prefix + name, str(error)))

    kind = cleaned["kind"]
    if is_individual(kind):
        if cleaned.get("rnokpp") is None:
            errors.append(FieldError(prefix + "rnokpp", f"is required for a {kind}"))
        if cleaned.get("edrpou") is not None:
            errors.append(FieldError(prefix + "edrpou", f"a {kind} has no EDRPOU; give the rnokpp"))
        if cleaned["sector"] != Sector.NON_STATE:
            errors.append(FieldError(prefix + "sector", f"a {kind} is always non_state"))
    else:
        if cleaned.get("edrpou") is None:
            errors.append(FieldError(prefix + "edrpou", "is required for an organisation"))
        if cleaned.get("rnokpp") is not None:
            errors.append(
                FieldError(prefix + "rnokpp", "an organisation has no RNOKPP; give the edrpou")
            )
    check("edrpou", validate_edrpou)
    check("rnokpp", validate_provider_rnokpp)
    check("phone", clean_phone)
    check("email", lambda email: email.strip())
    check("website", public_web_address)
    for name in ("hromadas_served", "support_criteria_met"):
        if cleaned.get(name) is not None:
            cleaned[name] = sorted(set(cleaned[name]))
    if cleaned.get("services") is not None:
        cleaned["services"] = _clean_offers(cleaned["services"], prefix, errors)
    if errors:
        raise InvalidInput("The record has invalid fields; see errors.", errors=errors)
    cleaned["name_key"] = provider_name_key(cleaned["full_name"], cleaned.get("short_name"))
    return cleaned


def _clean_offers(
    offers: list[dict[str, Any]], prefix: str, errors: list[FieldError]
) -> list[dict[str, Any]]:
    """Each service offered once, its places as a set, the tariff as stored (null: free)."""
    first_seen: dict[str, int] = {}
    cleaned = []
    for i, offer in enumerate(offers):
        code = offer["service_code"]
        if code in first_seen:
            errors.append(
                FieldError(
                    f"{prefix}services.{i}.service_code",
                    f"the same as services.{first_seen[code]}.service_code",
                )
            )
            continue
        first_seen[code] = i
        tariff = offer.get("tariff")
        cleaned.append(
            {
                "service_code": code,
                "frequency": str(offer["frequency"]),
                "places": sorted({str(place) for place in offer["places"]}),
                "capacity": offer.get("capacity"),
                "tariff_amount": Decimal(tariff["amount"]) if tariff else None,
                "tariff_unit": tariff["unit"] if tariff else None,
                "urgent": bool(offer.get("urgent")),
            }
        )
    return sorted(cleaned, key=lambda offer: offer["service_code"])


def status_change_problems(
    to: str,
    reason: str | None,
    effective_on: date,
    today: date,
    *,
    prefix: str = "body.",
) -> list[FieldError]:
    """What is wrong with the fields of a status change (the transition itself is checked by
    :func:`allowed_transitions`)."""
    problems = []
    if to == ProviderStatus.EXCLUDED and not reason:
        problems.append(FieldError(prefix + "reason", "is required to exclude a provider"))
    if effective_on > today:
        problems.append(FieldError(prefix + "effective_on", "must not be in the future"))
    elif effective_on < EARLIEST_STATUS_DATE:
        problems.append(
            FieldError(
                prefix + "effective_on", f"must not be before {EARLIEST_STATUS_DATE.isoformat()}"
            )
        )
    return problems


def allowed_transitions(current: str) -> tuple[ProviderStatus, ...]:
    return TRANSITIONS[ProviderStatus(current)]
