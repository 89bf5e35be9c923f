"""The processing job as a service: claim, idempotency, failures that retry and failures that do not,
takeover of stalled runs, superseded runs, stall detection, and the one-transaction flip to ready."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import clock
from core.outbox import OutboxEvent
from core.storage import StorageError
from core.storage.local import LocalStorage
from core.tasks import RecordingSender
from media.models import Video, VideoStatus
from media.pipelines.config import PIPELINE_VERSION
from media.processing import (
    Outcome,
    ProcessingOptions,
    Reporter,
    Superseded,
    process_video,
    rendition_prefix,
    requeue_stalled,
)
from media.videos import playback_urls
from tests import factories
from tests.media.conftest import SMALL
from tests.media.test_pipeline_inputs import REJECTED
from tests.media.verify import check_ladder


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage", secret=b"s" * 32, base_url="http://cdn.test")


@pytest.fixture
def options(tmp_path: Path) -> ProcessingOptions:
    return ProcessingOptions(
        pipeline=SMALL,
        work_dir=tmp_path / "work",
        heartbeat_seconds=0.0,
        stall_seconds=60.0,
        queue_stale_seconds=600.0,
        max_attempts=5,
    )


def _video(db: Session, storage: LocalStorage, source: Path, **kw: Any) -> Video:
    # Committed (to the test's SAVEPOINT): the service rolls back when it declines to work.
    v = factories.uploaded_video(db, storage, uploader=factories.user(db, artist=True), source=source, **kw)
    db.commit()
    return v


def _events(db: Session, video_id: int) -> list[OutboxEvent]:
    return list(
        db.scalars(select(OutboxEvent).where(OutboxEvent.topic == "video", OutboxEvent.entity_id == str(video_id)))
    )


def test_upload_becomes_ready_published_and_playable(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path], tmp_path: Path
) -> None:
    v = _video(db_session, storage, clip("portrait"))
    result = process_video(db_session, storage, options, v.id)
    assert result.outcome is Outcome.READY
    db_session.refresh(v)
    assert v.status is VideoStatus.READY
    assert v.published_at is not None
    assert v.is_live
    assert (v.width, v.height, v.duration_seconds) == (540, 960, pytest.approx(5.0, abs=0.05))
    assert v.pipeline_version == PIPELINE_VERSION
    assert v.processing_attempts == 1
    assert (v.progress_stage, v.progress_percent, v.failure_code) == ("done", 100.0, None)
    prefix = rendition_prefix(v.id)
    assert v.manifest is not None
    assert v.manifest["prefix"] == prefix
    # Exactly the manifest's files are stored, and the original is kept.
    assert storage.list_keys(prefix) == sorted(f"{prefix}/{f}" for f in v.manifest["files"])
    assert storage.exists(v.original_key or "")
    # What the worker stored is itself a correct ladder.
    out = tmp_path / "fetched"
    for key in storage.list_keys(prefix):
        dest = out / key.removeprefix(prefix + "/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        storage.download(key, dest)
    check_ladder(out, v.manifest, source_duration=5.0, expect_audio=True, expect_sizes=[(540, 960), (360, 640)])
    urls = playback_urls(storage, v)
    assert urls is not None
    assert urls["hls"] == f"http://cdn.test/storage/public/{prefix}/master.m3u8"
    assert v.manifest["urls"] == urls  # the feed hands out the manifest as it is
    assert urls["mp4"].endswith("/video.mp4")
    assert urls["storyboard"].endswith("/storyboard.vtt")
    # Search heard about it: claim (processing) and the flip to ready both wrote outbox events.
    assert len(_events(db_session, v.id)) >= 2
    assert not list((tmp_path / "work").iterdir())  # the work directory is gone


def test_running_twice_is_a_no_op(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"))
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.READY
    keys = storage.list_keys(rendition_prefix(v.id))
    stamps = {k: storage.path_for(k).stat().st_mtime_ns for k in keys}
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.ALREADY_DONE
    assert {k: storage.path_for(k).stat().st_mtime_ns for k in keys} == stamps
    db_session.refresh(v)
    assert v.processing_attempts == 1


def test_unpublished_upload_stays_unpublished(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"), publish_on_ready=False)
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert v.status is VideoStatus.READY
    assert v.published_at is None
    assert not v.is_live


@pytest.mark.parametrize("kind", sorted(REJECTED))
def test_bad_input_fails_once_with_its_reason_and_keeps_the_original(
    kind: str, db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip(kind))
    original = storage.get(v.original_key or "")
    result = process_video(db_session, storage, options, v.id)
    assert result.outcome is Outcome.REJECTED  # the task does not retry this outcome
    db_session.refresh(v)
    assert v.status is VideoStatus.FAILED
    assert v.failure_code == REJECTED[kind]
    assert v.failure_message
    assert storage.get(v.original_key or "") == original
    assert storage.list_keys(rendition_prefix(v.id)) == []
    assert v.processing_token is None
    assert v.manifest is None


def test_checksum_mismatch_is_rejected(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"), checksum="0" * 64)
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.REJECTED
    db_session.refresh(v)
    assert v.failure_code == "checksum_mismatch"


class FlakyStorage(LocalStorage):
    """Fails the first `failures` uploads of rendition files, like an S3 outage would."""

    def __init__(self, base: LocalStorage, failures: int, hook: Callable[[str], None] | None = None) -> None:
        super().__init__(base.root, secret=b"s" * 32, base_url=base.base_url)
        self.failures = failures
        self.hook = hook

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        if self.hook is not None:
            self.hook(key)
        if key.startswith("public/") and self.failures > 0:
            self.failures -= 1
            raise StorageError("simulated outage")
        super().put_file(key, path, content_type)


def test_transient_failure_hands_the_video_back_then_succeeds(
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
) -> None:
    v = _video(db_session, storage, clip("no_audio"))
    flaky = FlakyStorage(storage, failures=1)
    result = process_video(db_session, flaky, options, v.id)
    assert result.outcome is Outcome.RETRY
    assert "simulated outage" in (result.error or "")
    db_session.refresh(v)
    assert v.status is VideoStatus.UPLOADED
    assert v.processing_token is None
    assert v.progress_stage == "retrying"
    assert v.failure_code is None  # not a failure the uploader has to act on
    assert process_video(db_session, flaky, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert v.status is VideoStatus.READY
    assert v.processing_attempts == 2
    assert v.failure_message is None


def test_last_try_marks_the_video_failed(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"))
    result = process_video(db_session, FlakyStorage(storage, failures=99), options, v.id, last_try=True)
    assert result.outcome is Outcome.FAILED
    db_session.refresh(v)
    assert (v.status, v.failure_code) == (VideoStatus.FAILED, "processing_error")
    assert "simulated outage" in (v.failure_message or "")


def test_time_limit_kills_ffmpeg_and_is_retried_then_failed(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    slow = replace(options, pipeline=replace(SMALL, timeout_base_seconds=0.05, timeout_per_second=0.0))
    v = _video(db_session, storage, clip("portrait"))
    assert process_video(db_session, storage, slow, v.id).outcome is Outcome.RETRY
    assert process_video(db_session, storage, slow, v.id, last_try=True).outcome is Outcome.FAILED
    db_session.refresh(v)
    assert v.failure_code == "processing_timeout"
    assert "time limit" in (v.failure_message or "")


def test_live_claim_makes_a_second_delivery_back_off(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"))
    v.status, v.processing_token, v.heartbeat_at = VideoStatus.PROCESSING, "other-run", clock.now()
    db_session.commit()
    result = process_video(db_session, storage, options, v.id)
    assert result.outcome is Outcome.BUSY
    assert 0 < (result.retry_after or 0) <= options.stall_seconds + 1
    db_session.refresh(v)
    assert v.processing_token == "other-run"
    assert v.processing_attempts == 0


def test_stalled_claim_is_taken_over(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    """A worker killed mid-run leaves a claim whose heartbeat stopped; the redelivered task takes over."""
    v = _video(db_session, storage, clip("no_audio"))
    v.status, v.processing_token, v.processing_attempts = VideoStatus.PROCESSING, "dead-run", 1
    v.heartbeat_at = clock.now() - dt.timedelta(seconds=options.stall_seconds + 5)
    db_session.commit()
    # Partial output of the dead run, and its work directory on this machine.
    storage.put(f"{rendition_prefix(v.id)}/360p/seg_0000.m4s", b"half a segment")
    storage.put(f"{rendition_prefix(v.id)}/stale-extra.m4s", b"junk")
    (options.work_dir / f"video-{v.id}-deadrun").mkdir(parents=True)
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert v.status is VideoStatus.READY
    assert v.processing_attempts == 2
    assert v.manifest is not None
    keys = storage.list_keys(rendition_prefix(v.id))
    assert keys == sorted(f"{rendition_prefix(v.id)}/{f}" for f in v.manifest["files"])
    assert storage.get(f"{rendition_prefix(v.id)}/360p/seg_0000.m4s") != b"half a segment"
    assert list(options.work_dir.iterdir()) == []


def test_a_superseded_run_never_flips_the_video(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"))

    def steal(key: str) -> None:  # another run claims the video while this one publishes
        if key.endswith("master.m3u8"):
            db_session.execute(update(Video).where(Video.id == v.id).values(processing_token="newer-run"))
            db_session.commit()

    assert process_video(db_session, FlakyStorage(storage, 0, steal), options, v.id).outcome is Outcome.SUPERSEDED
    db_session.refresh(v)
    assert (v.status, v.processing_token, v.manifest) == (VideoStatus.PROCESSING, "newer-run", None)


def test_progress_and_heartbeat_are_written_while_working(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("portrait"))
    seen: list[tuple[str | None, float | None, dt.datetime | None]] = []

    def look(key: str) -> None:
        row = db_session.execute(
            select(Video.progress_stage, Video.progress_percent, Video.heartbeat_at).where(Video.id == v.id)
        ).one()
        seen.append(tuple(row))  # type: ignore[arg-type]

    before = clock.now()
    assert process_video(db_session, FlakyStorage(storage, 0, look), options, v.id).outcome is Outcome.READY
    stage, percent, heartbeat = seen[-1]
    assert stage == "publishing"
    assert 95.0 <= (percent or 0) < 100.0
    assert heartbeat is not None
    assert heartbeat >= before


def test_reporter_maps_stages_to_percent_and_notices_takeover(db_session: Session) -> None:
    owner = factories.user(db_session, artist=True)
    v = Video(uploader_id=owner.id, title="t", status=VideoStatus.PROCESSING, processing_token="mine")
    db_session.add(v)
    db_session.commit()
    report = Reporter(db_session, v.id, "mine", interval=0.0)
    report("transcoding", 0.5, 2.5, 12.0)
    db_session.refresh(v)
    assert (v.progress_stage, v.progress_percent, v.progress_speed, v.progress_eta_seconds) == (
        "transcoding",
        50.0,
        2.5,
        12.0,
    )
    v.processing_token = "someone-else"
    db_session.commit()
    with pytest.raises(Superseded):
        report("transcoding", 0.9, 2.5, 2.0)


def test_stall_detector_requeues_and_resends(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path],
    sender: RecordingSender,
) -> None:  # fmt: skip
    src = clip("no_audio")
    now = clock.now()
    stalled = _video(db_session, storage, src)
    alive = _video(db_session, storage, src)
    worn_out = _video(db_session, storage, src)
    lost = _video(db_session, storage, src)
    waiting = _video(db_session, storage, src)
    old = now - dt.timedelta(seconds=options.stall_seconds + 1)
    for v, heartbeat, attempts in ((stalled, old, 1), (alive, now, 1), (worn_out, old, options.max_attempts)):
        v.status, v.processing_token, v.heartbeat_at, v.processing_attempts = (
            VideoStatus.PROCESSING, f"run-{v.id}", heartbeat, attempts,
        )  # fmt: skip
    lost.queued_at = now - dt.timedelta(seconds=options.queue_stale_seconds + 1)
    db_session.commit()
    sender.sent.clear()

    counts = requeue_stalled(db_session, options)
    assert counts == {"requeued": 1, "resent": 1, "failed": 1}
    for v in (stalled, alive, worn_out, lost, waiting):
        db_session.refresh(v)
    assert (stalled.status, stalled.processing_token) == (VideoStatus.UPLOADED, None)
    assert alive.status is VideoStatus.PROCESSING
    assert alive.processing_token == f"run-{alive.id}"
    assert (worn_out.status, worn_out.failure_code) == (VideoStatus.FAILED, "processing_stalled")
    assert waiting.status is VideoStatus.UPLOADED
    jobs = [args for name, args, _ in sender.sent if name == "media.process_video"]
    assert sorted(jobs) == sorted([(stalled.id,), (lost.id,)])


def test_too_many_attempts_fail_instead_of_looping(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    v = _video(db_session, storage, clip("no_audio"), processing_attempts=options.max_attempts)
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.FAILED
    db_session.refresh(v)
    assert v.failure_code == "processing_stalled"


@pytest.mark.slow
def test_processing_against_s3(
    db_session: Session, options: ProcessingOptions, clip: Callable[[str], Path], s3_endpoint: str
) -> None:
    import uuid

    from core.storage.s3 import S3Storage

    s3 = S3Storage(bucket=f"media-{uuid.uuid4().hex[:8]}", endpoint_url=s3_endpoint, public_base_url="https://cdn.test")
    s3.ensure_bucket()
    v = factories.uploaded_video(
        db_session, s3, uploader=factories.user(db_session, artist=True), source=clip("portrait")
    )
    assert process_video(db_session, s3, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert v.manifest is not None
    prefix = rendition_prefix(v.id)
    assert s3.list_keys(prefix) == sorted(f"{prefix}/{f}" for f in v.manifest["files"])
    urls = playback_urls(s3, v)
    assert urls is not None
    assert urls["hls"] == f"https://cdn.test/{prefix}/master.m3u8"
