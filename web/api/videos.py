"""Uploads (resumable) and videos: status with progress, failures, playback URLs, edits, requeue."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Response, request
from pydantic import Field

from core import extensions
from core.accounts.models import User
from core.errors import ValidationFailed, translate
from media import processing, uploads
from media import videos as video_service
from media.models import ReviewState, Upload, UploadMode, Video, VideoStatus, Visibility
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint, json_response
from web.auth import current_user, require_current_user
from web.i18n import get_locale
from web.ratelimit import rate_limited

TAGS = ["videos"]
Hashtag = Annotated[str, Field(max_length=50)]


class UploadStartIn(ApiModel):
    size: int = Field(ge=0, description="Exact size of the file in bytes")
    content_type: str = Field(min_length=1, max_length=100, description="video/*; the file is probed regardless")
    checksum_sha256: str = Field(min_length=64, max_length=64, description="Hex SHA-256 of the whole file")
    filename: str = Field(default="", max_length=255)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=50)
    publish: bool = Field(default=True, description="Publish as soon as processing succeeds")
    visibility: Literal["public", "private"] = "public"
    brand_id: int | None = Field(default=None, description="Upload for this brand (members only)")


class PartOut(OutModel):
    part_number: int
    size: int
    etag: str


class UploadOut(OutModel):
    id: str
    video_id: int
    status: str
    mode: UploadMode
    size: int
    offset: int = Field(description="Bytes received without a gap: continue from here")
    part_size: int = Field(description="Chunk size to use (chunks) or the size of every part but the last (S3)")
    chunk_url: str | None = Field(description="PUT chunks here with Upload-Offset (chunk mode)")
    parts: list[PartOut] | None = Field(description="Parts S3 holds (multipart mode)")
    expires_at: dt.datetime


class PartsIn(ApiModel):
    part_numbers: list[int] = Field(min_length=1, max_length=1000)


class PartUrlOut(OutModel):
    part_number: int
    url: str
    method: Literal["PUT"] = "PUT"


class PartUrlsOut(OutModel):
    parts: list[PartUrlOut]
    expires_in: int


class ChunkOut(OutModel):
    offset: int


class ProgressOut(OutModel):
    stage: str | None
    percent: float | None
    speed: float | None = Field(description="Processing speed, times realtime")
    eta_seconds: float | None
    updated_at: dt.datetime | None


class FailureOut(OutModel):
    code: str
    message: str
    detail: str | None
    retryable: bool = Field(description="Processing again (requeue) may help; false: the file was rejected")


class PlaybackOut(OutModel):
    hls: str
    mp4: str
    poster: str
    storyboard: str
    storyboard_image: str
    preview: str


class VideoOut(OutModel):
    id: int
    uploader_id: int
    brand_id: int | None
    title: str
    description: str
    hashtags: list[str]
    status: VideoStatus
    visibility: Visibility
    is_live: bool
    publish_on_ready: bool
    published_at: dt.datetime | None
    duration_seconds: float | None
    width: int | None
    height: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    progress: ProgressOut | None
    failure: FailureOut | None
    playback: PlaybackOut | None
    processing_attempts: int | None = Field(description="Owners only")
    stalled: bool | None = Field(description="Owners only: processing stopped reporting progress")
    manifest: dict[str, Any] | None = Field(description="Owners only: everything the pipeline produced")
    review_state: ReviewState = Field(description="The platform's review; only `cleared` videos are public")
    review_note: str | None = Field(description="Owners only: why a reviewer rejected it or what to change")

    @classmethod
    def of(cls, video: Video, *, owner: bool) -> VideoOut:
        stall = extensions.settings().media_stall_seconds
        progress = None
        if video.status in (VideoStatus.UPLOADED, VideoStatus.PROCESSING) or video.progress_stage:
            progress = ProgressOut(
                stage=video.progress_stage or ("queued" if video.status is VideoStatus.UPLOADED else None),
                percent=video.progress_percent,
                speed=video.progress_speed,
                eta_seconds=video.progress_eta_seconds,
                updated_at=video.heartbeat_at,
            )
        failure = None
        if video.status is VideoStatus.FAILED and video.failure_code:
            failure = FailureOut(
                code=video.failure_code,
                message=translate(video.failure_code, get_locale()),
                detail=video.failure_message,
                retryable=processing.retry_can_help(video),
            )
        urls = video_service.playback_urls(extensions.storage(), video)
        return cls(
            id=video.id,
            uploader_id=video.uploader_id,
            brand_id=video.brand_id,
            title=video.title,
            description=video.description,
            hashtags=list(video.hashtags or []),
            status=video.status,
            visibility=video.visibility,
            is_live=video.is_live,
            publish_on_ready=video.publish_on_ready,
            published_at=video.published_at,
            duration_seconds=video.duration_seconds,
            width=video.width,
            height=video.height,
            created_at=video.created_at,
            updated_at=video.updated_at,
            progress=progress if owner else None,
            failure=failure if owner else None,
            playback=PlaybackOut(**urls) if urls else None,
            processing_attempts=video.processing_attempts if owner else None,
            stalled=processing.is_stalled(video, stall) if owner else None,
            manifest=video.manifest if owner else None,
            review_state=video.review_state,
            review_note=video.review_note if owner else None,
        )


class VideoPatch(ApiModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    hashtags: list[Hashtag] | None = Field(default=None, max_length=50)
    visibility: Literal["public", "private"] | None = None
    publish: bool | None = Field(default=None, description="true: publish (now, or when ready); false: unpublish")


class MyVideosQuery(QueryModel):
    status: Literal["uploading", "uploaded", "processing", "ready", "failed"] | None = None
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class VideoPage(OutModel):
    items: list[VideoOut]
    next_cursor: str | None


def _policy() -> uploads.UploadPolicy:
    return uploads.UploadPolicy.from_settings(extensions.settings())


def _upload_out(state: uploads.UploadState) -> UploadOut:
    u: Upload = state.upload
    chunk_url = None
    if u.mode is UploadMode.CHUNKS:
        chunk_url = f"{extensions.settings().public_base_url.rstrip('/')}/api/v1/uploads/{u.id}/chunk"
    return UploadOut(
        id=u.id,
        video_id=u.video_id,
        status=u.status.value,
        mode=u.mode,
        size=u.size,
        offset=state.offset,
        part_size=u.part_size,
        chunk_url=chunk_url,
        parts=[PartOut(**p) for p in state.parts] if u.mode is UploadMode.MULTIPART else None,
        expires_at=u.expires_at,
    )


def _with_offset(payload: OutModel, offset: int, status: int = 200) -> Response:
    resp = json_response(payload, status)
    resp.headers["Upload-Offset"] = str(offset)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _is_manager(video: Video, user: User | None) -> bool:
    return video_service.can_manage(extensions.session(), user, video)


@bp.post("/uploads")
@rate_limited("uploads")
@endpoint(
    summary="Start a resumable upload (artists and brand members)",
    tags=TAGS,
    body=UploadStartIn,
    response=UploadOut,
    status=201,
    auth="required",
    errors=[403, 413, 422],
)
def start_upload(body: UploadStartIn) -> Response:
    """Creates the video (status `uploading`). On S3 (`mode: multipart`) ask `/uploads/{id}/parts` for
    presigned part URLs and PUT the parts to S3; on the embedded store (`mode: chunks`) PUT chunks to
    `chunk_url` with `Upload-Offset`. After a dropped connection, GET the upload for its `offset`
    (and `parts`) and continue; then POST `/uploads/{id}/complete`."""
    upload = uploads.start_upload(
        extensions.session(),
        extensions.storage(),
        require_current_user(),
        policy=_policy(),
        size=body.size,
        content_type=body.content_type,
        checksum_sha256=body.checksum_sha256,
        filename=body.filename,
        title=body.title,
        description=body.description,
        hashtags=body.hashtags,
        publish=body.publish,
        visibility=Visibility(body.visibility),
        brand_id=body.brand_id,
    )
    state = uploads.UploadState(upload, 0, [])
    return _with_offset(_upload_out(state), 0, 201)


@bp.get("/uploads/<upload_id>")
@endpoint(summary="An upload's received offset (resume from here)", tags=TAGS, response=UploadOut, auth="required")
def get_upload(upload_id: str) -> Response:
    """Also answers HEAD, with the offset in the `Upload-Offset` header."""
    state = uploads.upload_state(
        extensions.session(), extensions.storage(), require_current_user(), upload_id, policy=_policy()
    )
    return _with_offset(_upload_out(state), state.offset)


@bp.put("/uploads/<upload_id>/chunk")
@endpoint(summary="Send the next chunk (embedded store)", tags=TAGS, response=ChunkOut, auth="required", errors=[409])
def put_chunk(upload_id: str) -> Response:
    """Body: the raw bytes. Header `Upload-Offset`: where they start, which must be the received
    offset (409 with the right `Upload-Offset` otherwise). Optional `Upload-Checksum: sha256 <base64>`."""
    raw = request.headers.get("Upload-Offset", "")
    if not raw.isdigit():
        raise ValidationFailed.one("Upload-Offset", "int_parsing")
    offset = uploads.put_chunk(
        extensions.session(),
        extensions.storage(),
        require_current_user(),
        upload_id,
        offset=int(raw),
        data=request.get_data(cache=False),
        checksum=request.headers.get("Upload-Checksum"),
        policy=_policy(),
    )
    return _with_offset(ChunkOut(offset=offset), offset)


@bp.post("/uploads/<upload_id>/parts")
@endpoint(summary="Presigned URLs for parts (S3)", tags=TAGS, body=PartsIn, response=PartUrlsOut, auth="required")
def presign_parts(upload_id: str, body: PartsIn) -> PartUrlsOut:
    urls = uploads.presign_parts(
        extensions.session(),
        extensions.storage(),
        require_current_user(),
        upload_id,
        body.part_numbers,
        policy=_policy(),
    )
    return PartUrlsOut(parts=[PartUrlOut(part_number=n, url=u) for n, u in urls], expires_in=uploads.PART_URL_SECONDS)


@bp.post("/uploads/<upload_id>/complete")
@endpoint(
    summary="Finish an upload and start processing",
    tags=TAGS,
    response=VideoOut,
    status=202,
    auth="required",
    errors=[409],
)
def complete_upload(upload_id: str) -> tuple[VideoOut, int]:
    user = require_current_user()
    video = uploads.complete_upload(extensions.session(), extensions.storage(), user, upload_id)
    return VideoOut.of(video, owner=True), 202


@bp.delete("/uploads/<upload_id>")
@endpoint(summary="Cancel an upload", tags=TAGS, status=204, auth="required", errors=[409])
def abort_upload(upload_id: str) -> tuple[None, int]:
    uploads.abort_upload(extensions.session(), extensions.storage(), require_current_user(), upload_id)
    return None, 204


@bp.get("/videos/<int:video_id>")
@endpoint(summary="A video: status, progress, failure, playback URLs", tags=TAGS, response=VideoOut, auth="optional")
def get_video(video_id: int) -> VideoOut:
    """Anyone sees live videos; the uploader, the brand's members and admins also see progress,
    failures and the manifest of videos that are still processing, failed or unpublished."""
    user = current_user()
    video = video_service.get_video(extensions.session(), user, video_id)
    return VideoOut.of(video, owner=_is_manager(video, user))


@bp.patch("/videos/<int:video_id>")
@endpoint(
    summary="Edit title, description, hashtags, visibility; publish or unpublish",
    tags=TAGS,
    body=VideoPatch,
    response=VideoOut,
    auth="required",
    errors=[403, 404],
)
def patch_video(video_id: int, body: VideoPatch) -> VideoOut:
    video = video_service.update_video(
        extensions.session(),
        require_current_user(),
        video_id,
        title=body.title,
        description=body.description,
        hashtags=body.hashtags,
        visibility=Visibility(body.visibility) if body.visibility else None,
        publish=body.publish,
    )
    return VideoOut.of(video, owner=True)


@bp.delete("/videos/<int:video_id>")
@endpoint(summary="Delete a video and its files", tags=TAGS, status=204, auth="required", errors=[403, 404])
def delete_video(video_id: int) -> tuple[None, int]:
    video_service.delete_video(extensions.session(), extensions.storage(), require_current_user(), video_id)
    return None, 204


@bp.post("/videos/<int:video_id>/requeue")
@endpoint(
    summary="Process a failed or stalled video again (uploader or admin)",
    tags=TAGS,
    response=VideoOut,
    status=202,
    auth="required",
    errors=[403, 404, 409],
)
def requeue_video(video_id: int) -> tuple[VideoOut, int]:
    video = processing.requeue(
        extensions.session(),
        require_current_user(),
        video_id,
        stall_seconds=extensions.settings().media_stall_seconds,
    )
    return VideoOut.of(video, owner=True), 202


@bp.get("/me/videos")
@endpoint(summary="My uploads, newest first", tags=TAGS, query=MyVideosQuery, response=VideoPage, auth="required")
def my_videos(query: MyVideosQuery) -> VideoPage:
    page = video_service.list_my_videos(
        extensions.session(),
        require_current_user(),
        status=VideoStatus(query.status) if query.status else None,
        cursor=query.cursor,
        limit=query.limit,
    )
    return VideoPage(items=[VideoOut.of(v, owner=True) for v in page.items], next_cursor=page.next_cursor)
