"""A booking's fee in the ledger: into the booking's escrow account, and out of it again.

Keys derive from the booking (and the step), so a step applied twice posts once.
Every transaction balances to zero (the ledger enforces it); the escrow account
ends at zero whichever way the booking ends:

- fund:    brand available → booking escrow (or, paid by the sandbox provider: clearing → escrow)
- release: escrow → artist available + platform revenue (the platform fee)
- cancel:  escrow → brand available, less the kill fee when the brand cancels after a draft arrived
- resolve: escrow → artist share (less the platform fee) + brand refund, as the admin decided
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import Booking, BookingState, Party
from commerce.booking.policy import BookingPolicy
from commerce.ledger import AccountKind, AccountRef, Leg, balance, drop_zero_legs, post
from commerce.ledger.models import OwnerKind
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentStatus
from core.money import BP_WHOLE, largest_remainder, split_by_bp

KIND = "booking"
PAYMENT_PURPOSE = "booking"


def escrow_account(booking_id: int) -> AccountRef:
    return AccountRef(OwnerKind.BOOKING, booking_id, AccountKind.ESCROW)


def brand_available(brand_id: int) -> AccountRef:
    return AccountRef(OwnerKind.BRAND, brand_id, AccountKind.AVAILABLE)


def artist_available(artist_id: int) -> AccountRef:
    return AccountRef(OwnerKind.USER, artist_id, AccountKind.AVAILABLE)


def held(session: Session, booking_id: int) -> int:
    return balance(session, escrow_account(booking_id)).balance


def pending_payment(session: Session, booking_id: int, *, lock: bool = False) -> Payment | None:
    """The fee payment still open at the provider, if any (`lock`: FOR UPDATE, as the webhook takes it)."""
    query = (
        select(Payment)
        .where(
            Payment.purpose == PAYMENT_PURPOSE,
            Payment.reference_id == booking_id,
            Payment.status == PaymentStatus.PENDING,
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def fund(session: Session, booking: Booking) -> int:
    """Move the fee from the brand's available balance into escrow (InsufficientFunds when it is short)."""
    post(
        session,
        key=f"booking:{booking.id}:fund",
        kind=f"{KIND}_fund",
        legs=[
            Leg(brand_available(booking.brand_id), -booking.fee_fen),
            Leg(escrow_account(booking.id), booking.fee_fen),
        ],
        memo=f"booking {booking.id} escrow",
    )
    return booking.fee_fen


def fund_from_payment(session: Session, booking: Booking, payment: Payment, *, into_escrow: bool) -> None:
    """A captured payment for a booking: into its escrow, or to the brand's balance when the booking moved on."""
    target = escrow_account(booking.id) if into_escrow else brand_available(booking.brand_id)
    post(
        session,
        key=f"payment:{payment.id}:capture",
        kind=f"{KIND}_payment",
        legs=[*payments.capture_legs(payment), Leg(target, payment.amount)],
        memo=f"booking {booking.id} payment {payment.merchant_ref}",
    )


def _pay_out(booking: Booking, artist_gross: int, refund: int) -> list[Leg]:
    """Escrow legs paying `artist_gross` (less the platform fee) to the artist and `refund` back to the brand."""
    (platform,), artist_net = split_by_bp(artist_gross, [booking.platform_fee_bp])
    return drop_zero_legs(
        [
            Leg(escrow_account(booking.id), -(artist_gross + refund)),
            Leg(artist_available(booking.artist_id), artist_net),
            Leg(AccountRef.platform(AccountKind.REVENUE), platform),
            Leg(brand_available(booking.brand_id), refund),
        ]
    )


def _settle(session: Session, booking: Booking, step: str, artist_gross: int, refund: int) -> int:
    legs = _pay_out(booking, artist_gross, refund)
    if len(legs) >= 2:
        post(
            session, key=f"booking:{booking.id}:{step}", kind=f"{KIND}_{step}", legs=legs, memo=f"booking {booking.id}"
        )
    (platform,), _ = split_by_bp(artist_gross, [booking.platform_fee_bp])
    booking.paid_to_artist_fen = artist_gross - platform
    booking.refunded_fen = refund
    return artist_gross + refund


def release(session: Session, booking: Booking) -> int:
    """The artist is paid: the whole escrow, less the platform fee."""
    return _settle(session, booking, "release", held(session, booking.id), 0)


def refund_on_cancel(
    session: Session, booking: Booking, source: BookingState, party: Party, policy: BookingPolicy
) -> int:
    """Refund by the rule of the state the booking was cancelled from.

    Before a draft arrived the brand gets everything back. Once a draft is in,
    a brand that walks away owes the artist the kill fee; an artist who walks
    away leaves everything to the brand.
    """
    total = held(session, booking.id)
    kill_fee = 0
    if party == Party.BRAND and source in (BookingState.DRAFT_SUBMITTED, BookingState.REVISION_REQUESTED):
        kill_fee = largest_remainder(total, [policy.kill_fee_bp, BP_WHOLE - policy.kill_fee_bp])[0]
    return _settle(session, booking, "cancel", kill_fee, total - kill_fee)


def split(session: Session, booking: Booking, artist_share_bp: int) -> int:
    """An admin's resolution of a dispute: the artist's share (less the platform fee), the rest to the brand."""
    total = held(session, booking.id)
    artist = largest_remainder(total, [artist_share_bp, BP_WHOLE - artist_share_bp])[0]
    return _settle(session, booking, "resolve", artist, total - artist)
