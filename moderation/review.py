"""Content review (星炼把关): which videos wait for a reviewer, and what a reviewer's decision does.

A new video starts `pending`, which no listing shows. When its ready event reaches moderation (the outbox),
the policy screens it once: an account with a record of approved videos is post-moderated (cleared at once,
a share of its videos sampled into the queue for a second look); a new account, or a copy of another
uploader's video, is pre-moderated (held in the queue). A reviewer approves, rejects with a reason the
creator sees, or asks for changes; a rejection takes the video out of the index at once (the outbox) and
keeps its files for an appeal. Every step is written to the append-only audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog.models import VideoProduct
from commerce.notifications.service import notify, register_templates
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_admin, require_user
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, register_messages
from core.outbox import Message
from core.pagination import keyset_page
from media import duplicates
from media.models import ReviewState, Video, VideoStatus
from media.videos import video_changed
from moderation.audit import record_action
from moderation.models import Decision, ModerationAction, QueueReason, ReviewItem

Mode = Literal["everyone", "new_accounts", "nobody"]
TOPIC = "video"

register_messages(
    {
        "review_own_content": ("不能审核自己上传的内容", "You cannot review your own content"),
        "review_decided": ("这条审核已经处理过了", "This review has already been decided"),
        "review_reason_required": ("驳回或要求修改时请写明原因", "Say why when you reject or ask for changes"),
        "review_not_resubmittable": (
            "只有被要求修改的视频可以重新提交审核",
            "Only a video a reviewer asked you to change can be resubmitted",
        ),
    }
)
register_templates(
    {
        "video_approved": ("你的视频「{title}」已通过审核，已公开", "Your video “{title}” passed review and is public"),
        "video_rejected": ("你的视频「{title}」未通过审核：{reason}", "Your video “{title}” was rejected: {reason}"),
        "video_changes_requested": (
            "你的视频「{title}」需要修改后再提交：{reason}",
            "Your video “{title}” needs changes before it can go public: {reason}",
        ),
    }
)


@dataclass(frozen=True)
class ReviewPolicy:
    mode: Mode = "new_accounts"
    trusted_after: int = 3  # approved videos before an account's uploads go public without waiting
    sample_bp: int = 1000  # of a trusted account's videos, this share (basis points) gets a second look
    rejection_memory_days: int = 30  # a rejection this recent makes an account new again

    def is_sampled(self, video_id: int) -> bool:
        # Deterministic per video, so replaying its events draws the same way.
        draw = int.from_bytes(hashlib.sha256(f"review-sample:{video_id}".encode()).digest()[:4], "big") % 10_000
        return draw < self.sample_bp


def is_trusted(session: Session, uploader_id: int, policy: ReviewPolicy) -> bool:
    decided = (
        select(ReviewItem.decision, func.count(), func.max(ReviewItem.decided_at))
        .join(Video, Video.id == ReviewItem.video_id)
        .where(Video.uploader_id == uploader_id, ReviewItem.decision.in_([Decision.APPROVE, Decision.REJECT]))
        .group_by(ReviewItem.decision)
    )
    counts = {decision: (n, last) for decision, n, last in session.execute(decided)}
    approved = counts.get(Decision.APPROVE, (0, None))[0]
    last_rejection = counts.get(Decision.REJECT, (0, None))[1]
    recent = last_rejection is not None and last_rejection > clock.now() - dt.timedelta(
        days=policy.rejection_memory_days
    )
    return approved >= policy.trusted_after and not recent


def screen_events(session: Session, messages: Sequence[Message], policy: ReviewPolicy) -> None:
    """The outbox consumer: screen each video that became ready and has not been screened."""
    for video_id in sorted({int(m.entity_id) for m in messages if m.op == "upsert"}):
        screen(session, video_id, policy)
    session.commit()


def screen(session: Session, video_id: int, policy: ReviewPolicy) -> ReviewState | None:
    """Decide once where a ready, pending video goes; None when there is nothing to decide."""
    video = session.scalar(
        select(Video)
        .where(Video.id == video_id, Video.review_state == ReviewState.PENDING, Video.status == VideoStatus.READY,
               Video.deleted_at.is_(None))
        .with_for_update()
    )  # fmt: skip
    if video is None:
        return None
    match = duplicates.match_of(session, video_id)
    if match is not None:
        reason = QueueReason.DUPLICATE
    elif policy.mode == "everyone":
        reason = QueueReason.EVERYONE
    elif policy.mode == "new_accounts" and not is_trusted(session, video.uploader_id, policy):
        reason = QueueReason.NEW_UPLOADER
    else:
        reason = QueueReason.SAMPLED if policy.mode != "nobody" and policy.is_sampled(video_id) else None
    state = ReviewState.CLEARED if reason in (None, QueueReason.SAMPLED) else ReviewState.HELD
    video.review_state = state
    if reason is not None:
        _open_item(session, video, reason, match)
    evidence = {"match_video_id": match.video_id, "similarity": match.similarity} if match else {}
    why = reason.value if reason else "trusted account"
    record_action(session, None, "screen_" + state.value, "video", video.id, reason=why, details=evidence)
    video_changed(session, video)
    return state


def _open_item(
    session: Session, video: Video, reason: QueueReason, match: duplicates.DuplicateMatch | None = None
) -> ReviewItem:
    item = session.scalar(select(ReviewItem).where(ReviewItem.video_id == video.id, ReviewItem.decided_at.is_(None)))
    if item is None:
        item = ReviewItem(video_id=video.id, reason=reason)
        session.add(item)
    if match is not None:
        item.reason, item.matched_video_id, item.similarity = reason, match.video_id, round(match.similarity, 3)
    session.flush()
    return item


def queue(
    session: Session, actor: User | None, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[ReviewItem], str | None]:
    """Open items, oldest first: held videos (nobody sees them yet) come before sampled ones."""
    require_admin(actor)
    stmt = select(ReviewItem).where(ReviewItem.decided_at.is_(None))
    return keyset_page(session, stmt, [(ReviewItem.id, False)], lambda i: [i.id], cursor=cursor, limit=limit)


def get_item(session: Session, actor: User | None, item_id: int) -> ReviewItem:
    require_admin(actor)
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound("review")
    return item


@dataclass(frozen=True)
class UploaderHistory:
    videos: int
    approved: int
    rejected: int
    changes_requested: int
    joined_at: dt.datetime


def uploader_history(session: Session, uploader: User) -> UploaderHistory:
    decided = dict(
        session.execute(
            select(ReviewItem.decision, func.count())
            .join(Video, Video.id == ReviewItem.video_id)
            .where(Video.uploader_id == uploader.id, ReviewItem.decision.is_not(None))
            .group_by(ReviewItem.decision)
        ).all()
    )
    videos = session.scalar(select(func.count()).where(Video.uploader_id == uploader.id, Video.deleted_at.is_(None)))
    return UploaderHistory(
        videos=videos or 0,
        approved=decided.get(Decision.APPROVE, 0),
        rejected=decided.get(Decision.REJECT, 0),
        changes_requested=decided.get(Decision.REQUEST_CHANGES, 0),
        joined_at=uploader.created_at,
    )


_OUTCOME = {
    Decision.APPROVE: (ReviewState.CLEARED, "video_approved"),
    Decision.REJECT: (ReviewState.REJECTED, "video_rejected"),
    Decision.REQUEST_CHANGES: (ReviewState.CHANGES_REQUESTED, "video_changes_requested"),
}


def decide(session: Session, actor: User | None, item_id: int, decision: Decision, reason: str = "") -> ReviewItem:
    """A reviewer's decision on one open item. Commits."""
    reviewer = require_admin(actor)
    reason = reason.strip()
    if decision is not Decision.APPROVE and not reason:
        raise ValidationFailed.one("reason", "review_reason_required")
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update())
    if item is None:
        raise NotFound("review")
    video = session.scalar(select(Video).where(Video.id == item.video_id).with_for_update())
    assert video is not None  # the item goes with its video (ON DELETE CASCADE)
    if video.uploader_id == reviewer.id:
        raise PermissionDenied("review_own_content")
    if item.decided_at is not None:
        raise Conflict("review_decided")
    state, notice = _OUTCOME[decision]
    item.decision, item.decided_by, item.decided_at, item.note = decision, reviewer.id, clock.now(), reason or None
    video.review_state = state
    video.review_note = reason or None
    record_action(session, reviewer, decision.value, "video", video.id, reason=reason,
                  details={"review_item_id": item.id, "queue_reason": item.reason.value})  # fmt: skip
    notify(session, [video.uploader_id], notice, {"title": video.title, "reason": reason},
           link=f"/studio/videos/{video.id}")  # fmt: skip
    video_changed(session, video)  # out of (or into) the index through the outbox
    session.commit()
    return item


def resubmit(session: Session, actor: User | None, video_id: int) -> Video:
    """The creator made the changes asked for: the video waits for a reviewer again. Commits."""
    user = require_user(actor)
    video = session.scalar(select(Video).where(Video.id == video_id, Video.deleted_at.is_(None)).with_for_update())
    if video is None or video.uploader_id != user.id:
        raise NotFound("video")
    if video.review_state is not ReviewState.CHANGES_REQUESTED:
        raise Conflict("review_not_resubmittable")
    video.review_state = ReviewState.HELD
    _open_item(session, video, QueueReason.RESUBMITTED)
    record_action(session, user, "resubmit", "video", video.id, reason=video.review_note or "")
    video_changed(session, video)
    session.commit()
    return video


def clear_as_platform(session: Session, video_ids: Sequence[int]) -> int:
    """Clear videos the platform itself published (the demo's), without a queue item; logged. Commits."""
    videos = session.scalars(
        select(Video).where(Video.id.in_(video_ids), Video.review_state != ReviewState.CLEARED).with_for_update()
    ).all()
    for video in videos:
        video.review_state = ReviewState.CLEARED
        record_action(session, None, "clear_platform_content", "video", video.id, reason="platform demo content")
        video_changed(session, video)
    session.commit()
    return len(videos)


@dataclass(frozen=True)
class ReviewDetail:
    item: ReviewItem
    video: Video
    uploader: User
    history: UploaderHistory
    matched: Video | None
    links: list[VideoProduct]
    actions: list[ModerationAction]


def review_detail(session: Session, actor: User | None, item_id: int) -> ReviewDetail:
    """Everything a reviewer weighs: the video, its product cards, the uploader's record, the video it copies."""
    item = get_item(session, actor, item_id)
    video = session.get(Video, item.video_id)
    uploader = session.get(User, video.uploader_id) if video else None
    assert video is not None
    assert uploader is not None
    cards = session.scalars(
        select(VideoProduct).where(VideoProduct.video_id == video.id).order_by(VideoProduct.position, VideoProduct.id)
    ).unique()
    log = session.scalars(
        select(ModerationAction)
        .where(ModerationAction.subject_type == "video", ModerationAction.subject_id == video.id)
        .order_by(ModerationAction.id)
    )
    return ReviewDetail(
        item=item,
        video=video,
        uploader=uploader,
        history=uploader_history(session, uploader),
        matched=session.get(Video, item.matched_video_id) if item.matched_video_id else None,
        links=list(cards),
        actions=list(log),
    )


def titles(session: Session, video_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Video.id, Video.title).where(Video.id.in_(list(video_ids))))
    return {video_id: title for video_id, title in rows}
