"""Every table model, imported so the shared metadata knows them (Alembic compares against it)."""

from registry.db.base import metadata
from registry.domain.audit.tables import AuditBlock, AuditEvent
from registry.domain.cases.tables import (
    Case,
    CaseAssessment,
    CaseDeadlineBreach,
    CaseMeasure,
    CasePlan,
    CaseReview,
    CaseTransition,
    CaseVisit,
    Referral,
)
from registry.domain.changes.tables import ChangeEvent
from registry.domain.classifier.tables import Service
from registry.domain.exports.tables import Export
from registry.domain.families.tables import (
    Family,
    FamilyProviderAccess,
    HardshipFactor,
    NameWord,
    NameWordDeletion,
    NameWordForm,
    Person,
    RecipientCategory,
)
from registry.domain.friendly_communities.tables import FriendlyCommunity, FriendlyCommunityStep
from registry.domain.idempotency import IdempotencyKey
from registry.domain.military.tables import (
    MilitaryUnit,
    MilitaryUnitProvider,
    Servicemember,
    ServicememberStatusChange,
    ServicememberTransfer,
    SupportCase,
    SupportCaseContact,
    SupportCaseDeadlineBreach,
    SupportCaseEvent,
    SupportCaseMeasure,
    SupportMeasure,
)
from registry.domain.programmes.tables import (
    AidItem,
    AidReceipt,
    AidStock,
    Allocation,
    Distribution,
    DistributionItem,
    Enrolment,
    Programme,
    Reversal,
)
from registry.domain.providers.tables import (
    Provider,
    ProviderService,
    ProviderStatusChange,
    SupportCriterion,
)
from registry.domain.reports.tables import ReportCount, ReportCountChange
from registry.domain.service_records.tables import ServiceRecord, ServiceRecordVersion
from registry.domain.territories.tables import ReferenceImport, Territory
from registry.domain.versioning import RecordChange
from registry.domain.webhooks.tables import WebhookDelivery, WebhookSubscription

__all__ = [
    "AidItem",
    "AidReceipt",
    "AidStock",
    "Allocation",
    "AuditBlock",
    "AuditEvent",
    "Case",
    "CaseAssessment",
    "CaseDeadlineBreach",
    "CaseMeasure",
    "CasePlan",
    "CaseReview",
    "CaseTransition",
    "CaseVisit",
    "ChangeEvent",
    "Distribution",
    "DistributionItem",
    "Enrolment",
    "Export",
    "Family",
    "FamilyProviderAccess",
    "FriendlyCommunity",
    "FriendlyCommunityStep",
    "HardshipFactor",
    "IdempotencyKey",
    "MilitaryUnit",
    "MilitaryUnitProvider",
    "NameWord",
    "NameWordDeletion",
    "NameWordForm",
    "Person",
    "Programme",
    "Provider",
    "ProviderService",
    "ProviderStatusChange",
    "RecipientCategory",
    "RecordChange",
    "ReferenceImport",
    "Referral",
    "ReportCount",
    "ReportCountChange",
    "Reversal",
    "Service",
    "ServiceRecord",
    "ServiceRecordVersion",
    "Servicemember",
    "ServicememberStatusChange",
    "ServicememberTransfer",
    "SupportCase",
    "SupportCaseContact",
    "SupportCaseDeadlineBreach",
    "SupportCaseEvent",
    "SupportCaseMeasure",
    "SupportCriterion",
    "SupportMeasure",
    "Territory",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
]
