"""Roles (DESIGN §4), what each may do, and which confinement claim each needs."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MINISTRY_ADMIN = "ministry_admin"
    MINISTRY_ANALYST = "ministry_analyst"
    REGIONAL_OFFICER = "regional_officer"
    COMMUNITY_OFFICER = "community_officer"
    SOCIAL_WORKER = "social_worker"
    PROVIDER_STAFF = "provider_staff"
    MILITARY_LIAISON = "military_liaison"
    INTEGRATION = "integration"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """A permission is also the OAuth scope an integration client is granted it by."""

    TERRITORIES_READ = "territories:read"
    #: Reference lists (recipient categories, hardship factors, …): not personal data.
    REFERENCE_READ = "reference:read"
    CLASSIFIERS_MANAGE = "classifiers:manage"
    FAMILIES_READ = "families:read"
    FAMILIES_WRITE = "families:write"
    #: Personal identifiers (RNOKPP, UNZR, IDP certificate) in full; others see them masked.
    IDENTIFIERS_READ = "identifiers:read"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    PROVIDERS_READ = "providers:read"
    PROVIDERS_MANAGE = "providers:manage"
    SERVICE_RECORDS_READ = "service-records:read"
    SERVICE_RECORDS_WRITE = "service-records:write"
    MILITARY_READ = "military:read"
    MILITARY_WRITE = "military:write"
    MILITARY_MANAGE = "military:manage"
    PROGRAMMES_READ = "programmes:read"
    PROGRAMMES_WRITE = "programmes:write"
    PROGRAMMES_MANAGE = "programmes:manage"
    REPORTS_READ = "reports:read"
    #: The change feed (ids and versions of what changed, within the caller's reach).
    CHANGES_READ = "changes:read"
    #: Bulk NDJSON exports of what the caller may read (each type also needs its read
    #: permission): pulling a whole territory at once is granted apart from reading records.
    EXPORTS_CREATE = "exports:create"
    #: Webhook subscriptions: the change feed pushed to the caller's URL (with changes:read).
    WEBHOOKS_MANAGE = "webhooks:manage"
    AUDIT_READ = "audit:read"


P = Permission
_EVERYONE = {P.TERRITORIES_READ, P.REFERENCE_READ, P.PROVIDERS_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MINISTRY_ADMIN: frozenset(
        _EVERYONE
        | {
            P.CLASSIFIERS_MANAGE,
            P.PROVIDERS_MANAGE,
            P.MILITARY_MANAGE,
            P.PROGRAMMES_MANAGE,
            P.FAMILIES_READ,
            P.IDENTIFIERS_READ,
            P.CASES_READ,
            P.SERVICE_RECORDS_READ,
            P.MILITARY_READ,
            P.PROGRAMMES_READ,
            P.REPORTS_READ,
            P.CHANGES_READ,
            P.EXPORTS_CREATE,
            P.WEBHOOKS_MANAGE,
        }
    ),
    Role.MINISTRY_ANALYST: frozenset(_EVERYONE | {P.REPORTS_READ}),
    Role.REGIONAL_OFFICER: frozenset(
        _EVERYONE
        | {
            P.FAMILIES_READ,
            P.CASES_READ,
            P.SERVICE_RECORDS_READ,
            P.PROGRAMMES_READ,
            P.REPORTS_READ,
            P.CHANGES_READ,
            P.EXPORTS_CREATE,
        }
    ),
    Role.COMMUNITY_OFFICER: frozenset(
        _EVERYONE
        | {
            P.FAMILIES_READ,
            P.FAMILIES_WRITE,
            P.IDENTIFIERS_READ,
            P.CASES_READ,
            P.CASES_WRITE,
            P.SERVICE_RECORDS_READ,
            P.PROGRAMMES_READ,
            P.PROGRAMMES_WRITE,
            P.REPORTS_READ,
            P.CHANGES_READ,
            P.EXPORTS_CREATE,
            # support cases of families of their hromada, read-only (the military domain)
            P.MILITARY_READ,
            # communal providers of their own hromada only (the providers domain checks)
            P.PROVIDERS_MANAGE,
        }
    ),
    Role.SOCIAL_WORKER: frozenset(
        _EVERYONE
        | {
            P.FAMILIES_READ,
            P.FAMILIES_WRITE,
            P.IDENTIFIERS_READ,
            P.CASES_READ,
            P.CASES_WRITE,
            P.MILITARY_READ,  # support cases of families of their hromada, read-only
            P.PROGRAMMES_READ,  # the enrolments of their hromada (the programmes domain)
        }
    ),
    Role.PROVIDER_STAFF: frozenset(
        _EVERYONE
        | {
            P.FAMILIES_READ,
            P.CASES_READ,
            P.SERVICE_RECORDS_READ,
            P.SERVICE_RECORDS_WRITE,
            # the support cases assigned to their provider: contacts and measures
            P.MILITARY_READ,
            P.MILITARY_WRITE,
            # the distributions made to their provider (the programmes domain)
            P.PROGRAMMES_READ,
            # what changed of their provider's records
            P.CHANGES_READ,
        }
    ),
    Role.MILITARY_LIAISON: frozenset(
        _EVERYONE | {P.MILITARY_READ, P.MILITARY_WRITE, P.CHANGES_READ}
    ),
    # An integration client may do exactly what its token's scopes name.
    Role.INTEGRATION: frozenset(),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
}

#: The confinement claim a role cannot work without.
REQUIRED_CONFINEMENT: dict[Role, str] = {
    Role.REGIONAL_OFFICER: "territory",
    Role.COMMUNITY_OFFICER: "territory",
    Role.SOCIAL_WORKER: "territory",
    Role.PROVIDER_STAFF: "provider_id",
    Role.MILITARY_LIAISON: "unit_id",
}

#: The territorial level the ``territory`` claim names, by role (KATOTTG categories): an
#: oblast for a regional officer, a hromada for the hromada's staff (Kyiv, a city with special
#: status, is both), and any unit down to a hromada for an integration client.
TERRITORY_CATEGORIES: dict[Role, frozenset[str]] = {
    Role.REGIONAL_OFFICER: frozenset({"O", "K"}),
    Role.COMMUNITY_OFFICER: frozenset({"H", "K"}),
    Role.SOCIAL_WORKER: frozenset({"H", "K"}),
    Role.INTEGRATION: frozenset({"O", "K", "P", "H"}),
}

#: The scope an integration client needs to reach personal records across the country when
#: its token names no territory, provider or unit: national reach is granted, never assumed.
NATIONAL_REACH_SCOPE = "reach:national"

#: What an integration client's scopes may grant that its reach bounds: personal records,
#: and keeping providers in the register.
REACHED_PERMISSIONS = frozenset(
    {
        P.PROVIDERS_MANAGE,
        P.FAMILIES_READ,
        P.FAMILIES_WRITE,
        P.IDENTIFIERS_READ,
        P.CASES_READ,
        P.CASES_WRITE,
        P.SERVICE_RECORDS_READ,
        P.SERVICE_RECORDS_WRITE,
        P.MILITARY_READ,
        P.MILITARY_WRITE,
        P.PROGRAMMES_READ,
        P.PROGRAMMES_WRITE,
        P.CHANGES_READ,
        P.EXPORTS_CREATE,
        P.WEBHOOKS_MANAGE,
    }
)
