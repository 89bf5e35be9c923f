"""Funding a booking with a payment (the sandbox provider, or any provider behind the payments interface).

The brand asks for a payment of the agreed fee; the provider's page takes it;
its signed webhook (or the return page asking the provider) applies it through
the payments service, which calls this purpose's handler exactly once. The
handler funds the escrow and moves the booking to `funded` as the paying brand
member, through the same rule and optimistic lock as a click. If the booking
moved on meanwhile (cancelled, expired), the money is credited to the brand's
balance instead: nothing is lost and nothing is funded by accident.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import Session

from commerce.booking import escrow
from commerce.booking.bookings import get_for, transition
from commerce.booking.machine import Action, rule
from commerce.booking.models import Booking, BookingState, Party
from commerce.booking.notices import notify_step
from commerce.booking.policy import BookingPolicy
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentRefund
from commerce.payments.provider import Notification, PaymentProvider
from core import clock
from core.accounts.models import User
from core.errors import Conflict, PermissionDenied, register_messages

log = logging.getLogger(__name__)

PURPOSE = escrow.PAYMENT_PURPOSE
PAYMENT_TTL = dt.timedelta(hours=2)

register_messages(
    {"booking_not_fundable": ("只有已确认、待托管的合作可以支付", "Only an agreed booking can be paid for")}
)


def start_funding(
    session: Session,
    actor: User | None,
    booking_id: int,
    *,
    provider: PaymentProvider,
    notify_url: str,
    return_url: str,
) -> Payment:
    """A payment of the agreed fee for a brand member to complete at the provider (the pending one, if any)."""
    booking, parties = get_for(session, actor, booking_id)
    if Party.BRAND not in parties:
        raise PermissionDenied("booking_not_your_move")
    if booking.state != BookingState.ACCEPTED:
        raise Conflict("booking_not_fundable")
    existing = escrow.pending_payment(session, booking.id)
    if existing is not None and existing.amount == booking.fee_fen:
        session.rollback()
        return existing
    assert actor is not None
    payment = payments.start_payment(
        session,
        provider,
        purpose=PURPOSE,
        reference_id=booking.id,
        payer_id=actor.id,
        amount=booking.fee_fen,
        description=f"合作费用托管：{booking.campaign.title}"[:120],
        notify_url=notify_url,
        return_url=return_url,
        expires_at=clock.now() + PAYMENT_TTL,
    )
    session.commit()
    return payment


class BookingPayments:
    """The payment handler of the "booking" purpose (runs inside the payments service's transaction)."""

    def __init__(self, policy: BookingPolicy) -> None:
        self.policy = policy

    def succeeded_read(self, reference_id: ColumnElement[int]) -> None:
        return None  # the booking is read by the ORM, below

    def on_succeeded(self, session: Session, payment: Payment, read: Sequence[Row[Any]] | None = None) -> None:
        booking = session.get(Booking, payment.reference_id, populate_existing=True)
        assert booking is not None
        if booking.state != BookingState.ACCEPTED or booking.fee_fen != payment.amount:
            escrow.fund_from_payment(session, booking, payment, into_escrow=False)
            log.info("payment %s for booking %s (now %s) credited to brand %s", payment.id, booking.id,
                     booking.state, booking.brand_id)  # fmt: skip
            return
        found = rule(Action.FUND, BookingState.ACCEPTED, Party.BRAND)
        assert found is not None
        event = transition(
            session,
            booking,
            found,
            actor_id=payment.payer_id,
            policy=self.policy,
            note="note_paid_online",
        )
        escrow.fund_from_payment(session, booking, payment, into_escrow=True)
        booking.funded_at = clock.now()
        event.amount_fen = payment.amount
        notify_step(session, booking, event)

    def on_failed(self, session: Session, payment: Payment) -> None:
        """Nothing moved: the booking stays agreed and the brand may pay again (or from its balance)."""

    def on_refund_succeeded(self, session: Session, refund: PaymentRefund) -> None:
        # Booking refunds go to the brand's balance in the ledger, never back through the provider.
        log.warning("unexpected provider refund %s for a booking payment", refund.id)

    def on_refund_failed(self, session: Session, refund: PaymentRefund) -> None:
        log.warning("unexpected provider refund %s for a booking payment", refund.id)

    def on_dispute(self, session: Session, payment: Payment, note: Notification) -> str:
        # A brand charging back its own booking fee is a matter for the platform's staff, not an automatic rule.
        payment.review_reason = "chargeback"
        log.warning("chargeback %s (%s) on booking payment %s: held for review", note.dispute_id, note.type, payment.id)
        return "needs_review"
