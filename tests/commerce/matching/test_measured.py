"""Measured metrics from the search package's counters, event log and follows; content fit from the search index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session

from commerce.artists import audience, metrics, profiles
from commerce.artists.models import ArtistMetrics, LengthTier
from commerce.booking import campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.policy import BookingPolicy
from commerce.catalog.models import VideoProduct
from commerce.matching import service as matching
from core import clock
from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.outbox import emit
from media.models import Video, Visibility
from search import engagement, follows
from search.backends.embedded import EmbeddedEngine
from search.engagement import EventIn
from search.models import EngagementKind
from tests import factories

POLICY = BookingPolicy()


def watch(session: Session, user: User | None, video: Video, *, watched: float, device: str | None = None) -> None:
    engagement.record_events(
        session, user=user, device_id=device, ip_hash=f"ip-{user.id if user else device}",
        events=[EventIn(EngagementKind.VIEW, video.id, watch_ms=int(watched * (video.duration_seconds or 0) * 1000))],
    )  # fmt: skip


def click(session: Session, user: User, video: Video, product_id: int) -> None:
    engagement.record_events(
        session, user=user, device_id=None, ip_hash=f"ip-{user.id}",
        events=[EventIn(EngagementKind.PRODUCT_CLICK, video.id, product_id=product_id)],
    )  # fmt: skip


def test_metrics_come_from_counters_events_follows_and_shared_traits(db_session: Session) -> None:
    start = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    with use_clock(FrozenClock(start)) as frozen:
        artist = factories.user(db_session, artist=True)
        owner = factories.user(db_session)
        brand = factories.brand(db_session, owner=owner)
        lipstick = factories.product(db_session, brand=brand, category="beauty.makeup")
        snack = factories.product(db_session, brand=brand, category="food.snacks")
        v1 = factories.video(db_session, uploader=artist, duration=20.0, brand_id=brand.id)
        v2 = factories.video(db_session, uploader=artist, duration=40.0, brand_id=brand.id)
        factories.video(db_session, uploader=artist, published=False, visibility=Visibility.PRIVATE)  # not counted
        db_session.add(VideoProduct(video_id=v1.id, product_id=lipstick.id))
        db_session.add(VideoProduct(video_id=v2.id, product_id=lipstick.id))
        fans = [factories.user(db_session) for _ in range(4)]
        db_session.commit()
        for fan, (age, region) in zip(fans, [("18-23", "CN-GD"), ("18-23", "CN-SH"), ("24-30", "CN-GD"), (None, None)],
                                      strict=True):  # fmt: skip
            if age:
                audience.share_traits(db_session, fan, age_band=age, region=region)
        for fan in fans[:3]:
            follows.follow(db_session, fan, artist.id)
        watch(db_session, fans[0], v1, watched=1.0)
        watch(db_session, fans[3], v1, watched=0.5)
        watch(db_session, None, v2, watched=0.25, device="device-abcdef01")
        click(db_session, fans[0], v1, lipstick.id)  # 60 days ago, so in the 90-day window only
        frozen.advance(days=60)
        click(db_session, fans[1], v1, lipstick.id)
        click(db_session, fans[1], v2, lipstick.id)
        click(db_session, fans[3], v2, snack.id)
        engagement.drain(db_session)
        metrics.refresh(db_session, [artist.id])
    m = db_session.get(ArtistMetrics, artist.id)
    assert m is not None
    assert (m.followers, m.videos) == (3, 2)
    assert m.avg_views == 1  # 3 counted views over 2 live videos
    assert m.completion_rate_bp == round(10_000 * (1.0 + 0.5 + 0.25) / 3)
    assert (m.product_clicks_30d, m.product_clicks_90d) == (3, 4)
    assert m.categories == {"beauty.makeup": 10_000}
    # The audience: three followers and a signed-in viewer; traits from those who shared them.
    assert m.audience["ages"] == {"18-23": 6667, "24-30": 3333}
    assert m.audience["regions"] == {"CN-GD": 6667, "CN-SH": 3333}
    assert m.audience["interests"] == {"beauty": 6667, "food": 3333}
    assert m.audience["sample"] == {"ages": 3, "regions": 3, "interests": 3}


def test_content_fit_comes_from_the_search_index_over_the_artists_videos(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None]
) -> None:
    owner = factories.user(db_session)
    brand = factories.brand(db_session, owner=owner)
    beauty = factories.user(db_session, artist=True, display_name="底妆专家")
    dabbler = factories.user(db_session, artist=True, display_name="偶尔化妆")
    foodie = factories.user(db_session, artist=True, display_name="吃货")
    for creator, title, tags in [
        (beauty, "油皮粉底液持妆测评", ["粉底液", "底妆"]),
        (beauty, "秋冬底妆不卡粉教程", ["底妆"]),
        (dabbler, "周末 vlog 顺便试了粉底液", ["vlog"]),
        (foodie, "深夜零食开箱", ["零食"]),
    ]:
        v = factories.video(db_session, uploader=creator, title=title, hashtags=tags)
        emit(db_session, "video", v.id)
    db_session.commit()
    for a in (beauty, dabbler, foodie):
        profiles.update_profile(db_session, a, {"rates": {LengthTier.UP_TO_60S: 100_000}})
    index_now()
    spec = CampaignSpec(
        title="粉底液种草", category="beauty.makeup", budget_min_fen=10_000, budget_max_fen=500_000,
        deadline=clock.now() + dt.timedelta(days=10), must_hashtags=["底妆"], status="open",
    )  # fmt: skip
    c = campaigns.create(db_session, owner, brand.id, spec, policy=POLICY)
    page = matching.rank(db_session, owner, c.id, engine=search_engine)
    assert page.relevance_available
    content = {m.artist.candidate.artist_id: m.score.parts[0] for m in page.items}
    assert content[beauty.id].facts["relevance_pct"] == 100
    assert 0 < content[dabbler.id].facts["relevance_pct"] < 100
    assert content[foodie.id].facts["relevance_pct"] == 0
    assert [m.artist.candidate.artist_id for m in page.items] == [beauty.id, dabbler.id, foodie.id]
    without = matching.rank(db_session, owner, c.id)  # no engine: said so, and nobody gets the relevance share
    assert not without.relevance_available
    assert all(m.score.parts[0].facts["relevance_pct"] == 0 for m in without.items)
