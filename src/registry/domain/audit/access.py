"""Who may read the audit log: auditors only, and nobody is confined within it (an auditor
reads every event)."""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.auth.roles import Permission
from registry.errors import Forbidden


def require_auditor(principal: Principal) -> None:
    """403 unless ``principal`` holds ``audit:read``."""
    if not principal.can(Permission.AUDIT_READ):
        raise Forbidden("Only auditors read the audit log.")
