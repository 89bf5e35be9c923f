"""The periodic job expires bookings nobody answered within the reply window; time moves with a frozen clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from commerce.booking import bookings, timers
from commerce.booking.models import Booking, BookingState, Campaign
from core.clock import FrozenClock
from tests.commerce.booking.conftest import POLICY, Market
from tests.commerce.booking.helpers import DEPS, history, inbox, step


def test_unanswered_bookings_expire_after_72_hours(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    invited = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    applied = bookings.apply(db_session, market.artist2, campaign.id, policy=POLICY)
    frozen.advance(hours=71, minutes=59)
    assert timers.sweep(db_session, deps=DEPS) == {}
    step(db_session, market.owner, applied, "counter", fee_fen=300_000)  # the reply clock starts again
    frozen.advance(minutes=1)
    assert timers.sweep(db_session, deps=DEPS) == {"expired": 1}
    db_session.expire_all()
    assert db_session.get(Booking, invited.id).state == BookingState.EXPIRED
    assert db_session.get(Booking, applied.id).state == BookingState.COUNTERED
    assert history(db_session, invited.id)[-1] == ("expire", "invited", "expired", "system")
    assert inbox(db_session, market.owner)[-1] == "booking.expire"
    assert inbox(db_session, market.artist)[-1] == "booking.expire"
    frozen.advance(hours=72)
    assert timers.sweep(db_session, deps=DEPS) == {"expired": 1}
    assert db_session.get(Booking, applied.id).state == BookingState.EXPIRED
    assert timers.sweep(db_session, deps=DEPS) == {}  # running again changes nothing


def test_an_agreed_booking_expires_when_the_brand_never_funds_it(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    frozen.advance(hours=70)
    step(db_session, market.artist, b, "accept")
    frozen.advance(hours=71)
    assert timers.sweep(db_session, deps=DEPS) == {}
    frozen.advance(hours=1)
    assert timers.sweep(db_session, deps=DEPS) == {"expired": 1}
    assert db_session.get(Booking, b.id).state == BookingState.EXPIRED


def test_a_reply_that_lands_first_wins_over_the_job(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    frozen.advance(hours=73)
    due = bookings.due(db_session, frozen.now())
    step(db_session, market.artist, b, "accept")  # between the job's scan and its step
    assert bookings.system_step(db_session, due[next(iter(due))][0], timers.Action.EXPIRE, deps=DEPS) is None
    assert db_session.get(Booking, b.id).state == BookingState.ACCEPTED
    assert b.reply_due_at == frozen.now() + dt.timedelta(hours=72)
