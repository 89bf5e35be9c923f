"""The media task as Celery runs it (eagerly here): transient failures retry with backoff, bad input never."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.storage import StorageError
from core.storage.local import LocalStorage
from media.models import Video, VideoStatus
from tests import factories
from tests.media.clips import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("task-clips")


def _uploaded(db: Session, app: Flask, source: Path) -> Video:
    v = factories.uploaded_video(db, app.extensions["storage"], uploader=factories.user(db, artist=True), source=source)
    db.commit()
    return v


def test_transient_failure_is_retried_with_backoff_and_then_succeeds(
    app_ctx: Flask, db_session: Session, clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = _uploaded(db_session, app_ctx, make_clip("no_audio", clips))
    failures = []
    real_put = LocalStorage.put_file

    def put_file(self: LocalStorage, key: str, path: Path, content_type: str | None = None) -> None:
        if key.startswith("public/") and not failures:
            failures.append(key)
            raise StorageError("storage briefly unreachable")
        real_put(self, key, path, content_type)

    monkeypatch.setattr(LocalStorage, "put_file", put_file)
    task = app_ctx.extensions["celery"].tasks["media.process_video"]
    countdowns: list[int] = []
    real_retry = task.retry

    def retry(*args: object, **kwargs: object) -> object:
        countdowns.append(int(kwargs["countdown"]))  # type: ignore[call-overload]
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(task, "retry", retry)
    result = task.apply(args=(v.id,))
    assert result.get() == "ready"
    assert len(failures) == 1  # one rendition upload failed
    assert countdowns == [task.default_retry_delay]  # first retry: the base backoff
    db_session.refresh(v)
    assert (v.status, v.processing_attempts) == (VideoStatus.READY, 2)


def test_bad_input_is_not_retried(app_ctx: Flask, db_session: Session, clips: Path) -> None:
    v = _uploaded(db_session, app_ctx, make_clip("text_renamed", clips))
    task = app_ctx.extensions["celery"].tasks["media.process_video"]
    assert task.apply(args=(v.id,)).get() == "rejected"
    db_session.refresh(v)
    assert (v.status, v.failure_code, v.processing_attempts) == (VideoStatus.FAILED, "not_media", 1)
    # A second delivery of the same message changes nothing.
    assert task.apply(args=(v.id,)).get() == "skipped"


def test_tasks_are_routed_to_their_queues(app_ctx: Flask) -> None:
    celery = app_ctx.extensions["celery"]
    route = celery.amqp.router.route
    assert route({}, "media.process_video")["queue"].name == "media"
    # Only the search queue's single worker writes the embedded index.
    for writer in ("search.reconcile", "outbox.relay"):
        assert route({}, writer)["queue"].name == "search"
    task = celery.tasks["media.process_video"]
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)  # a killed worker's job is redelivered
    for periodic in ("videos.requeue_stalled", "uploads.cleanup_abandoned"):
        assert route({}, periodic)["queue"].name == "default"  # never stuck behind transcodes
        assert periodic in {entry["task"] for entry in celery.conf.beat_schedule.values()}
