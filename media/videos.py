"""Videos as their owners and viewers see them: read, edit, publish, list, delete, playback URLs.

Who may see a video: anyone when it is live (ready, public, published); its
uploader, members of its brand and admins always. Who may change it: the same
managers. Every change search must know about writes an outbox event in the
same transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core import clock, outbox
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_user
from core.errors import BadRequest, NotFound, PermissionDenied, ValidationFailed, register_messages
from core.pagination import decode_cursor, encode_cursor
from core.storage import ObjectStorage, StorageError
from media.models import Upload, UploadStatus, Video, VideoStatus, Visibility

register_messages(
    {
        "too_many_hashtags": ("话题最多 {limit} 个", "At most {limit} hashtags"),
        "hashtag_too_long": ("话题太长", "A hashtag is too long"),
        "title_required": (
            "请填写视频标题（不会用文件名代替）",
            "Give the video a title (the file name is not used instead)",
        ),
        "title_too_long": ("视频标题最多 {max} 个字", "The title can be at most {max} characters"),
    }
)

MAX_HASHTAGS = 20
MAX_HASHTAG_CHARS = 40
MAX_TITLE_CHARS = 200


def require_title(title: str) -> str:
    """The title as stored: trimmed, and never empty or only spaces (a video is not published as its file name)."""
    text = title.strip()
    if not text:
        raise ValidationFailed.one("title", "title_required")
    if len(text) > MAX_TITLE_CHARS:
        raise ValidationFailed.one("title", "title_too_long", max=MAX_TITLE_CHARS)
    return text


def video_changed(session: Session, video: Video) -> None:
    """Tell search (through the outbox) that this video changed, in the caller's transaction."""
    session.flush()
    outbox.emit(session, "video", video.id, op="delete" if video.deleted_at is not None else "upsert")


def normalise_hashtags(tags: list[str]) -> list[str]:
    """'#Summer', 'summer ' and '＃夏日' become 'summer' and '夏日'; duplicates and blanks go."""
    out: list[str] = []
    for raw in tags:
        tag = re.sub(r"\s+", " ", raw.strip().lstrip("#＃").strip())
        tag = tag.lower()
        if not tag:
            continue
        if len(tag) > MAX_HASHTAG_CHARS:
            raise ValidationFailed.one("hashtags", "hashtag_too_long")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_HASHTAGS:
        raise ValidationFailed.one("hashtags", "too_many_hashtags", limit=MAX_HASHTAGS)
    return out


def can_manage(session: Session, actor: User | None, video: Video) -> bool:
    if actor is None:
        return False
    if actor.is_admin or video.uploader_id == actor.id:
        return True
    return video.brand_id is not None and session.get(BrandMember, (video.brand_id, actor.id)) is not None


def get_video(session: Session, actor: User | None, video_id: int) -> Video:
    video = session.get(Video, video_id)
    if video is None or video.deleted_at is not None:
        raise NotFound("video")
    if not video.is_live and not can_manage(session, actor, video):
        raise NotFound("video")  # unpublished videos do not admit they exist
    return video


def get_managed_video(session: Session, actor: User | None, video_id: int) -> Video:
    actor = require_user(actor)
    video = get_video(session, actor, video_id)
    if not can_manage(session, actor, video):
        raise PermissionDenied()
    return video


def update_video(
    session: Session,
    actor: User | None,
    video_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    hashtags: list[str] | None = None,
    visibility: Visibility | None = None,
    publish: bool | None = None,
) -> Video:
    """Edit metadata; `publish=True` publishes now when ready (or as soon as it is), False unpublishes."""
    video = get_managed_video(session, actor, video_id)
    if title is not None:
        video.title = require_title(title)
    if description is not None:
        video.description = description
    if hashtags is not None:
        video.hashtags = normalise_hashtags(hashtags)
    if visibility is not None:
        video.visibility = visibility
    if publish is not None:
        video.publish_on_ready = publish
        if not publish:
            video.published_at = None
        elif video.status is VideoStatus.READY and video.published_at is None:
            video.published_at = clock.now()
    video.updated_at = clock.now()
    video_changed(session, video)
    session.commit()
    return video


def delete_video(session: Session, storage: ObjectStorage, actor: User | None, video_id: int) -> None:
    """Soft-delete: gone from every listing at once; its renditions and original are removed after the commit."""
    video = get_managed_video(session, actor, video_id)
    video.deleted_at = clock.now()
    video.published_at = None
    video.processing_token = None  # a run still in flight can no longer publish it
    for upload in session.scalars(select(Upload).where(Upload.video_id == video.id)):
        if upload.status is UploadStatus.ACTIVE:
            upload.status = UploadStatus.ABORTED
            # Best effort: storage being down must not keep a video its owner deleted.
            with contextlib.suppress(StorageError):
                storage.abort_multipart(upload.storage_key, upload.multipart_id)
    video_changed(session, video)
    session.commit()
    for prefix in (f"public/videos/{video.id}", f"originals/{video.id}"):
        with contextlib.suppress(StorageError):  # the row is already gone from view; bytes are orphaned
            storage.delete_prefix(prefix)


@dataclass(frozen=True)
class Page:
    items: list[Video]
    next_cursor: str | None


def list_my_videos(
    session: Session,
    actor: User | None,
    *,
    status: VideoStatus | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> Page:
    """The caller's uploads, newest first (keyset pagination on created_at, id)."""
    actor = require_user(actor)
    stmt = select(Video).where(Video.uploader_id == actor.id, Video.deleted_at.is_(None))
    if status is not None:
        stmt = stmt.where(Video.status == status)
    after = decode_cursor(cursor)
    if after is not None:
        try:
            at = dt.datetime.fromisoformat(str(after["t"]))
            last_id = int(after["id"])
        except (KeyError, ValueError, TypeError) as exc:
            raise BadRequest("invalid_cursor") from exc
        stmt = stmt.where(or_(Video.created_at < at, and_(Video.created_at == at, Video.id < last_id)))
    rows = list(session.scalars(stmt.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"t": last.created_at.isoformat(), "id": last.id})
    return Page(rows, next_cursor)


def manifest_urls(storage: ObjectStorage, manifest: dict[str, Any]) -> dict[str, str]:
    """Public URLs of everything a player needs, from a manifest with its storage prefix."""
    prefix = manifest["prefix"]

    def url(path: str) -> str:
        return storage.public_url(f"{prefix}/{path}")

    return {
        "hls": url(manifest["hls"]),
        "mp4": url(manifest["mp4"]["path"]),
        "poster": url(manifest["poster"]["path"]),
        "storyboard": url(manifest["storyboard"]["vtt"]),
        "storyboard_image": url(manifest["storyboard"]["image"]),
        "preview": url(manifest["preview"]["path"]),
    }


def playback_urls(storage: ObjectStorage, video: Video) -> dict[str, str] | None:
    """Playback URLs of a ready video, built now (so a new CDN base applies at once)."""
    m: dict[str, Any] | None = video.manifest
    if video.status is not VideoStatus.READY or not m or "prefix" not in m:
        return None
    return manifest_urls(storage, m)
