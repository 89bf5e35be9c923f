"""Videos. The media pipeline owns the processing columns; catalog, search and booking read the rest."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class VideoStatus(enum.StrEnum):
    UPLOADING = "uploading"  # the upload was started, bytes still arriving
    UPLOADED = "uploaded"  # the original is in storage, waiting for the pipeline
    PROCESSING = "processing"
    READY = "ready"  # renditions and manifest are in place
    FAILED = "failed"  # rejected or broken input; failure_code says why, the original is kept


class ReviewState(enum.StrEnum):
    """The platform's review of a video (moderation/ decides; media only carries it). Only CLEARED is live."""

    PENDING = "pending"  # not decided yet: new videos wait here until moderation sees their ready event
    HELD = "held"  # pre-moderated: in the review queue, not public until approved
    CLEARED = "cleared"  # approved, or post-moderated (public at once, may be sampled into the queue)
    CHANGES_REQUESTED = "changes_requested"  # the reviewer asked the creator to fix something
    REJECTED = "rejected"  # out of every listing; the files stay for an appeal


class Visibility(enum.StrEnum):
    PUBLIC = "public"  # in the feed and search once published
    PRIVATE = "private"  # only the uploader (and, for booking drafts, the brand) sees it


class Video(Base):
    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_status_published", "status", "published_at"),
        Index("ix_videos_uploader_created", "uploader_id", "created_at"),
        Index("ix_videos_renditions_sweep_at", "renditions_sweep_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Set when a brand member uploads on the brand's behalf; artists upload as themselves.
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), default=None)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[VideoStatus] = mapped_column(str_enum(VideoStatus), default=VideoStatus.UPLOADING)
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility), default=Visibility.PUBLIC)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    # Facts from the probe, filled by the pipeline.
    duration_seconds: Mapped[float | None] = mapped_column(default=None)
    width: Mapped[int | None] = mapped_column(default=None)
    height: Mapped[int | None] = mapped_column(default=None)

    original_key: Mapped[str | None] = mapped_column(String(300), default=None)
    pipeline_version: Mapped[int | None] = mapped_column(default=None)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    failure_code: Mapped[str | None] = mapped_column(String(40), default=None)
    failure_message: Mapped[str | None] = mapped_column(Text, default=None)

    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    # The platform's review. Rows from before review existed were public already: the server default clears them.
    review_state: Mapped[ReviewState] = mapped_column(
        str_enum(ReviewState), default=ReviewState.PENDING, server_default=ReviewState.CLEARED.value
    )
    review_note: Mapped[str | None] = mapped_column(String(500), default=None)  # the reason the creator sees

    # -- added by the media pipeline ------------------------------------------------
    # Publish as soon as processing succeeds (the uploader's choice at upload time).
    publish_on_ready: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Job bookkeeping: when it was last enqueued, which run owns it, and that run's heartbeat.
    queued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    processing_token: Mapped[str | None] = mapped_column(String(40), default=None)
    processing_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    processing_started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Progress of the current run: stage, percent (0-100), speed (x realtime) and seconds left.
    progress_stage: Mapped[str | None] = mapped_column(String(24), default=None)
    progress_percent: Mapped[float | None] = mapped_column(default=None)
    progress_speed: Mapped[float | None] = mapped_column(default=None)
    progress_eta_seconds: Mapped[float | None] = mapped_column(default=None)
    processed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Deleted by its owner: renditions are removed and it disappears from every listing.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # After an upgrade: when the older versions' files may go (media.processing.sweep_superseded).
    renditions_sweep_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Comments not removed; moved in the comment's own transaction (media.comments), so cards show it exactly.
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def is_live(self) -> bool:
        return (
            self.status == VideoStatus.READY
            and self.visibility == Visibility.PUBLIC
            and self.published_at is not None
            and self.deleted_at is None
            and self.review_state == ReviewState.CLEARED
        )


class VideoComment(Base):
    """A viewer's comment on a video. Removed ones keep their row (who removed it, when) for moderation."""

    __tablename__ = "video_comments"
    __table_args__ = (
        Index("ix_video_comments_video", "video_id", "id"),
        Index("ix_video_comments_author", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    removed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class VideoFingerprint(Base):
    """A video's perceptual fingerprint (`media.pipelines.fingerprint`) and the earlier upload of another
    account it matched, if any: what a reviewer is shown when the copy is held."""

    __tablename__ = "video_fingerprints"

    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    frames: Mapped[bytes] = mapped_column(LargeBinary)
    informative: Mapped[int] = mapped_column(Integer)
    match_video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="SET NULL"), default=None)
    match_similarity: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class VideoFingerprintKey(Base):
    """Locality-sensitive lookup keys: the candidates for a match are the videos sharing keys with it."""

    __tablename__ = "video_fingerprint_keys"
    __table_args__ = (Index("ix_video_fingerprint_keys_video", "video_id"),)

    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)


class UploadStatus(enum.StrEnum):
    ACTIVE = "active"  # bytes are arriving
    COMPLETED = "completed"  # assembled into the original; the video took over
    ABORTED = "aborted"  # cancelled by the uploader
    EXPIRED = "expired"  # abandoned and cleaned up


class UploadMode(enum.StrEnum):
    CHUNKS = "chunks"  # the embedded store: PUT chunks to our API at the received offset
    MULTIPART = "multipart"  # S3: PUT parts straight to presigned URLs


class Upload(Base):
    """A resumable upload of one video's original file."""

    __tablename__ = "video_uploads"
    __table_args__ = (Index("ix_video_uploads_status_expires", "status", "expires_at"),)

    # Unguessable: it appears in URLs the client keeps while resuming.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), unique=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[UploadStatus] = mapped_column(str_enum(UploadStatus), default=UploadStatus.ACTIVE)
    mode: Mapped[UploadMode] = mapped_column(str_enum(UploadMode))
    # What the client declared; the file is never trusted because of them.
    size: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")

    storage_key: Mapped[str] = mapped_column(String(300))
    multipart_id: Mapped[str] = mapped_column(String(300))
    part_size: Mapped[int]
    # Chunk mode: bytes received so far and the parts they became ([number, etag, size], in order).
    received_bytes: Mapped[int] = mapped_column(default=0)
    parts: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)

    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
