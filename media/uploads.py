"""Resumable uploads of a video's original file.

Starting an upload creates the `Video` (status uploading) and a storage multipart
upload. The bytes then travel one of two ways:

* S3 (`multipart`): the client PUTs parts straight to presigned URLs; asking for
  the upload's state lists the parts S3 holds, so a client that lost its
  connection knows which parts to send again.
* the embedded store (`chunks`): the client PUTs chunks to our API at the
  received offset (`Upload-Offset`); a chunk whose offset is not the server's is
  refused with the server's offset, so the client continues exactly there.

Completing assembles the original under `originals/<video id>/`, flips the video
to `uploaded` and enqueues processing after the commit. Uploads with no activity
for `upload_abandon_seconds` are aborted by a periodic job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationFailed,
    register_field_labels,
    register_messages,
)
from core.ids import short_id
from core.storage import MIN_PART_SIZE, ObjectMissing, ObjectStorage, PartInfo, StorageError
from core.storage.local import LocalStorage
from core.tasks import enqueue_after_commit
from media.models import Upload, UploadMode, UploadStatus, Video, VideoStatus, Visibility
from media.videos import normalise_hashtags, require_title, video_changed

if TYPE_CHECKING:
    from core.settings import Settings

register_field_labels(
    {
        "size": ("文件大小", "The file size"),
        "content_type": ("文件类型", "The file type"),
        "checksum_sha256": ("文件校验值", "The file checksum"),
        "filename": ("文件名", "The file name"),
        "hashtags": ("话题", "The hashtags"),
        "hashtags.*": ("第 {0} 个话题", "Hashtag {0}"),
        "visibility": ("谁可以看", "Who can watch"),
        "publish": ("是否发布", "Publish"),
        "brand_id": ("发布身份", "Upload as"),
    }
)
register_messages(
    {
        "uploader_only": ("只有艺人和品牌成员可以上传视频", "Only artists and brand members can upload videos"),
        "upload_too_large": ("文件超过 {limit} 字节的上限", "The file is larger than the {limit}-byte limit"),
        "empty_file": ("文件是空的", "The file is empty"),
        "unsupported_content_type": ("只能上传视频文件", "Only video files can be uploaded"),
        "invalid_checksum": ("校验值应为 64 位十六进制 SHA-256", "The checksum must be a 64-character hex SHA-256"),
        "upload_not_active": ("该上传已结束", "This upload is no longer active"),
        "upload_offset_mismatch": (
            "分片位置不对，服务器已收到 {offset} 字节，请从这里继续",
            "Wrong offset: the server has {offset} bytes; continue from there",
        ),
        "chunk_exceeds_size": ("分片超出了声明的文件大小", "The chunk goes past the declared file size"),
        "empty_chunk": ("分片不能为空", "A chunk cannot be empty"),
        "chunk_checksum_mismatch": ("分片校验失败，请重传该分片", "The chunk's checksum does not match; send it again"),
        "too_many_parts": ("分片数量超过上限，请使用更大的分片", "Too many chunks; use larger chunks"),
        "wrong_upload_mode": ("该上传不支持此操作", "This upload does not work that way"),
        "upload_incomplete": (
            "文件还没有传完：已收到 {received} / {size} 字节",
            "The upload is incomplete: {received} of {size} bytes received",
        ),
        "upload_assembly_failed": ("合并分片失败，请重新上传", "Assembling the parts failed; upload again"),
        "brand_required": ("你属于多个品牌，请指定品牌", "You belong to several brands; say which one"),
        "invalid_part_number": ("分片编号无效", "Invalid part number"),
    }
)

MAX_PARTS = 10_000
MiB = 1024 * 1024
ALLOWED_TYPES = re.compile(r"^(video/[\w.+-]+|application/octet-stream)$")
PART_URL_SECONDS = 3600


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int
    chunk_max_bytes: int
    part_bytes: int
    abandon_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadPolicy:
        return cls(
            max_bytes=settings.upload_max_bytes,
            chunk_max_bytes=settings.upload_chunk_max_bytes,
            part_bytes=settings.upload_part_bytes,
            abandon_seconds=settings.upload_abandon_seconds,
        )


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    offset: int
    parts: list[dict[str, Any]]


def _uploader_brand(session: Session, actor: User, brand_id: int | None) -> int | None:
    """The brand a video is uploaded for; artists may upload as themselves, brand members for a brand."""
    if brand_id is not None:
        require_brand_member(session, actor, brand_id)
        return brand_id
    if actor.is_artist or actor.is_admin:
        return None
    brands = actor.brand_ids()
    if not brands:
        raise PermissionDenied("uploader_only")
    if len(brands) > 1:
        raise ValidationFailed.one("brand_id", "brand_required")
    return brands[0]


def _part_size(size: int, preferred: int, mode: UploadMode) -> int:
    if mode is UploadMode.CHUNKS:
        return preferred
    # S3: at least 5 MiB per part and at most 10,000 parts, in whole MiB.
    needed = max(preferred, MIN_PART_SIZE, math.ceil(size / MAX_PARTS))
    return math.ceil(needed / MiB) * MiB


def _touch(upload: Upload, policy_seconds: int) -> None:
    now = clock.now()
    upload.last_activity_at = now
    upload.expires_at = now + dt.timedelta(seconds=policy_seconds)


def start_upload(
    session: Session,
    storage: ObjectStorage,
    actor: User | None,
    *,
    policy: UploadPolicy,
    size: int,
    content_type: str,
    checksum_sha256: str,
    title: str,
    filename: str = "",
    description: str = "",
    hashtags: list[str] | None = None,
    publish: bool = True,
    visibility: Visibility = Visibility.PUBLIC,
    brand_id: int | None = None,
) -> Upload:
    actor = require_user(actor)
    brand = _uploader_brand(session, actor, brand_id)
    title = require_title(title)
    if size <= 0:
        raise ValidationFailed.one("size", "empty_file")
    if size > policy.max_bytes:
        raise PayloadTooLarge("upload_too_large", limit=policy.max_bytes)
    content_type = content_type.strip().lower()
    if not ALLOWED_TYPES.match(content_type):
        raise ValidationFailed.one("content_type", "unsupported_content_type")
    checksum = checksum_sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", checksum):
        raise ValidationFailed.one("checksum_sha256", "invalid_checksum")
    video = Video(
        uploader_id=actor.id,
        brand_id=brand,
        title=title,
        description=description,
        hashtags=normalise_hashtags(hashtags or []),
        status=VideoStatus.UPLOADING,
        visibility=visibility,
        publish_on_ready=publish,
    )
    session.add(video)
    session.flush()
    upload_id = short_id("up", 16)
    key = f"originals/{video.id}/{upload_id}"
    mode = UploadMode.CHUNKS if isinstance(storage, LocalStorage) else UploadMode.MULTIPART
    upload = Upload(
        id=upload_id,
        video_id=video.id,
        uploader_id=actor.id,
        mode=mode,
        size=size,
        content_type=content_type,
        checksum_sha256=checksum,
        filename=filename[:255],
        storage_key=key,
        multipart_id=storage.create_multipart(key, content_type),
        part_size=_part_size(size, min(policy.part_bytes, policy.chunk_max_bytes), mode),
        expires_at=clock.now(),
    )
    _touch(upload, policy.abandon_seconds)
    session.add(upload)
    video_changed(session, video)
    session.commit()
    return upload


def get_upload(session: Session, actor: User | None, upload_id: str, *, lock: bool = False) -> Upload:
    actor = require_user(actor)
    stmt = select(Upload).where(Upload.id == upload_id)
    if lock:
        stmt = stmt.with_for_update()
    upload = session.scalar(stmt)
    # Someone else's upload answers exactly like a missing one.
    if upload is None or upload.uploader_id != actor.id:
        raise NotFound("upload")
    return upload


def _contiguous(stored: list[PartInfo]) -> list[PartInfo]:
    """Parts 1, 2, 3... up to the first gap (the file so far; a resumed upload continues after them)."""
    ordered = sorted(stored, key=lambda p: p.number)
    return [p for _, p in takewhile(lambda np: np[1].number == np[0], enumerate(ordered, start=1))]


def upload_state(
    session: Session, storage: ObjectStorage, actor: User | None, upload_id: str, *, policy: UploadPolicy
) -> UploadState:
    """Where a (possibly interrupted) upload stands: the offset to continue from and the parts stored."""
    upload = get_upload(session, actor, upload_id)
    if upload.status is UploadStatus.ACTIVE:
        _touch(upload, policy.abandon_seconds)
        session.commit()
    if upload.mode is UploadMode.CHUNKS or upload.status is not UploadStatus.ACTIVE:
        received = upload.size if upload.status is UploadStatus.COMPLETED else upload.received_bytes
        return UploadState(upload, received, [])
    stored = storage.list_parts(upload.storage_key, upload.multipart_id)
    parts = [{"part_number": p.number, "size": p.size, "etag": p.etag} for p in sorted(stored, key=lambda p: p.number)]
    return UploadState(upload, sum(p.size for p in _contiguous(stored)), parts)


def _chunk_checksum(header: str | None, data: bytes) -> None:
    """Optional `Upload-Checksum: sha256 <base64>` (the tus checksum extension) for one chunk."""
    if not header:
        return
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise ValidationFailed.one("Upload-Checksum", "chunk_checksum_mismatch")
    try:
        expected = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed.one("Upload-Checksum", "chunk_checksum_mismatch") from exc
    if hashlib.sha256(data).digest() != expected:
        raise ValidationFailed.one("Upload-Checksum", "chunk_checksum_mismatch")


def put_chunk(
    session: Session,
    storage: ObjectStorage,
    actor: User | None,
    upload_id: str,
    *,
    offset: int,
    data: bytes,
    checksum: str | None,
    policy: UploadPolicy,
) -> int:
    """Store one chunk at `offset` (which must be the received offset); returns the new offset."""
    _chunk_checksum(checksum, data)  # before taking the row lock: hashing 64 MiB takes a moment
    upload = get_upload(session, actor, upload_id, lock=True)
    if upload.status is not UploadStatus.ACTIVE:
        raise Conflict("upload_not_active")
    if upload.mode is not UploadMode.CHUNKS:
        raise Conflict("wrong_upload_mode")
    if offset != upload.received_bytes:
        received = upload.received_bytes
        session.rollback()
        raise Conflict("upload_offset_mismatch", offset=received, headers={"Upload-Offset": str(received)})
    if not data:
        raise ValidationFailed.one("body", "empty_chunk")
    if len(data) > policy.chunk_max_bytes:
        raise PayloadTooLarge("upload_too_large", limit=policy.chunk_max_bytes)
    if offset + len(data) > upload.size:
        raise ValidationFailed.one("body", "chunk_exceeds_size")
    if len(upload.parts) >= MAX_PARTS:
        raise Conflict("too_many_parts")
    number = len(upload.parts) + 1
    # The part is written whole (atomically) before the offset moves, so a dropped connection
    # or a crash between the two leaves the old offset and the client simply resends.
    etag = storage.upload_part(upload.storage_key, upload.multipart_id, number, data)
    upload.parts = [*upload.parts, [number, etag, len(data)]]
    upload.received_bytes = offset + len(data)
    _touch(upload, policy.abandon_seconds)
    session.commit()
    return upload.received_bytes


def presign_parts(
    session: Session,
    storage: ObjectStorage,
    actor: User | None,
    upload_id: str,
    part_numbers: list[int],
    *,
    policy: UploadPolicy,
) -> list[tuple[int, str]]:
    upload = get_upload(session, actor, upload_id)
    if upload.status is not UploadStatus.ACTIVE:
        raise Conflict("upload_not_active")
    if upload.mode is not UploadMode.MULTIPART:
        raise Conflict("wrong_upload_mode")
    last = math.ceil(upload.size / upload.part_size)
    if not part_numbers or any(not 1 <= n <= last for n in part_numbers):
        raise ValidationFailed.one("part_numbers", "invalid_part_number")
    urls = [
        (n, storage.presigned_part_url(upload.storage_key, upload.multipart_id, n, expires=PART_URL_SECONDS))
        for n in sorted(set(part_numbers))
    ]
    _touch(upload, policy.abandon_seconds)
    session.commit()
    return urls


def complete_upload(session: Session, storage: ObjectStorage, actor: User | None, upload_id: str) -> Video:
    """Assemble the original and hand the video to the pipeline (enqueued once this commits)."""
    upload = get_upload(session, actor, upload_id, lock=True)
    video = session.get(Video, upload.video_id)
    if video is None:  # pragma: no cover - the foreign key cascades
        raise NotFound("video")
    if upload.status is UploadStatus.COMPLETED:
        session.rollback()
        return video  # a retried "complete" after a lost response
    if upload.status is not UploadStatus.ACTIVE:
        raise Conflict("upload_not_active")
    if upload.mode is UploadMode.CHUNKS:
        parts = [(int(n), str(etag)) for n, etag, _size in upload.parts]
        received = upload.received_bytes
    else:
        # Only parts 1..n without a gap make the file; a stray part after a gap is not part of it.
        prefix = _contiguous(storage.list_parts(upload.storage_key, upload.multipart_id))
        parts = [(p.number, p.etag) for p in prefix]
        received = sum(p.size for p in prefix)
    if received != upload.size:
        raise Conflict("upload_incomplete", received=received, size=upload.size)
    try:
        storage.complete_multipart(upload.storage_key, upload.multipart_id, parts)
        assembled = storage.size(upload.storage_key)
    except (StorageError, ObjectMissing) as exc:
        raise Conflict("upload_assembly_failed") from exc
    if assembled != upload.size:
        raise Conflict("upload_incomplete", received=assembled, size=upload.size)
    now = clock.now()
    upload.status = UploadStatus.COMPLETED
    upload.completed_at = now
    video.status = VideoStatus.UPLOADED
    video.original_key = upload.storage_key
    video.queued_at = now
    video_changed(session, video)
    enqueue_after_commit(session, "media.process_video", video.id)
    session.commit()
    return video


def abort_upload(session: Session, storage: ObjectStorage, actor: User | None, upload_id: str) -> None:
    upload = get_upload(session, actor, upload_id, lock=True)
    if upload.status is not UploadStatus.ACTIVE:
        raise Conflict("upload_not_active")
    storage.abort_multipart(upload.storage_key, upload.multipart_id)
    upload.status = UploadStatus.ABORTED
    video = session.get(Video, upload.video_id)
    if video is not None:
        video.deleted_at = clock.now()
        video_changed(session, video)
    session.commit()


def expire_abandoned(session: Session, storage: ObjectStorage, *, limit: int = 200) -> int:
    """Abort uploads nobody touched for too long; their videos fail with `upload_expired`."""
    now = clock.now()
    ids = list(
        session.scalars(
            select(Upload.id)
            .where(Upload.status == UploadStatus.ACTIVE, Upload.expires_at < now)
            .order_by(Upload.expires_at)
            .limit(limit)
        )
    )
    session.commit()
    done = 0
    for upload_id in ids:
        upload = session.scalar(select(Upload).where(Upload.id == upload_id).with_for_update())
        if upload is None or upload.status is not UploadStatus.ACTIVE or upload.expires_at >= now:
            session.rollback()
            continue
        try:
            storage.abort_multipart(upload.storage_key, upload.multipart_id)
        except StorageError:
            session.rollback()
            continue  # storage is down: try again next time rather than forget the parts
        upload.status = UploadStatus.EXPIRED
        video = session.get(Video, upload.video_id)
        if video is not None and video.status is VideoStatus.UPLOADING:
            video.status = VideoStatus.FAILED
            video.failure_code = "upload_expired"
            video.failure_message = "no bytes arrived for the upload's time limit; it was cancelled"
            video_changed(session, video)
        session.commit()
        done += 1
    return done
