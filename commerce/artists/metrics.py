"""Refresh `ArtistMetrics`: what the platform measured about each artist, in a few grouped queries per batch.

Run by a periodic job. Matching reads only these rows, so ranking a brief over
thousands of artists never aggregates raw events, orders or bookings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from commerce.artists.models import ArtistMetrics, ViewerTraits
from commerce.booking.models import Booking, BookingEvent, BookingState, Party
from commerce.catalog.models import Product, VideoProduct
from commerce.orders.models import Order, OrderLine
from core import clock
from core.accounts.models import User
from core.money import largest_remainder
from media.models import Video
from search.documents import live_video_filter
from search.models import EngagementEvent, EngagementKind, Follow, VideoStats

BATCH = 500
TOP_HASHTAGS = 12
AUDIENCE_WINDOW = dt.timedelta(days=90)


def shares_bp(counts: Counter[str] | dict[str, int]) -> dict[str, int]:
    """Counts as shares in basis points that sum to exactly 10 000 (empty when there is nothing to share)."""
    items = sorted((k, v) for k, v in counts.items() if v > 0)
    if not items:
        return {}
    parts = largest_remainder(10_000, [v for _, v in items])
    return {k: p for (k, _), p in zip(items, parts, strict=True) if p}


@dataclass
class Measured:
    """One artist's numbers while a batch is being computed."""

    values: dict[str, Any] = field(default_factory=dict)
    categories: Counter[str] = field(default_factory=Counter)
    hashtags: Counter[str] = field(default_factory=Counter)


def _videos(session: Session, ids: Sequence[int], out: dict[int, Measured], now: dt.datetime) -> None:
    rows = session.execute(
        select(Video.uploader_id, Video.hashtags).where(Video.uploader_id.in_(ids), live_video_filter())
    ).all()
    for uploader_id, hashtags in rows:
        m = out[uploader_id]
        m.values["videos"] = m.values.get("videos", 0) + 1
        m.hashtags.update(dict.fromkeys(hashtags or [], 1))
    linked = session.execute(
        select(Video.uploader_id, Product.category, func.count())
        .join(VideoProduct, VideoProduct.video_id == Video.id)
        .join(Product, Product.id == VideoProduct.product_id)
        .where(Video.uploader_id.in_(ids), live_video_filter())
        .group_by(Video.uploader_id, Product.category)
    ).all()
    for uploader_id, category, n in linked:
        out[uploader_id].categories[category] += int(n)


def _bookings(session: Session, ids: Sequence[int], out: dict[int, Measured], now: dt.datetime) -> None:
    """Reliability: funded bookings that ended, and how many of those the artist delivered on time."""
    artist_cancelled = (
        select(BookingEvent.id)
        .where(
            BookingEvent.booking_id == Booking.id,
            BookingEvent.action == "cancel",
            BookingEvent.party == Party.ARTIST,
        )
        .exists()
    )
    rows = session.execute(
        select(Booking.artist_id, Booking.state, Booking.draft_submitted_at, Booking.deadline).where(
            Booking.artist_id.in_(ids),
            Booking.funded_at.is_not(None),
            or_(
                Booking.state.in_((BookingState.PAID, BookingState.RESOLVED)),
                and_(Booking.state == BookingState.CANCELLED, artist_cancelled),
            ),
        )
    ).all()
    for artist_id, state, drafted, deadline in rows:
        v = out[artist_id].values
        v["bookings_done"] = v.get("bookings_done", 0) + 1
        if state == BookingState.PAID and drafted is not None and drafted <= deadline:
            v["bookings_on_time"] = v.get("bookings_on_time", 0) + 1
    rated = session.execute(
        select(Booking.artist_id, func.count(), func.sum(Booking.rating))
        .where(Booking.artist_id.in_(ids), Booking.rating.is_not(None))
        .group_by(Booking.artist_id)
    ).all()
    for artist_id, n, total in rated:
        out[artist_id].values.update(rating_count=int(n), rating_sum=int(total or 0))


def _engagement(session: Session, ids: Sequence[int], out: dict[int, Measured], now: dt.datetime) -> None:
    """Followers, and what viewers did with their live videos (the search package's counters and event log)."""
    followers = session.execute(
        select(Follow.creator_id, func.count()).where(Follow.creator_id.in_(ids)).group_by(Follow.creator_id)
    ).all()
    for artist_id, n in followers:
        out[artist_id].values["followers"] = int(n)
    totals = session.execute(
        select(
            Video.uploader_id,
            func.coalesce(func.sum(VideoStats.views), 0),
            func.coalesce(func.sum(VideoStats.likes), 0),
            func.coalesce(func.sum(VideoStats.shares), 0),
            func.coalesce(func.sum(VideoStats.completion_sum), 0.0),
        )
        .join(VideoStats, VideoStats.video_id == Video.id)
        .where(Video.uploader_id.in_(ids), live_video_filter())
        .group_by(Video.uploader_id)
    ).all()
    for artist_id, views_sum, likes, shares, completion in totals:
        v, views = out[artist_id].values, int(views_sum)
        v["avg_views"] = views // max(1, v.get("videos", 0))
        v["completion_rate_bp"] = round(10_000 * float(completion) / views) if views else 0
        # 互动率 as brands know it: likes and shares per view.
        v["engagement_rate_bp"] = round(10_000 * (int(likes) + int(shares)) / views) if views else 0
    for days in (30, 90):
        clicks = session.execute(
            select(Video.uploader_id, func.count())
            .join(EngagementEvent, EngagementEvent.video_id == Video.id)
            .where(
                Video.uploader_id.in_(ids),
                EngagementEvent.kind == EngagementKind.PRODUCT_CLICK,
                EngagementEvent.counted.is_(True),
                EngagementEvent.occurred_at >= now - dt.timedelta(days=days),
            )
            .group_by(Video.uploader_id)
        ).all()
        for artist_id, n in clicks:
            out[artist_id].values[f"product_clicks_{days}d"] = int(n)


def _audience(session: Session, ids: Sequence[int], out: dict[int, Measured], now: dt.datetime) -> None:
    """Who the audience is: followers and signed-in viewers of the last 90 days, by the categories they shop,
    and by age band and region where they chose to share them. Shares are of people, each counted once."""
    since = now - AUDIENCE_WINDOW
    viewers = (
        select(Video.uploader_id.label("artist_id"), EngagementEvent.user_id.label("user_id"))
        .join(EngagementEvent, EngagementEvent.video_id == Video.id)
        .where(
            Video.uploader_id.in_(ids),
            EngagementEvent.kind == EngagementKind.VIEW,
            EngagementEvent.counted.is_(True),
            EngagementEvent.user_id.is_not(None),
            EngagementEvent.occurred_at >= since,
        )
    )
    fans = select(Follow.creator_id.label("artist_id"), Follow.follower_id.label("user_id")).where(
        Follow.creator_id.in_(ids)
    )
    aud = union(viewers, fans).subquery()
    found: dict[int, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for dim, column in (("ages", ViewerTraits.age_band), ("regions", ViewerTraits.region)):
        rows = session.execute(
            select(aud.c.artist_id, column, func.count())
            .join(ViewerTraits, ViewerTraits.user_id == aud.c.user_id)
            .where(column.is_not(None))
            .group_by(aud.c.artist_id, column)
        ).all()
        for artist_id, value, n in rows:
            found[artist_id][dim][str(value)] += int(n)  # an AgeBand is a str enum: its value
    shoppers = (
        select(aud.c.artist_id, aud.c.user_id, Product.category)
        .join(EngagementEvent, EngagementEvent.user_id == aud.c.user_id)
        .join(Product, Product.id == EngagementEvent.product_id)
        .where(
            EngagementEvent.kind.in_((EngagementKind.PRODUCT_CLICK, EngagementKind.PURCHASE)),
            EngagementEvent.occurred_at >= since,
        )
        .distinct()
    )
    interested: dict[int, set[int]] = defaultdict(set)
    per_user: dict[tuple[int, int], set[str]] = defaultdict(set)
    for artist_id, user_id, category in session.execute(shoppers):
        per_user[(artist_id, user_id)].add(category.split(".")[0])
        interested[artist_id].add(user_id)
    for (artist_id, _user), roots in per_user.items():
        for root in roots:  # each person counts once per top-level category they shop
            found[artist_id]["interests"][root] += 1
    for artist_id, dims in found.items():
        audience: dict[str, Any] = {"sample": {}}
        for dim, counts in dims.items():
            audience[dim] = shares_bp(counts)
            audience["sample"][dim] = len(interested[artist_id]) if dim == "interests" else sum(counts.values())
        out[artist_id].values["audience"] = audience


def _sales(session: Session, ids: Sequence[int], out: dict[int, Measured], now: dt.datetime) -> None:
    """GMV and orders from order lines attributed to the artist (net of refunds, by when the order was paid),
    and conversion as attributed orders per product click. Lines the money path refused to credit the artist
    (self-purchase and the like: `artist_blocked`) are not their sales performance."""
    net = OrderLine.paid_amount - OrderLine.refunded_amount
    for days in (30, 90):
        rows = session.execute(
            select(
                OrderLine.artist_id,
                func.coalesce(func.sum(net), 0),
                func.count(distinct(case((net > 0, OrderLine.order_id)))),
            )
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                OrderLine.artist_id.in_(ids),
                OrderLine.artist_blocked.is_(None),
                Order.paid_at >= now - dt.timedelta(days=days),
            )
            .group_by(OrderLine.artist_id)
        ).all()
        for artist_id, gmv, orders in rows:
            out[artist_id].values.update({f"gmv_{days}d_fen": int(gmv), f"orders_{days}d": int(orders)})
        for m in out.values():
            clicks, orders = m.values.get(f"product_clicks_{days}d", 0), m.values.get(f"orders_{days}d", 0)
            m.values[f"conversion_{days}d_bp"] = min(10_000, orders * 10_000 // clicks) if clicks else None


# Order matters: sales reads the clicks the engagement section counted.
SECTIONS = [_videos, _engagement, _audience, _sales, _bookings]


def compute(session: Session, ids: Sequence[int], now: dt.datetime) -> dict[int, dict[str, Any]]:
    """Fresh metric values per artist id (every column of ArtistMetrics but the key)."""
    out: dict[int, Measured] = defaultdict(Measured)
    for section in SECTIONS:
        section(session, ids, out, now)
    defaults = {c.name: c.default.arg for c in ArtistMetrics.__table__.columns if c.default is not None}
    zero = {k: v for k, v in defaults.items() if not callable(v)}  # the counters' 0 and the rates' None
    zero.update(conversion_30d_bp=None, conversion_90d_bp=None)
    result = {}
    for artist_id in ids:
        m = out[artist_id]
        values = {**zero, **m.values}
        values["categories"] = shares_bp(m.categories)
        values["hashtags"] = [t for t, _ in sorted(m.hashtags.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_HASHTAGS]]
        values.setdefault("audience", {})
        values["refreshed_at"] = now
        result[artist_id] = values
    return result


def artist_ids(session: Session) -> list[int]:
    return list(session.scalars(select(User.id).where(User.is_artist, User.is_active).order_by(User.id)))


def refresh(session: Session, ids: Iterable[int] | None = None, *, batch: int = BATCH) -> int:
    """Recompute the metrics of the given artists (all active artists by default); one commit per batch."""
    todo = list(ids) if ids is not None else artist_ids(session)
    now = clock.now()
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        fresh = compute(session, chunk, now)
        existing = {
            m.artist_id: m for m in session.scalars(select(ArtistMetrics).where(ArtistMetrics.artist_id.in_(chunk)))
        }
        for artist_id, values in fresh.items():
            row = existing.get(artist_id) or ArtistMetrics(artist_id=artist_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)
        session.commit()
    return len(todo)
