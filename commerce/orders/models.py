"""Carts, checkouts, orders and their lines, transitions, coupons, refunds and the earnings a sale creates."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from commerce.ledger.models import OwnerKind
from core import clock
from core.db import Base, str_enum
from core.money import CURRENCY

if TYPE_CHECKING:
    from commerce.payments.models import Payment

# Payment.purpose of a checkout's payment (its reference_id is the checkout's id).
PAYMENT_PURPOSE = "checkout"


class CartItem(Base):
    """A SKU in a user's cart, remembering where the buyer found it (an artist's video or showcase)."""

    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("user_id", "sku_id"), CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    source_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), default=None)
    source_artist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    added_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Checkout(Base):
    """One buyer action: one payment for one or more orders (an order per brand)."""

    __tablename__ = "checkouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    total: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    orders: Mapped[list[Order]] = relationship(back_populates="checkout", order_by="Order.id", lazy="selectin")
    # The payment names its checkout (its purpose and reference_id, indexed), so the checkout keeps no payment_id of
    # its own: writing one cost every purchase an UPDATE. place_order makes one payment per checkout; were there ever
    # more, the latest is the checkout's, as the column held. Read only; place_order sets it on the checkout it returns.
    payment: Mapped[Payment | None] = relationship(
        primaryjoin=f"and_(Payment.purpose == '{PAYMENT_PURPOSE}', foreign(Payment.reference_id) == Checkout.id)",
        order_by="Payment.id.desc()",
        uselist=False,
        viewonly=True,
        lazy="select",
    )

    @property
    def payment_id(self) -> int | None:
        return self.payment.id if self.payment is not None else None


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"  # confirmed by the buyer, or automatically; the return window runs
    COMPLETED = "completed"  # the return window closed and everything settled
    CANCELLED = "cancelled"  # before shipping: unpaid (expired, failed, cancelled) or paid and refunded
    REFUNDED = "refunded"  # every line refunded after shipping


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_reserved", "status", "reserved_until"),
        Index("ix_orders_status_shipped", "status", "shipped_at"),
        Index("ix_orders_buyer_created", "buyer_id", "created_at"),
        Index("ix_orders_brand_created", "brand_id", "created_at"),
        Index("ix_orders_device_created", "device_hash", "created_at"),
        Index("ix_orders_buyer_address", "buyer_id", "address_hash"),
        CheckConstraint("total > 0 AND discount >= 0 AND total = subtotal - discount", name="amounts_consistent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus), default=OrderStatus.PENDING_PAYMENT)
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    subtotal: Mapped[int]
    discount: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), default=None)
    refunded_amount: Mapped[int] = mapped_column(default=0)
    # Delivery address as entered (a snapshot), and a hash of its normalised form for self-referral checks.
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    address_hash: Mapped[str] = mapped_column(String(64))
    device_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    reserved_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    paid_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    carrier: Mapped[str | None] = mapped_column(String(40), default=None)
    tracking_no: Mapped[str | None] = mapped_column(String(64), default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    return_window_ends_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(64), default=None)

    checkout: Mapped[Checkout] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id", lazy="selectin")


class ReviewStatus(enum.StrEnum):
    NONE = "none"
    HELD = "held"  # commissions wait for an admin
    APPROVED = "approved"
    REJECTED = "rejected"  # commissions went to the brand


class OrderLine(Base):
    """A SKU bought, with everything that decides its money snapshotted at checkout."""

    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_artist", "artist_id", "order_id"),
        Index("ix_order_lines_sharer", "sharer_id", "order_id"),
        Index("ix_order_lines_video", "source_video_id"),
        Index("ix_order_lines_review", "review_status"),
        CheckConstraint("quantity > 0 AND paid_amount > 0 AND paid_amount = unit_price * quantity - discount",
                        name="amounts_consistent"),
        CheckConstraint("refunded_amount <= paid_amount AND refunded_quantity <= quantity", name="refund_bounded"),
        CheckConstraint("platform_discount >= 0 AND platform_discount <= discount", name="platform_discount_bounded"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("product_skus.id"))
    product_name: Mapped[str] = mapped_column(String(120))
    sku_attributes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    quantity: Mapped[int]
    unit_price: Mapped[int]
    list_price: Mapped[int | None] = mapped_column(default=None)
    discount: Mapped[int] = mapped_column(default=0)
    platform_discount: Mapped[int] = mapped_column(default=0)  # the part of `discount` the platform funds
    paid_amount: Mapped[int]

    # Rates in force at checkout (the catalog's affiliate offer version) and the platform fee.
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("affiliate_offers.id"), default=None)
    platform_fee_bp: Mapped[int]
    artist_rate_bp: Mapped[int] = mapped_column(default=0)
    sharer_rate_bp: Mapped[int] = mapped_column(default=0)
    level2_share_bp: Mapped[int] = mapped_column(default=0)

    # Attribution: where the purchase started and who is credited; *_blocked says why someone earns nothing.
    source_kind: Mapped[str | None] = mapped_column(String(16), default=None)  # "video" | "showcase"
    source_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id"), default=None)
    artist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    artist_blocked: Mapped[str | None] = mapped_column(String(32), default=None)
    sharer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    sharer_via: Mapped[str | None] = mapped_column(String(16), default=None)  # "click" | "binding"
    click_id: Mapped[str | None] = mapped_column(String(40), default=None)
    sharer_blocked: Mapped[str | None] = mapped_column(String(32), default=None)
    parent_sharer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    parent_blocked: Mapped[str | None] = mapped_column(String(32), default=None)
    review_status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, 16), default=ReviewStatus.NONE)
    # Customer service (commerce.support): the agent of the conversation the order came from, and their fee.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    agent_fee_bp: Mapped[int] = mapped_column(default=0)
    hold_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)

    refunded_quantity: Mapped[int] = mapped_column(default=0)
    refunded_amount: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


class OrderEvent(Base):
    """Every status change of an order: from, to, who, when."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    from_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus), default=None)
    to_status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    actor_role: Mapped[str] = mapped_column(String(16))  # buyer | brand | admin | system | provider
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class CouponKind(enum.StrEnum):
    AMOUNT = "amount"  # value in fen off the eligible lines
    PERCENT = "percent"  # value in basis points off the eligible lines, at most `max_discount` fen
    THRESHOLD = "threshold"  # 满减: value in fen off once the eligible lines reach `min_subtotal`


class CouponFunding(enum.StrEnum):
    BRAND = "brand"  # the brand gives the discount up from its proceeds
    PLATFORM = "platform"  # the platform pays the brand the discount (a marketing expense)


class Coupon(Base):
    """A coupon template: who funds it, how much it takes off, when, for which products, and how many.

    Scope: `brand_id` set limits it to that brand's products (a platform coupon may name a brand or not);
    `product_ids` narrows it to those products. Buyers hold coupons as `UserCoupon` rows (claimed, granted, or
    taken by typing the code at checkout); `claimed_count` counts them against `max_uses`.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("brand_id", "code"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint("max_uses IS NULL OR used_count <= max_uses", name="uses_bounded"),
        CheckConstraint("max_uses IS NULL OR claimed_count <= max_uses", name="claims_bounded"),
        CheckConstraint("per_user_limit >= 1", name="per_user_positive"),
        CheckConstraint("funded_by = 'platform' OR brand_id IS NOT NULL", name="brand_funded_has_brand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), default=None)
    code: Mapped[str | None] = mapped_column(String(32), default=None)  # None: claimed or granted only
    name: Mapped[str] = mapped_column(String(60), default="")
    funded_by: Mapped[CouponFunding] = mapped_column(str_enum(CouponFunding, 16), default=CouponFunding.BRAND)
    kind: Mapped[CouponKind] = mapped_column(str_enum(CouponKind, 16))
    value: Mapped[int]
    max_discount: Mapped[int | None] = mapped_column(default=None)  # the cap of a percentage
    min_subtotal: Mapped[int] = mapped_column(default=0)
    product_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    max_uses: Mapped[int | None] = mapped_column(default=None)  # how many can be handed out in all
    per_user_limit: Mapped[int] = mapped_column(default=1)
    claimed_count: Mapped[int] = mapped_column(default=0)
    used_count: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    ends_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class UserCouponStatus(enum.StrEnum):
    AVAILABLE = "available"
    USED = "used"  # on an order (given back if the order is cancelled unpaid or fully refunded while valid)


class UserCoupon(Base):
    """One coupon in a buyer's wallet. `seq` (1..per_user_limit) makes the per-user limit a unique key."""

    __tablename__ = "user_coupons"
    __table_args__ = (
        UniqueConstraint("coupon_id", "user_id", "seq"),
        Index("ix_user_coupons_user_status", "user_id", "status"),
        Index("ix_user_coupons_order", "order_id"),
        CheckConstraint("discount >= 0", name="discount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))  # claim | grant | code
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    status: Mapped[UserCouponStatus] = mapped_column(str_enum(UserCouponStatus, 16), default=UserCouponStatus.AVAILABLE)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), default=None)
    discount: Mapped[int] = mapped_column(default=0)  # what it took off that order
    claimed_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    coupon: Mapped[Coupon] = relationship(lazy="joined")


class RefundState(enum.StrEnum):
    REQUESTED = "requested"  # waiting for the brand
    APPROVED = "approved"  # shares reversed; the provider is paying the buyer back
    REFUNDED = "refunded"  # the provider confirmed
    REJECTED = "rejected"
    FAILED = "failed"  # the provider refused; an admin retries


class OrderRefund(Base):
    __tablename__ = "order_refunds"
    __table_args__ = (Index("ix_order_refunds_order_status", "order_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int]
    status: Mapped[RefundState] = mapped_column(str_enum(RefundState, 16), default=RefundState.REQUESTED)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decision_note: Mapped[str | None] = mapped_column(String(200), default=None)
    payment_refund_id: Mapped[int | None] = mapped_column(ForeignKey("payment_refunds.id"), default=None)
    restocked: Mapped[bool] = mapped_column(default=False)  # refunded before shipping: the units went back on sale
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    lines: Mapped[list[OrderRefundLine]] = relationship(lazy="selectin", order_by="OrderRefundLine.order_line_id")
    photos: Mapped[list[RefundPhoto]] = relationship(lazy="selectin", order_by="RefundPhoto.id")


class OrderRefundLine(Base):
    __tablename__ = "order_refund_lines"
    __table_args__ = (CheckConstraint("amount > 0 AND quantity >= 0", name="amounts_positive"),)

    refund_id: Mapped[int] = mapped_column(ForeignKey("order_refunds.id"), primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), primary_key=True)
    quantity: Mapped[int]
    amount: Mapped[int]


class RefundPhoto(Base):
    """A photo the buyer sends with a refund request: re-encoded JPEGs without EXIF, kept privately (shown through
    presigned URLs to the buyer and the brand). Uploaded before the request that names it (`refund_id` is set then).
    """

    __tablename__ = "order_refund_photos"
    __table_args__ = (Index("ix_order_refund_photos_order", "order_id", "refund_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("order_refunds.id"), default=None)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(300))  # the full-size rendition
    thumb_key: Mapped[str] = mapped_column(String(300))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]  # of the upload as sent
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class EarningRole(enum.StrEnum):
    BRAND = "brand"
    ARTIST = "artist"
    SHARER = "sharer"
    SHARER_L2 = "sharer_l2"  # the upstream sharer of a re-share; never deeper
    PLATFORM = "platform"
    AGENT = "agent"  # a customer-service agent's fee on an order placed from their conversation
    SUBSIDY = "brand_subsidy"  # the brand's part paid by the platform: what its coupon took off the line


class EarningStatus(enum.StrEnum):
    HELD = "held"  # a commission on a sale under review
    PENDING = "pending"  # waiting for the return window to close
    SETTLED = "settled"  # moved to available (revenue for the platform)
    FORFEITED = "forfeited"  # review rejected it; the brand received it instead


class Earning(Base):
    """One participant's share of one order line; settled once by the settlement job."""

    __tablename__ = "earnings"
    __table_args__ = (
        Index("ix_earnings_due", "status", "settle_after"),
        Index("ix_earnings_owner", "owner_kind", "owner_id", "status"),
        Index("ix_earnings_line", "order_line_id"),
        CheckConstraint("amount > 0 AND reversed_amount >= 0 AND reversed_amount <= amount", name="amounts_bounded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    role: Mapped[EarningRole] = mapped_column(str_enum(EarningRole, 16))
    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind, 16))
    owner_id: Mapped[int]
    amount: Mapped[int]
    reversed_amount: Mapped[int] = mapped_column(default=0)  # refunded (or forfeited) part
    # The part of reversed_amount taken back after the share had settled (a dispute, a late refund): what the
    # holder sees as "clawed back" (from their available balance first, the rest as a debt later earnings repay).
    clawed_back: Mapped[int] = mapped_column(default=0)
    status: Mapped[EarningStatus] = mapped_column(str_enum(EarningStatus, 16))
    settle_after: Mapped[dt.datetime | None] = mapped_column(default=None)  # set when the return window starts
    settled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    @property
    def remaining(self) -> int:
        return self.amount - self.reversed_amount


class DisputeSource(enum.StrEnum):
    BUYER = "buyer"  # goods not as described, never arrived... after the return window or a rejected refund
    PROVIDER = "provider"  # a chargeback: the payment provider has taken the money back from us


class DisputeState(enum.StrEnum):
    OPEN = "open"  # waiting for the brand (or an admin)
    ESCALATED = "escalated"  # the brand said no and the buyer asked the platform to decide
    CONTESTED = "contested"  # a chargeback the brand contests: the provider decides
    APPROVED = "approved"  # refunded, with every settled commission clawed back
    REJECTED = "rejected"  # final: nothing moves (a lost chargeback is never rejected)


OPEN_DISPUTE_STATES = (DisputeState.OPEN, DisputeState.ESCALATED, DisputeState.CONTESTED)
_UNDECIDED = "source = 'buyer' AND state IN ('open', 'escalated', 'contested')"


class Dispute(Base):
    """A claim on an order's money after the usual refund path is closed, decided by the brand or an admin.

    A buyer has at most one undecided dispute per order (a partial unique index on PostgreSQL and SQLite;
    the provider may open several chargebacks); while any is undecided, the order's pending shares do not settle.
    """

    __tablename__ = "order_disputes"
    __table_args__ = (
        Index("ix_order_disputes_order", "order_id"),
        Index("ix_order_disputes_brand_state", "brand_id", "state"),
        Index(
            "uq_order_disputes_buyer_one_open",
            "order_id",
            unique=True,
            postgresql_where=text(_UNDECIDED),
            sqlite_where=text(_UNDECIDED),
        ),
        # A chargeback on a checkout's payment opens one dispute per order it paid for.
        UniqueConstraint("provider", "provider_dispute_id", "order_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    source: Mapped[DisputeSource] = mapped_column(str_enum(DisputeSource, 16))
    state: Mapped[DisputeState] = mapped_column(str_enum(DisputeState, 16), default=DisputeState.OPEN)
    amount: Mapped[int]  # fen claimed
    reason: Mapped[str] = mapped_column(String(200))
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)  # None: the provider
    provider: Mapped[str | None] = mapped_column(String(16), default=None)
    provider_dispute_id: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decision_note: Mapped[str | None] = mapped_column(String(200), default=None)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("order_refunds.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
