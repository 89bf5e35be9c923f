"""Tables the search package owns: follows, engagement events and their counters, interests, index builds."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class Follow(Base):
    """A viewer follows a creator (an artist or any user who publishes)."""

    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_creator", "creator_id"),)

    follower_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class EngagementKind(enum.StrEnum):
    VIEW = "view"  # one watch of a video, with how long it was watched
    LIKE = "like"
    UNLIKE = "unlike"
    SHARE = "share"
    PRODUCT_CLICK = "product_click"  # a tap on a product card during playback
    PURCHASE = "purchase"  # recorded by commerce when an order line attributed to the video is paid


class EngagementEvent(Base):
    """Append-only log of what viewers did. Counters are aggregated from it asynchronously.

    `counted` is decided by the aggregator: a repeat inside the dedupe window
    (one view per user or device per video per hour, one like per user, ...)
    is kept in the log but not counted.
    """

    __tablename__ = "engagement_events"
    __table_args__ = (
        Index(
            "ix_engagement_events_pending",
            "id",
            postgresql_where=text("aggregated_at IS NULL"),
            sqlite_where=text("aggregated_at IS NULL"),
        ),
        Index("ix_engagement_events_user_kind_at", "user_id", "kind", "occurred_at"),
        Index("ix_engagement_events_device_kind_at", "device_id", "kind", "occurred_at"),
        Index("ix_engagement_events_dedupe", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EngagementKind] = mapped_column(str_enum(EngagementKind, 16))
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ip_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    watch_ms: Mapped[int | None] = mapped_column(default=None)
    product_id: Mapped[int | None] = mapped_column(default=None)
    # Purchases: the order line, so a replayed payment webhook cannot count twice.
    reference: Mapped[str | None] = mapped_column(String(80), default=None)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    aggregated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    counted: Mapped[bool | None] = mapped_column(default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(160), default=None)


class VideoStats(Base):
    """Counters per video, maintained by the aggregator and copied onto the video's search document."""

    __tablename__ = "video_stats"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    views: Mapped[int] = mapped_column(default=0)
    watch_ms: Mapped[int] = mapped_column(default=0)
    # Sum over counted views of min(watched / duration, 1): completion rate = completion_sum / views.
    completion_sum: Mapped[float] = mapped_column(default=0.0)
    likes: Mapped[int] = mapped_column(default=0)
    shares: Mapped[int] = mapped_column(default=0)
    product_clicks: Mapped[int] = mapped_column(default=0)
    purchases: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class VideoLike(Base):
    """Who currently likes a video (likes are a state a user can undo, unlike views)."""

    __tablename__ = "video_likes"
    __table_args__ = (Index("ix_video_likes_video", "video_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class UserInterest(Base):
    """How much a user cares about a hashtag, learned from watches, likes, shares and purchases; decays with time."""

    __tablename__ = "user_interests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class BuildStatus(enum.StrEnum):
    BUILDING = "building"
    DONE = "done"
    FAILED = "failed"


class IndexBuild(Base):
    """A reindex in progress or past. While one is building, the indexer writes to it as well as to the alias."""

    __tablename__ = "search_index_builds"
    __table_args__ = (Index("ix_search_index_builds_alias_status", "alias", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(64))
    index_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[BuildStatus] = mapped_column(str_enum(BuildStatus, 16), default=BuildStatus.BUILDING)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    started_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
