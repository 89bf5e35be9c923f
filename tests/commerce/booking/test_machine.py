"""Every transition of the state machine, allowed and forbidden, for every party, through the real steps.

For each state a booking is walked there by the parties' own steps. Then every
person's step is tried by the brand, the artist, an admin and a stranger: the
rule table says which must succeed (and where they lead, recorded with who did
it), everything else must be refused without changing anything. The periodic
job's steps are tried the same way.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy.orm import Session

from commerce.artists import profiles
from commerce.booking import bookings, campaigns
from commerce.booking.machine import RULES, USER_ACTIONS, Action, rule
from commerce.booking.models import Booking, BookingState, Party
from core import clock
from core.accounts.models import User
from core.clock import FrozenClock
from core.errors import Conflict, DomainError, NotFound, PermissionDenied
from tests.commerce.booking.conftest import POLICY, Market, spec
from tests.commerce.booking.helpers import DEPS, history, step
from tests.commerce.booking.walk import draft, to_state, top_up

PERSON_RULES = [r for r in RULES if r.party != Party.SYSTEM]
INPUTS: dict[Action, dict[str, object]] = {
    Action.QUOTE: {"fee_fen": 230_000},
    Action.COUNTER: {"fee_fen": 190_000},
    Action.REQUEST_REVISION: {"note": "节奏再快一点"},
    Action.DISPUTE: {"note": "没有按要求挂商品"},
    Action.RESOLVE: {"note": "对半", "artist_share_bp": 5000},
    Action.DECLINE: {"note": "不合适"},
    Action.CANCEL: {"note": "计划有变"},
}


def fresh(session: Session, market: Market, state: BookingState, frozen: FrozenClock) -> Booking:
    """A new campaign (one live booking per artist and campaign) with a booking walked to `state`."""
    c = campaigns.create(session, market.owner, market.brand.id,
                         spec(market, deadline=clock.now() + dt.timedelta(days=30)), policy=POLICY)  # fmt: skip
    return to_state(session, market, c.id, state, frozen)


def attempt(session: Session, market: Market, user: User, booking: Booking, action: Action) -> Booking:
    kw = dict(INPUTS.get(action, {}))
    if action == Action.SUBMIT_DRAFT:
        kw["video_id"] = draft(session, market).id
    if action == Action.FUND:
        top_up(session, market.brand.id, booking.fee_fen)
    return step(session, user, booking, action.value, **kw)


def test_every_person_step_from_every_state_by_every_party(
    db_session: Session, market: Market, frozen: FrozenClock
) -> None:
    profiles.update_profile(db_session, market.artist, {"max_open_bookings": 50})
    people: dict[Party | None, User] = {
        Party.BRAND: market.owner, Party.ARTIST: market.artist, Party.ADMIN: market.admin, None: market.artist2,
    }  # fmt: skip
    allowed_seen = 0
    for state in BookingState:
        booking = fresh(db_session, market, state, frozen)
        for action, (party, user) in itertools.product(USER_ACTIONS, people.items()):
            found = rule(action, state, party) if party is not None else None
            if found is not None:
                continue  # tried below on a booking of its own
            version = booking.version
            with pytest.raises(DomainError) as exc:
                attempt(db_session, market, user, booking, action)
            if party is None:
                assert isinstance(exc.value, NotFound), (state, action)
            elif any(r.action == action and r.source == state for r in RULES):
                assert isinstance(exc.value, PermissionDenied), (state, action, party)
                assert exc.value.code == "booking_not_your_move"
            else:
                assert isinstance(exc.value, Conflict), (state, action, party)
                assert exc.value.code == "booking_bad_state"
            db_session.refresh(booking)
            assert (booking.state, booking.version) == (state, version), (state, action, party)
        for r in (r for r in PERSON_RULES if r.source == state):
            b = fresh(db_session, market, state, frozen)
            b = attempt(db_session, market, people[r.party], b, r.action)
            assert b.state == r.target, r
            assert history(db_session, b.id)[-1] == (r.action.value, state.value, r.target.value, r.party.value)
            allowed_seen += 1
    assert allowed_seen == len(PERSON_RULES)


def test_the_jobs_steps_only_where_the_table_allows_them(
    db_session: Session, market: Market, frozen: FrozenClock
) -> None:
    profiles.update_profile(db_session, market.artist, {"max_open_bookings": 50})
    for state in BookingState:
        for action in (Action.EXPIRE, Action.COMPLETE, Action.PAY, Action.DISPUTE):
            b = fresh(db_session, market, state, frozen)
            saved = frozen.now()
            frozen.advance(days=30)  # whatever the booking waits for is due
            moved = bookings.system_step(db_session, b.id, action, deps=DEPS)
            frozen.set(saved)
            found = rule(action, state, Party.SYSTEM)
            if found is None:
                assert moved is None, (state, action)
                assert db_session.get(Booking, b.id).state == state
            else:
                assert moved is not None, (state, action)
                assert moved.state == found.target
                assert history(db_session, b.id)[-1] == (action.value, state.value, found.target.value, "system")
