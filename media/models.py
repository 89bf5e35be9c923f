"""Videos. The media pipeline owns the processing columns; catalog, search and booking read the rest."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class VideoStatus(enum.StrEnum):
    UPLOADING = "uploading"  # the upload was started, bytes still arriving
    UPLOADED = "uploaded"  # the original is in storage, waiting for the pipeline
    PROCESSING = "processing"
    READY = "ready"  # renditions and manifest are in place
    FAILED = "failed"  # rejected or broken input; failure_code says why, the original is kept


class Visibility(enum.StrEnum):
    PUBLIC = "public"  # in the feed and search once published
    PRIVATE = "private"  # only the uploader (and, for booking drafts, the brand) sees it


class Video(Base):
    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_status_published", "status", "published_at"),
        Index("ix_videos_uploader_created", "uploader_id", "created_at"),
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

    @property
    def is_live(self) -> bool:
        return (
            self.status == VideoStatus.READY and self.visibility == Visibility.PUBLIC and self.published_at is not None
        )
