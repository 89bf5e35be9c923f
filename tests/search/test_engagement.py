"""Engagement events: recorded append-only, counted asynchronously, repeats and bots bounded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import FrozenClock, use_clock
from core.outbox import OutboxEvent
from search import engagement
from search.backends.embedded import EmbeddedEngine
from search.engagement import EventIn
from search.models import EngagementEvent, EngagementKind, UserInterest, VideoLike, VideoStats
from tests import factories

K = EngagementKind
NOW = dt.datetime(2026, 6, 1, 12, 5, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(NOW)) as c:
        yield c  # type: ignore[misc]


def stats(s: Session, video_id: int) -> VideoStats:
    row = s.get(VideoStats, video_id)
    assert row is not None
    s.refresh(row)
    return row


def test_one_view_per_viewer_per_video_per_hour(db_session: Session, clock: FrozenClock) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True), duration=20.0)
    fan = factories.user(db_session)
    for _ in range(5):  # a viewer loops the video
        engagement.record_events(
            db_session, user=fan, device_id=None, ip_hash="a", events=[EventIn(K.VIEW, video.id, 20_000)]
        )
    for device in ("device-aaaa1111", "device-aaaa1111", "device-bbbb2222"):
        engagement.record_events(
            db_session, user=None, device_id=device, ip_hash="b", events=[EventIn(K.VIEW, video.id, 5_000)]
        )
    assert engagement.drain(db_session) == 8
    s = stats(db_session, video.id)
    assert s.views == 3  # the fan once, two devices once each
    assert s.completion_sum == pytest.approx(1.0 + 0.25 + 0.25)
    assert s.watch_ms == 30_000
    logged = db_session.scalar(select(func.count()).where(EngagementEvent.video_id == video.id))
    assert logged == 8  # every event is kept in the log, counted or not

    clock.advance(hours=1)
    engagement.record_events(
        db_session, user=fan, device_id=None, ip_hash="a", events=[EventIn(K.VIEW, video.id, 10_000)]
    )
    engagement.drain(db_session)
    assert stats(db_session, video.id).views == 4  # a new hour counts again


def test_a_view_counts_only_after_a_real_watch(db_session: Session, clock: FrozenClock) -> None:
    """Three seconds, or a quarter of a short clip: an autoplay swiped past is kept in the log but is no view, and
    the feed does not treat it as watched."""
    creator = factories.user(db_session, artist=True)
    long, short = (factories.video(db_session, uploader=creator, duration=d) for d in (30.0, 4.0))
    fan = factories.user(db_session)
    watches = [(long, 400), (long, 2_999), (short, 999)]  # none is a real watch
    for video, ms in watches:
        engagement.record_events(
            db_session, user=fan, device_id=None, ip_hash="a", events=[EventIn(K.VIEW, video.id, ms)]
        )
    since = NOW - engagement.WATCH_HISTORY
    assert engagement.recently_watched(db_session, user_id=fan.id, device_id=None, since=since) == []
    engagement.drain(db_session)
    assert db_session.get(VideoStats, long.id) is None
    assert db_session.get(VideoStats, short.id) is None
    assert set(db_session.scalars(select(EngagementEvent.counted))) == {False}
    # Then real watches in the same hour: three seconds of the long one, a quarter of the short one.
    clock.advance(minutes=1)
    for video, ms in [(long, 3_000), (short, 1_000)]:
        engagement.record_events(
            db_session, user=fan, device_id=None, ip_hash="a", events=[EventIn(K.VIEW, video.id, ms)]
        )
    watched = engagement.recently_watched(db_session, user_id=fan.id, device_id=None, since=since)
    assert set(watched) == {long.id, short.id}
    engagement.drain(db_session)
    assert (stats(db_session, long.id).views, stats(db_session, short.id).views) == (1, 1)
    assert stats(db_session, short.id).completion_sum == pytest.approx(0.25)


def test_a_bot_rotating_device_ids_is_capped_per_ip(db_session: Session, clock: FrozenClock) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    for n in range(50):
        engagement.record_events(
            db_session,
            user=None,
            device_id=f"bot-device-{n:04d}",
            ip_hash="bot-ip",
            events=[EventIn(K.VIEW, video.id, 30_000)],
        )
    engagement.drain(db_session, batch_size=7)  # the cap holds across batches
    assert stats(db_session, video.id).views == engagement.IP_VIEWS_PER_HOUR


def test_likes_are_a_state_shares_and_clicks_are_deduplicated(db_session: Session, clock: FrozenClock) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    a, b = factories.user(db_session), factories.user(db_session)
    batch = [
        EventIn(K.LIKE, video.id),
        EventIn(K.LIKE, video.id),
        EventIn(K.SHARE, video.id),
        EventIn(K.SHARE, video.id),
    ]
    batch += [EventIn(K.PRODUCT_CLICK, video.id, product_id=7), EventIn(K.PRODUCT_CLICK, video.id, product_id=8)]
    engagement.record_events(db_session, user=a, device_id=None, ip_hash="x", events=batch)
    engagement.record_events(db_session, user=b, device_id=None, ip_hash="y", events=[EventIn(K.LIKE, video.id)])
    engagement.drain(db_session)
    s = stats(db_session, video.id)
    assert (s.likes, s.shares, s.product_clicks) == (2, 1, 2)
    engagement.record_events(
        db_session,
        user=a,
        device_id=None,
        ip_hash="x",
        events=[EventIn(K.UNLIKE, video.id), EventIn(K.UNLIKE, video.id)],
    )
    engagement.drain(db_session)
    assert stats(db_session, video.id).likes == 1
    assert db_session.scalars(select(VideoLike.user_id).where(VideoLike.video_id == video.id)).all() == [b.id]


def test_purchases_count_once_per_order_line(db_session: Session, clock: FrozenClock) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True), hashtags=["口红"])
    buyer = factories.user(db_session)
    for _ in range(3):  # the payment webhook is replayed
        engagement.record_purchase(db_session, video_id=video.id, user_id=buyer.id, order_line_ref="order-9/line-1")
    engagement.record_purchase(db_session, video_id=video.id, user_id=buyer.id, order_line_ref="order-9/line-2")
    db_session.commit()
    engagement.drain(db_session)
    assert stats(db_session, video.id).purchases == 2
    interest = db_session.get(UserInterest, (buyer.id, "口红"))
    assert interest is not None
    assert interest.weight == pytest.approx(2 * engagement.INTEREST_POINTS[K.PURCHASE])


def test_interests_decay_with_time(db_session: Session, clock: FrozenClock) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True), hashtags=["旅行"])
    other = factories.video(db_session, uploader=factories.user(db_session, artist=True), hashtags=["美食"])
    fan = factories.user(db_session)
    engagement.record_events(db_session, user=fan, device_id=None, ip_hash="x", events=[EventIn(K.LIKE, video.id)])
    engagement.drain(db_session)
    clock.advance(days=engagement.INTEREST_HALF_LIFE_DAYS)
    engagement.record_events(db_session, user=fan, device_id=None, ip_hash="x", events=[EventIn(K.LIKE, other.id)])
    engagement.drain(db_session)
    top = engagement.top_interests(db_session, fan.id, now=clock.now(), limit=5)
    assert [t for t, _ in top] == ["美食", "旅行"]
    assert dict(top)["旅行"] == pytest.approx(1.5 / 4.5)  # half of 3 points left, against a fresh 3


def test_aggregation_is_exactly_once_and_reaches_the_search_document(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True), duration=10.0)
    fans = [factories.user(db_session) for _ in range(4)]
    for fan in fans:
        engagement.record_events(
            db_session,
            user=fan,
            device_id=None,
            ip_hash=f"ip-{fan.id}",
            events=[EventIn(K.VIEW, video.id, 5_000), EventIn(K.LIKE, video.id)],
        )
    assert engagement.drain(db_session) == 8
    assert engagement.drain(db_session) == 0  # nothing counted twice
    emitted = db_session.scalars(
        select(OutboxEvent.entity_id).where(OutboxEvent.topic == "video", OutboxEvent.delivered_at.is_(None))
    ).all()
    assert emitted == [str(video.id)]
    index_now()
    doc = search_engine.get("videos", [str(video.id)])[str(video.id)].source
    assert (doc["views"], doc["likes"]) == (4, 4)
    assert doc["completion_rate"] == pytest.approx(0.5)
    assert doc["engagement"] == pytest.approx((4 + 10) / (4 + 200), rel=1e-5)


def test_events_api_accepts_a_batch_and_rejects_bad_events_one_by_one(
    db_session: Session, client: FlaskClient, clock: FrozenClock
) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    private = factories.video(db_session, uploader=factories.user(db_session, artist=True), published=False)
    body = {
        "device_id": "web-1234567890",
        "events": [
            {"kind": "view", "video_id": video.id, "watch_ms": 4000},
            {"kind": "view", "video_id": private.id, "watch_ms": 4000},
            {"kind": "like", "video_id": video.id},  # anonymous: must sign in
            {"kind": "share", "video_id": video.id},
            {"kind": "view", "video_id": video.id},  # no watch time
        ],
    }
    r = client.post("/api/v1/engagement/events", json=body)
    assert r.status_code == 202, r.get_json()
    assert r.get_json() == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "code": "video_not_found"},
            {"index": 2, "code": "sign_in_required"},
            {"index": 4, "code": "watch_ms_required"},
        ],
    }
    kept = db_session.scalars(select(EngagementEvent.kind).where(EngagementEvent.video_id == video.id)).all()
    assert sorted(kept) == [K.SHARE, K.VIEW]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [{"kind": "view", "video_id": 1, "watch_ms": 1}]}, "device_id"),
        ({"device_id": "short", "events": [{"kind": "view", "video_id": 1, "watch_ms": 1}]}, "device_id"),
        ({"device_id": "web-1234567890", "events": [{"kind": "purchase", "video_id": 1}]}, "events.0.kind"),
        ({"device_id": "web-1234567890", "events": []}, "events"),
        (
            {"device_id": "web-1234567890", "events": [{"kind": "view", "video_id": 1, "watch_ms": -5}]},
            "events.0.watch_ms",
        ),
        ({"device_id": "web-1234567890", "events": [{"kind": "view", "video_id": 1}] * 101}, "events"),
    ],
)
def test_events_api_refuses_malformed_batches_whole(client: FlaskClient, body: dict[str, object], field: str) -> None:
    r = client.post("/api/v1/engagement/events", json=body)
    assert r.status_code == 422, r.get_json()
    assert field in {e["field"] for e in r.get_json()["errors"]}


def test_follow_api(
    db_session: Session, client: FlaskClient, search_engine: EmbeddedEngine, index_now: Callable[[], None]
) -> None:
    creator = factories.user(db_session, artist=True, display_name="阿杰")
    factories.user(db_session, email="me@example.com")
    assert client.post(f"/api/v1/creators/{creator.id}/follow").status_code == 401
    login = client.post("/api/v1/auth/login", json={"email": "me@example.com", "password": factories.PASSWORD})
    client.environ_base["HTTP_X_CSRF_TOKEN"] = login.get_json()["csrf_token"]
    r = client.post(f"/api/v1/creators/{creator.id}/follow")
    assert r.get_json() == {"creator_id": creator.id, "following": True, "followers": 1}
    assert client.post(f"/api/v1/creators/{creator.id}/follow").get_json()["followers"] == 1  # again: no change
    assert client.get("/api/v1/me/following").get_json() == [{"id": creator.id, "name": "阿杰"}]
    index_now()
    assert search_engine.get("artists", [str(creator.id)])[str(creator.id)].source["followers"] == 1
    assert client.delete(f"/api/v1/creators/{creator.id}/follow").get_json()["followers"] == 0
    index_now()
    assert search_engine.get("artists", [str(creator.id)])[str(creator.id)].source["followers"] == 0
    assert client.post("/api/v1/creators/999999/follow").status_code == 404
    me = client.get("/api/v1/me").get_json()
    r = client.post(f"/api/v1/creators/{me['id']}/follow")
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["code"] == "cannot_follow_self"
