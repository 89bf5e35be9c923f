"""Uploads and videos over HTTP: resumable chunks (embedded store) and presigned parts straight to S3,
ownership, limits, the video resource with progress / failure / playback, edits, requeue, listing, delete."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.db import Database
from core.errors import ValidationFailed
from core.outbox import OutboxEvent
from core.settings import Settings
from core.storage import ObjectStorage
from core.tasks import RecordingSender
from media import uploads
from media import videos as video_service
from media.models import Upload, UploadStatus, Video, VideoStatus, Visibility
from media.processing import Outcome, ProcessingOptions, process_video, rendition_prefix
from tests import factories
from tests.conftest import make_settings
from tests.media.clips import make_clip
from tests.media.conftest import SMALL
from tests.web.test_auth import token_for

KiB = 1024


def _start(client: FlaskClient, headers: dict[str, str], data: bytes, **extra: Any) -> Any:
    body = {
        "size": len(data),
        "content_type": "video/mp4",
        "checksum_sha256": hashlib.sha256(data).hexdigest(),
        "filename": "IMG_0001.MOV",
        "title": "夏日穿搭",
        "hashtags": ["#OOTD", "夏日"],
        **extra,
    }
    return client.post("/api/v1/uploads", json=body, headers=headers)


def _chunk(client: FlaskClient, headers: dict[str, str], upload_id: str, offset: int, data: bytes, **h: str) -> Any:
    return client.put(
        f"/api/v1/uploads/{upload_id}/chunk",
        data=data,
        headers={**headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **h},
    )


@pytest.fixture
def artist(db_session: Session) -> User:
    return factories.user(db_session, artist=True)


@pytest.fixture(scope="module")
def portrait_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip("portrait", tmp_path_factory.mktemp("clips"))


@pytest.fixture
def options(app: Flask, tmp_path: Path) -> ProcessingOptions:
    return ProcessingOptions.from_settings(app.config["SETTINGS"], pipeline=SMALL, work_dir=tmp_path / "work")


def test_chunked_upload_resumes_after_a_dropped_connection_then_plays(  # noqa: PLR0917 - pytest fixtures
    client: FlaskClient,
    app: Flask,
    db_session: Session,
    artist: User,
    sender: RecordingSender,
    options: ProcessingOptions,
    portrait_clip: Path,
) -> None:
    data = portrait_clip.read_bytes()
    h = token_for(client, artist)
    r = _start(client, h, data)
    assert r.status_code == 201, r.get_json()
    up = r.get_json()
    assert (up["mode"], up["offset"], up["status"]) == ("chunks", 0, "active")
    assert up["chunk_url"].endswith(f"/api/v1/uploads/{up['id']}/chunk")
    a, b = 64 * KiB, 160 * KiB

    r = _chunk(client, h, up["id"], 0, data[:a])
    assert (r.status_code, r.get_json()["offset"], r.headers["Upload-Offset"]) == (200, a, str(a))
    # The next chunk arrives, but the client never sees the answer (the connection dropped) ...
    _chunk(client, h, up["id"], a, data[a:b])
    # ... so it resends from where it believes it was: refused with the server's real offset.
    r = _chunk(client, h, up["id"], a, data[a:b])
    assert r.status_code == 409
    assert r.get_json()["code"] == "upload_offset_mismatch"
    assert r.headers["Upload-Offset"] == str(b)
    # A client that restarted asks (GET or HEAD) and continues there.
    assert client.head(f"/api/v1/uploads/{up['id']}", headers=h).headers["Upload-Offset"] == str(b)
    assert client.get(f"/api/v1/uploads/{up['id']}", headers=h).get_json()["offset"] == b
    r = client.post(f"/api/v1/uploads/{up['id']}/complete", headers=h)
    assert (r.status_code, r.get_json()["code"]) == (409, "upload_incomplete")
    checksum = base64.b64encode(hashlib.sha256(data[b:]).digest()).decode()
    r = _chunk(client, h, up["id"], b, data[b:], **{"Upload-Checksum": f"sha256 {checksum}"})
    assert r.get_json()["offset"] == len(data)

    sender.sent.clear()
    r = client.post(f"/api/v1/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 202, r.get_json()
    video = r.get_json()
    assert (video["id"], video["status"], video["progress"]["stage"]) == (up["video_id"], "uploaded", "queued")
    assert video["hashtags"] == ["ootd", "夏日"]
    assert video["publish_on_ready"] is True
    assert ("media.process_video", (up["video_id"],), {}) in sender.sent  # enqueued once the commit happened
    store: ObjectStorage = app.extensions["storage"]
    row = db_session.get(Video, up["video_id"])
    assert row is not None
    assert store.get(row.original_key or "") == data

    assert process_video(db_session, store, options, up["video_id"]).outcome is Outcome.READY
    app.extensions["outbox"].drain(db_session)  # the relay: moderation screens the ready video (nobody waits here)
    r = client.get(f"/api/v1/videos/{up['video_id']}", headers=h)
    body = r.get_json()
    assert (body["status"], body["is_live"], body["width"], body["height"]) == ("ready", True, 540, 960)
    assert body["progress"]["percent"] == 100.0
    assert body["failure"] is None
    assert set(body["playback"]) == {"hls", "mp4", "poster", "storyboard", "storyboard_image", "preview"}
    # The embedded store serves the renditions publicly; anyone can play a live video.
    anonymous = client.get(f"/api/v1/videos/{up['video_id']}").get_json()
    assert anonymous["playback"] == body["playback"]
    assert anonymous["manifest"] is None
    path = body["playback"]["hls"].split("://", 1)[1].split("/", 1)[1]
    master = client.get("/" + path)
    assert master.status_code == 200
    assert b"#EXT-X-STREAM-INF" in master.data
    # Completing again (a retried request after a lost response) changes nothing.
    assert client.post(f"/api/v1/uploads/{up['id']}/complete", headers=h).status_code == 202


def test_only_artists_and_brand_members_upload_and_only_the_uploader_touches_it(
    client: FlaskClient, db_session: Session, artist: User
) -> None:
    viewer = factories.user(db_session)
    member = factories.user(db_session)
    multi = factories.user(db_session)
    brand = factories.brand(db_session, owner=factories.user(db_session), members=[member, multi])
    factories.brand(db_session, members=[multi])
    other_brand = factories.brand(db_session)
    data = os.urandom(1000)

    r = _start(client, token_for(client, viewer), data)
    assert (r.status_code, r.get_json()["code"]) == (403, "uploader_only")
    assert _start(client, {}, data).status_code == 401
    r = _start(client, token_for(client, member), data)
    assert r.status_code == 201
    assert db_session.get(Video, r.get_json()["video_id"]).brand_id == brand.id  # type: ignore[union-attr]
    r = _start(client, token_for(client, multi), data)
    assert (r.status_code, r.get_json()["errors"][0]["field"]) == (422, "brand_id")
    assert _start(client, token_for(client, multi), data, brand_id=brand.id).status_code == 201
    assert _start(client, token_for(client, artist), data, brand_id=other_brand.id).status_code == 403

    mine = _start(client, token_for(client, artist), data).get_json()["id"]
    stranger = token_for(client, member)
    assert client.get(f"/api/v1/uploads/{mine}", headers=stranger).status_code == 404
    assert _chunk(client, stranger, mine, 0, data).status_code == 404
    assert client.post(f"/api/v1/uploads/{mine}/complete", headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/uploads/{mine}", headers=stranger).status_code == 404


def test_limits_and_bad_input_are_refused_clearly(client: FlaskClient, app: Flask, artist: User) -> None:
    h = token_for(client, artist)
    limit = app.config["SETTINGS"].upload_max_bytes
    r = _start(client, h, b"x", size=limit + 1)
    assert (r.status_code, r.get_json()["code"]) == (413, "upload_too_large")
    assert _start(client, h, b"", size=0).get_json()["errors"][0]["code"] == "empty_file"
    assert (
        _start(client, h, b"x", content_type="text/plain").get_json()["errors"][0]["code"] == "unsupported_content_type"
    )
    assert _start(client, h, b"x", checksum_sha256="z" * 64).get_json()["errors"][0]["code"] == "invalid_checksum"

    data = os.urandom(10 * KiB)
    up = _start(client, h, data).get_json()
    r = _chunk(client, h, up["id"], 0, data + b"extra")
    assert r.get_json()["errors"][0]["code"] == "chunk_exceeds_size"
    r = _chunk(client, h, up["id"], 0, data, **{"Upload-Checksum": "sha256 " + base64.b64encode(b"0" * 32).decode()})
    assert r.get_json()["errors"][0]["code"] == "chunk_checksum_mismatch"
    assert _chunk(client, h, up["id"], 0, b"").get_json()["errors"][0]["code"] == "empty_chunk"
    r = client.put(f"/api/v1/uploads/{up['id']}/chunk", data=data, headers={**h, "Upload-Offset": "-1"})
    assert r.status_code == 422
    assert client.get(f"/api/v1/uploads/{up['id']}", headers=h).get_json()["offset"] == 0  # nothing was lost


@pytest.mark.parametrize("title", ["", "   ", "\u3000\t"])
def test_a_blank_title_is_refused_and_the_file_name_is_not_used(
    client: FlaskClient, app: Flask, db_session: Session, artist: User, title: str
) -> None:
    h = token_for(client, artist)
    for lang, sentence in (("zh-CN", "请填写标题"), ("en", "The title is required")):
        r = _start(client, {**h, "Accept-Language": lang}, b"x" * 100, title=title)
        assert r.status_code == 422
        (error,) = r.get_json()["errors"]
        assert (error["field"], error["message"]) == ("title", sentence)
    # The service refuses it too, whoever calls it: not stored under the file's name.
    storage = app.extensions["storage"]
    policy = uploads.UploadPolicy.from_settings(app.config["SETTINGS"])
    with pytest.raises(ValidationFailed) as err:
        uploads.start_upload(db_session, storage, artist, policy=policy, size=100, content_type="video/mp4",
                             checksum_sha256="a" * 64, title=title, filename="IMG_0001.MOV")  # fmt: skip
    assert [(f.field, f.code) for f in err.value.fields] == [("title", "title_required")]
    assert err.value.fields[0].render("zh-CN")["message"] == "请填写视频标题（不会用文件名代替）"
    assert db_session.scalar(select(Video).where(Video.title == "IMG_0001")) is None
    video = factories.video(db_session, uploader=artist, title="原标题")
    with pytest.raises(ValidationFailed):
        video_service.update_video(db_session, artist, video.id, title=title)
    r = client.patch(f"/api/v1/videos/{video.id}", json={"title": title}, headers={**h, "Accept-Language": "en"})
    assert (r.status_code, r.get_json()["errors"][0]["message"]) == (422, "The title is required")


def test_cancel_and_abandoned_upload_cleanup(
    client: FlaskClient, app: Flask, db_session: Session, artist: User
) -> None:
    h = token_for(client, artist)
    store: ObjectStorage = app.extensions["storage"]
    data = os.urandom(20 * KiB)
    cancelled = _start(client, h, data).get_json()
    assert client.delete(f"/api/v1/uploads/{cancelled['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/videos/{cancelled['video_id']}", headers=h).status_code == 404
    assert _chunk(client, h, cancelled["id"], 0, data).get_json()["code"] == "upload_not_active"

    abandoned = _start(client, h, data).get_json()
    _chunk(client, h, abandoned["id"], 0, data[: 5 * KiB])
    row = db_session.get(Upload, abandoned["id"])
    assert row is not None
    assert len(store.list_parts(row.storage_key, row.multipart_id)) == 1
    future = clock.FrozenClock(clock.now() + dt.timedelta(seconds=app.config["SETTINGS"].upload_abandon_seconds + 1))
    with clock.use_clock(future):
        assert uploads.expire_abandoned(db_session, store) >= 1
    db_session.refresh(row)
    assert row.status is UploadStatus.EXPIRED
    with pytest.raises(KeyError):
        store.list_parts(row.storage_key, row.multipart_id)  # the parts are gone
    video = client.get(f"/api/v1/videos/{abandoned['video_id']}", headers=h).get_json()
    assert (video["status"], video["failure"]["code"]) == ("failed", "upload_expired")


def _ready_video(
    db: Session, owner: User, *, status: VideoStatus = VideoStatus.READY, published: bool = True, **kw: Any
) -> Video:
    v = factories.video(db, uploader=owner, published=published)
    v.status = status
    for name, value in kw.items():
        setattr(v, name, value)
    db.flush()
    return v


def test_video_resource_shows_progress_and_failures_to_the_owner_only(
    client: FlaskClient, db_session: Session, artist: User
) -> None:
    h = token_for(client, artist)
    other = token_for(client, factories.user(db_session))
    working = _ready_video(
        db_session, artist, status=VideoStatus.PROCESSING, published=False, progress_stage="transcoding",
        progress_percent=42.5, progress_speed=3.1, progress_eta_seconds=8.0, heartbeat_at=clock.now(),
    )  # fmt: skip
    body = client.get(f"/api/v1/videos/{working.id}", headers=h).get_json()
    assert body["progress"] == {
        "stage": "transcoding",
        "percent": 42.5,
        "speed": 3.1,
        "eta_seconds": 8.0,
        "updated_at": body["progress"]["updated_at"],
    }
    assert body["stalled"] is False
    assert body["playback"] is None
    assert client.get(f"/api/v1/videos/{working.id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/videos/{working.id}").status_code == 404

    failed = _ready_video(
        db_session, artist, status=VideoStatus.FAILED, published=False, failure_code="too_long",
        failure_message="the video is 700.0 s long; the limit is 600 s",
    )  # fmt: skip
    body = client.get(f"/api/v1/videos/{failed.id}?lang=en", headers=h).get_json()
    assert body["failure"] == {
        "code": "too_long",
        "message": "The video is longer than allowed",
        "detail": "the video is 700.0 s long; the limit is 600 s",
        "retryable": False,  # the file itself was rejected: processing it again cannot help
    }
    zh = client.get(f"/api/v1/videos/{failed.id}", headers=h).get_json()
    assert zh["failure"]["message"] == "视频时长超过上限"


def test_edit_publish_unpublish_and_outbox(client: FlaskClient, db_session: Session, artist: User) -> None:
    h = token_for(client, artist)
    v = _ready_video(db_session, artist, published=False)
    before = len(list(db_session.scalars(select(OutboxEvent).where(OutboxEvent.entity_id == str(v.id)))))
    r = client.patch(
        f"/api/v1/videos/{v.id}", json={"title": "新标题", "hashtags": ["#Sale"], "publish": True}, headers=h
    )
    body = r.get_json()
    assert (body["title"], body["hashtags"], body["is_live"]) == ("新标题", ["sale"], True)
    assert client.get(f"/api/v1/videos/{v.id}").status_code == 200  # live for everyone now
    r = client.patch(f"/api/v1/videos/{v.id}", json={"publish": False, "visibility": "private"}, headers=h)
    assert (r.get_json()["is_live"], r.get_json()["published_at"]) == (False, None)
    assert client.get(f"/api/v1/videos/{v.id}").status_code == 404
    events = list(db_session.scalars(select(OutboxEvent).where(OutboxEvent.entity_id == str(v.id))))
    assert len(events) == before + 2
    assert {e.topic for e in events} == {"video"}
    stranger = token_for(client, factories.user(db_session))
    assert client.patch(f"/api/v1/videos/{v.id}", json={"title": "x"}, headers=stranger).status_code == 404
    r = client.patch(f"/api/v1/videos/{v.id}", json={"title": ""}, headers=h)
    assert r.status_code == 422


def test_requeue_failed_or_stalled_by_uploader_or_admin(
    client: FlaskClient, db_session: Session, artist: User, sender: RecordingSender
) -> None:
    h = token_for(client, artist)
    failed = _ready_video(
        db_session, artist, status=VideoStatus.FAILED, published=False, failure_code="processing_error",
        original_key="originals/x/y", processing_attempts=5,
    )  # fmt: skip
    assert client.get(f"/api/v1/videos/{failed.id}", headers=h).get_json()["failure"]["retryable"] is True
    sender.sent.clear()
    r = client.post(f"/api/v1/videos/{failed.id}/requeue", headers=h)
    assert r.status_code == 202
    assert (r.get_json()["status"], r.get_json()["failure"], r.get_json()["processing_attempts"]) == (
        "uploaded",
        None,
        0,
    )
    assert ("media.process_video", (failed.id,), {}) in sender.sent
    ready = _ready_video(db_session, artist)
    assert client.post(f"/api/v1/videos/{ready.id}/requeue", headers=h).get_json()["code"] == "not_requeueable"
    stalled = _ready_video(
        db_session, artist, status=VideoStatus.PROCESSING, published=False, processing_token="dead",
        heartbeat_at=clock.now() - dt.timedelta(hours=1),
    )  # fmt: skip
    assert client.get(f"/api/v1/videos/{stalled.id}", headers=h).get_json()["stalled"] is True
    admin = token_for(client, factories.user(db_session, admin=True))
    assert client.post(f"/api/v1/videos/{stalled.id}/requeue", headers=admin).status_code == 202
    member = token_for(client, factories.user(db_session))
    again = _ready_video(db_session, artist, status=VideoStatus.FAILED, published=False, original_key="k")
    assert client.post(f"/api/v1/videos/{again.id}/requeue", headers=member).status_code == 404


def test_my_videos_newest_first_with_a_cursor(client: FlaskClient, db_session: Session, artist: User) -> None:
    h = token_for(client, artist)
    ids = []
    for i in range(5):
        with clock.use_clock(clock.FrozenClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i))):
            ids.append(_ready_video(db_session, artist, title=f"v{i}").id)
    _ready_video(db_session, factories.user(db_session, artist=True))  # someone else's
    page = client.get("/api/v1/me/videos?limit=3", headers=h).get_json()
    assert [v["id"] for v in page["items"]] == ids[::-1][:3]
    rest = client.get(f"/api/v1/me/videos?limit=3&cursor={page['next_cursor']}", headers=h).get_json()
    assert [v["id"] for v in rest["items"]] == ids[::-1][3:]
    assert rest["next_cursor"] is None
    assert client.get("/api/v1/me/videos?status=failed", headers=h).get_json()["items"] == []
    assert client.get("/api/v1/me/videos?cursor=garbage", headers=h).status_code == 400


def test_delete_removes_files_and_tells_search(
    client: FlaskClient, app: Flask, db_session: Session, artist: User
) -> None:
    h = token_for(client, artist)
    store: ObjectStorage = app.extensions["storage"]
    v = _ready_video(db_session, artist, original_key="originals/del/orig")
    store.put(f"{rendition_prefix(v.id)}/master.m3u8", b"#EXTM3U\n")
    store.put(f"originals/{v.id}/orig", b"bytes")
    stranger = token_for(client, factories.user(db_session))
    assert client.delete(f"/api/v1/videos/{v.id}", headers=stranger).status_code == 403  # live: visible, not theirs
    assert client.delete(f"/api/v1/videos/{v.id}", headers=h).status_code == 204
    assert client.get(f"/api/v1/videos/{v.id}", headers=h).status_code == 404
    assert store.list_keys(f"public/videos/{v.id}") == []
    assert store.list_keys(f"originals/{v.id}") == []
    last = db_session.scalars(
        select(OutboxEvent).where(OutboxEvent.entity_id == str(v.id)).order_by(OutboxEvent.id.desc())
    ).first()
    assert last is not None
    assert last.op == "delete"


# -- S3: parts go straight to S3 through presigned URLs ---------------------------------------


@pytest.fixture
def s3_client(s3_endpoint: str, database_url: str, db_session: Session, tmp_path: Path) -> Iterator[FlaskClient]:
    from core.storage.s3 import S3Storage
    from web import create_app

    settings: Settings = make_settings(
        tmp_path,
        database_url=database_url,
        storage_url=f"s3://xl-uploads-{uuid.uuid4().hex[:8]}/media",
        s3_endpoint_url=s3_endpoint,
        upload_part_bytes=5 * 1024 * 1024,
    )
    app = create_app(settings)
    store = app.extensions["storage"]
    assert isinstance(store, S3Storage)
    store.ensure_bucket()
    database: Database = app.extensions["db"]
    database.session_factory, database.owns_sessions = (lambda: db_session), False
    yield app.test_client()
    database.dispose()


def test_s3_multipart_upload_goes_straight_to_s3_and_resumes(
    s3_client: FlaskClient, db_session: Session, artist: User
) -> None:
    h = token_for(s3_client, artist)
    part = 5 * 1024 * 1024
    data = os.urandom(2 * part + 123_456)
    up = _start(s3_client, h, data, content_type="video/quicktime", visibility="private", publish=False).get_json()
    assert (up["mode"], up["part_size"], up["chunk_url"], up["parts"]) == ("multipart", part, None, [])
    urls = s3_client.post(f"/api/v1/uploads/{up['id']}/parts", json={"part_numbers": [1, 2, 3]}, headers=h).get_json()
    by_number = {p["part_number"]: p["url"] for p in urls["parts"]}
    assert all(u.startswith("http://127.0.0.1") for u in by_number.values())  # S3 itself, not our API
    assert requests.put(by_number[1], data=data[:part], timeout=30).status_code == 200
    assert requests.put(by_number[3], data=data[2 * part :], timeout=30).status_code == 200
    # Part 2 was lost with the connection: the upload says so, and completing is refused.
    state = s3_client.get(f"/api/v1/uploads/{up['id']}", headers=h).get_json()
    assert state["offset"] == part
    assert [p["part_number"] for p in state["parts"]] == [1, 3]
    r = s3_client.post(f"/api/v1/uploads/{up['id']}/complete", headers=h)
    assert (r.status_code, r.get_json()["code"]) == (409, "upload_incomplete")
    assert requests.put(by_number[2], data=data[part : 2 * part], timeout=30).status_code == 200
    r = s3_client.post(f"/api/v1/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 202, r.get_json()
    video = db_session.get(Video, up["video_id"])
    assert video is not None
    assert video.visibility is Visibility.PRIVATE
    assert video.publish_on_ready is False
    store = s3_client.application.extensions["storage"]
    assert store.get(video.original_key) == data
    bad = s3_client.post(f"/api/v1/uploads/{up['id']}/parts", json={"part_numbers": [9]}, headers=h)
    assert bad.status_code == 409  # the upload is complete


def test_part_numbers_are_checked(s3_client: FlaskClient, artist: User) -> None:
    h = token_for(s3_client, artist)
    up = _start(s3_client, h, os.urandom(1000)).get_json()
    r = s3_client.post(f"/api/v1/uploads/{up['id']}/parts", json={"part_numbers": [2]}, headers=h)
    assert r.get_json()["errors"][0]["code"] == "invalid_part_number"
    r = s3_client.put(f"/api/v1/uploads/{up['id']}/chunk", data=b"x", headers={**h, "Upload-Offset": "0"})
    assert r.get_json()["code"] == "wrong_upload_mode"
