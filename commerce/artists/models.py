"""Artist profiles, rate cards, the metrics the platform measures, and audience traits viewers chose to share.

Two kinds of numbers live here and never mix: what the artist declares about
themselves (`declared_*`, shown labelled as self-declared and never used for
ranking) and what the platform measures (`ArtistMetrics`, refreshed by a
periodic job from engagement counters, follows, attributed orders and bookings).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, str_enum


class LengthTier(enum.StrEnum):
    """Price tiers by video length, as Xingtu quotes them."""

    UP_TO_20S = "s20"  # 1–20 s
    UP_TO_60S = "s60"  # 21–60 s
    OVER_60S = "s60plus"  # over 60 s


class AgeBand(enum.StrEnum):
    A18_23 = "18-23"
    A24_30 = "24-30"
    A31_40 = "31-40"
    A41_50 = "41-50"
    A50_PLUS = "50+"


class ArtistProfile(Base):
    __tablename__ = "artist_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    # Category codes (leaf or top level) from commerce.catalog.categories.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    region: Mapped[str | None] = mapped_column(String(16), default=None)  # a province code, where they shoot
    accepting_bookings: Mapped[bool] = mapped_column(default=True)
    unavailable_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    max_open_bookings: Mapped[int] = mapped_column(default=5)
    # Self-declared: what the artist says about reach elsewhere. Shown labelled, never ranked on.
    declared_followers: Mapped[int | None] = mapped_column(default=None)
    declared_avg_views: Mapped[int | None] = mapped_column(default=None)
    declared_note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    rates: Mapped[list[ArtistRate]] = relationship(
        lazy="selectin", order_by="ArtistRate.tier", cascade="all, delete-orphan"
    )

    def rate_for(self, tier: LengthTier) -> int | None:
        return next((r.price_fen for r in self.rates if r.tier == tier), None)

    def is_available(self, now: dt.datetime) -> bool:
        return self.accepting_bookings and (self.unavailable_until is None or self.unavailable_until <= now)


class ArtistRate(Base):
    """One line of the rate card: the price of one video of a length tier."""

    __tablename__ = "artist_rates"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price_positive"),
        Index("ix_artist_rates_tier_price", "tier", "price_fen"),
    )

    artist_id: Mapped[int] = mapped_column(ForeignKey("artist_profiles.user_id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[LengthTier] = mapped_column(str_enum(LengthTier, 8), primary_key=True)
    price_fen: Mapped[int]


class ArtistMetrics(Base):
    """What the platform measured about an artist, refreshed by `commerce.artists.metrics.refresh`.

    Ranking reads only this row (never the raw tables), so a brief ranks thousands of artists quickly.
    """

    __tablename__ = "artist_metrics"
    __table_args__ = (Index("ix_artist_metrics_followers", "followers"),)

    artist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    followers: Mapped[int] = mapped_column(default=0)
    videos: Mapped[int] = mapped_column(default=0)
    avg_views: Mapped[int] = mapped_column(default=0)
    completion_rate_bp: Mapped[int] = mapped_column(default=0)
    engagement_rate_bp: Mapped[int] = mapped_column(default=0)
    product_clicks_30d: Mapped[int] = mapped_column(default=0)
    product_clicks_90d: Mapped[int] = mapped_column(default=0)
    orders_30d: Mapped[int] = mapped_column(default=0)
    orders_90d: Mapped[int] = mapped_column(default=0)
    gmv_30d_fen: Mapped[int] = mapped_column(default=0)
    gmv_90d_fen: Mapped[int] = mapped_column(default=0)
    # Attributed orders per product click; None while there were no clicks to convert.
    conversion_30d_bp: Mapped[int | None] = mapped_column(default=None)
    conversion_90d_bp: Mapped[int | None] = mapped_column(default=None)
    bookings_done: Mapped[int] = mapped_column(default=0)  # bookings that got past acceptance and ended
    bookings_on_time: Mapped[int] = mapped_column(default=0)  # of those, delivered by the deadline and paid
    rating_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    # Share (bp) of linked products per category code over the artist's live videos.
    categories: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # {"interests": {category: bp}, "regions": {code: bp}, "ages": {band: bp}, "sample": {dimension: viewers}}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    refreshed_at: Mapped[dt.datetime] = mapped_column(default=clock.now)

    @property
    def rating_avg(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None


class ViewerTraits(Base):
    """Age band and region a viewer chose to share (opt-in); only ever used in aggregate, in audience breakdowns."""

    __tablename__ = "viewer_traits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    age_band: Mapped[AgeBand | None] = mapped_column(str_enum(AgeBand, 8), default=None)
    region: Mapped[str | None] = mapped_column(String(16), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)
