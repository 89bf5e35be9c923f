"""The review queue and the moderation audit log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class QueueReason(enum.StrEnum):
    NEW_UPLOADER = "new_uploader"  # pre-moderated: the account has no record of approved videos yet
    SAMPLED = "sampled"  # post-moderated: public already, drawn for a second look
    DUPLICATE = "duplicate"  # matches another uploader's video
    RESUBMITTED = "resubmitted"  # the creator made the changes a reviewer asked for
    EVERYONE = "everyone"  # the policy pre-moderates every upload
    REPORTED = "reported"  # enough different users reported it


class Subject(enum.StrEnum):
    """What can be reviewed (and reported)."""

    VIDEO = "video"
    COMMENT = "comment"
    PRODUCT = "product"
    ARTIST = "artist"  # the account behind an artist profile


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    FRAUD = "fraud"  # fake sales, misleading claims, counterfeit goods
    INFRINGEMENT = "infringement"  # someone else's work or trademark
    INAPPROPRIATE = "inappropriate"  # sexual, violent, hateful or otherwise against the rules
    PROHIBITED = "prohibited"  # goods that may not be sold
    OTHER = "other"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class ReviewItem(Base):
    """One video, comment, product or artist waiting for (or given) a reviewer's decision."""

    __tablename__ = "review_items"
    __table_args__ = (
        # At most one open item per subject: a second reason to look joins the open one.
        Index(
            "uq_review_items_open_subject",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text("decided_at IS NULL"),
            sqlite_where=text("decided_at IS NULL"),
        ),
        Index("ix_review_items_queue", "decided_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[Subject] = mapped_column(str_enum(Subject, 16))
    subject_id: Mapped[int]
    # Set for video items, so an item goes with its video.
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), default=None)
    reason: Mapped[QueueReason] = mapped_column(str_enum(QueueReason))
    # The earlier video it matched (duplicate reason) and how alike they are, for the reviewer to compare.
    matched_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), default=None)
    similarity: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decision: Mapped[Decision | None] = mapped_column(str_enum(Decision), default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)


class ModerationAction(Base):
    """Append-only: who did what to which item, when and why. The database refuses updates and deletes
    (triggers from migration 0018_moderation)."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)  # None: the policy itself
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Report(Base):
    """One user's report of something. Reports of one subject by enough different users open a review item;
    the item's decision resolves them and tells each reporter the outcome."""

    __tablename__ = "reports"
    __table_args__ = (
        # One open report per reporter and subject: reporting again adds nothing.
        Index(
            "uq_reports_open_reporter_subject",
            "reporter_id",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index("ix_reports_subject", "subject_type", "subject_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject_type: Mapped[Subject] = mapped_column(str_enum(Subject, 16))
    subject_id: Mapped[int]
    reason: Mapped[ReportReason] = mapped_column(str_enum(ReportReason, 16))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    review_item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"), default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    outcome: Mapped[Decision | None] = mapped_column(str_enum(Decision), default=None)
