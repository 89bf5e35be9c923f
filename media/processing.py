"""The processing job: claim → download → transcode → publish → flip to ready, safely repeatable.

A run claims the video with a fresh token (an atomic UPDATE), so two deliveries
of the same task never both work on it; the claim's heartbeat is renewed with
every progress write. A delivery that finds a live claim backs off; one that
finds a claim whose heartbeat stopped (its worker was killed) takes over. All
output is written to a private work directory, uploaded under the versioned
prefix (after clearing what a killed run left there), and made visible only by
the final UPDATE that sets status, manifest and publication in one transaction
— and only if this run still holds the claim.

A ready video made by an older pipeline (`pipeline_version < PIPELINE_VERSION`)
may be claimed too: an upgrade. It stays ready, playing its old renditions,
while the run works under the new version's prefix; the same final UPDATE swaps
in the new manifest, and the old version's files are deleted by a periodic sweep
a grace period later (players that loaded them before the flip finish on them).
An upgrade that cannot finish leaves the video ready on the old version.

Bad input is rejected once and never retried; transient failures (storage, a
killed ffmpeg, a time limit) are reported as `Outcome.RETRY` for the task to
retry with backoff, until the last try marks the video failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core import clock, metrics
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import Conflict, PermissionDenied, register_messages
from core.storage import ObjectMissing, ObjectStorage, StorageError
from core.tasks import enqueue_after_commit
from media import duplicates
from media.models import Upload, Video, VideoStatus
from media.pipelines.config import PIPELINE_VERSION, PipelineConfig
from media.pipelines.fingerprint import Fingerprint
from media.pipelines.runner import FFmpegError, FFmpegTimeout
from media.pipelines.tools import Tools, find_tools
from media.pipelines.transcode import TranscodeFailed, transcode
from media.rejections import REJECTION_MESSAGES, MediaRejected
from media.videos import get_video, manifest_urls, video_changed

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

register_messages({"not_requeueable": ("该视频当前无需重新处理", "This video is not failed or stalled")})

TASK = "media.process_video"
# Overall percent reached at the start and end of each stage.
BANDS = {
    "downloading": (0.0, 5.0),
    "probing": (5.0, 8.0),
    "transcoding": (8.0, 92.0),
    "packaging": (92.0, 95.0),
    "publishing": (95.0, 100.0),
}
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".vtt": "text/vtt",
}
# After an upgrade, players that loaded the old version's playlists before the flip keep fetching its segments
# (and a CDN may serve its playlists a while longer), so its files go only this long after the flip.
SUPERSEDED_GRACE = dt.timedelta(hours=6)
# Work directories older than this are leftovers of crashed runs on this machine.
STALE_WORKDIR_SECONDS = 24 * 3600
# Errors worth retrying: the file is fine, something around it failed (storage, database, a killed ffmpeg).
TRANSIENT: tuple[type[BaseException], ...] = (StorageError, OSError, OperationalError, FFmpegError, BotoCoreError,
                                              ClientError)  # fmt: skip


class Outcome(enum.StrEnum):
    READY = "ready"
    ALREADY_DONE = "already_done"
    REJECTED = "rejected"  # bad input: failed with a reason, never retried
    FAILED = "failed"  # gave up (last retry, or too many attempts); an upgrade's video stays ready
    RETRY = "retry"  # transient: try again later
    BUSY = "busy"  # another run holds a live claim
    SKIPPED = "skipped"  # nothing to do (deleted, failed, not uploaded yet)
    SUPERSEDED = "superseded"  # another run took over while this one worked


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    retry_after: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ProcessingOptions:
    pipeline: PipelineConfig
    work_dir: Path
    heartbeat_seconds: float
    stall_seconds: float
    queue_stale_seconds: float
    max_attempts: int
    ffmpeg_path: str | None = None
    ffprobe_path: str | None = None

    def tools(self) -> Tools:
        return find_tools(self.ffmpeg_path, self.ffprobe_path)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ProcessingOptions:
        values: dict[str, Any] = {
            "pipeline": PipelineConfig.from_settings(settings),
            "work_dir": Path(settings.media_work_dir),
            "heartbeat_seconds": settings.media_heartbeat_seconds,
            "stall_seconds": float(settings.media_stall_seconds),
            "queue_stale_seconds": float(settings.media_queue_stale_seconds),
            "max_attempts": settings.media_max_attempts,
            "ffmpeg_path": settings.ffmpeg_path,
            "ffprobe_path": settings.ffprobe_path,
        }
        values.update(overrides)
        return cls(**values)


def rendition_prefix(video_id: int) -> str:
    return f"public/videos/{video_id}/v{PIPELINE_VERSION}"


class Superseded(Exception):
    """Another run owns the video now; this one must stop without touching it."""


# Before any run has finished there is nothing to measure: the first estimate of a run's length.
FIRST_ESTIMATE_SECONDS = 60.0
ESTIMATE_HISTORY = 20


def first_estimate(session: Session) -> float:
    """How long a run will take, before it has measured anything itself: the median of the latest finished runs
    (claim to ready), or FIRST_ESTIMATE_SECONDS when none has finished yet."""
    rows = session.execute(
        select(Video.processing_started_at, Video.processed_at)
        .where(
            Video.status == VideoStatus.READY,
            Video.processing_started_at.is_not(None),
            Video.processed_at.is_not(None),
        )
        .order_by(Video.id.desc())
        .limit(ESTIMATE_HISTORY)
    ).all()
    spans = sorted(
        max(1.0, (done - start).total_seconds()) for start, done in rows if start is not None and done is not None
    )
    return round(spans[len(spans) // 2], 1) if spans else FIRST_ESTIMATE_SECONDS


class Reporter:
    """Writes progress and renews the heartbeat, at most every `interval` seconds per stage. A stage that
    measures no ETA of its own (downloading, probing, packaging) reports what is left of `estimate`, so the
    owner sees an ETA from the moment processing starts."""

    def __init__(
        self, session: Session, video_id: int, token: str, interval: float, estimate: float | None = None
    ) -> None:
        self.session = session
        self.video_id = video_id
        self.token = token
        self.interval = interval
        self.estimate = estimate
        self.started = time.monotonic()
        self.stage = ""
        self.last = 0.0

    def __call__(self, stage: str, done: float, speed: float | None, eta: float | None) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < self.interval and done < 1.0:
            return
        if eta is None and self.estimate is not None:
            eta = max(1.0, self.estimate - (now - self.started))
        lo, hi = BANDS.get(stage, (0.0, 100.0))
        values = {
            "progress_stage": stage,
            "progress_percent": round(lo + (hi - lo) * max(0.0, min(1.0, done)), 1),
            "progress_speed": round(speed, 2) if speed is not None else None,
            "progress_eta_seconds": round(eta, 1) if eta is not None else None,
            "heartbeat_at": clock.now(),
        }
        result = self.session.execute(
            update(Video).where(Video.id == self.video_id, Video.processing_token == self.token).values(**values)
        )
        self.session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Superseded()
        self.stage, self.last = stage, now


def is_outdated(video: Video) -> bool:
    """Ready, but made by an older pipeline: an upgrade run may re-make it while it keeps playing.
    Strictly older: a worker still on an old version (mid-deploy) never downgrades a newer video."""
    return (
        video.status is VideoStatus.READY
        and video.pipeline_version is not None
        and video.pipeline_version < PIPELINE_VERSION
    )


def _refusal(video: Video | None, cutoff: dt.datetime) -> Result | None:
    """Why this run must not start (or None when it may claim the video)."""
    if video is None or video.deleted_at is not None:
        return Result(Outcome.SKIPPED, error="video deleted")
    if video.status is VideoStatus.READY and video.pipeline_version == PIPELINE_VERSION:
        return Result(Outcome.ALREADY_DONE)
    upgrade = is_outdated(video)
    if not upgrade and video.status not in (VideoStatus.UPLOADED, VideoStatus.PROCESSING):
        return Result(Outcome.SKIPPED, error=f"video is {video.status}")
    # An upgrade leaves the status READY, so only its token tells that a run holds it.
    running = video.status is VideoStatus.PROCESSING or (upgrade and video.processing_token is not None)
    if running and video.heartbeat_at is not None and video.heartbeat_at >= cutoff:
        # A live run holds it; a redelivered copy of the task waits until that heartbeat would be stale.
        return Result(Outcome.BUSY, retry_after=(video.heartbeat_at - cutoff).total_seconds() + 1.0)
    return None


@dataclass(frozen=True)
class Claim:
    token: str
    upgrade: bool  # the video stays READY on its old renditions while this run works
    estimate: float  # seconds the run is expected to take (first_estimate)


def _claim(session: Session, video_id: int, options: ProcessingOptions) -> Result | Claim:
    """Take the video for this run: its new token, or the result to return without working."""
    now = clock.now()
    cutoff = now - dt.timedelta(seconds=options.stall_seconds)
    video = session.get(Video, video_id)
    refusal = _refusal(video, cutoff)
    if refusal is not None or video is None:
        session.rollback()
        return refusal or Result(Outcome.SKIPPED)
    upgrade = is_outdated(video)
    if video.processing_attempts >= options.max_attempts:
        attempts = video.processing_attempts
        held = video.processing_token if upgrade else None  # a stalled upgrade's claim; a first run: any
        session.rollback()
        message = f"processing stopped {attempts} times without finishing"
        _give_up(session, video_id, held, "processing_stalled", message, upgrade=upgrade)
        return Result(Outcome.FAILED, error="too many attempts")
    stale = or_(Video.heartbeat_at.is_(None), Video.heartbeat_at < cutoff)
    if upgrade:
        # The status is not touched: viewers keep the old renditions until the flip.
        claimable = and_(
            Video.status == VideoStatus.READY,
            Video.pipeline_version < PIPELINE_VERSION,
            or_(Video.processing_token.is_(None), stale),
        )
        status: dict[str, Any] = {}
    else:
        claimable = or_(
            Video.status == VideoStatus.UPLOADED,
            and_(Video.status == VideoStatus.PROCESSING, stale),
        )
        status = {"status": VideoStatus.PROCESSING}
    token = uuid.uuid4().hex
    estimate = first_estimate(session)
    claimed = session.execute(
        update(Video)
        .where(Video.id == video_id, Video.deleted_at.is_(None), claimable)
        .values(
            **status,
            processing_token=token,
            processing_attempts=Video.processing_attempts + 1,
            processing_started_at=now,
            heartbeat_at=now,
            progress_stage="downloading",
            progress_percent=0.0,
            progress_speed=None,
            progress_eta_seconds=estimate,  # shown from the start; measured ETAs replace it
        )
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()  # another delivery claimed it between our read and our write
        return Result(Outcome.BUSY, retry_after=options.stall_seconds)
    if not upgrade:  # an upgrade claim changes nothing search shows
        _emit_current(session, video_id)
    session.commit()
    return Claim(token, upgrade, estimate)


def _emit_current(session: Session, video_id: int) -> None:
    session.expire_all()
    video = session.get(Video, video_id)
    assert video is not None
    video_changed(session, video)


def _fail(session: Session, video_id: int, token: str | None, code: str, message: str) -> bool:
    """Mark failed (keeping the original) if this run still owns the video; token None: unconditionally."""
    cond = [Video.id == video_id]
    if token is not None:
        cond.append(Video.processing_token == token)
    result = session.execute(
        update(Video)
        .where(*cond)
        .values(
            status=VideoStatus.FAILED,
            failure_code=code,
            failure_message=message[:2000],
            processing_token=None,
            progress_stage="failed",
            progress_speed=None,
            progress_eta_seconds=None,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    _emit_current(session, video_id)
    session.commit()
    return True


def _abandon_upgrade(session: Session, video_id: int, token: str | None, code: str, message: str) -> bool:
    """An upgrade that cannot finish: give up the claim (`token`; None: an unclaimed video) and leave the video
    READY on its old renditions, never FAILED. The reason stays in failure_code/failure_message, which the API
    shows only for failed videos; the next successful run clears them."""
    result = session.execute(
        update(Video)
        .where(
            Video.id == video_id,
            Video.status == VideoStatus.READY,
            Video.processing_token.is_(None) if token is None else Video.processing_token == token,
        )
        .values(
            failure_code=code,
            failure_message=message[:2000],
            processing_token=None,
            # The owner's progress goes back to what the ready video had before the upgrade began.
            progress_stage="done",
            progress_percent=100.0,
            progress_speed=None,
            progress_eta_seconds=0.0,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    session.commit()
    log.warning("video %s: upgrade to pipeline v%s abandoned, still ready on its old version: %s: %s",
                video_id, PIPELINE_VERSION, code, message)  # fmt: skip
    return True


def _give_up(session: Session, video_id: int, token: str | None, code: str, message: str, *, upgrade: bool) -> bool:
    """Stop trying: a first run's video fails; an upgrade's stays ready on its old version."""
    return (_abandon_upgrade if upgrade else _fail)(session, video_id, token, code, message)


def _release(session: Session, video_id: int, token: str, error: str, *, upgrade: bool = False) -> None:
    """Hand the video back to the queue for a retry (an upgrade's video stays ready on its old renditions)."""
    values: dict[str, Any] = {"status": VideoStatus.UPLOADED, "queued_at": clock.now()} if not upgrade else {}
    session.execute(
        update(Video)
        .where(Video.id == video_id, Video.processing_token == token)
        .values(
            **values,
            processing_token=None,
            progress_stage="retrying",
            progress_speed=None,
            progress_eta_seconds=None,
            failure_message=f"retrying after: {error}"[:2000],
        )
    )
    session.commit()


def _clean_workdirs(root: Path, video_id: int) -> None:
    """Remove what killed runs left: this video's old directories and anything a day old."""
    if not root.is_dir():
        return
    cutoff = time.time() - STALE_WORKDIR_SECONDS
    for d in root.iterdir():
        with contextlib.suppress(OSError):
            if d.name.startswith(f"video-{video_id}-") or d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)


def _verify_original(path: Path, upload: tuple[int, str] | None) -> None:
    if upload is None:
        return
    size, checksum = upload
    actual_size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    if actual_size != size or digest.hexdigest() != checksum:
        raise MediaRejected(
            "checksum_mismatch",
            f"received {actual_size} bytes with SHA-256 {digest.hexdigest()}; declared {size} bytes, {checksum}",
        )


def publish_outputs(storage: ObjectStorage, out_dir: Path, prefix: str, report: Reporter | None = None) -> None:
    """Upload a finished run. Playlists go last (the master the very last), so a playlist never
    points at a segment that is not there yet."""
    files = [p for p in out_dir.rglob("*") if p.is_file()]

    def order(p: Path) -> tuple[int, str]:
        rank = 2 if p.name == "master.m3u8" else 1 if p.suffix == ".m3u8" else 0
        return rank, p.as_posix()

    files.sort(key=order)
    for i, path in enumerate(files):
        key = f"{prefix}/{path.relative_to(out_dir).as_posix()}"
        storage.put_file(key, path, CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
        if report is not None:
            report("publishing", (i + 1) / len(files), None, None)


def process_video(
    session: Session,
    storage: ObjectStorage,
    options: ProcessingOptions,
    video_id: int,
    *,
    last_try: bool = False,
) -> Result:
    claim = _claim(session, video_id, options)
    if isinstance(claim, Result):
        return claim
    token = claim.token
    _clean_workdirs(options.work_dir, video_id)
    workdir = options.work_dir / f"video-{video_id}-{token[:12]}"
    workdir.mkdir(parents=True)
    try:
        result = _run(session, storage, options, video_id, token=token, workdir=workdir, estimate=claim.estimate)
    except Exception as exc:  # mapped to an outcome; anything unexpected is re-raised by _settle
        result = _settle(session, video_id, token, exc, last_try=last_try, upgrade=claim.upgrade)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result.outcome is Outcome.SUPERSEDED:
        _sweep_if_deleted(session, storage, video_id)
    return result


def _sweep_if_deleted(session: Session, storage: ObjectStorage, video_id: int) -> None:
    """A run stopped by its video's deletion may have uploaded files after `delete_video` swept the video's
    folder; nothing can publish a deleted video, so what this version put there goes too (best effort)."""
    session.expire_all()
    video = session.get(Video, video_id)
    deleted = video is None or video.deleted_at is not None
    session.rollback()
    if not deleted:
        return  # another run took over: the prefix is its output now
    try:
        storage.delete_prefix(rendition_prefix(video_id))
    except TRANSIENT as exc:
        log.warning("video %s: deleted meanwhile; could not remove this run's uploads: %s", video_id, exc)


def _run(
    session: Session,
    storage: ObjectStorage,
    options: ProcessingOptions,
    video_id: int,
    *,
    token: str,
    workdir: Path,
    estimate: float | None = None,
) -> Result:
    video = session.get(Video, video_id)
    assert video is not None
    original_key = video.original_key
    # Set only on an upgrade (a first run's video has no manifest): what viewers play until the flip.
    old_prefix: str | None = (video.manifest or {}).get("prefix") if video.status is VideoStatus.READY else None
    declared = session.execute(
        select(Upload.size, Upload.checksum_sha256).where(Upload.video_id == video_id)
    ).one_or_none()
    session.commit()  # never hold a transaction (on SQLite: the write lock) across the heavy work
    if original_key is None:
        raise ObjectMissing("the video has no original file")
    report = Reporter(session, video_id, token, options.heartbeat_seconds, estimate)
    source = workdir / "original"
    storage.download(original_key, source)
    _verify_original(source, (declared[0], declared[1]) if declared else None)
    started = time.perf_counter()
    run = transcode(options.tools(), source, workdir / "run", options.pipeline, on_progress=report)
    if run.info.duration:
        metrics.TRANSCODE_REALTIME.observe(run.info.duration / max(time.perf_counter() - started, 1e-3))
    prefix = rendition_prefix(video_id)
    report("publishing", 0.0, None, None)
    storage.delete_prefix(prefix)  # whatever a killed run uploaded half of
    publish_outputs(storage, run.out_dir, prefix, report)
    manifest: dict[str, Any] = {**run.manifest, "prefix": prefix}
    # Feed and search return the manifest as it is, so it carries ready-to-play URLs too.
    manifest["urls"] = manifest_urls(storage, manifest)
    result = _flip_ready(
        session, video_id, token, manifest=manifest, display=run.info.video.display_size, duration=run.info.duration,
        fingerprint=run.fingerprint, sweep_at=clock.now() + SUPERSEDED_GRACE if old_prefix else None,
    )  # fmt: skip
    return result


def _permanent(exc: Exception) -> tuple[Outcome, str, str] | None:
    """(outcome, failure code, message) for failures that retrying cannot fix."""
    if isinstance(exc, MediaRejected):
        return Outcome.REJECTED, exc.code, exc.detail
    if isinstance(exc, TranscodeFailed):
        return Outcome.FAILED, "transcode_failed", str(exc)
    if isinstance(exc, ObjectMissing):
        return Outcome.FAILED, "processing_error", f"the original file is missing from storage: {exc}"
    return None


def _settle(
    session: Session, video_id: int, token: str, exc: Exception, *, last_try: bool, upgrade: bool = False
) -> Result:
    """Record how a run ended badly: rejected, failed for good, or handed back for a retry.
    An upgrade's video is never failed: giving up leaves it ready on its old renditions."""
    session.rollback()
    if isinstance(exc, Superseded):
        log.info("video %s: another run took over; stopping", video_id)
        return Result(Outcome.SUPERSEDED)
    permanent = _permanent(exc)
    if permanent is None and not isinstance(exc, TRANSIENT):
        _release(session, video_id, token, f"{type(exc).__name__}: {exc}", upgrade=upgrade)
        raise exc  # a bug: let the task fail loudly; the video goes back to the queue for a later try
    error = f"{type(exc).__name__}: {exc}"
    if permanent is None and not last_try:
        log.warning("video %s: transient failure, will retry: %s", video_id, error)
        _release(session, video_id, token, error, upgrade=upgrade)
        return Result(Outcome.RETRY, error=error)
    if permanent is None:
        code = "processing_timeout" if isinstance(exc, FFmpegTimeout) else "processing_error"
        permanent = (Outcome.FAILED, code, error)
    outcome, code, message = permanent
    _give_up(session, video_id, token, code, message, upgrade=upgrade)
    return Result(outcome, error=code)


def _flip_ready(
    session: Session,
    video_id: int,
    token: str,
    *,
    manifest: dict[str, Any],
    display: tuple[int, int],
    duration: float,
    fingerprint: Fingerprint | None = None,
    sweep_at: dt.datetime | None = None,
) -> Result:
    """Ready, manifest and publication in one transaction, only while this run holds the claim.
    For an upgrade (already READY) it swaps the manifest and version; publication is left as the owner set it,
    and the old version's files are left for `sweep_superseded` after `sweep_at`."""
    now = clock.now()
    result = session.execute(
        update(Video)
        .where(Video.id == video_id, Video.processing_token == token, Video.deleted_at.is_(None))
        .values(
            status=VideoStatus.READY,
            manifest=manifest,
            pipeline_version=PIPELINE_VERSION,
            duration_seconds=duration,
            width=display[0],
            height=display[1],
            failure_code=None,
            failure_message=None,
            processing_token=None,
            processed_at=now,
            progress_stage="done",
            progress_percent=100.0,
            progress_speed=None,
            progress_eta_seconds=0.0,
            published_at=case(
                (
                    and_(
                        Video.status != VideoStatus.READY,
                        Video.publish_on_ready.is_(True),
                        Video.published_at.is_(None),
                    ),
                    now,
                ),
                else_=Video.published_at,
            ),
            updated_at=now,
            renditions_sweep_at=sweep_at or Video.renditions_sweep_at,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return Result(Outcome.SUPERSEDED)
    if fingerprint is not None:
        video = session.get(Video, video_id)
        assert video is not None
        match = duplicates.record(session, video, fingerprint)
        if match is not None:
            log.info("video %s: matches video %s (similarity %.2f)", video_id, match.video_id, match.similarity)
    _emit_current(session, video_id)
    session.commit()
    return Result(Outcome.READY)


def _reset_for_queue(video: Video, now: dt.datetime) -> None:
    video.status = VideoStatus.UPLOADED
    video.processing_token = None
    video.failure_code = None
    video.failure_message = None
    video.progress_stage = "queued"
    video.progress_percent = 0.0
    video.progress_speed = None
    video.progress_eta_seconds = None
    video.queued_at = now


def is_stalled(video: Video, stall_seconds: float, now: dt.datetime | None = None) -> bool:
    now = now or clock.now()
    return (
        video.status is VideoStatus.PROCESSING
        and video.heartbeat_at is not None
        and video.heartbeat_at < now - dt.timedelta(seconds=stall_seconds)
    )


def retry_can_help(video: Video) -> bool:
    """A failed video that processing again may save: the service failed, not the file. A rejected file (not a
    video, cut off, too long...) would fail the same way, so its uploader is asked for another file instead."""
    return (
        video.status is VideoStatus.FAILED
        and video.original_key is not None
        and video.failure_code not in REJECTION_MESSAGES
    )


def sweep_superseded(session: Session, storage: ObjectStorage, *, limit: int = 100) -> int:
    """Periodic: once an upgrade's grace period is over, delete the files of the versions a video no longer
    plays. Keeps the manifest's version and the one this code writes (an upgrade may have started since).
    Returns how many videos were swept; storage trouble leaves a video for the next sweep."""
    due = session.execute(
        select(Video.id, Video.renditions_sweep_at, Video.manifest)
        .where(Video.renditions_sweep_at <= clock.now(), Video.deleted_at.is_(None))
        .order_by(Video.renditions_sweep_at)
        .limit(limit)
    ).all()
    session.rollback()
    swept = 0
    for video_id, sweep_at, manifest in due:
        folder = f"public/videos/{video_id}"
        keep = {rendition_prefix(video_id)} | ({manifest["prefix"]} if manifest else set())
        try:
            # One folder per version: delete whole folders, which S3 does a thousand keys per request.
            versions = {f"{folder}/{key[len(folder) + 1 :].split('/', 1)[0]}" for key in storage.list_keys(folder)}
            for prefix in versions - keep:
                storage.delete_prefix(prefix)
        except TRANSIENT as exc:
            log.warning("video %s: could not sweep superseded renditions: %s", video_id, exc)
            continue
        cleared = session.execute(
            update(Video)
            .where(Video.id == video_id, Video.renditions_sweep_at == sweep_at)
            .values(renditions_sweep_at=None, updated_at=Video.updated_at)
        )
        session.commit()
        swept += cleared.rowcount  # type: ignore[attr-defined]
    return swept


def requeue(session: Session, actor: User | None, video_id: int, *, stall_seconds: float) -> Video:
    """The uploader (or an admin) asks for a failed or stalled video to be processed again."""
    actor = require_user(actor)
    video = get_video(session, actor, video_id)
    if not (actor.is_admin or video.uploader_id == actor.id):
        raise PermissionDenied()
    now = clock.now()
    lost = (
        video.status is VideoStatus.UPLOADED
        and video.queued_at is not None
        and video.queued_at < now - dt.timedelta(seconds=stall_seconds)
    )
    failed = video.status is VideoStatus.FAILED and video.original_key is not None
    if not (failed or lost or is_stalled(video, stall_seconds, now)):
        raise Conflict("not_requeueable")
    _reset_for_queue(video, now)
    video.processing_attempts = 0
    video_changed(session, video)
    enqueue_after_commit(session, TASK, video.id)
    session.commit()
    return video


def upgrade_stalled(video: Video, stall_seconds: float, now: dt.datetime | None = None) -> bool:
    """An upgrade run (its video stays READY, so `is_stalled` does not see it) whose heartbeat stopped.
    Kept apart from `is_stalled` on purpose: that one lets the owner requeue, which would take a ready video
    off the air; a stalled upgrade is the stall detector's business only."""
    now = now or clock.now()
    return (
        video.status is VideoStatus.READY
        and video.processing_token is not None
        and video.heartbeat_at is not None
        and video.heartbeat_at < now - dt.timedelta(seconds=stall_seconds)
    )


def requeue_stalled(session: Session, options: ProcessingOptions, *, limit: int = 100) -> dict[str, int]:
    """Periodic: requeue runs whose heartbeat stopped (upgrades included) and re-send videos whose task message
    was lost."""
    now = clock.now()
    stall_cutoff = now - dt.timedelta(seconds=options.stall_seconds)
    queue_cutoff = now - dt.timedelta(seconds=options.queue_stale_seconds)
    counts = {"requeued": 0, "resent": 0, "failed": 0}
    stalled = list(
        session.scalars(
            select(Video.id)
            .where(
                or_(
                    Video.status == VideoStatus.PROCESSING,
                    and_(Video.status == VideoStatus.READY, Video.processing_token.is_not(None)),
                ),
                Video.heartbeat_at < stall_cutoff,
            )
            .order_by(Video.heartbeat_at)
            .limit(limit)
        )
    )
    session.commit()
    for video_id in stalled:
        video = session.get(Video, video_id)
        # Re-checked on the row: the run may have renewed its heartbeat meanwhile.
        if video is None or not (
            is_stalled(video, options.stall_seconds, now) or upgrade_stalled(video, options.stall_seconds, now)
        ):
            session.rollback()
            continue
        upgrade = video.status is VideoStatus.READY
        if video.processing_attempts >= options.max_attempts:
            attempts = video.processing_attempts
            token = video.processing_token
            session.rollback()
            message = f"processing stopped {attempts} times"
            if _give_up(session, video_id, token, "processing_stalled", message, upgrade=upgrade):
                counts["failed"] += 1
            continue
        # A stalled upgrade only loses its claim: the video stays READY on its old renditions.
        values: dict[str, Any] = {} if upgrade else {"status": VideoStatus.UPLOADED, "queued_at": now}
        result = session.execute(
            update(Video)
            .where(Video.id == video_id, Video.processing_token == video.processing_token)
            .where(Video.heartbeat_at < stall_cutoff)
            .values(
                **values,
                processing_token=None,
                progress_stage="queued",
                progress_speed=None,
                progress_eta_seconds=None,
            )
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            if not upgrade:
                _emit_current(session, video_id)
            enqueue_after_commit(session, TASK, video_id)
            counts["requeued"] += 1
        session.commit()
    lost = list(
        session.scalars(
            select(Video.id)
            .where(Video.status == VideoStatus.UPLOADED, Video.queued_at < queue_cutoff, Video.deleted_at.is_(None))
            .limit(limit)
        )
    )
    for video_id in lost:
        session.execute(update(Video).where(Video.id == video_id).values(queued_at=now))
        enqueue_after_commit(session, TASK, video_id)
        counts["resent"] += 1
    session.commit()
    return counts


def queue_outdated(session: Session, *, limit: int | None = None, retry_abandoned: bool = False) -> dict[str, int]:
    """Operators, after PIPELINE_VERSION went up: queue an upgrade of each ready video an older pipeline made
    (oldest first). Each keeps playing its old renditions until its new version is in. Left out: videos an
    upgrade run holds right now (the stall detector looks after those) and, unless `retry_abandoned`, those
    whose last upgrade gave up (failure_code set) — a broken original would fail the same way again and, with
    `limit`, would take the head of every batch."""
    outdated = and_(
        Video.status == VideoStatus.READY,
        Video.deleted_at.is_(None),
        Video.pipeline_version < PIPELINE_VERSION,
        Video.processing_token.is_(None),
    )
    wanted = outdated if retry_abandoned else and_(outdated, Video.failure_code.is_(None))
    ids = list(session.scalars(select(Video.id).where(wanted).order_by(Video.id).limit(limit)))
    abandoned = 0
    if not retry_abandoned:
        abandoned = session.scalar(select(func.count()).where(outdated, Video.failure_code.is_not(None))) or 0
    session.commit()
    for i in range(0, len(ids), 500):  # commits as it goes: each batch's messages leave with its commit
        batch = ids[i : i + 500]
        # A fresh job, as after `requeue`: its stalls count from zero, not from the original run's attempts.
        session.execute(
            update(Video).where(Video.id.in_(batch), Video.processing_token.is_(None)).values(processing_attempts=0)
        )
        for video_id in batch:
            enqueue_after_commit(session, TASK, video_id)
        session.commit()
    return {"queued": len(ids), "abandoned": abandoned, "version": PIPELINE_VERSION}
