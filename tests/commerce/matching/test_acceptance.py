"""The matching acceptance test, end to end: artists with known traits are generated through the real paths
(videos with product cards, viewers who watch and click and share their age, buyers who check out through a video
and pay through the sandbox), the metrics job measures them, and the brief ranks them.

The artist who fits the brief (category, audience, budget) and sells ranks first; a twin with the same profile,
videos and audience who claims ten million followers but never sold anything ranks lower, by exactly the sales
part; every breakdown adds up to its score."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from commerce.artists import audience, metrics, profiles
from commerce.artists.models import ArtistMetrics, LengthTier
from commerce.booking import campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.policy import BookingPolicy
from commerce.matching import service as matching
from commerce.orders.checkout import Address
from core import clock
from core.accounts.models import User
from media.models import Video
from search import engagement
from search.engagement import EventIn
from search.models import EngagementKind
from tests import factories
from tests.commerce.money import Market, pay, place

POLICY = BookingPolicy()


def make_artist(m: Market, name: str, *, category: str, rate: int, declared: int | None = None) -> tuple[User, Video]:
    artist = m.user(artist=True, display_name=name)
    profiles.update_profile(
        m.session, artist,
        {"categories": [category], "rates": {LengthTier.UP_TO_60S: rate}, "declared_followers": declared},
    )  # fmt: skip
    video = factories.video(m.session, uploader=artist, title=f"{name}的防晒测评", duration=30.0)
    factories.video_link(m.session, video=video, product=m.product)
    m.session.commit()
    return artist, video


def audience_of(m: Market, video: Video, ages: list[str]) -> None:
    """Signed-in viewers who shared their age watch the video and tap its product card."""
    for i, age in enumerate(ages):
        viewer = m.user()
        audience.share_traits(m.session, viewer, age_band=age, region="CN-GD")
        engagement.record_events(
            m.session, user=viewer, device_id=None, ip_hash=f"ip-{video.id}-{i}",
            events=[EventIn(EngagementKind.VIEW, video.id, watch_ms=25_000),
                    EventIn(EngagementKind.PRODUCT_CLICK, video.id, product_id=m.product.id)],
        )  # fmt: skip


def sell(m: Market, video: Video, orders: int) -> None:
    """Buyers check out through the artist's video and pay in the sandbox: orders attributed to the artist."""
    m.video = video
    for i in range(orders):
        buyer = m.user()
        address = Address(name="买家", phone="13800138000", province="广东省", city="广州市", district="天河区",
                          detail=f"体育西路 {video.id}-{i} 号")  # fmt: skip
        checkout = place(m, buyer=buyer, device=f"device-{video.id}-{i}", address=address)
        assert pay(m, checkout) == ["applied"]


def test_the_fit_seller_ranks_first_and_claimed_followers_rank_lower(db_session: Session, market: Market) -> None:
    m = market
    m.sku.stock = 1000
    m.session.commit()
    category = m.product.category  # beauty.skincare
    fit, fit_video = make_artist(m, "对口带货", category=category, rate=300_000)
    twin, twin_video = make_artist(m, "自报千万粉", category=category, rate=300_000, declared=10_000_000)
    young = ["18-23", "24-30", "18-23", "24-30", "18-23"]
    audience_of(m, fit_video, young)
    audience_of(m, twin_video, young)
    sell(m, fit_video, 4)
    rng = random.Random(8)
    crowd = []
    for i in range(12):  # the crowd: other categories or audiences or prices, some of them selling
        cat = rng.choice(["food.snacks", "digital.audio", category])
        a, v = make_artist(m, f"艺人{i}", category=cat, rate=rng.choice([150_000, 300_000, 2_000_000]),
                           declared=rng.choice([None, 5_000_000]))  # fmt: skip
        audience_of(m, v, rng.choices(["31-40", "41-50", "18-23"], k=3))
        if cat != category:
            sell(m, v, rng.randrange(0, 3))
        crowd.append(a)
    engagement.drain(m.session)
    metrics.refresh(m.session)

    measured = m.session.get(ArtistMetrics, fit.id)
    assert measured is not None
    assert (measured.orders_90d, measured.gmv_90d_fen) == (4, 4 * m.sku.price_fen)
    assert measured.conversion_90d_bp == 4 * 10_000 // 5  # 4 orders per 5 product clicks
    assert measured.audience["ages"] == {"18-23": 6000, "24-30": 4000}
    twin_measured = m.session.get(ArtistMetrics, twin.id)
    assert twin_measured is not None
    assert (twin_measured.orders_90d, twin_measured.gmv_90d_fen, twin_measured.followers) == (0, 0, 0)

    spec = CampaignSpec(
        title="夏日防晒种草", category=category, budget_min_fen=100_000, budget_max_fen=500_000,
        deadline=clock.now() + dt.timedelta(days=20), audience_ages=["18-23", "24-30"], status="open",
    )  # fmt: skip
    c = campaigns.create(m.session, m.owner, m.brand.id, spec, policy=POLICY)
    page = matching.rank(m.session, m.owner, c.id, limit=50)
    order = [x.artist.candidate.artist_id for x in page.items]
    assert order[0] == fit.id
    assert order.index(twin.id) > order.index(fit.id)
    by_id = {x.artist.candidate.artist_id: x.score for x in page.items}
    parts = {k: {p.key: p.points for p in by_id[k].parts} for k in (fit.id, twin.id)}
    assert {k: v for k, v in parts[fit.id].items() if k != "sales"} == {
        k: v for k, v in parts[twin.id].items() if k != "sales"
    }
    assert parts[twin.id]["sales"] == 0
    assert by_id[fit.id].total - by_id[twin.id].total == parts[fit.id]["sales"] > 0
    assert all(s.total == sum(p.points for p in s.parts) for s in by_id.values())
