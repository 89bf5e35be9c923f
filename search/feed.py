"""The feed: "for you" (ranked, personalised, diverse) and "following" (newest from followed creators).

"For you" asks the engine for candidates ranked by a sum of: smoothed
engagement, smoothed completion, recency (a gaussian decay from the pinned
time), followed creators, the viewer's interest tags and a boost for new
creators. It then re-ranks greedily so that no creator appears twice in a
row and at most twice per page.

The feed never runs dry: videos the viewer really watched lately are left out
of the fresh candidates, and when those run out the page is filled from the
watched ones, least recently seen first and, among videos seen about as long
ago, the popular first. Only an index without any public video gives an empty
first page (`why_empty` tells which).

Cursors pin the time of the first page: videos published later never enter
this walk, so new uploads cannot shift it. The cursor also carries the ids
already served, which are excluded from later pages; every page is the best of
what is left, so a walk has no duplicates and no gaps even while counters
change underneath it.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.errors import BadRequest, NotAuthenticated, NotFound, ValidationFailed
from core.pagination import decode_cursor, encode_cursor
from media import videos
from search import engagement, follows, ranking
from search.cards import VideoCard, video_cards
from search.documents import VIDEOS, live_video_filter
from search.engine import IndexNotFound, SearchEngine
from search.query import (
    Decay,
    FieldFactor,
    FilterWeight,
    Hit,
    Ids,
    Not,
    Range,
    Ranking,
    SearchRequest,
    SortBy,
    Term,
    Terms,
)
from search.schema import from_epoch_ms, to_epoch_ms

MAX_LIMIT = 10
MAX_PER_CREATOR = 2
MAX_SEEN = 600  # ids carried in a cursor; older ones drop off (watched videos stay excluded anyway)
CANDIDATES_PER_SLOT = 5
MAX_CANDIDATES = 2000


@dataclass
class FeedPage:
    items: list[VideoCard]
    next_cursor: str | None


@dataclass
class ForYouState:
    pinned_at: dt.datetime
    seen: list[int] = field(default_factory=list)
    last_creator: str | None = None


# ---------------------------------------------------------------- cursors


def _pack_ids(ids: Sequence[int]) -> str:
    out = bytearray()
    prev = 0
    for i in ids:
        delta = i - prev
        prev = i
        z = (delta << 1) ^ (delta >> 63)  # zigzag: small negative deltas stay small
        while True:
            byte = z & 0x7F
            z >>= 7
            out.append(byte | (0x80 if z else 0))
            if not z:
                break
    return base64.urlsafe_b64encode(zlib.compress(bytes(out), 9)).decode().rstrip("=")


def _unpack_ids(packed: str) -> list[int]:
    raw = zlib.decompress(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    ids, prev, z, shift = [], 0, 0, 0
    for byte in raw:
        z |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            prev += (z >> 1) ^ -(z & 1)
            ids.append(prev)
            z, shift = 0, 0
    return ids


def _pinned(value: Any, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, int):
        raise BadRequest("invalid_cursor")
    pinned = from_epoch_ms(value)
    if pinned > now + dt.timedelta(minutes=5):
        raise BadRequest("invalid_cursor")
    return pinned


def decode_for_you(cursor: str | None, now: dt.datetime) -> ForYouState:
    data = decode_cursor(cursor)
    if data is None:
        return ForYouState(pinned_at=now)
    if data.get("t") != "for_you":
        raise BadRequest("invalid_cursor")
    try:
        seen = _unpack_ids(data.get("s", "")) if data.get("s") else []
    except (ValueError, zlib.error) as exc:
        raise BadRequest("invalid_cursor") from exc
    last = data.get("c")
    return ForYouState(_pinned(data.get("p"), now), seen, str(last) if last is not None else None)


def encode_for_you(state: ForYouState) -> str:
    return encode_cursor(
        {
            "t": "for_you",
            "p": to_epoch_ms(state.pinned_at),
            "s": _pack_ids(state.seen[-MAX_SEEN:]),
            "c": state.last_creator,
        }
    )


# ---------------------------------------------------------------- for you


@dataclass(frozen=True)
class Personal:
    """What the ranking knows about the viewer."""

    followed: tuple[int, ...] = ()
    interests: tuple[tuple[str, float], ...] = ()  # tag, share of the viewer's interest
    exclude: tuple[int, ...] = ()  # watched recently (newest first) or already served in this walk


def for_you_request(pinned_at: dt.datetime, personal: Personal, size: int) -> SearchRequest:
    """The candidate query: the same one the service sends and the benchmark times raw."""
    functions: list[Any] = [
        FieldFactor("engagement", weight=ranking.FEED_ENGAGEMENT_WEIGHT),
        FieldFactor("completion", weight=ranking.FEED_COMPLETION_WEIGHT),
        Decay("published_at", origin=pinned_at, scale=ranking.FEED_RECENCY_SCALE, weight=ranking.FEED_RECENCY_WEIGHT),
        FilterWeight(
            Range("creator_since", gte=pinned_at - ranking.NEW_CREATOR_WINDOW), ranking.FEED_NEW_CREATOR_WEIGHT
        ),
    ]
    if personal.followed:
        functions.append(
            FilterWeight(Terms("creator_id", [str(c) for c in personal.followed]), ranking.FEED_FOLLOWED_WEIGHT)
        )
    for tag, share in personal.interests:
        functions.append(FilterWeight(Term("hashtags", tag), ranking.FEED_INTEREST_WEIGHT * share))
    filters: list[Any] = [Range("published_at", lte=pinned_at)]
    if personal.exclude:
        filters.append(Not(Ids([str(i) for i in personal.exclude])))
    return SearchRequest(filters=tuple(filters), ranking=Ranking(*functions), size=size, with_total=False)


def fallback_request(pinned_at: dt.datetime, least_recent_first: Sequence[int], size: int) -> SearchRequest:
    """Videos the viewer has seen, for when nothing fresh is left: split by how long ago they were seen into
    FALLBACK_GROUPS groups, the longest ago ranking first; within a group, the most viewed first."""
    functions: list[Any] = [FieldFactor("popularity", weight=ranking.FALLBACK_POPULARITY_WEIGHT)]
    n = len(least_recent_first)
    groups: dict[int, list[str]] = {}
    for rank, video_id in enumerate(least_recent_first):
        groups.setdefault(rank * ranking.FALLBACK_GROUPS // n, []).append(str(video_id))
    for group, members in groups.items():
        if weight := (ranking.FALLBACK_GROUPS - 1 - group) * ranking.FALLBACK_GROUP_WEIGHT:
            functions.append(FilterWeight(Ids(members), weight))
    filters = (Range("published_at", lte=pinned_at), Ids([str(i) for i in least_recent_first]))
    return SearchRequest(filters=filters, ranking=Ranking(*functions), size=size, with_total=False)


def personalise(session: Session, *, user_id: int | None, device_id: str | None, now: dt.datetime) -> Personal:
    watched = engagement.recently_watched(
        session, user_id=user_id, device_id=device_id, since=now - engagement.WATCH_HISTORY
    )
    if user_id is None:
        return Personal(exclude=tuple(watched))
    return Personal(
        followed=tuple(follows.following_ids(session, user_id)),
        interests=tuple(engagement.top_interests(session, user_id, now=now, limit=ranking.FEED_INTEREST_TAGS)),
        exclude=tuple(watched),
    )


def diversify(hits: Sequence[Hit], limit: int, last_creator: str | None, page: Sequence[Hit] = ()) -> list[Hit]:
    """`page` continued best-first from `hits`, skipping a creator who just appeared or already has
    MAX_PER_CREATOR on this page."""
    page = list(page)
    per_creator: Counter[str] = Counter(h.source["creator_id"] for h in page)
    remaining = list(hits)
    previous = page[-1].source["creator_id"] if page else last_creator
    while len(page) < limit and remaining:
        pick = next(
            (
                i
                for i, hit in enumerate(remaining)
                if hit.source["creator_id"] != previous and per_creator[hit.source["creator_id"]] < MAX_PER_CREATOR
            ),
            None,
        )
        if pick is None:
            if page:
                break
            pick = 0  # only the previous page's last creator is left: better them again than an empty page
        hit = remaining.pop(pick)
        page.append(hit)
        previous = hit.source["creator_id"]
        per_creator[previous] += 1
    return page


def for_you(
    session: Session,
    engine: SearchEngine,
    *,
    user_id: int | None,
    device_id: str | None,
    cursor: str | None,
    limit: int = MAX_LIMIT,
) -> FeedPage:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.one("limit", "less_than_equal" if limit > MAX_LIMIT else "greater_than_equal")
    device_id = engagement.check_device_id(device_id)
    now = clock.now()
    state = decode_for_you(cursor, now)
    personal = personalise(session, user_id=user_id, device_id=device_id, now=now)
    served = set(state.seen)
    fresh = Personal(personal.followed, personal.interests, tuple(dict.fromkeys([*state.seen, *personal.exclude])))
    page, more = _fill(engine, lambda size: for_you_request(state.pinned_at, fresh, size), limit, state.last_creator)
    seen_before = [i for i in reversed(personal.exclude) if i not in served]
    if len(page) < limit and seen_before:
        page, more_seen = _fill(
            engine, lambda size: fallback_request(state.pinned_at, seen_before, size), limit, state.last_creator, page
        )
        more = more or more_seen
    if not page:
        return FeedPage([], None)
    state.seen += [int(h.id) for h in page]
    state.last_creator = page[-1].source["creator_id"]
    return FeedPage(video_cards(session, page, viewer_id=user_id), encode_for_you(state) if more else None)


def _fill(
    engine: SearchEngine,
    request: Callable[[int], SearchRequest],
    limit: int,
    last_creator: str | None,
    page: Sequence[Hit] = (),
) -> tuple[list[Hit], bool]:
    """`page` filled up to `limit` from the candidates of `request(size)`, asking for more candidates while the
    creator rule leaves the page short; also whether candidates are left over."""
    size = limit * CANDIDATES_PER_SLOT
    while True:
        hits = _search(engine, request(size))
        filled = diversify(hits, limit, last_creator, page)
        if len(filled) == limit or len(hits) < size or size >= MAX_CANDIDATES:
            return filled, len(hits) > len(filled) - len(page)
        size = min(size * 4, MAX_CANDIDATES)


EmptyReason = Literal["no_public_videos", "not_indexed_yet"]


def why_empty(session: Session) -> EmptyReason:
    """Why a first page came back empty, in words the viewer can trust: nothing is public, or what is public
    has not reached the index yet (it is published within seconds)."""
    live = session.scalar(select(exists().where(live_video_filter())))
    return "not_indexed_yet" if live else "no_public_videos"


# ---------------------------------------------------------------- following


def following_request(pinned_at: dt.datetime, followed: Sequence[int], size: int, after: Any) -> SearchRequest:
    return SearchRequest(
        filters=(Terms("creator_id", [str(c) for c in followed]), Range("published_at", lte=pinned_at)),
        sort=(SortBy("published_at"), SortBy("id")),
        size=size,
        search_after=tuple(after) if after else None,
        with_total=False,
    )


def following(
    session: Session, engine: SearchEngine, *, user_id: int | None, cursor: str | None, limit: int
) -> FeedPage:
    if user_id is None:
        raise NotAuthenticated()
    if not 1 <= limit <= MAX_LIMIT * 5:
        raise ValidationFailed.one("limit", "less_than_equal")
    now = clock.now()
    data = decode_cursor(cursor) or {"t": "following", "p": to_epoch_ms(now)}
    after = data.get("a")
    if data.get("t") != "following" or (after is not None and not isinstance(after, list)):
        raise BadRequest("invalid_cursor")
    pinned = _pinned(data.get("p"), now)
    followed = follows.following_ids(session, user_id)
    if not followed:
        return FeedPage([], None)
    hits = _search(engine, following_request(pinned, followed, limit, after))
    next_cursor = None
    if len(hits) == limit:
        next_cursor = encode_cursor({"t": "following", "p": to_epoch_ms(pinned), "a": list(hits[-1].sort)})
    return FeedPage(video_cards(session, hits, viewer_id=user_id), next_cursor)


def _search(engine: SearchEngine, request: SearchRequest) -> list[Hit]:
    try:
        return engine.search("videos", request).hits
    except IndexNotFound:  # nothing was ever indexed
        return []


def opened_at(session: Session, engine: SearchEngine, video_id: int, viewer: User | None) -> VideoCard:
    """The card of one live video, for a feed opened at it (a share link, a hashtag grid): counters and "liked"
    from the index; a video just published and not indexed yet comes from the database with counters at zero."""
    try:
        hits = list(engine.get(VIDEOS.alias, [str(video_id)]).values())
    except IndexNotFound:
        hits = []
    cards = video_cards(session, hits, viewer_id=viewer.id if viewer else None)
    if cards:
        return cards[0]
    video = videos.get_video(session, viewer, video_id)
    if not video.is_live:
        raise NotFound("video")
    creator = session.get(User, video.uploader_id)
    return VideoCard(
        id=video.id, title=video.title, description=video.description, hashtags=list(video.hashtags or []),
        creator_id=video.uploader_id, creator_name=creator.display_name if creator else "",
        published_at=video.published_at, duration=video.duration_seconds or 0.0, views=0, likes=0, shares=0,
        completion_rate=0.0, manifest=video.manifest, comments=video.comment_count,
    )  # fmt: skip
