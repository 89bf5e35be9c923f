"""The fee in the ledger: funded into escrow (from the balance or a sandbox payment), paid out, refunded and split,
with exact balances, every transaction summing to zero and the escrow ending empty."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.artists import metrics
from commerce.artists.models import ArtistMetrics
from commerce.booking import bookings, escrow, timers
from commerce.booking import payments as booking_payments
from commerce.booking.machine import Action
from commerce.booking.models import Booking, BookingState, Campaign
from commerce.ledger import AccountKind, AccountRef, InsufficientFunds, LedgerPosting, LedgerTransaction, balances
from commerce.ledger.models import OwnerKind
from commerce.owners import Owner
from commerce.payments.models import Payment, PaymentStatus
from commerce.payments.sandbox import SandboxProvider
from core.accounts.models import User
from core.clock import FrozenClock
from core.errors import Conflict, PermissionDenied
from tests.commerce.booking.conftest import POLICY, Market
from tests.commerce.booking.helpers import DEPS, history, step
from tests.commerce.booking.walk import draft, to_state, top_up
from tests.commerce.money import NOTIFY_URL, assert_books_balanced, deliver, sandbox

FEE = 200_000  # the artist's rate card price for the brief
PLATFORM = FEE * POLICY.platform_fee_bp // 10_000


def wallet(session: Session, owner: Owner) -> dict[AccountKind, int]:
    return balances(session, owner.kind, owner.id)


def books(session: Session) -> None:
    """The ledger's invariants, and each transaction's legs summing to zero."""
    assert_books_balanced(session)
    sums = session.execute(
        select(LedgerPosting.transaction_id, func.sum(LedgerPosting.amount)).group_by(LedgerPosting.transaction_id)
    ).all()
    assert sums
    assert all(total == 0 for _, total in sums)


def test_funded_then_paid_moves_exact_amounts(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    top_up(db_session, market.brand.id, 300_000)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    b = step(db_session, market.owner, b, "fund")
    assert escrow.held(db_session, b.id) == FEE
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == 100_000
    assert history(db_session, b.id)[-1] == ("fund", "accepted", "funded", "brand")
    step(db_session, market.artist, b, "submit_draft", video_id=draft(db_session, market).id)
    step(db_session, market.owner, b, "approve")
    step(db_session, market.artist, b, "publish")
    frozen.advance(hours=71)
    assert timers.sweep(db_session, deps=DEPS) == {}  # the live check is not over
    frozen.advance(hours=2)
    assert timers.sweep(db_session, deps=DEPS) == {"completed": 1, "paid": 1}
    db_session.refresh(b)
    assert b.state == BookingState.PAID
    assert (b.paid_to_artist_fen, b.refunded_fen) == (FEE - PLATFORM, 0)
    assert escrow.held(db_session, b.id) == 0
    assert wallet(db_session, Owner.user(market.artist.id))[AccountKind.AVAILABLE] == FEE - PLATFORM
    assert wallet(db_session, Owner.platform())[AccountKind.REVENUE] == PLATFORM
    assert [h[0] for h in history(db_session, b.id)][-3:] == ["publish", "complete", "pay"]
    books(db_session)
    assert timers.sweep(db_session, deps=DEPS) == {}  # paying twice is impossible
    assert db_session.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.idempotency_key == f"booking:{b.id}:release")) == 1  # fmt: skip
    # The brand rates the artist; with the on-time delivery it is what the metrics job measures as reliability.
    with pytest.raises(PermissionDenied):
        bookings.rate(db_session, market.artist, b.id, stars=5)
    bookings.rate(db_session, market.member, b.id, stars=4, comment="交付准时")
    metrics.refresh(db_session, [market.artist.id])
    m = db_session.get(ArtistMetrics, market.artist.id)
    assert m is not None
    assert (m.bookings_done, m.bookings_on_time, m.rating_count, m.rating_sum) == (1, 1, 1, 4)


def test_funding_needs_the_balance_and_moves_nothing_without_it(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    top_up(db_session, market.brand.id, FEE - 1)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    with pytest.raises(InsufficientFunds):
        step(db_session, market.owner, b, "fund")
    db_session.refresh(b)
    assert (b.state, b.version) == (BookingState.ACCEPTED, 2)
    assert escrow.held(db_session, b.id) == 0
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == FEE - 1


@pytest.mark.parametrize(
    "case",
    [
        (BookingState.FUNDED, "brand", 0),
        (BookingState.FUNDED, "artist", 0),
        (BookingState.DRAFT_SUBMITTED, "brand", FEE * POLICY.kill_fee_bp // 10_000),  # the kill fee
        (BookingState.DRAFT_SUBMITTED, "artist", 0),
        (BookingState.REVISION_REQUESTED, "brand", FEE * POLICY.kill_fee_bp // 10_000),
    ],
)
def test_cancelling_refunds_by_the_rule_of_the_state(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock, case: tuple[BookingState, str, int]
) -> None:
    state, who, artist_gross = case
    b = to_state(db_session, market, campaign.id, state, frozen)
    brand_before = wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE]
    b = step(db_session, market.owner if who == "brand" else market.artist, b, "cancel", note="不合作了")
    platform = artist_gross * POLICY.platform_fee_bp // 10_000
    assert b.state == BookingState.CANCELLED
    assert (b.paid_to_artist_fen, b.refunded_fen) == (artist_gross - platform, FEE - artist_gross)
    assert escrow.held(db_session, b.id) == 0
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == brand_before + FEE - artist_gross
    assert wallet(db_session, Owner.user(market.artist.id))[AccountKind.AVAILABLE] == artist_gross - platform
    assert wallet(db_session, Owner.platform())[AccountKind.REVENUE] == platform
    assert history(db_session, b.id)[-1] == ("cancel", state.value, "cancelled", who)
    books(db_session)


def test_an_admin_splits_a_disputed_escrow(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = to_state(db_session, market, campaign.id, BookingState.DISPUTED, frozen)
    b = step(db_session, market.admin, b, "resolve", note="按交付程度三七分", artist_share_bp=3000)
    artist_gross = FEE * 3 // 10
    platform = artist_gross * POLICY.platform_fee_bp // 10_000
    assert b.state == BookingState.RESOLVED
    assert (b.paid_to_artist_fen, b.refunded_fen) == (artist_gross - platform, FEE - artist_gross)
    assert escrow.held(db_session, b.id) == 0
    assert wallet(db_session, Owner.user(market.artist.id))[AccountKind.AVAILABLE] == artist_gross - platform
    books(db_session)


def test_a_video_taken_down_during_the_live_check_goes_to_dispute_not_payment(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = to_state(db_session, market, campaign.id, BookingState.PUBLISHED, frozen)
    video = b.video_id
    from media.models import Video, Visibility

    v = db_session.get(Video, video)
    assert v is not None
    v.visibility = Visibility.PRIVATE
    db_session.commit()
    frozen.advance(days=4)
    assert timers.sweep(db_session, deps=DEPS) == {"disputed": 1}
    assert db_session.get(Booking, b.id).state == BookingState.DISPUTED
    assert escrow.held(db_session, b.id) == FEE  # held until an admin decides


def start_paying(session: Session, user: User, b: Booking, provider: SandboxProvider) -> Payment:
    return booking_payments.start_funding(
        session, user, b.id, provider=provider, notify_url=NOTIFY_URL, return_url="http://testserver/b"
    )


def test_funding_through_a_sandbox_payment(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    provider = sandbox(db_session)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    payment = start_paying(db_session, market.member, b, provider)
    again = start_paying(db_session, market.owner, b, provider)
    assert again.id == payment.id  # one pending payment per booking
    assert payment.amount == FEE
    assert db_session.get(Booking, b.id).state == BookingState.ACCEPTED  # nothing moves until the money does
    assert payment.provider_payment_id is not None
    provider.complete(payment.provider_payment_id, succeed=True)
    db_session.commit()
    assert deliver(SimpleNamespace(session=db_session, provider=provider)) == ["applied"]  # type: ignore[arg-type]
    db_session.expire_all()
    b = db_session.get(Booking, b.id)
    assert b is not None
    assert b.state == BookingState.FUNDED
    assert escrow.held(db_session, b.id) == FEE
    assert history(db_session, b.id)[-1] == ("fund", "accepted", "funded", "brand")
    paid = db_session.get(Payment, payment.id)
    assert paid is not None
    clearing = wallet(db_session, Owner.platform())
    assert clearing[AccountKind.CLEARING] == -(FEE - paid.fee)
    assert clearing[AccountKind.PROVIDER_FEES] == -paid.fee
    books(db_session)


def test_a_payment_that_lands_after_the_artist_walked_away_goes_to_the_brands_balance(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    provider = sandbox(db_session)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    payment = start_paying(db_session, market.owner, b, provider)
    step(db_session, market.artist, b, "cancel", note="档期冲突")  # while the brand is on the payment page
    assert payment.provider_payment_id is not None
    provider.complete(payment.provider_payment_id, succeed=True)
    db_session.commit()
    deliver(SimpleNamespace(session=db_session, provider=provider))  # type: ignore[arg-type]
    assert db_session.get(Booking, b.id).state == BookingState.CANCELLED
    assert escrow.held(db_session, b.id) == 0
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == FEE
    books(db_session)


def test_escrow_accounts_belong_to_bookings() -> None:
    assert escrow.escrow_account(7) == AccountRef(OwnerKind.BOOKING, 7, AccountKind.ESCROW)


def _act(session: Session, user: User, b: Booking, provider: SandboxProvider, action: str, **kw: object) -> None:
    deps = dataclasses.replace(DEPS, provider=provider)
    bookings.act(session, user, b.id, bookings.Step(Action(action), **kw), deps=deps)  # type: ignore[arg-type]


@pytest.mark.parametrize("leave", ["cancel", "fund", "expire"])
def test_leaving_accepted_closes_the_open_fee_payment(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock, leave: str
) -> None:
    provider = sandbox(db_session)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    payment = start_paying(db_session, market.owner, b, provider)
    assert payment.provider_payment_id is not None
    if leave == "cancel":
        _act(db_session, market.artist, b, provider, "cancel", note="档期冲突")
    elif leave == "fund":  # from the balance, while the provider's page is still open
        top_up(db_session, market.brand.id, FEE)
        _act(db_session, market.owner, b, provider, "fund")
    else:
        frozen.advance(hours=POLICY.reply_window.total_seconds() / 3600 + 1)
        assert timers.sweep(db_session, deps=dataclasses.replace(DEPS, provider=provider)) == {"expired": 1}
    db_session.expire_all()
    assert db_session.get(Payment, payment.id).status == PaymentStatus.CLOSED
    assert escrow.pending_payment(db_session, b.id) is None
    with pytest.raises(Conflict) as refused:  # the pay page takes no money any more
        provider.complete(payment.provider_payment_id, succeed=True)
    assert refused.value.code == "sandbox_payment_closed"
    assert wallet(db_session, Owner.brand(market.brand.id)).get(AccountKind.AVAILABLE, 0) == 0
    if leave == "fund":
        assert escrow.held(db_session, b.id) == FEE
        books(db_session)
    else:  # no money ever moved
        assert db_session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


def test_a_fee_paid_just_before_the_cancel_is_captured_to_the_brands_balance_once(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    provider = sandbox(db_session)
    b = to_state(db_session, market, campaign.id, BookingState.ACCEPTED, frozen)
    payment = start_paying(db_session, market.owner, b, provider)
    assert payment.provider_payment_id is not None
    provider.complete(payment.provider_payment_id, succeed=True)  # paid; its webhook not delivered yet
    db_session.commit()
    _act(db_session, market.owner, b, provider, "cancel", note="预算调整")
    db_session.expire_all()
    assert db_session.get(Booking, b.id).state == BookingState.CANCELLED
    assert db_session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED  # closing found it paid
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == FEE
    # The webhook arriving afterwards adds nothing.
    assert deliver(SimpleNamespace(session=db_session, provider=provider)) == ["already_applied"]  # type: ignore[arg-type]
    assert wallet(db_session, Owner.brand(market.brand.id))[AccountKind.AVAILABLE] == FEE
    assert escrow.held(db_session, b.id) == 0
    books(db_session)
