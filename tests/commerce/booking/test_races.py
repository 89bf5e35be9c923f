"""Concurrent clicks on PostgreSQL with real threads: of two steps on the same booking exactly one wins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from commerce.artists import profiles
from commerce.artists.models import LengthTier
from commerce.booking import bookings, campaigns
from commerce.booking.models import Booking, BookingEvent, BookingState
from core import clock
from core.accounts.models import User
from core.db import Database
from core.errors import Conflict, DomainError
from tests import factories
from tests.commerce.booking.conftest import POLICY
from tests.commerce.booking.helpers import step
from tests.commerce.catalog.test_races import run_together

pytestmark = pytest.mark.postgres


def _setup(db: Database, n: int) -> tuple[int, int, list[int]]:
    """A brand owner, an artist with a rate card, and `n` bookings in which the artist is invited."""
    with db.session() as s:
        owner = factories.user(s)
        artist = factories.user(s, artist=True)
        brand = factories.brand(s, owner=owner)
        s.commit()
        profiles.update_profile(s, artist, {"rates": {LengthTier.UP_TO_60S: 100_000}, "max_open_bookings": 50})
        ids = []
        for _ in range(n):
            spec = campaigns.CampaignSpec(
                title="并发", category="beauty", budget_min_fen=10_000, budget_max_fen=500_000,
                deadline=clock.now() + dt.timedelta(days=10), status="open",
            )  # fmt: skip
            c = campaigns.create(s, owner, brand.id, spec, policy=POLICY)
            ids.append(bookings.invite(s, owner, c.id, artist.id, policy=POLICY).id)
        return owner.id, artist.id, ids


def test_concurrent_accept_and_cancel_exactly_one_wins(committed_db: Database) -> None:
    owner_id, artist_id, ids = _setup(committed_db, 6)
    # Both clicks come from pages showing the invited booking (version 1), as in the app; without it a click
    # scheduled after the other committed would be a legal later step, not a race.
    for booking_id in ids:

        def accept(s: Any, booking_id: int = booking_id) -> object:
            return step(s, s.get(User, artist_id), booking_id, "accept", expected_version=1).state

        def cancel(s: Any, booking_id: int = booking_id) -> object:
            return step(s, s.get(User, owner_id), booking_id, "cancel", expected_version=1).state

        results = run_together(committed_db, [accept, cancel])
        losers = [r for r in results if isinstance(r, DomainError)]
        winners = [r for r in results if not isinstance(r, DomainError)]
        assert len(winners) == 1, results
        assert len(losers) == 1, results
        assert losers[0].code in ("booking_changed", "booking_bad_state")
        with committed_db.session() as s:
            b = s.get(Booking, booking_id)
            assert b is not None
            assert b.state == winners[0]
            assert b.version == 2  # one UPDATE went through
            events = s.scalar(select(func.count()).where(BookingEvent.booking_id == booking_id))
            assert events == 2  # the invitation and the winner's step, nothing of the loser


def test_a_step_on_a_stale_read_is_refused_by_the_versioned_update(committed_db: Database) -> None:
    owner_id, artist_id, (booking_id,) = _setup(committed_db, 1)
    with committed_db.session() as slow, committed_db.session() as fast:
        seen = slow.get(Booking, booking_id)  # read at version 1, then the other click lands
        assert seen is not None
        assert seen.version == 1
        step(fast, fast.get(User, artist_id), booking_id, "accept")
        with pytest.raises(Conflict) as exc:
            step(slow, slow.get(User, owner_id), booking_id, "cancel")
        assert exc.value.code == "booking_changed"
    with committed_db.session() as s:
        b = s.get(Booking, booking_id)
        assert b is not None
        assert (b.state, b.version) == (BookingState.ACCEPTED, 2)


def test_concurrent_fund_and_cancel_leave_the_books_exact(committed_db: Database) -> None:
    from commerce.booking import escrow
    from commerce.ledger import verify
    from commerce.owners import Owner
    from tests.commerce.money import fund

    owner_id, artist_id, ids = _setup(committed_db, 4)
    with committed_db.session() as s:
        brand_id = s.get(User, owner_id).brand_ids()[0]  # type: ignore[union-attr]
        fund(s, Owner.brand(brand_id), 100_000 * len(ids), key="race-top-up")
        for booking_id in ids:
            step(s, s.get(User, artist_id), booking_id, "accept")
    for booking_id in ids:  # both pages show the accepted booking (version 2)

        def pay(s: Any, booking_id: int = booking_id) -> object:
            return step(s, s.get(User, owner_id), booking_id, "fund", expected_version=2).state

        def walk_away(s: Any, booking_id: int = booking_id) -> object:
            return step(s, s.get(User, artist_id), booking_id, "cancel", expected_version=2).state

        results = run_together(committed_db, [pay, walk_away])
        winners = [r for r in results if not isinstance(r, DomainError)]
        assert len(winners) == 1, results
        with committed_db.session() as s:
            held = escrow.held(s, booking_id)
            assert held == (100_000 if winners[0] == BookingState.FUNDED else 0)
    with committed_db.session() as s:
        check = verify(s)
        assert check.ok, check


def test_two_cancels_of_a_funded_booking_refund_once(committed_db: Database) -> None:
    from commerce.booking import escrow
    from commerce.ledger import AccountKind, balances, verify
    from commerce.ledger.models import OwnerKind
    from commerce.owners import Owner
    from tests.commerce.money import fund

    owner_id, artist_id, (booking_id,) = _setup(committed_db, 1)
    with committed_db.session() as s:
        brand_id = s.get(User, owner_id).brand_ids()[0]  # type: ignore[union-attr]
        fund(s, Owner.brand(brand_id), 100_000, key="race-top-up-2")
        step(s, s.get(User, artist_id), booking_id, "accept")
        step(s, s.get(User, owner_id), booking_id, "fund")
    results = run_together(
        committed_db,
        [lambda s: step(s, s.get(User, owner_id), booking_id, "cancel").state,
         lambda s: step(s, s.get(User, artist_id), booking_id, "cancel").state],
    )  # fmt: skip
    assert sum(1 for r in results if isinstance(r, DomainError)) == 1, results
    with committed_db.session() as s:
        assert escrow.held(s, booking_id) == 0
        assert balances(s, OwnerKind.BRAND, brand_id)[AccountKind.AVAILABLE] == 100_000  # refunded exactly once
        assert verify(s).ok
