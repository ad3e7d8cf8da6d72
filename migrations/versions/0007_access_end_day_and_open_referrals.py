"""The day a provider's access to a family ended, and one open referral per need.

- ``family_provider_access.revoked_on``: the day a grant ended by the application's clock.
  A provider may still report services delivered up to that day for
  ``REGISTRY_LATE_REPORTING_DAYS`` after it. Grants ended before this migration get the UTC
  date of their ``revoked_at``.
- ``uq_referrals_open_provider_service``: a case has at most one open (pending or accepted)
  referral to a provider for a service (a referral naming no service counts as one need of
  its own). The application answers a second one with a 409 naming the first; the index
  keeps that true under concurrent requests. Duplicates made before this migration are
  closed first, keeping for each need the accepted referral, else the oldest (the closing
  is noted in ``record_changes`` as made by ``migration 0007``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('pending', 'accepted')"


def upgrade() -> None:
    op.add_column("family_provider_access", sa.Column("revoked_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE family_provider_access SET revoked_on = (revoked_at AT TIME ZONE 'UTC')::date "
        "WHERE revoked_at IS NOT NULL"
    )

    op.execute(
        """
        WITH ranked AS (
            SELECT id, row_number() OVER (
                PARTITION BY case_id, provider_id, coalesce(service_code, '')
                ORDER BY (status = 'accepted') DESC, created_at, id
            ) AS rank
            FROM referrals WHERE status IN ('pending', 'accepted')
        ), closed AS (
            UPDATE referrals SET status = 'closed', closed_at = now(), updated_at = now(),
                version = version + 1
            FROM ranked WHERE referrals.id = ranked.id AND ranked.rank > 1
            RETURNING referrals.id, referrals.version
        )
        INSERT INTO record_changes (resource_type, resource_id, version, changed_fields, actor)
        SELECT 'referral', id, version, ARRAY['closed_at', 'status'], 'migration 0007'
        FROM closed
        """
    )
    op.create_index(
        "uq_referrals_open_provider_service",
        "referrals",
        ["case_id", "provider_id", sa.text("coalesce(service_code, '')")],
        unique=True,
        postgresql_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("uq_referrals_open_provider_service", "referrals")
    op.drop_column("family_provider_access", "revoked_on")
