"""The processing job as a service: claim, idempotency, failures that retry and failures that do not,
takeover of stalled runs, superseded runs, stall detection, and the one-transaction flip to ready;
upgrades of ready videos an older pipeline made, which keep playing until the new version is in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.outbox import OutboxEvent
from core.storage import StorageError
from core.storage.local import LocalStorage
from core.tasks import RecordingSender
from media import processing
from media.models import ReviewState, Video, VideoStatus
from media.pipelines import transcode as transcode_module
from media.pipelines.config import PIPELINE_VERSION
from media.processing import (
    SUPERSEDED_GRACE,
    Outcome,
    ProcessingOptions,
    Reporter,
    Result,
    Superseded,
    process_video,
    rendition_prefix,
    requeue_stalled,
    sweep_superseded,
)
from media.videos import delete_video, playback_urls
from moderation import review
from moderation.review import ReviewPolicy
from tests import factories
from tests.media.conftest import SMALL
from tests.media.test_pipeline_inputs import REJECTED
from tests.media.verify import check_ladder


def _video(db: Session, storage: LocalStorage, source: Path, **kw: Any) -> Video:
    # Committed (to the test's SAVEPOINT): the service rolls back when it declines to work.
    v = factories.uploaded_video(db, storage, uploader=factories.user(db, artist=True), source=source, **kw)
    db.commit()
    return v


def _events(db: Session, video_id: int) -> list[OutboxEvent]:
    return list(
        db.scalars(select(OutboxEvent).where(OutboxEvent.topic == "video", OutboxEvent.entity_id == str(video_id)))
    )


def _transcodes_observed() -> float:
    return REGISTRY.get_sample_value("xinglian_transcode_realtime_factor_count") or 0.0


def test_upload_becomes_ready_published_and_playable(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path], tmp_path: Path
) -> None:
    v = _video(db_session, storage, clip("portrait"))
    transcodes = _transcodes_observed()
    result = process_video(db_session, storage, options, v.id)
    assert result.outcome is Outcome.READY
    assert _transcodes_observed() == transcodes + 1  # its realtime factor went to the metrics
    db_session.refresh(v)
    assert v.status is VideoStatus.READY
    assert v.published_at is not None
    # Ready and published, but not public before the platform screens it (moderation, from the outbox).
    assert (v.review_state, v.is_live) == (ReviewState.PENDING, False)
    _screened(db_session, v)
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


class WatchedStorage(LocalStorage):
    """Calls `hook` when the worker fetches the original: the moment processing has started."""

    def __init__(self, base: LocalStorage, hook: Callable[[], None]) -> None:
        super().__init__(base.root, secret=b"s" * 32, base_url=base.base_url)
        self.hook = hook

    def download(self, key: str, path: Path) -> None:
        self.hook()
        super().download(key, path)


def test_an_eta_is_there_from_the_start_of_processing(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, clip: Callable[[str], Path]
) -> None:
    """The claim writes an estimate before anything is measured: the default guess at first, then what the
    latest finished runs took."""
    seen: list[tuple[str | None, float | None]] = []

    def look() -> None:
        row = db_session.execute(select(Video.progress_stage, Video.progress_eta_seconds).where(Video.id == v.id)).one()
        seen.append(tuple(row))  # type: ignore[arg-type]

    watched = WatchedStorage(storage, look)
    v = _video(db_session, storage, clip("no_audio"))
    assert processing.first_estimate(db_session) == processing.FIRST_ESTIMATE_SECONDS
    assert process_video(db_session, watched, options, v.id).outcome is Outcome.READY
    assert seen == [("downloading", processing.FIRST_ESTIMATE_SECONDS)]

    db_session.refresh(v)
    assert v.processed_at is not None
    assert v.processing_started_at is not None
    took = max(1.0, round((v.processed_at - v.processing_started_at).total_seconds(), 1))
    assert processing.first_estimate(db_session) == took
    v = _video(db_session, storage, clip("no_audio"))
    seen.clear()
    assert process_video(db_session, watched, options, v.id).outcome is Outcome.READY
    assert seen == [("downloading", took)]


def test_stages_that_measure_nothing_report_what_is_left_of_the_estimate(db_session: Session) -> None:
    owner = factories.user(db_session, artist=True)
    v = Video(uploader_id=owner.id, title="t", status=VideoStatus.PROCESSING, processing_token="mine")
    db_session.add(v)
    db_session.commit()
    report = Reporter(db_session, v.id, "mine", interval=0.0, estimate=90.0)
    report("probing", 0.5, None, None)
    db_session.refresh(v)
    assert v.progress_stage == "probing"
    assert v.progress_eta_seconds is not None
    assert 1.0 <= v.progress_eta_seconds <= 90.0
    report("transcoding", 0.5, 2.0, 7.0)  # a measured ETA wins
    db_session.refresh(v)
    assert v.progress_eta_seconds == 7.0


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


# -- upgrades: a ready video an older pipeline made is re-made while it keeps playing --------------------------


@pytest.fixture
def bump(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Deploy the next pipeline version: both modules that read PIPELINE_VERSION see it from then on."""

    def deploy() -> int:
        for module in (processing, transcode_module):
            monkeypatch.setattr(module, "PIPELINE_VERSION", PIPELINE_VERSION + 1)
        return PIPELINE_VERSION + 1

    return deploy


def _ready(db: Session, storage: LocalStorage, options: ProcessingOptions, source: Path) -> Video:
    """Uploaded, processed for real by the pipeline as it is now (which the test then makes the old one), and
    cleared by the platform's screening: public, as an upgrade finds a video."""
    v = _video(db, storage, source)
    assert process_video(db, storage, options, v.id).outcome is Outcome.READY
    db.refresh(v)
    assert (v.status, v.pipeline_version) == (VideoStatus.READY, PIPELINE_VERSION)
    _screened(db, v)
    return v


def _screened(db: Session, v: Video) -> None:
    """What moderation's outbox consumer does with a ready video when nobody needs to wait for a reviewer."""
    assert review.screen(db, v.id, ReviewPolicy(mode="nobody")) is ReviewState.CLEARED
    db.commit()
    db.refresh(v)


def test_an_outdated_video_is_upgraded_while_viewers_keep_its_old_version(  # noqa: PLR0917 - pytest fixtures
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
    client: FlaskClient,
) -> None:
    v = _ready(db_session, storage, options, clip("portrait"))
    old_manifest, published_at = v.manifest, v.published_at
    old_prefix = rendition_prefix(v.id)
    old_keys = storage.list_keys(old_prefix)
    new_version = bump()
    new_prefix = rendition_prefix(v.id)
    assert new_prefix != old_prefix
    during: list[tuple[Any, ...]] = []

    def look(key: str) -> None:
        # Before each upload of the upgrade run: the committed row, and what an anonymous viewer gets.
        row = db_session.execute(
            select(Video.status, Video.manifest, Video.pipeline_version, Video.processing_token).where(Video.id == v.id)
        ).one()
        db_session.expire_all()  # the API reads through this session: no cached row may answer for the database
        body = client.get(f"/api/v1/videos/{v.id}").get_json()
        playing = body["playback"]["hls"] if body.get("playback") else None
        during.append((key, *row, body.get("status"), playing, all(storage.exists(k) for k in old_keys)))

    assert process_video(db_session, FlakyStorage(storage, 0, look), options, v.id).outcome is Outcome.READY
    assert during, "the hook saw the upgrade run publish"
    for key, status, manifest, version, token, api_status, playing, old_files_there in during:
        assert key.startswith(new_prefix + "/")
        assert (status, manifest, version) == (VideoStatus.READY, old_manifest, PIPELINE_VERSION)
        assert token is not None  # the upgrade run holds its claim all along
        assert api_status == "ready"
        assert playing is not None
        assert playing.endswith(f"/{old_prefix}/master.m3u8")
        assert old_files_there

    db_session.refresh(v)
    assert (v.status, v.pipeline_version, v.processing_token, v.failure_code) == (
        VideoStatus.READY, new_version, None, None,
    )  # fmt: skip
    assert (v.progress_stage, v.progress_percent) == ("done", 100.0)
    assert v.published_at == published_at
    assert v.is_live
    assert v.manifest is not None
    assert (v.manifest["prefix"], v.manifest["pipeline_version"]) == (new_prefix, new_version)
    new_keys = sorted(f"{new_prefix}/{f}" for f in v.manifest["files"])
    assert storage.list_keys(new_prefix) == new_keys
    # Players that loaded the old playlists just before the flip finish on them: the files stay for a while.
    assert storage.list_keys(old_prefix) == old_keys
    assert sweep_superseded(db_session, storage) == 0
    assert storage.list_keys(old_prefix) == old_keys
    with use_clock(FrozenClock(clock.now() + SUPERSEDED_GRACE + dt.timedelta(seconds=1))):
        assert sweep_superseded(db_session, storage) == 1
        assert sweep_superseded(db_session, storage) == 0  # swept once
    assert storage.list_keys(f"public/videos/{v.id}") == new_keys  # the old version's files are all gone
    urls = playback_urls(storage, v)
    assert urls is not None
    assert urls == v.manifest["urls"]
    assert urls["hls"] == f"http://cdn.test/storage/public/{new_prefix}/master.m3u8"
    db_session.expire_all()
    assert client.get(f"/api/v1/videos/{v.id}").get_json()["playback"]["hls"].endswith(f"/{new_prefix}/master.m3u8")
    # Done at the new version: another delivery changes nothing.
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.ALREADY_DONE


@pytest.mark.parametrize(
    ("breakage", "outcome", "code"),
    [
        ("original_replaced", Outcome.REJECTED, "checksum_mismatch"),
        ("storage_down", Outcome.FAILED, "processing_error"),
    ],
)
def test_an_upgrade_that_cannot_finish_leaves_the_video_ready_on_its_old_version(  # noqa: PLR0917 - pytest fixtures
    breakage: str,
    outcome: Outcome,
    code: str,
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
) -> None:
    v = _ready(db_session, storage, options, clip("no_audio"))
    old_manifest, old_prefix = v.manifest, rendition_prefix(v.id)
    old_files = {k: storage.get(k) for k in storage.list_keys(old_prefix)}
    bump()
    store = storage
    if breakage == "original_replaced":
        storage.put(v.original_key or "", b"not the file that was uploaded")
    else:
        store = FlakyStorage(storage, failures=99)
        # Transient: handed back for a retry, and meanwhile the video is exactly as it was.
        assert process_video(db_session, store, options, v.id).outcome is Outcome.RETRY
        db_session.refresh(v)
        assert (v.status, v.manifest, v.processing_token, v.progress_stage) == (
            VideoStatus.READY, old_manifest, None, "retrying",
        )  # fmt: skip
    result = process_video(db_session, store, options, v.id, last_try=True)
    assert (result.outcome, result.error) == (outcome, code)
    db_session.refresh(v)
    assert (v.status, v.manifest, v.pipeline_version) == (VideoStatus.READY, old_manifest, PIPELINE_VERSION)
    assert v.is_live
    # Why the upgrade gave up is kept on the row (the API shows failures only for failed videos).
    assert (v.failure_code, v.processing_token, v.progress_stage, v.progress_percent) == (code, None, "done", 100.0)
    assert {k: storage.get(k) for k in storage.list_keys(old_prefix)} == old_files
    assert storage.list_keys(rendition_prefix(v.id)) == []
    assert old_manifest is not None
    assert playback_urls(storage, v) == old_manifest["urls"]


@pytest.mark.parametrize(
    ("made_by", "outcome"),
    [
        (PIPELINE_VERSION, Outcome.ALREADY_DONE),
        (PIPELINE_VERSION + 1, Outcome.SKIPPED),  # a worker not yet on the new code never downgrades it
        (None, Outcome.SKIPPED),  # ready without any pipeline (demo rows): nothing to re-make it from
    ],
)
def test_a_ready_video_not_made_by_an_older_pipeline_is_left_alone(
    made_by: int | None, outcome: Outcome, db_session: Session, storage: LocalStorage, options: ProcessingOptions
) -> None:
    v = factories.video(db_session, uploader=factories.user(db_session, artist=True), pipeline_version=made_by)
    v.manifest = {"prefix": f"public/videos/{v.id}/v{made_by}"}
    db_session.commit()
    assert process_video(db_session, storage, options, v.id).outcome is outcome
    db_session.refresh(v)
    assert (v.status, v.pipeline_version, v.processing_token, v.processing_attempts) == (
        VideoStatus.READY, made_by, None, 0,
    )  # fmt: skip


def test_a_second_delivery_during_an_upgrade_backs_off(
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
) -> None:
    v = _ready(db_session, storage, options, clip("no_audio"))
    new_version = bump()
    second: list[Result] = []

    def deliver_again(key: str) -> None:
        if not second:
            second.append(process_video(db_session, storage, options, v.id))

    assert process_video(db_session, FlakyStorage(storage, 0, deliver_again), options, v.id).outcome is Outcome.READY
    assert [r.outcome for r in second] == [Outcome.BUSY]
    assert 0 < (second[0].retry_after or 0) <= options.stall_seconds + 1
    db_session.refresh(v)
    assert (v.pipeline_version, v.processing_attempts) == (new_version, 2)  # the first run and the upgrade only


def test_a_live_upgrade_is_never_given_up_by_another_delivery(
    db_session: Session, storage: LocalStorage, options: ProcessingOptions, bump: Callable[[], int]
) -> None:
    """Even on its last allowed attempt, a run whose heartbeat is fresh keeps its claim."""
    v = factories.video(db_session, uploader=factories.user(db_session, artist=True), pipeline_version=PIPELINE_VERSION,
                        processing_token="live-run", heartbeat_at=clock.now(),
                        processing_attempts=options.max_attempts)  # fmt: skip
    db_session.commit()
    bump()
    result = process_video(db_session, storage, options, v.id)
    assert result.outcome is Outcome.BUSY
    assert 0 < (result.retry_after or 0) <= options.stall_seconds + 1
    db_session.refresh(v)
    assert (v.status, v.processing_token, v.failure_code, v.processing_attempts) == (
        VideoStatus.READY, "live-run", None, options.max_attempts,
    )  # fmt: skip


def test_stall_detector_requeues_a_killed_upgrade_which_then_finishes(  # noqa: PLR0917 - pytest fixtures
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
    sender: RecordingSender,
) -> None:
    v = _ready(db_session, storage, options, clip("no_audio"))
    old_manifest, old_prefix = v.manifest, rendition_prefix(v.id)
    new_version = bump()
    now = clock.now()
    old = now - dt.timedelta(seconds=options.stall_seconds + 1)
    owner = factories.user(db_session, artist=True)
    # What a SIGKILLed upgrade run leaves: its claim with a stopped heartbeat, and half its upload.
    v.processing_token, v.heartbeat_at, v.processing_attempts = "dead-run", old, 1
    storage.put(f"{rendition_prefix(v.id)}/360p/seg_0000.m4s", b"half a segment")
    alive = factories.video(db_session, uploader=owner, pipeline_version=PIPELINE_VERSION,
                            processing_token="live-run", heartbeat_at=now, processing_attempts=1)  # fmt: skip
    worn_out = factories.video(db_session, uploader=owner, pipeline_version=PIPELINE_VERSION,
                               manifest={"prefix": f"public/videos/x/v{PIPELINE_VERSION}"},
                               processing_token="dead-again", heartbeat_at=old,
                               processing_attempts=options.max_attempts)  # fmt: skip
    db_session.commit()
    sender.sent.clear()

    assert requeue_stalled(db_session, options) == {"requeued": 1, "resent": 0, "failed": 1}
    for row in (v, alive, worn_out):
        db_session.refresh(row)
    assert (v.status, v.manifest, v.processing_token, v.is_live) == (VideoStatus.READY, old_manifest, None, True)
    assert (alive.status, alive.processing_token) == (VideoStatus.READY, "live-run")
    assert (worn_out.status, worn_out.failure_code, worn_out.processing_token) == (
        VideoStatus.READY, "processing_stalled", None,
    )  # fmt: skip
    assert worn_out.manifest == {"prefix": f"public/videos/x/v{PIPELINE_VERSION}"}
    assert [args for name, args, _ in sender.sent if name == "media.process_video"] == [(v.id,)]

    # The requeued job: the upgrade finishes, over whatever the killed run uploaded.
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert (v.status, v.pipeline_version, v.processing_attempts) == (VideoStatus.READY, new_version, 2)
    assert v.manifest is not None
    new_prefix = rendition_prefix(v.id)
    new_keys = sorted(f"{new_prefix}/{f}" for f in v.manifest["files"])
    assert storage.list_keys(new_prefix) == new_keys
    assert storage.get(f"{new_prefix}/360p/seg_0000.m4s") != b"half a segment"
    assert storage.list_keys(old_prefix) != []  # until the grace period is over
    with use_clock(FrozenClock(clock.now() + SUPERSEDED_GRACE + dt.timedelta(seconds=1))):
        assert sweep_superseded(db_session, storage) == 1
    assert storage.list_keys(f"public/videos/{v.id}") == new_keys


def test_a_redelivered_task_takes_over_a_killed_upgrade(
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
) -> None:
    v = _ready(db_session, storage, options, clip("no_audio"))
    new_version = bump()
    v.processing_token, v.processing_attempts = "dead-run", 1
    v.heartbeat_at = clock.now() - dt.timedelta(seconds=options.stall_seconds + 5)
    db_session.commit()
    assert process_video(db_session, storage, options, v.id).outcome is Outcome.READY
    db_session.refresh(v)
    assert (v.status, v.pipeline_version, v.processing_attempts, v.processing_token) == (
        VideoStatus.READY, new_version, 2, None,
    )  # fmt: skip


def test_deleting_a_video_during_its_upgrade_stops_the_run_and_leaves_no_files(
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    bump: Callable[[], int],
) -> None:
    v = _ready(db_session, storage, options, clip("no_audio"))
    owner = db_session.get(User, v.uploader_id)
    bump()
    deleted: list[str] = []

    def delete(key: str) -> None:  # the owner deletes it while the upgrade run uploads (this file still lands)
        if not deleted:
            delete_video(db_session, storage, owner, v.id)
            deleted.append(key)

    assert process_video(db_session, FlakyStorage(storage, 0, delete), options, v.id).outcome is Outcome.SUPERSEDED
    assert deleted
    db_session.refresh(v)
    assert v.deleted_at is not None
    assert (v.processing_token, v.pipeline_version, v.is_live) == (None, PIPELINE_VERSION, False)
    assert storage.list_keys(f"public/videos/{v.id}") == []


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


def test_the_sweep_keeps_what_plays_and_what_a_run_in_flight_writes(
    db_session: Session, storage: LocalStorage, bump: Callable[[], int]
) -> None:
    owner = factories.user(db_session, artist=True)
    playing = f"v{PIPELINE_VERSION}"
    v = factories.video(db_session, uploader=owner, pipeline_version=PIPELINE_VERSION,
                        renditions_sweep_at=clock.now() - dt.timedelta(seconds=1))  # fmt: skip
    v.manifest = {"prefix": f"public/videos/{v.id}/{playing}"}
    neighbour = factories.video(db_session, uploader=owner, renditions_sweep_at=None)
    bump()  # a newer pipeline is deployed and has begun upgrading this video
    in_flight = rendition_prefix(v.id)
    for key in (f"public/videos/{v.id}/v0/master.m3u8", f"public/videos/{v.id}/v0/360p/seg_0000.m4s",
                f"public/videos/{v.id}/{playing}/master.m3u8", f"{in_flight}/360p/seg_0000.m4s",
                f"public/videos/{neighbour.id}/v0/master.m3u8"):  # fmt: skip
        storage.put(key, b"x")
    db_session.commit()
    assert sweep_superseded(db_session, storage) == 1
    assert storage.list_keys(f"public/videos/{v.id}") == sorted(
        [f"{in_flight}/360p/seg_0000.m4s", f"public/videos/{v.id}/{playing}/master.m3u8"]
    )
    assert storage.exists(f"public/videos/{neighbour.id}/v0/master.m3u8")  # not due: untouched
    db_session.refresh(v)
    assert v.renditions_sweep_at is None
