"""One order as the people on it see it: its lines and events, its open payment, its refunds, and what the caller
may still do with it (pay, cancel, confirm receipt, ask for a refund)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from commerce.orders import lifecycle, refund_photos, refunds
from commerce.orders.models import Order, OrderEvent, OrderRefund, OrderStatus
from commerce.payments.models import Payment, PaymentStatus
from core.accounts.models import User
from core.storage import ObjectStorage

S = OrderStatus


@dataclass(frozen=True)
class OrderOverview:
    order: Order
    events: list[OrderEvent]
    role: str  # buyer | brand | admin
    payment: Payment | None  # the checkout's payment while it is open (pending), else None
    refunds: list[OrderRefund]
    refundable: dict[int, refunds.Refundable]  # per line, what the buyer can still ask for
    photos: dict[int, list[refund_photos.PhotoUrls]]  # per refund, its photos' presigned URLs

    @property
    def can_pay(self) -> bool:
        return self.role == "buyer" and self.payment is not None

    @property
    def can_cancel(self) -> bool:
        """Before shipping: unpaid (the reservation is released) or paid (refunded in full)."""
        return self.role == "buyer" and self.order.status in (S.PENDING_PAYMENT, S.PAID)

    @property
    def can_confirm(self) -> bool:
        return self.role == "buyer" and self.order.status == S.SHIPPED

    @property
    def can_request_refund(self) -> bool:
        """After shipping and inside the return window, with something left (before shipping, cancel instead)."""
        return (
            self.role == "buyer"
            and self.order.status in (S.SHIPPED, S.DELIVERED)
            and lifecycle.refund_window_open(self.order)
            and any(r.amount > 0 for r in self.refundable.values())
        )


def order_overview(session: Session, user: User | None, order_id: int, *, storage: ObjectStorage) -> OrderOverview:
    """The buyer, a member of the selling brand, or an admin; anyone else is told the order does not exist."""
    order = lifecycle.get_order(session, user, order_id)
    assert user is not None
    role = lifecycle.require_seller_or_buyer(user, order)
    payment = None
    if order.status == S.PENDING_PAYMENT:
        found = refunds.payment_of(session, order)
        payment = found if found.status == PaymentStatus.PENDING else None
    asked = refunds.list_refunds(session, order.id)
    return OrderOverview(
        order=order,
        events=lifecycle.events(session, order.id),
        role=role,
        payment=payment,
        refunds=asked,
        refundable=refunds.refundable(session, order),
        photos={r.id: refund_photos.urls(storage, r.photos) for r in asked},
    )
