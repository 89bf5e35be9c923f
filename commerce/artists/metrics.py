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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from commerce.artists.models import ArtistMetrics
from commerce.booking.models import Booking, BookingEvent, BookingState, Party
from commerce.catalog.models import Product, VideoProduct
from core import clock
from core.accounts.models import User
from core.money import largest_remainder
from media.models import Video, VideoStatus, Visibility

BATCH = 500
TOP_HASHTAGS = 12


def live_video() -> Any:
    return and_(
        Video.status == VideoStatus.READY, Video.visibility == Visibility.PUBLIC, Video.published_at.is_not(None)
    )


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


def _videos(session: Session, ids: Sequence[int], out: dict[int, Measured]) -> None:
    rows = session.execute(
        select(Video.uploader_id, Video.hashtags).where(Video.uploader_id.in_(ids), live_video())
    ).all()
    for uploader_id, hashtags in rows:
        m = out[uploader_id]
        m.values["videos"] = m.values.get("videos", 0) + 1
        m.hashtags.update(dict.fromkeys(hashtags or [], 1))
    linked = session.execute(
        select(Video.uploader_id, Product.category, func.count())
        .join(VideoProduct, VideoProduct.video_id == Video.id)
        .join(Product, Product.id == VideoProduct.product_id)
        .where(Video.uploader_id.in_(ids), live_video())
        .group_by(Video.uploader_id, Product.category)
    ).all()
    for uploader_id, category, n in linked:
        out[uploader_id].categories[category] += int(n)


def _bookings(session: Session, ids: Sequence[int], out: dict[int, Measured]) -> None:
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


SECTIONS = [_videos, _bookings]


def compute(session: Session, ids: Sequence[int], now: dt.datetime) -> dict[int, dict[str, Any]]:
    """Fresh metric values per artist id (every column of ArtistMetrics but the key)."""
    out: dict[int, Measured] = defaultdict(Measured)
    for section in SECTIONS:
        section(session, ids, out)
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
