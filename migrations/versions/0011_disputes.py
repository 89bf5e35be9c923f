"""orders: disputes after the return window and chargebacks (and the sandbox's); what each share lost to a clawback

Revision ID: 0011_disputes
Revises: 0010_rendition_sweep
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0011_disputes"
down_revision: str | Sequence[str] | None = "0010_rendition_sweep"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UNDECIDED = "source = 'buyer' AND state IN ('open', 'escalated', 'contested')"


def upgrade() -> None:
    op.create_table(
        "sandbox_disputes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("amount", ID, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["sandbox_payments.id"], name=op.f("fk_sandbox_disputes_payment_id_sandbox_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_disputes")),
    )
    op.create_index("ix_sandbox_disputes_payment_id", "sandbox_disputes", ["payment_id"], unique=False)
    op.add_column("earnings", sa.Column("clawed_back", ID, nullable=False, server_default="0"))
    op.create_table(
        "order_disputes",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("brand_id", ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("amount", ID, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("opened_by", ID, nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_dispute_id", sa.String(length=64), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decision_note", sa.String(length=200), nullable=True),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_order_disputes_amount_positive")),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_order_disputes_brand_id_brands")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_order_disputes_decided_by_users")),
        sa.ForeignKeyConstraint(["opened_by"], ["users.id"], name=op.f("fk_order_disputes_opened_by_users")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_disputes_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["order_refunds.id"], name=op.f("fk_order_disputes_refund_id_order_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_disputes")),
        sa.UniqueConstraint(
            "provider",
            "provider_dispute_id",
            "order_id",
            name=op.f("uq_order_disputes_provider_provider_dispute_id_order_id"),
        ),
    )
    op.create_index("ix_order_disputes_order", "order_disputes", ["order_id"], unique=False)
    op.create_index("ix_order_disputes_brand_state", "order_disputes", ["brand_id", "state"], unique=False)
    op.create_index(
        "uq_order_disputes_buyer_one_open", "order_disputes", ["order_id"], unique=True,
        postgresql_where=sa.text(_UNDECIDED), sqlite_where=sa.text(_UNDECIDED),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_order_disputes_buyer_one_open", table_name="order_disputes")
    op.drop_index("ix_order_disputes_brand_state", table_name="order_disputes")
    op.drop_index("ix_order_disputes_order", table_name="order_disputes")
    op.drop_table("order_disputes")
    op.drop_index("ix_sandbox_disputes_payment_id", table_name="sandbox_disputes")
    op.drop_table("sandbox_disputes")
    with op.batch_alter_table("earnings") as batch:
        batch.drop_column("clawed_back")
