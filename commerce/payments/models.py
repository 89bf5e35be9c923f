"""Our side of payments: what we asked providers for, and every notification they sent us."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum
from core.money import CURRENCY


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # created at the provider, the buyer has not finished
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"  # expired or cancelled before it was paid


class Payment(Base):
    """One payment for one purpose (a checkout; bookings can use the same machinery)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id"),
        Index("ix_payments_purpose_ref", "purpose", "reference_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(24))
    reference_id: Mapped[int]
    payer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(24))
    provider_payment_id: Mapped[str | None] = mapped_column(String(80), default=None)
    merchant_ref: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, 16), default=PaymentStatus.PENDING)
    fee: Mapped[int] = mapped_column(default=0)
    refunded_amount: Mapped[int] = mapped_column(default=0)
    pay_url: Mapped[str] = mapped_column(String(2000), default="")  # an Alipay link carries its signed request
    # Set when the provider reported something we refuse to apply (e.g. a different amount): a human looks.
    review_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Why the buyer's last attempt failed while the payment is still open for another (e.g. "declined").
    last_failure: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    succeeded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentRefund(Base):
    __tablename__ = "payment_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_ref: Mapped[str] = mapped_column(String(64), unique=True)
    # The purpose's own record (an order refund) this provider refund pays out.
    reference_id: Mapped[int]
    amount: Mapped[int]
    fee_refunded: Mapped[int] = mapped_column(default=0)
    status: Mapped[RefundStatus] = mapped_column(str_enum(RefundStatus, 16), default=RefundStatus.PENDING)
    provider_refund_id: Mapped[str | None] = mapped_column(String(80), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class PaymentEvent(Base):
    """Every authentic notification, once: the provider's event id is unique, so a replay adds nothing."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), default=None, index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    outcome: Mapped[str] = mapped_column(String(32), default="received")
    detail: Mapped[str | None] = mapped_column(String(200), default=None)
    body: Mapped[str] = mapped_column(Text)
