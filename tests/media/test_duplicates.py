"""Duplicate uploads found at the flip to ready: only an earlier video of another account is an original."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import clock
from core.storage.local import LocalStorage
from media import duplicates
from media.models import VideoFingerprint, VideoFingerprintKey
from media.pipelines import fingerprint as fp
from media.processing import Outcome, ProcessingOptions, process_video
from tests import factories
from tests.media.clips import H264, ffmpeg
from tests.media.test_fingerprint import clip_of, picture

SEEDS = list(range(10))


def mirrored() -> fp.Fingerprint:
    return fp.Fingerprint.from_thumbnails(picture(s)[:, ::-1] for s in SEEDS)


def test_a_copy_by_another_account_matches_the_earlier_video(db_session: Session) -> None:
    alice, bob = factories.user(db_session, artist=True), factories.user(db_session, artist=True)
    original, copy = factories.video(db_session, uploader=alice), factories.video(db_session, uploader=bob)
    unrelated = factories.video(db_session, uploader=bob)
    assert duplicates.record(db_session, original, clip_of(SEEDS)) is None  # nothing earlier to copy
    match = duplicates.record(db_session, copy, mirrored())
    assert match is not None
    assert match.video_id == original.id
    assert match.similarity >= fp.MATCH_SHARE
    assert duplicates.record(db_session, unrelated, clip_of(list(range(40, 50)))) is None
    shown = duplicates.match_of(db_session, copy.id)
    assert shown is not None
    assert shown.video_id == original.id
    assert duplicates.match_of(db_session, original.id) is None


def test_own_reuploads_later_originals_and_deleted_videos_are_not_matches(db_session: Session) -> None:
    alice, bob = factories.user(db_session, artist=True), factories.user(db_session, artist=True)
    first = factories.video(db_session, uploader=alice)
    again = factories.video(db_session, uploader=alice)
    duplicates.record(db_session, first, clip_of(SEEDS))
    assert duplicates.record(db_session, again, clip_of(SEEDS)) is None  # the same account re-posting its own
    # An older video processed again (an upgrade) after a newer copy exists is not the copy.
    older = factories.video(db_session, uploader=bob)
    newer = factories.video(db_session, uploader=alice)
    duplicates.record(db_session, newer, clip_of(list(range(20, 30))))
    assert duplicates.record(db_session, older, clip_of(list(range(20, 30)))) is None
    # A deleted original is no longer one.
    first.deleted_at = again.deleted_at = clock.now()
    db_session.flush()
    late = factories.video(db_session, uploader=bob)
    assert duplicates.record(db_session, late, clip_of(SEEDS)) is None


def test_recording_again_replaces_the_fingerprint_and_its_keys(db_session: Session) -> None:
    v = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    duplicates.record(db_session, v, clip_of(SEEDS))
    duplicates.record(db_session, v, clip_of(list(range(60, 70))))
    rows = db_session.scalars(select(VideoFingerprint).where(VideoFingerprint.video_id == v.id)).all()
    assert [r.frames for r in rows] == [clip_of(list(range(60, 70))).to_bytes()]
    keys = set(db_session.scalars(select(VideoFingerprintKey.key).where(VideoFingerprintKey.video_id == v.id)))
    assert keys == fp.lookup_keys(clip_of(list(range(60, 70))).frames)


def test_processing_stores_the_fingerprint_and_finds_a_reupload_by_another_account(
    db_session: Session,
    storage: LocalStorage,
    options: ProcessingOptions,
    clip: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    source = clip("portrait")
    copy = tmp_path / "copy.mp4"
    ffmpeg("-i", str(source), "-vf", "hflip,scale=360:640", *H264, "-crf", "30", "-c:a", "copy", str(copy))
    alice, bob = factories.user(db_session, artist=True), factories.user(db_session, artist=True)
    first = factories.uploaded_video(db_session, storage, uploader=alice, source=source)
    second = factories.uploaded_video(db_session, storage, uploader=bob, source=copy)
    db_session.commit()
    assert process_video(db_session, storage, options, first.id).outcome is Outcome.READY
    assert process_video(db_session, storage, options, second.id).outcome is Outcome.READY
    assert db_session.scalar(select(func.count()).select_from(VideoFingerprint)) == 2
    match = duplicates.match_of(db_session, second.id)
    assert match is not None
    assert match.video_id == first.id
    assert duplicates.match_of(db_session, first.id) is None
