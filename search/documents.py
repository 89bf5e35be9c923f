"""Search documents: the schema of each entity's index and how rows become documents.

Videos carry their creator, their engagement counters and the products they
show (names, brands, categories, price bands); products come from the catalog
(`commerce.catalog`, read only); artists are users with `is_artist`.

Builders load a batch of ids in a handful of queries and return, per id, the
document or None when the entity must not be in the index (deleted, private,
unpublished, its owner disabled). Datetimes are cut to milliseconds, the
precision every backend keeps, so a rebuilt document compares equal to the
indexed one (the reconcile job relies on that).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog import categories
from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, ShowcaseItem, VideoProduct
from core.accounts.models import Brand, User
from media.models import ReviewState, Video, VideoStatus, Visibility
from search import ranking
from search.models import EngagementEvent, EngagementKind, Follow, VideoStats
from search.schema import Field, FieldType, IndexSchema

F = FieldType

VIDEOS = IndexSchema(
    "videos",
    (
        Field("title", F.TEXT),
        Field("description", F.TEXT),
        Field("hashtags", F.KEYWORD, multi=True),
        Field("hashtags_text", F.TEXT),
        Field("creator_id", F.KEYWORD),
        Field("creator_name", F.TEXT),
        Field("creator_since", F.DATE),  # when the creator joined: new creators get a boost in the feed
        Field("brands", F.KEYWORD, multi=True),  # the uploading brand and the brands of linked products
        Field("product_ids", F.KEYWORD, multi=True),
        Field("product_names", F.TEXT, multi=True),
        Field("categories", F.KEYWORD, multi=True),
        Field("price_bands", F.KEYWORD, multi=True),
        Field("published_at", F.DATE),
        Field("duration", F.FLOAT),
        Field("views", F.INTEGER),
        Field("likes", F.INTEGER),
        Field("shares", F.INTEGER),
        Field("product_clicks", F.INTEGER),
        Field("purchases", F.INTEGER),
        Field("completion_rate", F.FLOAT),  # raw: average share of the video watched
        Field("completion", F.FLOAT),  # smoothed, for ranking
        Field("engagement", F.FLOAT),  # smoothed engagement rate, for ranking
        Field("popularity", F.FLOAT),
        Field("suggest", F.COMPLETION),
    ),
)

ARTISTS = IndexSchema(
    "artists",
    (
        Field("name", F.TEXT),
        Field("followers", F.INTEGER),
        Field("videos", F.INTEGER),
        Field("views", F.INTEGER),
        Field("likes", F.INTEGER),
        Field("shares", F.INTEGER),
        Field("product_clicks", F.INTEGER),
        Field("purchases", F.INTEGER),
        Field("completion_rate", F.FLOAT),
        Field("engagement", F.FLOAT),
        Field("hashtags", F.KEYWORD, multi=True),  # what they post about most, for matching briefs
        Field("categories", F.KEYWORD, multi=True),
        Field("joined_at", F.DATE),
        Field("last_published_at", F.DATE),
        Field("suggest", F.COMPLETION),
    ),
)

PRODUCTS = IndexSchema(
    "products",
    (
        Field("name", F.TEXT),
        Field("description", F.TEXT),
        Field("brand_id", F.KEYWORD),
        Field("brand", F.KEYWORD),  # the brand's name, for facets
        Field("brand_text", F.TEXT),
        Field("category", F.KEYWORD),  # leaf code, e.g. beauty.makeup
        Field("category_text", F.TEXT),  # its Chinese and English names and keywords
        Field("price_min", F.INTEGER),  # fen
        Field("price_max", F.INTEGER),
        Field("price_band", F.KEYWORD),
        Field("in_stock", F.BOOLEAN),
        Field("affiliate", F.BOOLEAN),  # open to artists through the affiliate marketplace
        Field("artist_rate_bp", F.INTEGER),
        Field("artists", F.INTEGER),  # artists carrying it in their showcase
        Field("videos", F.INTEGER),  # live videos showing it
        Field("purchases", F.INTEGER),  # purchases attributed to videos
        Field("created_at", F.DATE),
        Field("suggest", F.COMPLETION),
    ),
)

# Price bands in fen, for facets: "0-50" means below 50 yuan.
PRICE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-50", 0, 5_000),
    ("50-100", 5_000, 10_000),
    ("100-300", 10_000, 30_000),
    ("300-1000", 30_000, 100_000),
    ("1000+", 100_000, None),
)

SUGGEST_MAX_CHARS = 50
MAX_SUGGEST_WEIGHT = 2**31 - 1


def price_band(fen: int) -> str:
    for key, low, high in PRICE_BANDS:
        if fen >= low and (high is None or fen < high):
            return key
    return PRICE_BANDS[0][0]


def ms(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _suggest(inputs: Sequence[str], weight: int) -> dict[str, Any]:
    seen = dict.fromkeys(s.strip()[:SUGGEST_MAX_CHARS] for s in inputs if s and s.strip())
    return {"input": list(seen), "weight": max(0, min(int(weight), MAX_SUGGEST_WEIGHT))}


def live_video_filter() -> Any:
    """Published, public, ready (and not deleted). `status` sits inside an expression so SQLite keeps looking
    rows up by id or uploader; given the bare column it picks the (status, published_at) index and scans
    every live video."""
    return (
        (func.coalesce(Video.status, VideoStatus.READY) == VideoStatus.READY)
        & (Video.visibility == Visibility.PUBLIC)
        & (Video.review_state == ReviewState.CLEARED)
        & Video.published_at.is_not(None)
        & Video.deleted_at.is_(None)
    )


def live_video_ids(session: Session, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are live, looked up by primary key."""
    return set(session.scalars(select(Video.id).where(Video.id.in_(ids), live_video_filter())))


def build_videos(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
    out: dict[int, dict[str, Any] | None] = dict.fromkeys(ids)
    if not ids:
        return out
    # Plain columns, not ORM objects: documents are built for whole batches of the outbox.
    videos = session.execute(
        select(
            Video.id,
            Video.uploader_id,
            Video.brand_id,
            Video.title,
            Video.description,
            Video.hashtags,
            Video.published_at,
            Video.duration_seconds,
        ).where(Video.id.in_(ids), live_video_filter())
    ).all()
    creator_ids = {v.uploader_id for v in videos}
    users = {
        u.id: u
        for u in session.execute(
            select(User.id, User.display_name, User.created_at).where(User.id.in_(creator_ids), User.is_active)
        ).all()
    }
    brand_ids = {v.brand_id for v in videos if v.brand_id is not None}
    brands = (
        dict(session.execute(select(Brand.id, Brand.name).where(Brand.id.in_(brand_ids))).all()) if brand_ids else {}
    )
    stats = {
        s.video_id: s
        for s in session.execute(
            select(
                VideoStats.video_id,
                VideoStats.views,
                VideoStats.completion_sum,
                VideoStats.likes,
                VideoStats.shares,
                VideoStats.product_clicks,
                VideoStats.purchases,
            ).where(VideoStats.video_id.in_(ids))
        ).all()
    }
    products = linked_products(session, ids)
    for v in videos:
        creator = users.get(v.uploader_id)
        if creator is None:
            continue
        s = stats.get(v.id) or _NO_STATS
        hashtags = list(dict.fromkeys(t for t in (v.hashtags or []) if t))
        uploader_brand = [brands[v.brand_id]] if v.brand_id in brands else []
        linked = products.get(v.id)
        out[v.id] = {
            "title": v.title,
            "description": v.description or "",
            "hashtags": hashtags,
            "hashtags_text": " ".join(hashtags),
            "creator_id": str(creator.id),
            "creator_name": creator.display_name,
            "creator_since": ms(creator.created_at),
            **(_linked_fields(uploader_brand, linked) if linked else _nothing_linked(uploader_brand)),
            "published_at": ms(v.published_at),
            "duration": float(v.duration_seconds or 0.0),
            "views": s.views,
            "likes": s.likes,
            "shares": s.shares,
            "product_clicks": s.product_clicks,
            "purchases": s.purchases,
            "completion_rate": round(s.completion_sum / s.views, 6) if s.views else 0.0,
            "completion": round(ranking.smoothed_completion(views=s.views, completion_sum=s.completion_sum), 6),
            "engagement": round(
                ranking.engagement_rate(
                    views=s.views,
                    likes=s.likes,
                    shares=s.shares,
                    product_clicks=s.product_clicks,
                    purchases=s.purchases,
                ),
                6,
            ),
            "popularity": round(ranking.popularity(s.views), 6),
            "suggest": _suggest([v.title, *hashtags], s.views),
        }
    return out


def _nothing_linked(uploader_brand: list[str]) -> dict[str, list[str]]:
    return {"brands": uploader_brand, "product_ids": [], "product_names": [], "categories": [], "price_bands": []}


def _linked_fields(uploader_brand: list[str], linked: list[LinkedProduct]) -> dict[str, list[str]]:
    """What a video's document copies from the products it links (most videos link none)."""
    return {
        "brands": list(dict.fromkeys([*uploader_brand, *(p.brand for p in linked)])),
        "product_ids": [str(p.product_id) for p in linked],
        "product_names": [p.name for p in linked],
        "categories": list(dict.fromkeys(p.category for p in linked)),
        "price_bands": list(dict.fromkeys(price_band(p.price_min_fen) for p in linked if p.price_min_fen is not None)),
    }


@dataclass(frozen=True)
class _NoStats:
    views: int = 0
    completion_sum: float = 0.0
    likes: int = 0
    shares: int = 0
    product_clicks: int = 0
    purchases: int = 0


_NO_STATS = _NoStats()
_ARTIST_SUMS = ("views", "likes", "shares", "product_clicks", "purchases")


@dataclass(frozen=True)
class _NoVideos(_NoStats):
    videos: int = 0
    last_published_at: dt.datetime | None = None


_NO_VIDEOS = _NoVideos()


def build_artists(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
    out: dict[int, dict[str, Any] | None] = dict.fromkeys(ids)
    if not ids:
        return out
    artists = session.execute(
        select(User.id, User.display_name, User.created_at).where(User.id.in_(ids), User.is_artist, User.is_active)
    ).all()
    found = [a.id for a in artists]
    followers = dict(
        session.execute(
            select(Follow.creator_id, func.count()).where(Follow.creator_id.in_(found)).group_by(Follow.creator_id)
        ).all()
    )
    # Sums in the database: an artist with thousands of videos is one row here, not thousands.
    totals = {
        r.uploader_id: r
        for r in session.execute(
            select(
                Video.uploader_id,
                func.count().label("videos"),
                *(func.coalesce(func.sum(getattr(VideoStats, name)), 0).label(name) for name in _ARTIST_SUMS),
                func.coalesce(func.sum(VideoStats.completion_sum), 0.0).label("completion_sum"),
                func.max(Video.published_at).label("last_published_at"),
            )
            .outerjoin(VideoStats, VideoStats.video_id == Video.id)
            .where(Video.uploader_id.in_(found), live_video_filter())
            .group_by(Video.uploader_id)
        )
    }
    tags: dict[int, Counter[str]] = defaultdict(Counter)
    for uploader_id, hashtags in session.execute(
        select(Video.uploader_id, Video.hashtags).where(Video.uploader_id.in_(found), live_video_filter())
    ):
        if hashtags:
            tags[uploader_id].update(dict.fromkeys(hashtags, 1))
    carried: dict[int, Counter[str]] = defaultdict(Counter)
    for artist_id, category in session.execute(
        select(ShowcaseItem.artist_id, Product.category)
        .join(Product, Product.id == ShowcaseItem.product_id)
        .where(ShowcaseItem.artist_id.in_(found), Product.status == ProductStatus.ACTIVE)
    ):
        carried[artist_id][category] += 1
    for artist_id, category in session.execute(
        select(Video.uploader_id, Product.category)
        .join(VideoProduct, VideoProduct.video_id == Video.id)
        .join(Product, Product.id == VideoProduct.product_id)
        .where(Video.uploader_id.in_(found), live_video_filter())
    ):
        carried[artist_id][category] += 1
    for a in artists:
        t = totals.get(a.id) or _NO_VIDEOS
        views = int(t.views)
        out[a.id] = {
            "name": a.display_name,
            "followers": int(followers.get(a.id, 0)),
            "videos": int(t.videos),
            "views": views,
            "likes": int(t.likes),
            "shares": int(t.shares),
            "product_clicks": int(t.product_clicks),
            "purchases": int(t.purchases),
            "completion_rate": round(float(t.completion_sum) / views, 6) if views else 0.0,
            "engagement": round(
                ranking.engagement_rate(
                    views=views,
                    likes=int(t.likes),
                    shares=int(t.shares),
                    product_clicks=int(t.product_clicks),
                    purchases=int(t.purchases),
                ),
                6,
            ),
            "hashtags": [tag for tag, _ in sorted(tags[a.id].items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
            "categories": [c for c, _ in sorted(carried[a.id].items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
            "joined_at": ms(a.created_at),
            "last_published_at": ms(t.last_published_at),
            "suggest": _suggest([a.display_name], int(followers.get(a.id, 0))),
        }
    return out


@dataclass(frozen=True)
class LinkedProduct:
    product_id: int
    name: str
    brand: str
    category: str
    price_min_fen: int | None


def linked_products(session: Session, video_ids: Sequence[int]) -> dict[int, list[LinkedProduct]]:
    """Products on sale that each video shows, in card order."""
    rows = session.execute(
        select(VideoProduct.video_id, Product.id, Product.name, Brand.name, Product.category, Product.price_min_fen)
        .join(Product, Product.id == VideoProduct.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .where(VideoProduct.video_id.in_(video_ids), Product.status == ProductStatus.ACTIVE)
        .order_by(VideoProduct.video_id, VideoProduct.position, VideoProduct.id)
    ).all()
    out: dict[int, list[LinkedProduct]] = defaultdict(list)
    for video_id, *product in rows:
        out[video_id].append(LinkedProduct(*product))
    return out


def build_products(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
    out: dict[int, dict[str, Any] | None] = dict.fromkeys(ids)
    if not ids:
        return out
    products = session.scalars(select(Product).where(Product.id.in_(ids), Product.status == ProductStatus.ACTIVE)).all()
    found = [p.id for p in products]
    offers = {
        o.product_id: o
        for o in session.scalars(
            select(AffiliateOffer).where(AffiliateOffer.product_id.in_(found), AffiliateOffer.effective_to.is_(None))
        )
    }
    artists = _count_by(session, ShowcaseItem.product_id, found)
    videos = dict(
        session.execute(
            select(VideoProduct.product_id, func.count())
            .join(Video, Video.id == VideoProduct.video_id)
            .where(VideoProduct.product_id.in_(found), live_video_filter())
            .group_by(VideoProduct.product_id)
        ).all()
    )
    purchases = dict(
        session.execute(
            select(EngagementEvent.product_id, func.count())
            .where(
                EngagementEvent.product_id.in_(found),
                EngagementEvent.kind == EngagementKind.PURCHASE,
                EngagementEvent.counted.is_(True),
            )
            .group_by(EngagementEvent.product_id)
        ).all()
    )
    for p in products:
        category = categories.get(p.category)
        offer = offers.get(p.id)
        skus = p.active_skus()
        out[p.id] = {
            "name": p.name,
            "description": p.description or "",
            "brand_id": str(p.brand_id),
            "brand": p.brand.name,
            "brand_text": p.brand.name,
            "category": p.category,
            "category_text": category.text() if category else p.category,
            "price_min": p.price_min_fen,
            "price_max": p.price_max_fen,
            "price_band": price_band(p.price_min_fen) if p.price_min_fen is not None else None,
            "in_stock": any(s.stock > 0 for s in skus),
            "affiliate": offer is not None,
            "artist_rate_bp": offer.artist_rate_bp if offer else 0,
            "artists": int(artists.get(p.id, 0)),
            "videos": int(videos.get(p.id, 0)),
            "purchases": int(purchases.get(p.id, 0)),
            "created_at": ms(p.created_at),
            "suggest": _suggest([p.name], int(purchases.get(p.id, 0)) * 10 + int(videos.get(p.id, 0))),
        }
    return out


def _count_by(session: Session, column: Any, ids: Sequence[int]) -> dict[int, int]:
    return dict(session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column)).all())


def product_ids_page(session: Session, after: int, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(Product.id)
            .where(Product.id > after, Product.status == ProductStatus.ACTIVE)
            .order_by(Product.id)
            .limit(limit)
        )
    )


def video_ids_page(session: Session, after: int, limit: int) -> list[int]:
    """Ids of videos that belong in the index, in id order, for rebuilds and reconciliation."""
    return list(
        session.scalars(select(Video.id).where(Video.id > after, live_video_filter()).order_by(Video.id).limit(limit))
    )


def artist_ids_page(session: Session, after: int, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(User.id > after, User.is_artist, User.is_active).order_by(User.id).limit(limit)
        )
    )


@dataclass(frozen=True)
class Entity:
    """One indexed entity: its outbox topic, index schema, and how to list and build its documents."""

    topic: str
    schema: IndexSchema
    build: Callable[[Session, Sequence[int]], dict[int, dict[str, Any] | None]]
    ids_page: Callable[[Session, int, int], list[int]]

    @property
    def alias(self) -> str:
        return self.schema.alias


ENTITIES: dict[str, Entity] = {
    "videos": Entity("video", VIDEOS, build_videos, video_ids_page),
    "products": Entity("product", PRODUCTS, build_products, product_ids_page),
    "artists": Entity("artist", ARTISTS, build_artists, artist_ids_page),
}


def entity_for_topic(topic: str) -> Entity:
    for e in ENTITIES.values():
        if e.topic == topic:
            return e
    raise KeyError(topic)
