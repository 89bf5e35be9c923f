"""A real worker is SIGKILLed mid-transcode; after a restart the job completes correctly and nothing
partial is ever visible — over Redis (the message is redelivered) and over the embedded SQLite broker
(the message dies with the worker, so the stall detector requeues the job)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from core.storage import ObjectStorage
from media.models import Video, VideoStatus
from media.processing import ProcessingOptions, rendition_prefix, requeue_stalled
from tests import factories
from tests.celery_worker import celery_worker, wait_until
from tests.conftest import REDIS_URL, make_settings, migrate
from tests.media.clips import ffmpeg
from tests.media.test_runner import _running, _wait_gone
from tests.media.verify import check_ladder

CLIP_SECONDS = 16.0


def _media_settings(settings: Settings, tmp_path: Path, **overrides: object) -> Settings:
    return settings.model_copy(
        update={
            "storage_url": f"file://{tmp_path / 'storage'}",
            "media_work_dir": str(tmp_path / "work"),
            "media_ladder": "540:1600,360:700",
            "media_heartbeat_seconds": 0.3,
            # Also ffmpeg's no-output limit: short enough to requeue quickly, long enough for a loaded machine.
            "media_stall_seconds": 10,
            **overrides,
        }
    )


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kill") / "long.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=540x960:r=30:d={CLIP_SECONDS}",
        "-f", "lavfi", "-i", f"sine=d={CLIP_SECONDS}",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out),
    )  # fmt: skip
    return out


def _kill_mid_transcode_and_recover(
    settings: Settings, source: Path, recover: Callable[[Database, ProcessingOptions], None]
) -> None:
    from web import create_app

    app = create_app(settings)
    db: Database = app.extensions["db"]
    storage: ObjectStorage = app.extensions["storage"]
    work = Path(settings.media_work_dir)
    with db.session() as s:
        video = factories.uploaded_video(s, storage, uploader=factories.user(s, artist=True), source=source)
        s.commit()
        video_id = video.id
    prefix = rendition_prefix(video_id)

    def row() -> Video:
        with db.session() as s:
            v = s.scalar(select(Video).where(Video.id == video_id))
            assert v is not None
            s.expunge(v)
            return v

    with celery_worker(settings, queues="media,default", name="media-a") as first:
        app.extensions["celery"].send_task("media.process_video", args=(video_id,))
        wait_until(
            lambda: row().progress_stage == "transcoding" and (row().progress_percent or 0) >= 45,
            timeout=120,
            message=f"transcoding under way; worker said:\n{first.output()[-3000:]}",
        )
        assert any(work.rglob("seg_*.m4s")), "the run should have written partial segments by now"
        first.kill()  # SIGKILL the whole worker process group, as a crash or an OOM kill would
    _wait_gone(str(work))  # its ffmpeg died with it (PR_SET_PDEATHSIG), no orphan keeps writing

    # Mid-transcode and dead: nothing was published, the API shows no playback.
    dead = row()
    assert dead.status is VideoStatus.PROCESSING
    assert dead.manifest is None
    assert storage.list_keys(prefix) == []

    options = ProcessingOptions.from_settings(settings)
    with celery_worker(settings, queues="media,default", name="media-b") as second:
        recover(db, options)
        wait_until(
            lambda: row().status is VideoStatus.READY,
            timeout=180,
            message=f"job completed after restart; worker said:\n{second.output()[-3000:]}",
        )
        assert "media.process_video" in second.output()
        # READY is committed inside the run and its work directory goes in the task's `finally` just after.
        # Wait for that here: leaving this block SIGTERMs the worker, and the SystemExit billiard raises in
        # the pool child would cut a cleanup in progress short.
        wait_until(lambda: not any(work.iterdir()), timeout=30, message="every run's work directory removed")

    done = row()
    assert done.processing_attempts == 2  # the killed run and the one that finished
    assert done.manifest is not None
    assert done.published_at is not None
    # Exactly the finished run's files, no leftovers of the killed one, anywhere.
    assert storage.list_keys(prefix) == sorted(f"{prefix}/{f}" for f in done.manifest["files"])
    assert list(work.iterdir()) == []
    assert _running(str(work)) == []
    fetched = work.parent / "fetched"
    for key in storage.list_keys(prefix):
        dest = fetched / key.removeprefix(prefix + "/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        storage.download(key, dest)
    check_ladder(
        fetched, done.manifest, source_duration=CLIP_SECONDS, expect_audio=True, expect_sizes=[(540, 960), (360, 640)]
    )
    db.dispose()


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_killed_worker_over_redis_is_redelivered_and_completes(
    committed_db: Database, settings: Settings, long_clip: Path, tmp_path: Path
) -> None:
    media = _media_settings(
        settings,
        tmp_path,
        celery_broker_url=REDIS_URL,
        celery_key_prefix=f"xltest-{uuid.uuid4().hex[:8]}:",
        # Redis hands an unacknowledged message out again this long after delivering it.
        celery_visibility_timeout=8,
    )

    def redelivery(_db: Database, _options: ProcessingOptions) -> None:
        """Nothing to do: the broker redelivers the killed worker's unacknowledged task by itself."""

    _kill_mid_transcode_and_recover(media, long_clip, redelivery)


@pytest.mark.slow
def test_killed_worker_over_the_sqlite_broker_is_requeued_by_the_stall_detector(
    long_clip: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    migrate(url)
    media = _media_settings(
        make_settings(tmp_path, database_url=url, celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"),
        tmp_path,
    )

    def stall_detector(db: Database, options: ProcessingOptions) -> None:
        """What the beat job does every minute: a stopped heartbeat means a dead run; queue it again."""
        wait_until(
            lambda: _requeued(db, options), timeout=60, interval=0.5, message="stalled job requeued by the detector"
        )

    _kill_mid_transcode_and_recover(media, long_clip, stall_detector)


def _requeued(db: Database, options: ProcessingOptions) -> bool:
    with db.session() as s:  # the app's database: its sessions publish through the app's Celery
        return requeue_stalled(s, options)["requeued"] == 1
