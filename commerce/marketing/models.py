"""Flash-sale tables: the sale a brand schedules and the admissions its gate hands out."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class FlashSale(Base):
    """`quantity` units of one SKU at `price_fen`, set aside from the SKU's stock when scheduled.

    `remaining` is the SQL gate's pool (the embedded default); with the Redis gate the count lives in Redis and
    this column keeps the scheduled quantity.
    """

    __tablename__ = "flash_sales"
    __table_args__ = (
        Index("ix_flash_sales_sku_window", "sku_id", "starts_at"),
        Index("ix_flash_sales_brand", "brand_id", "id"),
        Index("ix_flash_sales_open_ends", "closed_at", "ends_at"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("quantity > 0 AND remaining >= 0 AND remaining <= quantity", name="pool_bounded"),
        CheckConstraint("per_user_limit >= 1", name="limit_positive"),
        CheckConstraint("ends_at > starts_at", name="window_not_inverted"),
        CheckConstraint("pay_window_seconds > 0", name="pay_window_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    price_fen: Mapped[int]
    quantity: Mapped[int]
    remaining: Mapped[int]
    per_user_limit: Mapped[int] = mapped_column(default=1)  # units one buyer may take (in one admission)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    pay_window_seconds: Mapped[int] = mapped_column(default=300)
    # Set once the last pay window after the end has passed: the units left went back to the SKU's stock.
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    @property
    def pay_window(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.pay_window_seconds)


class AdmissionStatus(enum.StrEnum):
    ADMITTED = "admitted"  # the gate said yes; the buyer has until pay_deadline to check out and pay
    ORDERED = "ordered"  # checked out: the order holds the units (paid or not is the order's status)
    RELEASED = "released"  # the order was cancelled unpaid: its units wait for the expiry job to go back
    RETURNED = "returned"  # the units are back in the gate's pool (exactly once)


class FlashAdmission(Base):
    """One buyer's place in one sale; unique per (sale, buyer), so nobody is admitted twice."""

    __tablename__ = "flash_admissions"
    __table_args__ = (
        UniqueConstraint("sale_id", "user_id"),
        Index("ix_flash_admissions_due", "status", "pay_deadline"),
        Index("ix_flash_admissions_order", "order_id"),
        Index("ix_flash_admissions_user_status", "user_id", "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    quantity: Mapped[int]
    price_fen: Mapped[int]
    status: Mapped[AdmissionStatus] = mapped_column(str_enum(AdmissionStatus, 16), default=AdmissionStatus.ADMITTED)
    pay_deadline: Mapped[dt.datetime]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    admitted_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    returned_at: Mapped[dt.datetime | None] = mapped_column(default=None)
