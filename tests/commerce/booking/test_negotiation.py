"""Starting a booking and agreeing a fee: invitations, applications, quotes and counters, and their guards."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from commerce.artists import profiles
from commerce.booking import bookings, campaigns
from commerce.booking.models import BookingState, Campaign
from core import clock
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.commerce.booking.conftest import POLICY, Market, spec
from tests.commerce.booking.helpers import history, inbox, step


def test_an_invitation_offers_the_rate_card_price_and_tells_the_artist(
    db_session: Session, market: Market, campaign: Campaign
) -> None:
    b = bookings.invite(db_session, market.member, campaign.id, market.artist.id, message="想请你来拍", policy=POLICY)
    assert b.state == BookingState.INVITED
    assert b.fee_fen == 200_000  # the artist's 21–60 s rate × 1 video
    assert b.reply_due_at == clock.now() + POLICY.reply_window
    assert history(db_session, b.id) == [("invite", None, "invited", "brand")]
    assert inbox(db_session, market.artist) == ["booking.invite"]
    assert inbox(db_session, market.owner) == ["booking.invite"]  # a colleague's step
    assert inbox(db_session, market.member) == []  # who took the step is not told about it


def test_quote_counter_accept_records_every_step(db_session: Session, market: Market, campaign: Campaign) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, fee_fen=150_000, policy=POLICY)
    step(db_session, market.artist, b, "quote", fee_fen=260_000, note="含两次拍摄")
    step(db_session, market.member, b, "counter", fee_fen=220_000)
    step(db_session, market.artist, b, "quote", fee_fen=240_000)
    b = step(db_session, market.owner, b, "accept")
    assert (b.state, b.fee_fen, b.platform_fee_bp) == (BookingState.ACCEPTED, 240_000, POLICY.platform_fee_bp)
    assert history(db_session, b.id) == [
        ("invite", None, "invited", "brand"),
        ("quote", "invited", "quoted", "artist"),
        ("counter", "quoted", "countered", "brand"),
        ("quote", "countered", "quoted", "artist"),
        ("accept", "quoted", "accepted", "brand"),
    ]
    assert inbox(db_session, market.artist) == ["booking.invite", "booking.counter", "booking.accept"]
    assert inbox(db_session, market.member) == ["booking.invite", "booking.quote", "booking.quote", "booking.accept"]
    assert inbox(db_session, market.owner) == ["booking.quote", "booking.counter", "booking.quote"]


def test_an_artist_applies_to_an_open_campaign(db_session: Session, market: Market, campaign: Campaign) -> None:
    b = bookings.apply(db_session, market.artist2, campaign.id, message="我很适合", policy=POLICY)
    assert (b.state, b.fee_fen) == (BookingState.APPLIED, 350_000)
    b = step(db_session, market.owner, b, "counter", fee_fen=300_000)
    b = step(db_session, market.artist2, b, "accept")
    assert b.state == BookingState.ACCEPTED
    assert [h[0] for h in history(db_session, b.id)] == ["apply", "counter", "accept"]


def test_applications_need_an_open_campaign_and_an_artist(db_session: Session, market: Market) -> None:
    draft = campaigns.create(db_session, market.owner, market.brand.id, spec(market, status="draft"), policy=POLICY)
    with pytest.raises(NotFound):
        bookings.apply(db_session, market.artist, draft.id, policy=POLICY)
    closed = campaigns.create(db_session, market.owner, market.brand.id, spec(market, status="closed"), policy=POLICY)
    with pytest.raises(Conflict) as exc:
        bookings.apply(db_session, market.artist, closed.id, policy=POLICY)
    assert exc.value.code == "campaign_not_open"
    with pytest.raises(PermissionDenied):
        bookings.apply(db_session, market.viewer, closed.id, policy=POLICY)


def test_invitation_guards(db_session: Session, market: Market, campaign: Campaign) -> None:
    with pytest.raises(PermissionDenied):
        bookings.invite(db_session, market.outsider, campaign.id, market.artist.id, policy=POLICY)
    with pytest.raises(ValidationFailed) as exc:
        bookings.invite(db_session, market.owner, campaign.id, market.viewer.id, policy=POLICY)
    assert exc.value.fields[0].code == "not_an_artist"
    with pytest.raises(ValidationFailed) as exc:
        bookings.invite(db_session, market.owner, campaign.id, market.artist.id, fee_fen=50, policy=POLICY)
    assert exc.value.fields[0].code == "fee_out_of_range"
    bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    with pytest.raises(Conflict) as exc_c:
        bookings.invite(db_session, market.member, campaign.id, market.artist.id, policy=POLICY)
    assert exc_c.value.code == "already_booked"
    profiles.update_profile(db_session, market.artist2, {"accepting_bookings": False})
    with pytest.raises(Conflict) as exc_c:
        bookings.invite(db_session, market.owner, campaign.id, market.artist2.id, policy=POLICY)
    assert exc_c.value.code == "artist_unavailable"


def test_no_rate_for_the_length_means_the_brand_names_a_fee(db_session: Session, market: Market) -> None:
    short = campaigns.create(db_session, market.owner, market.brand.id, spec(market, length_tier="s20"), policy=POLICY)
    with pytest.raises(ValidationFailed) as exc:
        bookings.invite(db_session, market.owner, short.id, market.artist.id, policy=POLICY)
    assert exc.value.fields[0].code == "no_rate_for_tier"
    b = bookings.invite(db_session, market.owner, short.id, market.artist.id, fee_fen=80_000, policy=POLICY)
    assert b.fee_fen == 80_000


def test_a_brand_member_who_is_an_artist_cannot_be_booked_by_their_brand(
    db_session: Session, market: Market, campaign: Campaign
) -> None:
    market.member.is_artist = True
    db_session.commit()
    with pytest.raises(ValidationFailed) as exc:
        bookings.invite(db_session, market.owner, campaign.id, market.member.id, fee_fen=10_000, policy=POLICY)
    assert exc.value.fields[0].code == "own_brand_artist"


def test_a_declined_booking_can_be_offered_again(db_session: Session, market: Market, campaign: Campaign) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    step(db_session, market.artist, b, "decline", note="档期冲突")
    again = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    assert again.id != b.id
    assert again.state == BookingState.INVITED


def test_strangers_cannot_see_a_booking_and_wrong_moves_are_refused(
    db_session: Session, market: Market, campaign: Campaign
) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    for stranger in (market.outsider, market.artist2, market.viewer):
        with pytest.raises(NotFound):
            step(db_session, stranger, b, "accept")
    with pytest.raises(PermissionDenied) as exc:
        step(db_session, market.owner, b, "accept")  # the brand cannot accept its own offer
    assert exc.value.code == "booking_not_your_move"
    with pytest.raises(Conflict) as exc_c:
        step(db_session, market.artist, b, "approve")
    assert exc_c.value.code == "booking_bad_state"
    assert db_session.get(type(b), b.id).state == BookingState.INVITED


def test_a_stale_version_loses(db_session: Session, market: Market, campaign: Campaign) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, policy=POLICY)
    seen = b.version
    step(db_session, market.artist, b, "quote", fee_fen=210_000, expected_version=seen)
    with pytest.raises(Conflict) as exc:
        step(db_session, market.owner, b, "cancel", expected_version=seen)
    assert exc.value.code == "booking_changed"


def test_capacity_is_checked_when_the_fee_is_agreed(db_session: Session, market: Market) -> None:
    profiles.update_profile(db_session, market.artist, {"max_open_bookings": 1})
    one = campaigns.create(db_session, market.owner, market.brand.id, spec(market), policy=POLICY)
    two = campaigns.create(db_session, market.owner, market.brand.id, spec(market), policy=POLICY)
    first = bookings.invite(db_session, market.owner, one.id, market.artist.id, policy=POLICY)
    second = bookings.invite(db_session, market.owner, two.id, market.artist.id, policy=POLICY)
    step(db_session, market.artist, first, "accept")
    with pytest.raises(Conflict) as exc:
        step(db_session, market.artist, second, "accept")
    assert exc.value.code == "artist_fully_booked"
