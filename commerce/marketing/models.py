"""Marketing tables: 秒杀 (the sale a brand schedules and the admissions its gate hands out), 砍价 (offers, the
buyers' bargains and their friends' helps) and 拼团 (offers, groups and their seats)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class SkuCampaign:
    """What every campaign a brand runs on one of its SKUs has: the SKU, the campaign's price and its window."""

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    price_fen: Mapped[int]
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class FlashSale(SkuCampaign, Base):
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

    quantity: Mapped[int]
    remaining: Mapped[int]
    per_user_limit: Mapped[int] = mapped_column(default=1)  # units one buyer may take (in one admission)
    pay_window_seconds: Mapped[int] = mapped_column(default=300)
    # Set once the last pay window after the end has passed: the units left went back to the SKU's stock.
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

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


# -- 砍价 bargains (commerce.marketing.bargains) -------------------------------------------------------------------


class BargainOffer(SkuCampaign, Base):
    """A brand's 砍价 offer on one SKU: from `price_fen` (the SKU's price when created) down to `floor_fen` in
    exactly `max_helpers` disclosed cuts; a started bargain lasts `window_hours`."""

    __tablename__ = "bargain_offers"
    __table_args__ = (
        Index("ix_bargain_offers_product_window", "product_id", "ends_at"),
        Index("ix_bargain_offers_brand", "brand_id", "id"),
        CheckConstraint("floor_fen > 0 AND floor_fen < price_fen", name="floor_below_price"),
        CheckConstraint("max_helpers >= 1 AND max_helpers <= 100", name="helpers_bounded"),
        CheckConstraint("price_fen - floor_fen >= max_helpers", name="every_help_cuts"),
        CheckConstraint("window_hours >= 1", name="window_positive"),
        CheckConstraint("per_user_limit >= 1", name="limit_positive"),
        CheckConstraint("ends_at > starts_at", name="window_not_inverted"),
    )

    floor_fen: Mapped[int]
    max_helpers: Mapped[int]
    window_hours: Mapped[int]
    per_user_limit: Mapped[int] = mapped_column(default=1)  # bargains one buyer may start on this offer


class BargainStatus(enum.StrEnum):
    ACTIVE = "active"  # helps are taken until `expires_at`; the buyer may check out at the price reached
    ORDERED = "ordered"  # an order holds it (paid or not is the order's status); a cancelled unpaid order frees it


class Bargain(Base):
    """One buyer's bargain on one offer, with the offer's terms copied at the start (what the page disclosed).

    `helps_count` moves only by conditional UPDATEs (`helps_count < max_helpers`); `(offer_id, user_id, seq)` is
    unique, so racing starts never pass the offer's per-user limit."""

    __tablename__ = "bargains"
    __table_args__ = (
        UniqueConstraint("offer_id", "user_id", "seq"),
        Index("ix_bargains_user_sku", "user_id", "sku_id", "status"),
        Index("ix_bargains_order", "order_id"),
        CheckConstraint("helps_count >= 0 AND helps_count <= max_helpers", name="helps_bounded"),
        CheckConstraint("ordered_cut_fen >= 0", name="cut_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("bargain_offers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int]
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    price_fen: Mapped[int]
    floor_fen: Mapped[int]
    max_helpers: Mapped[int]
    helps_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[BargainStatus] = mapped_column(str_enum(BargainStatus, 16), default=BargainStatus.ACTIVE)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    ordered_cut_fen: Mapped[int] = mapped_column(default=0)  # the cut the order took (the brand funds it)
    started_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]


class BargainHelp(Base):
    """One friend's help: the `seq`-th cut of the disclosed schedule. One per helper per bargain, one per seq."""

    __tablename__ = "bargain_helps"
    __table_args__ = (
        UniqueConstraint("bargain_id", "helper_id"),
        UniqueConstraint("bargain_id", "seq"),
        CheckConstraint("cut_fen >= 0", name="cut_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bargain_id: Mapped[int] = mapped_column(ForeignKey("bargains.id", ondelete="CASCADE"))
    helper_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int]
    cut_fen: Mapped[int]
    helped_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


# -- 拼团 group buys ----------------------------------------------------------------------------------------------


class GroupBuyOffer(SkuCampaign, Base):
    """A brand's standing offer: groups of `group_size` buyers each pay `price_fen` for the SKU, if the group fills
    (everyone paid) within `window_seconds` of being opened. Groups can be opened between `starts_at` and
    `ends_at`."""

    __tablename__ = "group_buy_offers"
    __table_args__ = (
        Index("ix_group_buy_offers_product", "product_id", "ends_at"),
        Index("ix_group_buy_offers_brand", "brand_id", "id"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("group_size >= 2 AND group_size <= 50", name="size_range"),
        CheckConstraint("window_seconds > 0", name="window_positive"),
        CheckConstraint("per_user_limit >= 1", name="limit_positive"),
        CheckConstraint("ends_at > starts_at", name="window_not_inverted"),
    )

    group_size: Mapped[int]
    window_seconds: Mapped[int]
    per_user_limit: Mapped[int] = mapped_column(default=1)  # units one member buys at the group price

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.window_seconds)


class GroupStatus(enum.StrEnum):
    OPEN = "open"  # waiting for members to join and pay
    COMPLETED = "completed"  # `size` members paid within the window (exactly once): the orders ship
    FAILED = "failed"  # the window ended unfilled: every paid member is refunded by the expiry job


class GroupBuyGroup(Base):
    """One group of an offer, opened by its leader. `members` counts the seats handed out (one conditional update
    decides each join, never past `size`); `paid` the seats whose order was paid."""

    __tablename__ = "group_buy_groups"
    __table_args__ = (
        Index("ix_group_buy_groups_offer", "offer_id", "status"),
        Index("ix_group_buy_groups_due", "status", "expires_at"),
        CheckConstraint("size >= 2", name="size_positive"),
        CheckConstraint("members >= 0 AND members <= size", name="members_bounded"),
        CheckConstraint("paid >= 0 AND paid <= members", name="paid_bounded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("group_buy_offers.id", ondelete="CASCADE"))
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    size: Mapped[int]
    members: Mapped[int] = mapped_column(default=1)
    paid: Mapped[int] = mapped_column(default=0)
    status: Mapped[GroupStatus] = mapped_column(str_enum(GroupStatus, 16), default=GroupStatus.OPEN)
    expires_at: Mapped[dt.datetime]
    opened_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    failed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SeatStatus(enum.StrEnum):
    SEATED = "seated"  # in the group, not checked out (or the order was cancelled unpaid)
    ORDERED = "ordered"  # checked out at the group price: the order is waiting for payment
    PAID = "paid"  # the order was paid: counted in the group's `paid`
    RELEASED = "released"  # the group failed before this seat paid: nothing to give back
    REFUNDED = "refunded"  # the group failed after this seat paid: refunded in full (exactly once)


class GroupBuySeat(Base):
    """One member's place in one group; unique per (group, user), so nobody holds two seats in a group."""

    __tablename__ = "group_buy_seats"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        Index("ix_group_buy_seats_order", "order_id"),
        Index("ix_group_buy_seats_user_status", "user_id", "status"),
        Index("ix_group_buy_seats_group_status", "group_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("group_buy_groups.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("group_buy_offers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    price_fen: Mapped[int]
    per_user_limit: Mapped[int]
    is_leader: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SeatStatus] = mapped_column(str_enum(SeatStatus, 16), default=SeatStatus.SEATED)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    joined_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    paid_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # released or refunded
