"""What makes a family's and a person's values valid, checked on the whole record (a create,
or the record with a merge patch applied), so cross-field rules hold after every write.

Shapes (types, lengths, patterns) are checked by the API schemas; these rules need the
domain's knowledge: check digits, what an identifier encodes, the name alphabet, dates.
Every broken rule becomes one ``FieldError``; all are reported at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from registry.domain.shared.identifiers import validate_rnokpp, validate_unzr
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from registry.domain.shared.phones import clean_phone
from registry.errors import FieldError, InvalidInput

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Relation(StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    GUARDIAN = "guardian"
    OTHER = "other"


class DisabilityGroup(StrEnum):
    I = "I"  # noqa: E741  (the official group numbers)
    II = "II"
    III = "III"
    CHILD = "child"


class ConsentPurpose(StrEnum):
    """What the family agreed their data may be used for."""

    REGISTRY = "registry"
    SOCIAL_ACCOMPANIMENT = "social_accompaniment"
    SHARING_WITH_PROVIDERS = "sharing_with_providers"
    PROGRAMMES = "programmes"


NAME_PARTS = ("last_name", "first_name", "patronymic")


#: Adults' ages are not shown to providers (children's are: services for children go by age).
ADULT_AGE = 18


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today`` (a person born on 29 February turns a
    year older on 1 March in other years, as PostgreSQL's ``age()`` counts)."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


class _Errors:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.found: list[FieldError] = []

    def check(self, values: dict[str, Any], name: str, rule: Callable[[Any], Any]) -> None:
        """Replace ``values[name]`` by ``rule(value)``; a ``ValueError`` is that field's error."""
        if values.get(name) is None:
            return
        try:
            values[name] = rule(values[name])
        except ValueError as error:
            self.add(name, str(error))

    def add(self, name: str, message: str) -> None:
        self.found.append(FieldError(f"{self.prefix}{name}", message))

    def raise_any(self) -> None:
        if self.found:
            raise InvalidInput("The record has invalid fields; see errors.", errors=self.found)


def clean_person(values: dict[str, Any], *, prefix: str = "body.", today: date) -> dict[str, Any]:
    """The person's values, cleaned, with the search keys derived from the name.

    ``values`` holds every field of the person (after a merge patch, the merged record).
    """
    cleaned = dict(values)
    errors = _Errors(prefix)
    for part in NAME_PARTS:
        errors.check(cleaned, part, clean_name_part)
    birth_date: date | None = cleaned.get("birth_date")
    if birth_date is not None and not EARLIEST_BIRTH_DATE <= birth_date <= today:
        errors.add("birth_date", f"must be between {EARLIEST_BIRTH_DATE} and today")
        birth_date = None
    sex = cleaned.get("sex")
    errors.check(
        cleaned, "rnokpp", lambda number: validate_rnokpp(number, birth_date=birth_date, sex=sex)
    )
    if cleaned.get("rnokpp") is not None and cleaned.get("rnokpp_refused"):
        errors.add("rnokpp_refused", "a person who refused an RNOKPP has no rnokpp")
    errors.check(cleaned, "unzr", lambda number: validate_unzr(number, birth_date=birth_date))
    errors.check(cleaned, "idp_certificate", str.upper)
    errors.raise_any()
    names = [cleaned.get(part) for part in NAME_PARTS]
    cleaned["name_key"] = name_key(*names)
    cleaned["latin_key"] = latin_key(*names)
    return cleaned


def clean_family(values: dict[str, Any], *, prefix: str = "body.") -> dict[str, Any]:
    """The family's own values (not its members), cleaned; territories and reference codes are
    checked against the database by the caller."""
    cleaned = dict(values)
    errors = _Errors(prefix)
    errors.check(cleaned, "phone", clean_phone)
    for name in ("categories", "factors"):
        if cleaned.get(name) is not None:
            cleaned[name] = sorted(set(cleaned[name]))
    consent = cleaned.get("consent")
    if consent is not None:
        given_at: datetime = consent["given_at"]
        if given_at > datetime.now(UTC):
            errors.add("consent.given_at", "must not be in the future")
        cleaned["consent"] = {**consent, "scope": sorted(set(consent["scope"]))}
    errors.raise_any()
    return cleaned
