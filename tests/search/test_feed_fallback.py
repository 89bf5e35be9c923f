"""The feed never runs dry: once the fresh candidates run out it falls back to what the viewer saw least recently,
the popular first among videos seen about as long ago; on the embedded engine and on Elasticsearch alike."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from media.models import Video
from search import engagement, feed
from search.engagement import EventIn
from search.models import EngagementKind
from tests import factories
from tests.search.conftest import Stack
from tests.search.test_feed import ids, make_video

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(NOW)) as c:
        yield c  # type: ignore[misc]


def index(s: Session, stack: Stack) -> None:
    s.commit()
    stack.drain(s)
    stack.engine.refresh("videos")


def watch(s: Session, viewer_id: int, video: Video, watch_ms: int) -> None:
    viewer = s.get(User, viewer_id)
    engagement.record_events(
        s, user=viewer, device_id=None, ip_hash="ip", events=[EventIn(EngagementKind.VIEW, video.id, watch_ms)]
    )


def test_a_viewer_who_watched_everything_gets_full_pages_least_recently_seen_first(
    db_session: Session, stack: Stack, clock: FrozenClock
) -> None:
    s = db_session
    # One creator per video, so the creator rule does not reorder what the fallback ranks.
    views = [40, 9_000, 300, 20, 5_000, 70, 800, 10]
    watched = [make_video(s, factories.user(s, artist=True), title=f"看过 {n}", views=v) for n, v in enumerate(views)]
    skipped = make_video(s, factories.user(s, artist=True), title="划走的", views=1)
    viewer = factories.user(s)
    index(s, stack)
    for video in watched:  # watched[0] longest ago
        watch(s, viewer.id, video, 30_000)
        clock.advance(minutes=10)
    watch(s, viewer.id, skipped, 400)  # an autoplay swiped past: not watched
    assert engagement.recently_watched(s, user_id=viewer.id, device_id=None, since=NOW) == [
        v.id for v in reversed(watched)
    ]

    first = feed.for_you(s, stack.engine, user_id=viewer.id, device_id=None, cursor=None, limit=5)
    assert len(first.items) == 5  # a full page, although everything but one was watched
    assert first.next_cursor is not None
    rest = feed.for_you(s, stack.engine, user_id=viewer.id, device_id=None, cursor=first.next_cursor, limit=5)
    served = ids(first.items) + ids(rest.items)
    assert rest.next_cursor is None  # every video once in this walk, then the walk ends
    # Fresh first; then the watched ones in four groups by how long ago they were seen, the more viewed first in each.
    pairs = [sorted(watched[k : k + 2], key=lambda v: -views[watched.index(v)]) for k in range(0, 8, 2)]
    assert served == [skipped.id, *(v.id for pair in pairs for v in pair)]


def test_the_fallback_keeps_the_creator_rule_and_fresh_videos_come_first(
    db_session: Session, stack: Stack, clock: FrozenClock
) -> None:
    s = db_session
    creators = [factories.user(s, artist=True) for _ in range(3)]
    videos = [make_video(s, creators[n % 3], title=f"v{n}", views=100 * (n + 1)) for n in range(6)]
    viewer = factories.user(s)
    index(s, stack)
    for video in videos[:5]:
        watch(s, viewer.id, video, 30_000)
        clock.advance(minutes=1)
    page = feed.for_you(s, stack.engine, user_id=viewer.id, device_id=None, cursor=None, limit=6)
    assert ids(page.items)[0] == videos[5].id  # the only fresh one
    assert set(ids(page.items)) == {v.id for v in videos}
    creators_in_order = [c.creator_id for c in page.items]
    assert all(a != b for a, b in itertools.pairwise(creators_in_order))


def test_an_empty_feed_means_there_are_no_public_videos(db_session: Session, stack: Stack, clock: FrozenClock) -> None:
    s = db_session
    viewer = factories.user(s)
    index(s, stack)
    empty = feed.for_you(s, stack.engine, user_id=viewer.id, device_id=None, cursor=None)
    assert (empty.items, empty.next_cursor) == ([], None)
    assert feed.why_empty(s) == "no_public_videos"
    factories.video(s, uploader=factories.user(s, artist=True))
    s.commit()  # live in the database, not indexed yet
    assert feed.why_empty(s) == "not_indexed_yet"
