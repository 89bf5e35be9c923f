"""Drafts and publishing: the draft must be the artist's own private, processed video; revisions are bounded;
publishing makes it live with the campaign's products linked, its must-have hashtags, the brand beside the artist."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.booking.models import BookingState, Campaign
from commerce.catalog.models import VideoProduct
from core.clock import FrozenClock
from core.errors import Conflict, ValidationFailed
from core.outbox import OutboxEvent
from media.models import Video, VideoStatus, Visibility
from tests import factories
from tests.commerce.booking.conftest import POLICY, Market
from tests.commerce.booking.helpers import step
from tests.commerce.booking.walk import draft, to_state


def test_publishing_links_the_campaigns_products_and_credits_the_artist(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = to_state(db_session, market, campaign.id, BookingState.APPROVED, frozen)
    video = db_session.get(Video, b.video_id)
    assert video is not None
    assert not video.is_live  # approved but not yet out: still only the brand sees it
    mark = db_session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
    b = step(db_session, market.artist, b, "publish")
    db_session.refresh(video)
    assert video.is_live
    assert video.uploader_id == market.artist.id  # the artist stays the creator
    assert video.brand_id == market.brand.id  # made for the brand
    assert video.hashtags == ["花西子", "秋冬底妆"]
    linked = list(db_session.scalars(select(VideoProduct.product_id).where(VideoProduct.video_id == video.id)
                                     .order_by(VideoProduct.position)))  # fmt: skip
    assert linked == [p.id for p in market.products]
    topics = set(db_session.execute(select(OutboxEvent.topic, OutboxEvent.entity_id).where(OutboxEvent.id > mark)))
    assert ("video", str(video.id)) in topics
    assert ("artist", str(market.artist.id)) in topics
    assert b.live_until == frozen.now() + POLICY.live_check
    assert b.state == BookingState.PUBLISHED


def test_a_draft_must_be_the_artists_own_private_processed_video(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = to_state(db_session, market, campaign.id, BookingState.FUNDED, frozen)
    public = factories.video(db_session, uploader=market.artist)
    someone_elses = factories.video(db_session, uploader=market.artist2, published=False, visibility=Visibility.PRIVATE)
    processing = draft(db_session, market)
    processing.status = VideoStatus.PROCESSING
    db_session.commit()
    for video, code in ((public, "draft_not_private"), (someone_elses, "draft_not_yours"),
                        (processing, "draft_not_ready")):  # fmt: skip
        with pytest.raises(ValidationFailed) as exc:
            step(db_session, market.artist, b, "submit_draft", video_id=video.id)
        assert exc.value.fields[0].code == code
    assert b.state == BookingState.FUNDED


def test_revision_rounds_are_bounded(
    db_session: Session, market: Market, campaign: Campaign, frozen: FrozenClock
) -> None:
    b = to_state(db_session, market, campaign.id, BookingState.DRAFT_SUBMITTED, frozen)
    for round_ in range(1, campaign.max_revisions + 1):
        step(db_session, market.owner, b, "request_revision", note=f"第 {round_} 轮：开头更短")
        step(db_session, market.artist, b, "submit_draft", video_id=draft(db_session, market, f"第{round_}版").id)
    assert b.revisions_used == campaign.max_revisions
    with pytest.raises(Conflict) as exc:
        step(db_session, market.owner, b, "request_revision", note="再改一次")
    assert exc.value.code == "revisions_exhausted"
    with pytest.raises(ValidationFailed):
        step(db_session, market.owner, b, "dispute", note="  ")  # a dispute says why
    b = step(db_session, market.owner, b, "approve")
    assert b.state == BookingState.APPROVED
