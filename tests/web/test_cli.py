"""Operator commands (`flask --app web <command>`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from flask import Flask
from sqlalchemy.orm import Session

from core import clock
from core.tasks import RecordingSender
from media.models import Video, VideoStatus
from media.pipelines.config import PIPELINE_VERSION
from tests import factories
from tests.conftest import make_settings


def test_storage_cors_opens_the_bucket_to_the_site(tmp_path: Path, s3_endpoint: str) -> None:
    from web import create_app

    settings = make_settings(
        tmp_path,
        storage_url="s3://xl-cli-cors/prod",
        s3_endpoint_url=s3_endpoint,
        public_base_url="https://m.xinglian.example/",
    )
    app = create_app(settings)
    app.extensions["storage"].ensure_bucket()
    result = app.test_cli_runner().invoke(args=["storage-cors"])
    assert result.exit_code == 0, result.output
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert s3.get_bucket_cors(Bucket="xl-cli-cors")["CORSRules"][0]["AllowedOrigins"] == ["https://m.xinglian.example"]


def test_storage_cors_refuses_the_embedded_store(tmp_path: Path) -> None:
    from web import create_app

    result = create_app(make_settings(tmp_path)).test_cli_runner().invoke(args=["storage-cors"])
    assert result.exit_code != 0
    assert "STORAGE_URL" in result.output


def test_reprocess_outdated_queues_the_ready_videos_an_older_pipeline_made(
    app_ctx: Flask, db_session: Session, sender: RecordingSender
) -> None:
    owner = factories.user(db_session, artist=True)
    older = PIPELINE_VERSION - 1

    def video(**kw: Any) -> Video:
        return factories.video(db_session, uploader=owner, **kw)

    first = video(pipeline_version=older, processing_attempts=3)
    unpublished = video(pipeline_version=older, published=False)
    # Never queued: current, deleted, failed, never made by the pipeline (demo rows), an upgrade running now.
    video(pipeline_version=PIPELINE_VERSION)
    video(pipeline_version=older, deleted_at=clock.now())
    video(pipeline_version=older).status = VideoStatus.FAILED
    video(pipeline_version=None)
    video(pipeline_version=older, processing_token="upgrading", heartbeat_at=clock.now())
    abandoned = video(pipeline_version=older, failure_code="transcode_failed")
    db_session.commit()
    runner = app_ctx.test_cli_runner()

    def queued() -> list[tuple[Any, ...]]:
        jobs = sorted(args for name, args, _ in sender.sent if name == "media.process_video")
        sender.sent.clear()
        return jobs

    result = runner.invoke(args=["reprocess-outdated"])
    assert result.exit_code == 0, result.output
    assert f"queued 2 videos for pipeline v{PIPELINE_VERSION}" in result.output
    assert "1 whose last upgrade gave up were left out" in result.output
    assert queued() == [(first.id,), (unpublished.id,)]
    db_session.refresh(first)
    assert first.processing_attempts == 0  # a new job: its stalls count from zero
    assert (first.status, first.pipeline_version) == (VideoStatus.READY, older)  # queued, not touched otherwise

    result = runner.invoke(args=["reprocess-outdated", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "queued 1 videos" in result.output
    assert queued() == [(first.id,)]

    result = runner.invoke(args=["reprocess-outdated", "--retry-abandoned"])
    assert result.exit_code == 0, result.output
    assert "queued 3 videos" in result.output
    assert "left out" not in result.output
    assert queued() == [(first.id,), (unpublished.id,), (abandoned.id,)]
