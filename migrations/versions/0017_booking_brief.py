"""booking brief check: the draft length a campaign asks for (seconds, each side optional)

Revision ID: 0017_booking_brief
Revises: 0015_login_device
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

INT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0017_booking_brief"
down_revision: str | Sequence[str] | None = "0015_login_device"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_duration_s", INT, nullable=True))
        batch_op.add_column(sa.Column("max_duration_s", INT, nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_campaigns_duration_range"),
            "min_duration_s IS NULL OR max_duration_s IS NULL OR max_duration_s >= min_duration_s",
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_campaigns_duration_range"), type_="check")
        batch_op.drop_column("max_duration_s")
        batch_op.drop_column("min_duration_s")
