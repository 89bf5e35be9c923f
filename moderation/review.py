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
from core import clock
from core.accounts.models import BrandQualification, User
from core.accounts.permissions import require_admin, require_user
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, register_messages
from core.outbox import Message
from core.pagination import keyset_page
from media import duplicates
from media.models import ReviewState, Video, VideoComment, VideoStatus
from media.videos import video_changed
from moderation import reports, subjects
from moderation.audit import record_action
from moderation.items import open_item
from moderation.models import Decision, ModerationAction, QueueReason, Report, ReviewItem, Subject

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
    item = open_item(session, Subject.VIDEO, video.id, reason)
    if match is not None:
        item.reason, item.matched_video_id, item.similarity = reason, match.video_id, round(match.similarity, 3)
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


def decide(session: Session, actor: User | None, item_id: int, decision: Decision, reason: str = "") -> ReviewItem:
    """A reviewer's decision on one open item: its effect on the subject, the reports it answers. Commits."""
    reviewer = require_admin(actor)
    reason = reason.strip()
    if decision is not Decision.APPROVE and not reason:
        raise ValidationFailed.one("reason", "review_reason_required")
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update())
    if item is None:
        raise NotFound("review")
    info = subjects.describe(session, item.subject_type, item.subject_id)
    if info is not None and reviewer.id in info.owner_ids:
        raise PermissionDenied("review_own_content")
    if item.decided_at is not None:
        raise Conflict("review_decided")
    subjects.apply(session, reviewer, item.subject_type, item.subject_id, decision=decision, reason=reason)
    item.decision, item.decided_by, item.decided_at, item.note = decision, reviewer.id, clock.now(), reason or None
    answered = reports.resolve(session, item, decision)
    record_action(session, reviewer, decision.value, item.subject_type.value, item.subject_id, reason=reason,
                  details={"review_item_id": item.id, "queue_reason": item.reason.value,
                           "reports_answered": answered})  # fmt: skip
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
    info: subjects.SubjectInfo | None  # None: the subject is gone
    video: Video | None  # the video itself, or the one a reported comment is on
    owner: User | None
    history: UploaderHistory | None
    matched: Video | None
    links: list[VideoProduct]
    reports: list[Report]
    actions: list[ModerationAction]
    document: BrandQualification | None = None  # a brand's submitted licence or qualification


def review_detail(session: Session, actor: User | None, item_id: int) -> ReviewDetail:
    """Everything a reviewer weighs: the subject (a video with its product cards), its owner's record, the video
    it copies, and what the reporters said."""
    item = get_item(session, actor, item_id)
    info = subjects.describe(session, item.subject_type, item.subject_id)
    video: Video | None = None
    if item.subject_type is Subject.VIDEO:
        video = session.get(Video, item.subject_id)
    elif item.subject_type is Subject.COMMENT:
        comment = session.get(VideoComment, item.subject_id)
        video = session.get(Video, comment.video_id) if comment else None
    owner = session.get(User, info.owner_ids[0]) if info and info.owner_ids else None
    cards = session.scalars(
        select(VideoProduct).where(VideoProduct.video_id == video.id).order_by(VideoProduct.position, VideoProduct.id)
    ).unique() if video is not None and item.subject_type is Subject.VIDEO else []  # fmt: skip
    log = session.scalars(
        select(ModerationAction)
        .where(ModerationAction.subject_type == item.subject_type.value, ModerationAction.subject_id == item.subject_id)
        .order_by(ModerationAction.id)
    )
    return ReviewDetail(
        item=item,
        info=info,
        video=video,
        owner=owner,
        history=uploader_history(session, owner) if owner is not None else None,
        matched=session.get(Video, item.matched_video_id) if item.matched_video_id else None,
        links=list(cards),
        reports=reports.of_subject(session, item.subject_type, item.subject_id),
        actions=list(log),
        document=session.get(BrandQualification, item.subject_id)
        if item.subject_type is Subject.QUALIFICATION
        else None,
    )


def titles(session: Session, items: Sequence[ReviewItem]) -> dict[int, str]:
    """Each item's subject as reviewers read it (by item id); a subject that is gone reads as empty."""
    return {item.id: subjects.title_of(session, item.subject_type, item.subject_id) for item in items}
