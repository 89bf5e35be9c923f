"""distribution: a programme may renew a customer's binding when they pay an order (on by default)

Revision ID: 0028_distribution_gaps
Revises: 0027_bargains
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_distribution_gaps"
down_revision: str | Sequence[str] | None = "0027_bargains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("distribution_programmes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renew_on_purchase", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("distribution_programmes", schema=None) as batch_op:
        batch_op.drop_column("renew_on_purchase")
