"""The reservation expiry job: unpaid checkouts past their reservation give their stock back.

Before giving up on a checkout the payment is closed at the provider, which
also tells us whether the buyer paid at the last second; then that success is
applied instead. Runs from beat over rows, never as countdown tasks.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.orders import lifecycle
from commerce.orders.lifecycle import SYSTEM
from commerce.orders.models import PAYMENT_PURPOSE, Order, OrderStatus
from commerce.payments import service as payments
from commerce.payments.provider import PaymentProvider
from core import clock


def expire_unpaid(session: Session, provider: PaymentProvider, *, limit: int = 100) -> int:
    """Close expired checkouts; returns how many orders were cancelled. Commits after each checkout."""
    due = list(
        session.scalars(
            select(Order.checkout_id)
            .where(Order.status == OrderStatus.PENDING_PAYMENT, Order.reserved_until <= clock.now())
            .group_by(Order.checkout_id)
            .order_by(Order.checkout_id)
            .limit(limit)
        )
    )
    session.commit()
    cancelled = 0
    for checkout_id in due:
        payment = payments.payment_for(session, PAYMENT_PURPOSE, checkout_id, lock=True)
        if payment is not None:
            payments.close_payment(session, provider, payment)
        orders = lifecycle.lock_checkout_orders(session, checkout_id)
        for order in orders:
            # Still unpaid after closing (or the payment had failed earlier): release it.
            lifecycle.cancel_unpaid(session, order, SYSTEM, "reservation_expired")
        cancelled += sum(1 for o in orders if o.status == OrderStatus.CANCELLED)
        session.commit()
    return cancelled
