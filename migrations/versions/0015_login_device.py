"""sign-in throttle: the device of each sign-in attempt, and indexes for per-source backoff and known sources

Revision ID: 0015_login_device
Revises: 0014_fingerprints
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_login_device"
down_revision: str | Sequence[str] | None = "0014_fingerprints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_login_attempts_email_ip_at", ["email", "ip_hash", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_email_device_at", ["email", "device_hash", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_email_device_at")
        batch_op.drop_index("ix_login_attempts_email_ip_at")
        batch_op.drop_column("device_hash")
