"""Duplicate uploads: a finished video's fingerprint is stored and compared with earlier videos of other accounts.

The comparison runs in the transaction that makes the video ready, so a copy is never public
before its match is known. Candidates come from the lookup keys (an index scan, not a pass over
every video); only the few that share the most keys are compared frame by frame. Only earlier
videos (lower id) count as originals: the later upload is the copy, and an upgrade of an old
video never turns the original into the suspect.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from media.models import Video, VideoFingerprint, VideoFingerprintKey
from media.pipelines.fingerprint import MATCH_SHARE, Fingerprint, lookup_keys, query_keys, similarity

# Candidates compared frame by frame, the ones sharing most keys first.
CANDIDATES = 20


@dataclass(frozen=True)
class DuplicateMatch:
    video_id: int
    similarity: float


def record(session: Session, video: Video, fingerprint: Fingerprint) -> DuplicateMatch | None:
    """Store `video`'s fingerprint and keys (replacing an earlier run's) and return its match, if any."""
    session.execute(delete(VideoFingerprintKey).where(VideoFingerprintKey.video_id == video.id))
    session.execute(delete(VideoFingerprint).where(VideoFingerprint.video_id == video.id))
    match = find_match(session, video, fingerprint)
    session.add(
        VideoFingerprint(
            video_id=video.id,
            frames=fingerprint.to_bytes(),
            informative=fingerprint.informative,
            match_video_id=match.video_id if match else None,
            match_similarity=round(match.similarity, 3) if match else None,
        )
    )
    keys = lookup_keys(fingerprint.frames)
    if keys:
        session.execute(insert(VideoFingerprintKey), [{"key": k, "video_id": video.id} for k in sorted(keys)])
    return match


def find_match(session: Session, video: Video, fingerprint: Fingerprint) -> DuplicateMatch | None:
    keys = query_keys(fingerprint)
    if not keys:
        return None  # nothing but flat frames: nothing to tell it apart by
    shared = func.count().label("shared")
    candidates = session.execute(
        select(VideoFingerprintKey.video_id, shared)
        .join(Video, Video.id == VideoFingerprintKey.video_id)
        .where(
            VideoFingerprintKey.key.in_(sorted(keys)),
            Video.id < video.id,
            Video.uploader_id != video.uploader_id,
            Video.deleted_at.is_(None),
        )
        .group_by(VideoFingerprintKey.video_id)
        .order_by(shared.desc(), VideoFingerprintKey.video_id)
        .limit(CANDIDATES)
    ).all()
    if not candidates:
        return None
    stored = session.execute(
        select(VideoFingerprint.video_id, VideoFingerprint.frames).where(
            VideoFingerprint.video_id.in_([c.video_id for c in candidates])
        )
    ).all()
    scored = [(similarity(fingerprint, Fingerprint.stored(frames)), -vid) for vid, frames in stored]
    best = max(scored, default=None)
    if best is None or best[0] < MATCH_SHARE:
        return None
    return DuplicateMatch(video_id=-best[1], similarity=best[0])


def match_of(session: Session, video_id: int) -> DuplicateMatch | None:
    """The earlier video this one was found to copy, for reviewers."""
    row = session.execute(
        select(VideoFingerprint.match_video_id, VideoFingerprint.match_similarity).where(
            VideoFingerprint.video_id == video_id, VideoFingerprint.match_video_id.is_not(None)
        )
    ).one_or_none()
    if row is None:
        return None
    return DuplicateMatch(video_id=row[0], similarity=row[1] or 0.0)
