"""Feed, search, autocomplete, hashtag pages, engagement events from the player, and following creators."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from commerce.catalog import categories
from core import extensions
from core.errors import ValidationFailed
from media.videos import manifest_urls
from search import engagement, feed, follows
from search import service as search_service
from search.cards import VideoCard
from search.engine import SearchEngine
from search.models import EngagementKind
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.api.videos import PlaybackOut
from web.auth import client_ip_hash, current_user, require_current_user
from web.i18n import get_locale

DeviceId = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class QueryModel(BaseModel):
    """Query strings arrive as text: numbers are parsed, unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _engine() -> SearchEngine:
    engine: SearchEngine = extensions.extension("search")
    return engine


def _viewer_id() -> int | None:
    user = current_user()
    return user.id if user else None


# ---------------------------------------------------------------- cards


class CreatorOut(OutModel):
    id: int
    name: str


def _playback(manifest: dict[str, Any] | None) -> PlaybackOut | None:
    if not manifest or "prefix" not in manifest:
        return None
    return PlaybackOut(**manifest_urls(extensions.storage(), manifest))


class VideoCardOut(OutModel):
    id: int
    title: str
    description: str
    hashtags: list[str]
    creator: CreatorOut
    published_at: dt.datetime | None
    duration: float
    views: int
    likes: int
    shares: int
    comments: int
    completion_rate: float
    liked: bool
    manifest: dict[str, Any] | None = Field(description="Playback manifest written by the media pipeline")
    playback: PlaybackOut | None = Field(default=None, description="Public URLs the player needs (HLS, MP4, poster...)")
    highlight: dict[str, str] = Field(default_factory=dict, description="Matched text wrapped in <em> (HTML-escaped)")

    @classmethod
    def of(cls, c: VideoCard) -> VideoCardOut:
        return cls(
            id=c.id,
            title=c.title,
            description=c.description,
            hashtags=c.hashtags,
            creator=CreatorOut(id=c.creator_id, name=c.creator_name),
            published_at=c.published_at,
            duration=c.duration,
            views=c.views,
            likes=c.likes,
            shares=c.shares,
            comments=c.comments,
            completion_rate=c.completion_rate,
            liked=c.liked,
            manifest=c.manifest,
            playback=_playback(c.manifest),
            highlight=c.highlight,
        )


# ---------------------------------------------------------------- feed


class FeedQuery(QueryModel):
    tab: Literal["for_you", "following"] = "for_you"
    cursor: str | None = Field(default=None, max_length=8000)
    limit: int = Field(default=10, ge=1, le=10)
    device_id: str | None = DeviceId


class FeedOut(OutModel):
    items: list[VideoCardOut]
    next_cursor: str | None


@bp.get("/feed")
@endpoint(summary="The video feed: for you (ranked, personalised) or following", tags=["feed"], query=FeedQuery,
          response=FeedOut, auth="optional", errors=[401])  # fmt: skip
def get_feed(query: FeedQuery) -> FeedOut:
    """Pass `next_cursor` back as `cursor` for the next page; a walk never repeats a video and skips none,
    even while new videos are published (they appear when the feed is opened again). Anonymous viewers get
    a non-personalised feed; sending a stable `device_id` puts what this device watched recently behind the
    videos it has not seen. When nothing fresh is left, the page fills with what was seen longest ago."""
    s, viewer = extensions.session(), _viewer_id()
    if query.tab == "following":
        page = feed.following(s, _engine(), user_id=viewer, cursor=query.cursor, limit=query.limit)
    else:
        page = feed.for_you(
            s, _engine(), user_id=viewer, device_id=query.device_id, cursor=query.cursor, limit=query.limit
        )
    return FeedOut(items=[VideoCardOut.of(c) for c in page.items], next_cursor=page.next_cursor)


# ---------------------------------------------------------------- search


class SearchQuery(QueryModel):
    q: str = Field(default="", max_length=100)
    type: Literal["videos", "products", "artists"] = "videos"
    brand: list[str] = Field(default_factory=list, max_length=20)
    category: list[str] = Field(default_factory=list, max_length=20)
    price_band: list[str] = Field(default_factory=list, max_length=10)
    hashtag: list[str] = Field(default_factory=list, max_length=10)
    sort: Literal["relevance", "latest", "popular", "price_asc", "price_desc"] = "relevance"
    in_stock: bool | None = None
    offset: int = Field(default=0, ge=0, le=1000)
    limit: int = Field(default=20, ge=1, le=50)


class FacetBucketOut(OutModel):
    key: str
    count: int
    label: str | None = None


def _facets(found: dict[str, list[Any]]) -> dict[str, list[FacetBucketOut]]:
    """Facet counts; categories also get their name in the caller's language."""
    english = get_locale().startswith("en")
    out = {}
    for name, buckets in found.items():
        rows = []
        for b in buckets:
            c = categories.get(b.key) if name == "category" else None
            label = (c.path_en if english else c.path_zh) if c else None
            rows.append(FacetBucketOut(key=b.key, count=b.count, label=label))
        out[name] = rows
    return out


class ProductOut(OutModel):
    id: int
    name: str
    brand: str
    category: str
    price_min_fen: int | None
    price_max_fen: int | None
    in_stock: bool
    affiliate: bool
    videos: int
    highlight: dict[str, str]


class ArtistOut(OutModel):
    id: int
    name: str
    followers: int
    videos: int
    highlight: dict[str, str]


class SearchOut(OutModel):
    total: int
    videos: list[VideoCardOut] = Field(default_factory=list)
    products: list[ProductOut] = Field(default_factory=list)
    artists: list[ArtistOut] = Field(default_factory=list)
    facets: dict[str, list[FacetBucketOut]] = Field(default_factory=dict)
    next_offset: int | None = None


@bp.get("/search")
@endpoint(summary="Search videos, products or artists (Chinese, English, mixed) with facets and highlights",
          tags=["search"], query=SearchQuery, response=SearchOut, auth="optional")  # fmt: skip
def search(query: SearchQuery) -> SearchOut:
    """Facets (`brand`, `category`, `price_band`, and `hashtag` for videos; repeat a parameter to select several)
    narrow the results, and each facet's counts ignore its own selection. A top-level `category` selects all of
    its leaves. Videos sort by relevance (default), latest or popular; products by relevance, popular, price_asc
    or price_desc."""
    return run_search(query)


def run_search(query: SearchQuery) -> SearchOut:
    """One search of the type asked for (the search page renders its first results with it too)."""
    chosen = {"brand": query.brand, "category": query.category, "price_band": query.price_band}
    if query.type == "products":
        if query.hashtag or query.sort == "latest":
            raise ValidationFailed.one("hashtag" if query.hashtag else "sort", "extra_forbidden")
        found_products = search_service.search_products(
            _engine(), q=query.q, facets=chosen, sort=query.sort, in_stock=query.in_stock,  # type: ignore[arg-type]
            offset=query.offset, limit=query.limit,
        )  # fmt: skip
        return SearchOut(
            total=found_products.total,
            products=[ProductOut.model_validate(p) for p in found_products.items],
            facets=_facets(found_products.facets),
            next_offset=found_products.next_offset,
        )
    if query.sort in ("price_asc", "price_desc") or query.in_stock is not None:
        raise ValidationFailed.one("sort" if query.in_stock is None else "in_stock", "extra_forbidden")
    if query.type == "artists":
        total, artists = search_service.search_artists(_engine(), q=query.q, offset=query.offset, limit=query.limit)
        more = query.offset + query.limit < total
        return SearchOut(
            total=total,
            artists=[ArtistOut.model_validate(a) for a in artists],
            next_offset=query.offset + query.limit if more else None,
        )
    found = search_service.search_videos(
        extensions.session(),
        _engine(),
        q=query.q,
        facets={**chosen, "hashtag": query.hashtag},
        sort=query.sort,  # type: ignore[arg-type]
        offset=query.offset,
        limit=query.limit,
        viewer_id=_viewer_id(),
    )
    return SearchOut(
        total=found.total,
        videos=[VideoCardOut.of(c) for c in found.items],
        facets=_facets(found.facets),
        next_offset=found.next_offset,
    )


class SuggestQuery(QueryModel):
    q: str = Field(min_length=1, max_length=100)
    limit: int = Field(default=10, ge=1, le=20)


class SuggestionOut(OutModel):
    text: str
    kind: Literal["video", "artist", "product"]
    id: int


@bp.get("/suggest")
@endpoint(summary="Autocomplete as the viewer types", tags=["search"], query=SuggestQuery,
          response=list[SuggestionOut])  # fmt: skip
def suggest(query: SuggestQuery) -> list[SuggestionOut]:
    return [SuggestionOut.model_validate(s) for s in search_service.suggest(_engine(), q=query.q, limit=query.limit)]


class HashtagQuery(QueryModel):
    sort: Literal["popular", "latest"] = "popular"
    cursor: str | None = Field(default=None, max_length=2000)
    limit: int = Field(default=20, ge=1, le=50)


class HashtagOut(OutModel):
    tag: str
    total: int
    related: list[FacetBucketOut]
    videos: list[VideoCardOut]
    next_cursor: str | None


@bp.get("/hashtags/<tag>")
@endpoint(summary="A hashtag page: its videos, how many, and related hashtags", tags=["search"], query=HashtagQuery,
          response=HashtagOut, auth="optional")  # fmt: skip
def hashtag(tag: str, query: HashtagQuery) -> HashtagOut:
    page = search_service.hashtag_page(
        extensions.session(),
        _engine(),
        tag=tag,
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
        viewer_id=_viewer_id(),
    )
    return HashtagOut(
        tag=page.tag,
        total=page.total,
        related=[FacetBucketOut.model_validate(b) for b in page.related],
        videos=[VideoCardOut.of(c) for c in page.items],
        next_cursor=page.next_cursor,
    )


# ---------------------------------------------------------------- engagement


class EventIn(ApiModel):
    kind: Literal["view", "like", "unlike", "share", "product_click"]
    video_id: int = Field(ge=1)
    watch_ms: int | None = Field(
        default=None,
        ge=0,
        description="Views: how long the video really played, in ms (a view counts from 3 s or a quarter of the clip)",
    )
    product_id: int | None = Field(default=None, ge=1, description="Product clicks: the product on the card")


class EventsIn(ApiModel):
    device_id: str | None = DeviceId
    events: list[EventIn] = Field(min_length=1, max_length=engagement.MAX_BATCH)


class RejectedOut(OutModel):
    index: int
    code: str


class EventsOut(OutModel):
    accepted: int
    rejected: list[RejectedOut]


@bp.post("/engagement/events")
@endpoint(summary="Record what the viewer did (batched by the player)", tags=["engagement"], body=EventsIn,
          response=EventsOut, status=202, auth="optional")  # fmt: skip
def record_events(body: EventsIn) -> tuple[EventsOut, int]:
    """Views carry `watch_ms`; one shorter than 3 s and a quarter of the clip is kept but is no view (an autoplay
    swiped past). Counts are updated asynchronously; repeats (the same viewer and video within an
    hour) are kept but not counted. Events for unknown videos are listed in `rejected`; the others are kept."""
    result = engagement.record_events(
        extensions.session(),
        user=current_user(),
        device_id=body.device_id,
        ip_hash=client_ip_hash(),
        events=[engagement.EventIn(EngagementKind(e.kind), e.video_id, e.watch_ms, e.product_id) for e in body.events],
    )
    rejected = [RejectedOut(index=i, code=c) for i, c in result.rejected]
    return EventsOut(accepted=result.accepted, rejected=rejected), 202


# ---------------------------------------------------------------- follows


class FollowOut(OutModel):
    creator_id: int
    following: bool
    followers: int


@bp.post("/creators/<int:creator_id>/follow")
@endpoint(summary="Follow a creator", tags=["follows"], response=FollowOut, auth="required", errors=[404])
def follow(creator_id: int) -> FollowOut:
    n = follows.follow(extensions.session(), require_current_user(), creator_id)
    return FollowOut(creator_id=creator_id, following=True, followers=n)


@bp.delete("/creators/<int:creator_id>/follow")
@endpoint(summary="Unfollow a creator", tags=["follows"], response=FollowOut, auth="required", errors=[404])
def unfollow(creator_id: int) -> FollowOut:
    n = follows.unfollow(extensions.session(), require_current_user(), creator_id)
    return FollowOut(creator_id=creator_id, following=False, followers=n)


@bp.get("/me/following")
@endpoint(summary="Creators the signed-in user follows", tags=["follows"], response=list[CreatorOut], auth="required")
def my_following() -> list[CreatorOut]:
    return [CreatorOut(id=u.id, name=u.display_name) for u in follows.following(extensions.session(), current_user())]
