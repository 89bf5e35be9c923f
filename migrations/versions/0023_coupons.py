"""coupons: funding, kinds, limits, scope; the wallet of claimed coupons; platform-funded line discounts

Revision ID: 0023_coupons
Revises: 0022_wechat_identity
Create Date: 2026-12-06 22:09:35.008958
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Reviewed by hand: new NOT NULL columns get server defaults (existing coupons are brand-funded, one per user);
# the check constraints autogenerate does not see are added here.

revision: str = "0023_coupons"
down_revision: str | Sequence[str] | None = "0022_wechat_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_coupons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("coupon_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "status",
            sa.Enum("available", "used", name="usercouponstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("discount", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("claimed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("discount >= 0", name=op.f("ck_user_coupons_discount_non_negative")),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_user_coupons_coupon_id_coupons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["granted_by"], ["users.id"], name=op.f("fk_user_coupons_granted_by_users")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_user_coupons_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_coupons_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_coupons")),
        sa.UniqueConstraint("coupon_id", "user_id", "seq", name=op.f("uq_user_coupons_coupon_id_user_id_seq")),
    )
    with op.batch_alter_table("user_coupons", schema=None) as batch_op:
        batch_op.create_index("ix_user_coupons_order", ["order_id"], unique=False)
        batch_op.create_index("ix_user_coupons_user_status", ["user_id", "status"], unique=False)

    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=60), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column(
                "funded_by",
                sa.Enum("brand", "platform", name="couponfunding", native_enum=False, length=16),
                server_default="brand",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("max_discount", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("product_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("per_user_limit", ID, server_default="1", nullable=False))
        batch_op.add_column(sa.Column("claimed_count", ID, server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.alter_column("brand_id", existing_type=ID, nullable=True)
        batch_op.alter_column("code", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.create_foreign_key(batch_op.f("fk_coupons_created_by_users"), "users", ["created_by"], ["id"])
        batch_op.create_check_constraint(
            batch_op.f("ck_coupons_claims_bounded"), "max_uses IS NULL OR claimed_count <= max_uses"
        )
        batch_op.create_check_constraint(batch_op.f("ck_coupons_per_user_positive"), "per_user_limit >= 1")
        batch_op.create_check_constraint(
            batch_op.f("ck_coupons_brand_funded_has_brand"), "funded_by = 'platform' OR brand_id IS NOT NULL"
        )

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_discount", ID, server_default="0", nullable=False))
        batch_op.create_check_constraint(
            batch_op.f("ck_order_lines_platform_discount_bounded"),
            "platform_discount >= 0 AND platform_discount <= discount",
        )


def downgrade() -> None:
    op.execute("DELETE FROM coupons WHERE brand_id IS NULL OR code IS NULL")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_order_lines_platform_discount_bounded"), type_="check")
        batch_op.drop_column("platform_discount")

    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_coupons_brand_funded_has_brand"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_coupons_per_user_positive"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_coupons_claims_bounded"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_coupons_created_by_users"), type_="foreignkey")
        batch_op.alter_column("code", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.alter_column("brand_id", existing_type=ID, nullable=False)
        batch_op.drop_column("created_by")
        batch_op.drop_column("claimed_count")
        batch_op.drop_column("per_user_limit")
        batch_op.drop_column("product_ids")
        batch_op.drop_column("max_discount")
        batch_op.drop_column("funded_by")
        batch_op.drop_column("name")

    with op.batch_alter_table("user_coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_user_coupons_user_status")
        batch_op.drop_index("ix_user_coupons_order")

    op.drop_table("user_coupons")
