"""Every table model, imported so the shared metadata knows them (Alembic compares against it)."""

from registry.db.base import metadata
from registry.domain.audit.models import AuditBlock, AuditEvent
from registry.domain.territories.models import ReferenceImport, Territory

__all__ = ["AuditBlock", "AuditEvent", "ReferenceImport", "Territory", "metadata"]
