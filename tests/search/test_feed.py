"""The feed: ranking signals, diversity, watched exclusion, personalisation and cursor stability."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core import clock as core_clock
from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.outbox import emit
from media.models import Video
from search import engagement, feed, ranking
from search.backends.embedded import EmbeddedEngine
from search.engagement import EventIn
from search.models import EngagementKind
from tests import factories

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(NOW)) as c:
        yield c  # type: ignore[misc]


def make_video(
    s: Session,
    creator: User,
    *,
    title: str = "视频",
    hashtags: list[str] | None = None,
    age: dt.timedelta = dt.timedelta(hours=1),
    views: int = 100,
    likes: int = 5,
    completion: float = 0.3,
) -> Video:
    v = factories.video(s, uploader=creator, title=title, hashtags=hashtags or [])
    v.published_at = core_clock.now() - age
    factories.video_stats(s, v, views=views, likes=likes, completion_sum=completion * views)
    emit(s, "video", v.id)
    return v


def walk(
    s: Session,
    engine: EmbeddedEngine,
    *,
    user_id: int | None = None,
    limit: int = 10,
    between: Callable[[], Any] = lambda: None,
) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        page = feed.for_you(s, engine, user_id=user_id, device_id=None, cursor=cursor, limit=limit)
        if page.items:
            pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        between()


def ids(cards: list[Any]) -> list[int]:
    return [c.id for c in cards]


def flat(pages: list[list[Any]]) -> list[Any]:
    return [c for p in pages for c in p]


def ranked(engine: EmbeddedEngine, personal: feed.Personal | None = None) -> list[int]:
    """The candidate order straight from the engine, before the diversity re-rank."""
    hits = engine.search("videos", feed.for_you_request(core_clock.now(), personal or feed.Personal(), 100)).hits
    return [int(h.id) for h in hits]


def test_the_bayesian_average_keeps_three_likes_on_three_views_below_a_proven_video(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    assert ranking.engagement_rate(views=3, likes=3, shares=0, product_clicks=0, purchases=0) == pytest.approx(13 / 203)
    assert ranking.engagement_rate(views=10_000, likes=2_000, shares=0, product_clicks=0, purchases=0) == (
        pytest.approx(2010 / 10_200)
    )
    lucky = make_video(db_session, factories.user(db_session, artist=True), views=3, likes=3, completion=0.3)
    proven = make_video(db_session, factories.user(db_session, artist=True), views=10_000, likes=2_000, completion=0.3)
    index_now()
    page = feed.for_you(db_session, search_engine, user_id=None, device_id=None, cursor=None)
    assert ids(page.items) == [proven.id, lucky.id]


def test_recency_completion_and_new_creators_each_lift_a_video(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    veteran = factories.user(db_session, artist=True, created_at=NOW - dt.timedelta(days=400))
    old_work = make_video(db_session, veteran, age=dt.timedelta(days=200))
    base = {"views": 500, "likes": 25, "completion": 0.3}
    stale = make_video(db_session, veteran, age=dt.timedelta(days=5), **base)  # type: ignore[arg-type]
    fresh = make_video(db_session, veteran, age=dt.timedelta(hours=2), **base)  # type: ignore[arg-type]
    watched_through = make_video(db_session, veteran, age=dt.timedelta(days=5), views=500, likes=25, completion=0.9)
    rookie = factories.user(db_session, artist=True)
    newcomer = make_video(db_session, rookie, age=dt.timedelta(days=5), **base)  # type: ignore[arg-type]
    index_now()
    order = ranked(search_engine)
    assert order.index(fresh.id) < order.index(stale.id)  # recency
    assert order.index(watched_through.id) < order.index(stale.id)  # completion
    assert order.index(newcomer.id) < order.index(stale.id)  # new-creator boost (the veteran joined 400 days ago)
    assert ids(flat(walk(db_session, search_engine))) != []
    assert old_work.id in order


def test_no_creator_twice_in_a_row_and_at_most_two_per_page(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    star = factories.user(db_session, artist=True)
    others = [factories.user(db_session, artist=True) for _ in range(5)]
    for n in range(12):  # the star's videos all outrank everyone else's
        make_video(db_session, star, title=f"star {n}", views=5_000, likes=2_000)
    for creator in others:
        for n in range(4):
            make_video(db_session, creator, title=f"other {n}", views=100, likes=3)
    index_now()
    pages = walk(db_session, search_engine)
    served = [c for p in pages for c in p]
    assert len(served) == len({c.id for c in served}) == 32  # everything once, nothing lost to the rule
    assert served[0].creator_id == star.id  # the best video still leads
    for page in pages:
        creators = [c.creator_id for c in page]
        assert all(n <= 2 for n in (creators.count(c) for c in set(creators)))
    for a, b in itertools.pairwise(served):  # across page boundaries too, while others remain
        if a.creator_id == b.creator_id:
            rest = served[served.index(b) :]
            assert {c.creator_id for c in rest} == {a.creator_id}


def test_videos_watched_recently_go_behind_the_fresh_ones_at_once(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    creators = [factories.user(db_session, artist=True) for _ in range(3)]
    videos = [make_video(db_session, c, title=f"v{n}", likes=30 - 10 * n) for n, c in enumerate(creators)]
    viewer = factories.user(db_session)
    index_now()
    before = feed.for_you(db_session, search_engine, user_id=viewer.id, device_id=None, cursor=None)
    assert ids(before.items) == [v.id for v in videos]
    engagement.record_events(
        db_session, user=viewer, device_id=None, ip_hash="ip", events=[EventIn(EngagementKind.VIEW, videos[0].id, 500)]
    )
    # A half-second autoplay swiped past is no watch.
    assert ids(feed.for_you(db_session, search_engine, user_id=viewer.id, device_id=None, cursor=None).items) == (
        ids(before.items)
    )
    engagement.record_events(
        db_session, user=viewer, device_id=None, ip_hash="ip", events=[EventIn(EngagementKind.VIEW, videos[0].id, 5000)]
    )
    # Not aggregated yet: the raw event already moves it behind the videos not watched.
    after = feed.for_you(db_session, search_engine, user_id=viewer.id, device_id=None, cursor=None)
    assert ids(after.items) == [videos[1].id, videos[2].id, videos[0].id]
    # An anonymous device is remembered by its id.
    device = "device-1234abcd"
    engagement.record_events(
        db_session, user=None, device_id=device, ip_hash="ip", events=[EventIn(EngagementKind.VIEW, videos[1].id, 5000)]
    )
    anon = feed.for_you(db_session, search_engine, user_id=None, device_id=device, cursor=None)
    assert ids(anon.items) == [videos[0].id, videos[2].id, videos[1].id]
    # A week later the video is fresh again.
    clock.advance(days=8)
    later = feed.for_you(db_session, search_engine, user_id=viewer.id, device_id=None, cursor=None)
    assert ids(later.items) == ids(before.items)


def test_the_cursor_walk_is_stable_while_videos_arrive_and_counters_move(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    creators = [factories.user(db_session, artist=True) for _ in range(8)]
    original = [
        make_video(
            db_session, creators[n % 8], title=f"原有 {n}", views=100 + 37 * n, likes=n, age=dt.timedelta(hours=n)
        )
        for n in range(1, 37)
    ]
    index_now()
    arrivals: list[Video] = []

    def meanwhile() -> None:
        clock.advance(minutes=3)
        # New uploads (which would rank first) and a counter surge on a video not yet served.
        creator = creators[len(arrivals) % 8]
        arrivals.append(make_video(db_session, creator, title="新来的", views=9_000, likes=4_000, age=dt.timedelta(0)))
        from search.models import VideoStats

        stats = db_session.get(VideoStats, original[-1].id)
        assert stats is not None
        stats.views, stats.likes = 50_000, 30_000
        emit(db_session, "video", original[-1].id)
        index_now()

    pages = walk(db_session, search_engine, between=meanwhile)
    served = [c.id for p in pages for c in p]
    assert len(served) == len(set(served))  # no duplicates
    assert set(served) == {v.id for v in original}  # no gaps, and nothing published after the first page
    assert len(arrivals) >= 3
    fresh = feed.for_you(db_session, search_engine, user_id=None, device_id=None, cursor=None)
    assert {v.id for v in arrivals} & set(ids(fresh.items))  # a new walk sees them


def test_following_a_creator_visibly_moves_their_videos_up(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    creators = [factories.user(db_session, artist=True) for _ in range(8)]
    for n, c in enumerate(creators):
        for k in range(2):
            make_video(db_session, c, title=f"c{n}v{k}", views=1_000, likes=80 - 8 * n - k)
    favourite = creators[-1]  # ranks last on engagement
    viewer = factories.user(db_session)
    index_now()
    before = [c.creator_id for c in flat(walk(db_session, search_engine, user_id=viewer.id))]
    factories.follow(db_session, viewer, favourite)
    after = [c.creator_id for c in flat(walk(db_session, search_engine, user_id=viewer.id))]
    assert before.index(favourite.id) >= 10  # not even on the first page
    assert after.index(favourite.id) == 0
    anonymous = [c.creator_id for c in flat(walk(db_session, search_engine))]
    assert anonymous == before  # the anonymous feed is the non-personalised order


def test_interests_learned_from_likes_and_purchases_reorder_the_feed(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], clock: FrozenClock
) -> None:
    creators = [factories.user(db_session, artist=True) for _ in range(6)]
    cats = [make_video(db_session, creators[n], title=f"猫 {n}", hashtags=["萌宠"], likes=10) for n in range(3)]
    others = [make_video(db_session, creators[3 + n], title=f"车 {n}", hashtags=["汽车"], likes=30) for n in range(3)]
    viewer = factories.user(db_session)
    index_now()
    neutral = ids(walk(db_session, search_engine, user_id=viewer.id)[0])
    assert set(neutral[:3]) == {v.id for v in others}
    engagement.record_events(
        db_session, user=viewer, device_id=None, ip_hash="ip", events=[EventIn(EngagementKind.LIKE, cats[0].id)]
    )
    engagement.record_purchase(db_session, video_id=cats[1].id, user_id=viewer.id, order_line_ref="line-1")
    db_session.commit()
    engagement.drain(db_session)
    interests = engagement.top_interests(db_session, viewer.id, now=NOW, limit=5)
    assert interests == [("萌宠", pytest.approx(1.0))]
    index_now()
    personal = ids(walk(db_session, search_engine, user_id=viewer.id)[0])
    assert set(personal[:3]) == {v.id for v in cats}  # cat videos now lead, even the one never touched


def test_following_tab_is_newest_first_and_stable(
    db_session: Session,
    search_engine: EmbeddedEngine,
    index_now: Callable[[], None],
    clock: FrozenClock,
    client: FlaskClient,
) -> None:
    followed, stranger = factories.user(db_session, artist=True), factories.user(db_session, artist=True)
    mine = [make_video(db_session, followed, title=f"关注 {n}", age=dt.timedelta(hours=n + 1)) for n in range(5)]
    make_video(db_session, stranger, title="陌生人")
    viewer = factories.user(db_session, email="fan@example.com")
    factories.follow(db_session, viewer, followed)
    index_now()
    assert client.get("/api/v1/feed?tab=following").status_code == 401
    client.post("/api/v1/auth/login", json={"email": "fan@example.com", "password": factories.PASSWORD})
    first = client.get("/api/v1/feed?tab=following&limit=3").get_json()
    assert [v["id"] for v in first["items"]] == [v.id for v in mine[:3]]
    clock.advance(minutes=1)
    make_video(db_session, followed, title="刚发布", age=dt.timedelta(0))
    index_now()
    second = client.get(f"/api/v1/feed?tab=following&limit=3&cursor={first['next_cursor']}").get_json()
    assert [v["id"] for v in second["items"]] == [v.id for v in mine[3:]]
    assert second["next_cursor"] is None


def test_feed_api_for_anonymous_viewers_and_bad_input(
    db_session: Session,
    search_engine: EmbeddedEngine,
    index_now: Callable[[], None],
    clock: FrozenClock,
    client: FlaskClient,
) -> None:
    videos = [make_video(db_session, factories.user(db_session, artist=True), title=f"匿名 {n}") for n in range(3)]
    index_now()
    r = client.get("/api/v1/feed?limit=2&device_id=abcdef123456")
    body = r.get_json()
    assert r.status_code == 200, body
    assert len(body["items"]) == 2
    card = body["items"][0]
    assert {"id", "title", "creator", "views", "likes", "manifest", "liked"} <= set(card)
    rest = client.get(f"/api/v1/feed?limit=2&cursor={body['next_cursor']}").get_json()
    assert {v["id"] for v in body["items"] + rest["items"]} == {v.id for v in videos}
    assert client.get("/api/v1/feed?limit=11").status_code == 422
    assert client.get("/api/v1/feed?tab=nope").status_code == 422
    bad = client.get("/api/v1/feed?cursor=not-a-cursor")
    assert bad.status_code == 400
    assert bad.get_json()["code"] == "invalid_cursor"
    assert client.get("/api/v1/feed?device_id=x").status_code == 422
