"""The demo videos go through the real upload services and the real pipeline."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.tasks import RecordingSender
from media.demo import DEMO_VIDEOS, seed_demo_videos
from media.models import Video, VideoStatus
from media.pipelines.tools import Tools
from media.processing import Outcome, ProcessingOptions, process_video
from media.uploads import UploadPolicy
from tests import factories


def test_demo_videos_are_uploaded_queued_and_play(
    app_ctx: Flask, db_session: Session, tools: Tools, sender: RecordingSender, tmp_path: Path
) -> None:
    settings = app_ctx.config["SETTINGS"]
    storage = app_ctx.extensions["storage"]
    artist = factories.user(db_session, artist=True)
    owner = factories.user(db_session)
    factories.brand(db_session, owner=owner)
    db_session.commit()
    summary = seed_demo_videos(
        db_session, storage, tools, policy=UploadPolicy.from_settings(settings), artist=artist, brand_owner=owner
    )
    videos = list(db_session.scalars(select(Video).where(Video.uploader_id.in_([artist.id, owner.id]))))
    assert len(videos) == len(DEMO_VIDEOS)
    assert "uploaded" in summary[0]
    assert all(v.status is VideoStatus.UPLOADED for v in videos)
    assert sorted(args for name, args, _ in sender.sent if name == "media.process_video") == sorted(
        (v.id,) for v in videos
    )
    # The media worker's job, with production settings: the 540x960 clip becomes a 540p + 360p ladder.
    first = videos[0]
    options = ProcessingOptions.from_settings(settings, work_dir=tmp_path / "work")
    assert process_video(db_session, storage, options, first.id).outcome is Outcome.READY
    db_session.refresh(first)
    assert first.status is VideoStatus.READY
    assert not first.is_live  # the demo's seeding (web/demo.py) clears its own videos; these are not cleared
    assert first.manifest is not None
    assert [r["name"] for r in first.manifest["renditions"]] == ["540p", "360p"]
