"""The demo seed gives `make run` a browsable booking market: profiles, an open brief, an invitation, metrics."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.artists.models import ArtistMetrics, ArtistProfile
from commerce.booking.models import Booking, BookingState, Campaign, CampaignStatus
from core.accounts.models import User


def test_demo_seed_creates_a_booking_market(app_ctx: Flask, db_session: Session) -> None:
    from web.demo import seed

    with app_ctx.app_context():
        summary = seed(db_session)
    assert any("booking demo" in line for line in summary)
    artist = db_session.scalar(select(User).where(User.email == "artist@xinglian.local"))
    assert artist is not None
    assert db_session.scalar(select(func.count()).select_from(ArtistProfile)) == 4
    campaign = db_session.scalar(select(Campaign))
    assert campaign is not None
    assert campaign.status == CampaignStatus.OPEN
    assert len(campaign.product_ids) == 2
    booking = db_session.scalar(select(Booking))
    assert booking is not None
    assert (booking.artist_id, booking.state) == (artist.id, BookingState.INVITED)
    assert db_session.scalar(select(func.count()).select_from(ArtistMetrics)) == 4
