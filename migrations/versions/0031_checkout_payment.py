"""checkouts: no payment_id; a checkout's payment is the one naming it (purpose "checkout", reference_id)

Revision ID: 0031_checkout_payment
Revises: 0030_support
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_checkout_payment"
down_revision: str | Sequence[str] | None = "0030_support"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every lookup of a checkout's payment now goes through ix_payments_purpose_ref (purpose, reference_id), made with
# the payments table in 0006_money; it stays non-unique because a booking may have several payments over time.


def upgrade() -> None:
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_checkouts_payment_id_payments"), type_="foreignkey")
        batch_op.drop_column("payment_id")


def downgrade() -> None:
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key(batch_op.f("fk_checkouts_payment_id_payments"), "payments", ["payment_id"], ["id"])
    # The latest payment naming the checkout, as the column held.
    op.execute(
        "UPDATE checkouts SET payment_id = (SELECT max(p.id) FROM payments p"
        " WHERE p.purpose = 'checkout' AND p.reference_id = checkouts.id)"
    )
