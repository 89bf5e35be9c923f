"""flash sales: sales with a unit pool and per-buyer admissions

Revision ID: 0021_flash_sales
Revises: 0020_qualifications
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0021_flash_sales"
down_revision: str | Sequence[str] | None = "0020_qualifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("brand_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("remaining", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("per_user_limit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pay_window_seconds", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_flash_sales_window_not_inverted")),
        sa.CheckConstraint("pay_window_seconds > 0", name=op.f("ck_flash_sales_pay_window_positive")),
        sa.CheckConstraint("per_user_limit >= 1", name=op.f("ck_flash_sales_limit_positive")),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_flash_sales_price_positive")),
        sa.CheckConstraint(
            "quantity > 0 AND remaining >= 0 AND remaining <= quantity", name=op.f("ck_flash_sales_pool_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_flash_sales_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_flash_sales_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_flash_sales_product_id_products")),
        sa.ForeignKeyConstraint(["sku_id"], ["product_skus.id"], name=op.f("fk_flash_sales_sku_id_product_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.create_index("ix_flash_sales_brand", ["brand_id", "id"], unique=False)
        batch_op.create_index("ix_flash_sales_open_ends", ["closed_at", "ends_at"], unique=False)
        batch_op.create_index("ix_flash_sales_sku_window", ["sku_id", "starts_at"], unique=False)

    op.create_table(
        "flash_admissions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("price_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "admitted", "ordered", "released", "returned", name="admissionstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("pay_deadline", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("admitted_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("returned_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_flash_admissions_quantity_positive")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_flash_admissions_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["flash_sales.id"], name=op.f("fk_flash_admissions_sale_id_flash_sales"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["product_skus.id"], name=op.f("fk_flash_admissions_sku_id_product_skus")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_flash_admissions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_admissions")),
        sa.UniqueConstraint("sale_id", "user_id", name=op.f("uq_flash_admissions_sale_id_user_id")),
    )
    with op.batch_alter_table("flash_admissions", schema=None) as batch_op:
        batch_op.create_index("ix_flash_admissions_due", ["status", "pay_deadline"], unique=False)
        batch_op.create_index("ix_flash_admissions_order", ["order_id"], unique=False)
        batch_op.create_index("ix_flash_admissions_user_status", ["user_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flash_admissions", schema=None) as batch_op:
        batch_op.drop_index("ix_flash_admissions_user_status")
        batch_op.drop_index("ix_flash_admissions_order")
        batch_op.drop_index("ix_flash_admissions_due")

    op.drop_table("flash_admissions")
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_index("ix_flash_sales_sku_window")
        batch_op.drop_index("ix_flash_sales_open_ends")
        batch_op.drop_index("ix_flash_sales_brand")

    op.drop_table("flash_sales")
