"""bargains: offers, started bargains and their helps

Revision ID: 0027_bargains
Revises: 0026_distribution
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0027_bargains"
down_revision: str | Sequence[str] | None = "0026_distribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bargain_offers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("brand_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("floor_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("max_helpers", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("window_hours", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("per_user_limit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_bargain_offers_window_not_inverted")),
        sa.CheckConstraint("floor_fen > 0 AND floor_fen < price_fen", name=op.f("ck_bargain_offers_floor_below_price")),
        sa.CheckConstraint("max_helpers >= 1 AND max_helpers <= 100", name=op.f("ck_bargain_offers_helpers_bounded")),
        sa.CheckConstraint("per_user_limit >= 1", name=op.f("ck_bargain_offers_limit_positive")),
        sa.CheckConstraint("price_fen - floor_fen >= max_helpers", name=op.f("ck_bargain_offers_every_help_cuts")),
        sa.CheckConstraint("window_hours >= 1", name=op.f("ck_bargain_offers_window_positive")),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_bargain_offers_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_bargain_offers_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_bargain_offers_product_id_products")),
        sa.ForeignKeyConstraint(["sku_id"], ["product_skus.id"], name=op.f("fk_bargain_offers_sku_id_product_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargain_offers")),
    )
    with op.batch_alter_table("bargain_offers", schema=None) as batch_op:
        batch_op.create_index("ix_bargain_offers_brand", ["brand_id", "id"], unique=False)
        batch_op.create_index("ix_bargain_offers_product_window", ["product_id", "ends_at"], unique=False)

    op.create_table(
        "bargains",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("floor_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("max_helpers", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("helps_count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status", sa.Enum("active", "ordered", name="bargainstatus", native_enum=False, length=16), nullable=False
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ordered_cut_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("helps_count >= 0 AND helps_count <= max_helpers", name=op.f("ck_bargains_helps_bounded")),
        sa.CheckConstraint("ordered_cut_fen >= 0", name=op.f("ck_bargains_cut_not_negative")),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["bargain_offers.id"], name=op.f("fk_bargains_offer_id_bargain_offers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_bargains_order_id_orders")),
        sa.ForeignKeyConstraint(["sku_id"], ["product_skus.id"], name=op.f("fk_bargains_sku_id_product_skus")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bargains_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargains")),
        sa.UniqueConstraint("offer_id", "user_id", "seq", name=op.f("uq_bargains_offer_id_user_id_seq")),
    )
    with op.batch_alter_table("bargains", schema=None) as batch_op:
        batch_op.create_index("ix_bargains_order", ["order_id"], unique=False)
        batch_op.create_index("ix_bargains_user_sku", ["user_id", "sku_id", "status"], unique=False)

    op.create_table(
        "bargain_helps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bargain_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("helper_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cut_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("helped_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cut_fen >= 0", name=op.f("ck_bargain_helps_cut_not_negative")),
        sa.ForeignKeyConstraint(
            ["bargain_id"], ["bargains.id"], name=op.f("fk_bargain_helps_bargain_id_bargains"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["users.id"], name=op.f("fk_bargain_helps_helper_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bargain_helps")),
        sa.UniqueConstraint("bargain_id", "helper_id", name=op.f("uq_bargain_helps_bargain_id_helper_id")),
        sa.UniqueConstraint("bargain_id", "seq", name=op.f("uq_bargain_helps_bargain_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("bargain_helps")
    with op.batch_alter_table("bargains", schema=None) as batch_op:
        batch_op.drop_index("ix_bargains_user_sku")
        batch_op.drop_index("ix_bargains_order")

    op.drop_table("bargains")
    with op.batch_alter_table("bargain_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_bargain_offers_product_window")
        batch_op.drop_index("ix_bargain_offers_brand")

    op.drop_table("bargain_offers")
