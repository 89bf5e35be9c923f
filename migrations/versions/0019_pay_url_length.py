"""payments.pay_url holds up to 2,000 characters: an Alipay WAP link carries its whole signed request

Revision ID: 0019_pay_url_length
Revises: 0018_moderation
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_pay_url_length"
down_revision: str | Sequence[str] | None = "0018_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column(
            "pay_url", existing_type=sa.String(length=500), type_=sa.String(length=2000), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column(
            "pay_url", existing_type=sa.String(length=2000), type_=sa.String(length=500), existing_nullable=False
        )
