"""after-sale: a declined payment stays open to retry (its last failure is kept), and refund photos

Revision ID: 0012_aftersale_refunds
Revises: 0011_disputes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0012_aftersale_refunds"
down_revision: str | Sequence[str] | None = "0011_disputes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("payments", sa.Column("last_failure", sa.String(length=64), nullable=True))
    op.add_column("sandbox_payments", sa.Column("last_failure", sa.String(length=64), nullable=True))
    op.create_table(
        "order_refund_photos",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("uploaded_by", ID, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("thumb_key", sa.String(length=300), nullable=False),
        sa.Column("width", ID, nullable=False),
        sa.Column("height", ID, nullable=False),
        sa.Column("bytes", ID, nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_refund_photos_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["order_refunds.id"], name=op.f("fk_order_refund_photos_refund_id_order_refunds")
        ),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_order_refund_photos_uploaded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refund_photos")),
    )
    op.create_index("ix_order_refund_photos_order", "order_refund_photos", ["order_id", "refund_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_refund_photos_order", table_name="order_refund_photos")
    op.drop_table("order_refund_photos")
    with op.batch_alter_table("sandbox_payments") as batch:
        batch.drop_column("last_failure")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("last_failure")
