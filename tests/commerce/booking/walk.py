"""Put a booking in any state through the real steps, for tests that need one there."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from commerce.booking import bookings
from commerce.booking.machine import Action
from commerce.booking.models import Booking, BookingState
from commerce.owners import Owner
from core.clock import FrozenClock
from media.models import Video, Visibility
from tests import factories
from tests.commerce.booking.conftest import POLICY, Market
from tests.commerce.booking.helpers import DEPS, step
from tests.commerce.money import fund

S = BookingState
_top_ups = itertools.count(1)


def top_up(session: Session, brand_id: int, fen: int) -> None:
    """The brand's available balance grows by `fen`, as settled sales leave it."""
    fund(session, Owner.brand(brand_id), fen, key=f"test-top-up:{next(_top_ups)}")


def draft(session: Session, market: Market, title: str = "草稿", *, meets_brief: bool = True) -> Video:
    """A private, processed video of the artist's; by default it meets the conftest brief (30 s, its hashtags, cards of
    both products), as a draft must to be approved."""
    v = factories.video(session, uploader=market.artist, title=title, published=False, visibility=Visibility.PRIVATE,
                        hashtags=["花西子", "秋冬底妆"] if meets_brief else [])  # fmt: skip
    if meets_brief:
        for p in market.products:
            factories.video_link(session, video=v, product=p)
    session.commit()
    return v


def to_state(session: Session, market: Market, campaign_id: int, state: BookingState, clock: FrozenClock) -> Booking:
    """A booking of `market.artist` for the campaign, walked to `state` by the parties' own steps."""
    if state == S.APPLIED:
        return bookings.apply(session, market.artist, campaign_id, policy=POLICY)
    if state in (S.COMPLETED, S.PAID):
        b = to_state(session, market, campaign_id, S.PUBLISHED, clock)
        clock.advance(days=4)  # past the live check
        bookings.system_step(session, b.id, Action.COMPLETE, deps=DEPS)
        if state == S.PAID:
            bookings.system_step(session, b.id, Action.PAY, deps=DEPS)
        assert b.state == state, (b.state, state)
        return b
    b = bookings.invite(session, market.owner, campaign_id, market.artist.id, policy=POLICY)
    path: dict[BookingState, list[tuple[str, str, dict[str, object]]]] = {
        S.INVITED: [],
        S.QUOTED: [("artist", "quote", {"fee_fen": 210_000})],
        S.COUNTERED: [("artist", "quote", {"fee_fen": 210_000}), ("brand", "counter", {"fee_fen": 205_000})],
        S.DECLINED: [("artist", "decline", {})],
        S.CANCELLED: [("brand", "cancel", {})],
        S.ACCEPTED: [("artist", "accept", {})],
    }
    funded = [("artist", "accept", {}), ("brand", "fund", {})]
    drafted = [*funded, ("artist", "submit_draft", {"video": True})]
    approved = [*drafted, ("brand", "approve", {})]
    path.update(
        {
            S.FUNDED: funded,
            S.DRAFT_SUBMITTED: drafted,
            S.REVISION_REQUESTED: [*drafted, ("brand", "request_revision", {"note": "开头再短一点"})],
            S.APPROVED: approved,
            S.PUBLISHED: [*approved, ("artist", "publish", {})],
            S.DISPUTED: [*drafted, ("brand", "dispute", {"note": "与需求不符"})],
            S.RESOLVED: [*drafted, ("brand", "dispute", {"note": "与需求不符"}),
                         ("admin", "resolve", {"note": "各半", "artist_share_bp": 5000})],
        }
    )  # fmt: skip
    if state in (S.EXPIRED,):
        clock.advance(hours=73)
        bookings.system_step(session, b.id, Action.EXPIRE, deps=DEPS)
        return b
    people = {"artist": market.artist, "brand": market.owner, "admin": market.admin}
    for who, action, kw in path[state]:
        if action == "fund":
            top_up(session, market.brand.id, b.fee_fen)
        args = {"video_id": draft(session, market).id} if kw.get("video") else kw
        step(session, people[who], b, action, **args)
    assert b.state == state, (b.state, state)
    return b
