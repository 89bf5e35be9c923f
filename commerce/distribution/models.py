"""Distribution tables: a brand's programme, its distributors, their micro-shop picks and customer bindings.

There is deliberately no column for an entry fee, a deposit or a joining reward: recruiting can never pay.
A distributor earns only a share of what their bound customers buy; the distributor who invited them may take
a part of that share (level 2), and there is no level below it.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class Programme(Base):
    """A brand's terms for its distributors (one per brand)."""

    __tablename__ = "distribution_programmes"
    __table_args__ = (
        CheckConstraint("binding_days >= 1 AND binding_days <= 365", name="binding_days_range"),
        CheckConstraint("default_rate_bp >= 0 AND default_rate_bp <= 10000", name="rate_range"),
        CheckConstraint("level2_share_bp >= 0 AND level2_share_bp <= 5000", name="level2_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), unique=True)
    binding_days: Mapped[int] = mapped_column(default=15)  # 锁客: how long a brought customer stays bound
    default_rate_bp: Mapped[int]  # the distributor's commission on what a bound customer pays
    level2_share_bp: Mapped[int] = mapped_column(default=0)  # the inviter's part of that commission; 0: one level
    # A paid order of a bound customer starts their binding's days again (有赞's 保护期 renews on purchase).
    renew_on_purchase: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class ProductRate(Base):
    """A rate for one product instead of the programme's default."""

    __tablename__ = "distribution_product_rates"
    __table_args__ = (CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_range"),)

    programme_id: Mapped[int] = mapped_column(ForeignKey("distribution_programmes.id", ondelete="CASCADE"),
                                              primary_key=True)  # fmt: skip
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    rate_bp: Mapped[int]


class DistributorStatus(enum.StrEnum):
    PENDING = "pending"  # accepted an invite; the brand has not approved yet
    APPROVED = "approved"
    SUSPENDED = "suspended"


class Distributor(Base):
    """A user in a brand's programme: a store's staff member, grouped by store and region."""

    __tablename__ = "distributors"
    __table_args__ = (
        UniqueConstraint("brand_id", "user_id"),
        Index("ix_distributors_brand_status", "brand_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The distributor whose invite brought them in (None: the brand's own): level 2 of their sales, never deeper.
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id", ondelete="SET NULL"), default=None)
    status: Mapped[DistributorStatus] = mapped_column(
        str_enum(DistributorStatus, 16), default=DistributorStatus.PENDING
    )
    store: Mapped[str] = mapped_column(String(80), default="")
    region: Mapped[str] = mapped_column(String(80), default="")
    via: Mapped[str] = mapped_column(String(16), default="invite")  # invite | import
    joined_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ShopPick(Base):
    """A product a distributor shows in their micro-shop."""

    __tablename__ = "distribution_shop_picks"

    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class Binding(Base):
    """A customer bound to the distributor who first brought them to a brand, until `expires_at`."""

    __tablename__ = "distribution_bindings"
    __table_args__ = (Index("ix_distribution_bindings_customer", "brand_id", "customer_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(16))  # shop | link
    bound_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
