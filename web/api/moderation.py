"""Content review over HTTP: the queue and decisions (admins), resubmitting after changes (the creator)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from core import extensions
from media.models import ReviewState
from moderation import audit, review
from moderation.models import Decision, ModerationAction, QueueReason, ReviewItem
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.api.links import LinkOut
from web.api.videos import VideoOut
from web.auth import require_current_user
from web.i18n import get_locale

TAGS = ["moderation"]

REASONS = {
    QueueReason.NEW_UPLOADER: ("新账号的视频，公开前先审核", "A new account's video, reviewed before it goes public"),
    QueueReason.SAMPLED: ("已公开，抽样复查", "Public already, drawn for a second look"),
    QueueReason.DUPLICATE: ("与其他用户的视频高度相似", "Closely matches another user's video"),
    QueueReason.RESUBMITTED: ("创作者已按要求修改", "The creator made the changes asked for"),
    QueueReason.EVERYONE: ("所有视频公开前都需审核", "Every video is reviewed before it goes public"),
}


def _reason_text(reason: QueueReason) -> str:
    zh, en = REASONS[reason]
    return en if get_locale().startswith("en") else zh


class QueueQuery(QueryModel):
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class ItemOut(OutModel):
    id: int
    video_id: int
    video_title: str
    reason: QueueReason
    reason_text: str
    public_while_reviewed: bool = Field(description="Sampled: the video stays public while it is reviewed")
    matched_video_id: int | None
    similarity: float | None
    created_at: dt.datetime
    decision: Decision | None
    decided_at: dt.datetime | None
    note: str | None

    @classmethod
    def of(cls, item: ReviewItem, title: str) -> ItemOut:
        return cls(
            id=item.id, video_id=item.video_id, video_title=title, reason=item.reason,
            reason_text=_reason_text(item.reason), public_while_reviewed=item.reason is QueueReason.SAMPLED,
            matched_video_id=item.matched_video_id, similarity=item.similarity, created_at=item.created_at,
            decision=item.decision, decided_at=item.decided_at, note=item.note,
        )  # fmt: skip


class QueuePage(OutModel):
    items: list[ItemOut]
    next_cursor: str | None


class HistoryOut(OutModel):
    videos: int
    approved: int
    rejected: int
    changes_requested: int
    joined_at: dt.datetime


class UploaderOut(OutModel):
    id: int
    display_name: str
    is_artist: bool
    history: HistoryOut


class ActionOut(OutModel):
    id: int
    at: dt.datetime
    actor_id: int | None = Field(description="None: the review policy itself")
    action: str
    subject_type: str
    subject_id: int
    reason: str
    details: dict[str, Any]

    @classmethod
    def of(cls, a: ModerationAction) -> ActionOut:
        return cls(id=a.id, at=a.at, actor_id=a.actor_id, action=a.action, subject_type=a.subject_type,
                   subject_id=a.subject_id, reason=a.reason, details=a.details or {})  # fmt: skip


class DetailOut(OutModel):
    item: ItemOut
    video: VideoOut
    review_state: ReviewState
    uploader: UploaderOut
    matched_video: VideoOut | None
    products: list[LinkOut]
    actions: list[ActionOut]

    @classmethod
    def of(cls, d: review.ReviewDetail) -> DetailOut:
        return _detail_out(d)


class DecisionIn(ApiModel):
    decision: Literal["approve", "reject", "request_changes"]
    reason: str = Field(default="", max_length=500)


@bp.get("/admin/reviews")
@endpoint(summary="The review queue, oldest first (admins)", tags=TAGS, query=QueueQuery, response=QueuePage,
          auth="required", errors=[403])  # fmt: skip
def video_review_queue(query: QueueQuery) -> QueuePage:
    s = extensions.session()
    items, cursor = review.queue(s, require_current_user(), cursor=query.cursor, limit=query.limit)
    titles = review.titles(s, [i.video_id for i in items])
    return QueuePage(items=[ItemOut.of(i, titles.get(i.video_id, "")) for i in items], next_cursor=cursor)


@bp.get("/admin/reviews/<int:item_id>")
@endpoint(summary="One review: the video, its products, the uploader's record, the match (admins)", tags=TAGS,
          response=DetailOut, auth="required", errors=[403, 404])  # fmt: skip
def video_review(item_id: int) -> DetailOut:
    return DetailOut.of(review.review_detail(extensions.session(), require_current_user(), item_id))


def _detail_out(d: review.ReviewDetail) -> DetailOut:
    h = d.history
    return DetailOut(
        item=ItemOut.of(d.item, d.video.title),
        video=VideoOut.of(d.video, owner=True),
        review_state=d.video.review_state,
        uploader=UploaderOut(id=d.uploader.id, display_name=d.uploader.display_name, is_artist=d.uploader.is_artist,
                             history=HistoryOut(videos=h.videos, approved=h.approved, rejected=h.rejected,
                                                changes_requested=h.changes_requested, joined_at=h.joined_at)),
        matched_video=VideoOut.of(d.matched, owner=True) if d.matched else None,
        products=[LinkOut.of(lk) for lk in d.links],
        actions=[ActionOut.of(a) for a in d.actions],
    )  # fmt: skip


@bp.post("/admin/reviews/<int:item_id>/decision")
@endpoint(summary="Approve, reject (with a reason the creator sees) or ask for changes (admins)", tags=TAGS,
          body=DecisionIn, response=ItemOut, auth="required", errors=[403, 404, 409, 422])  # fmt: skip
def decide_video_review(item_id: int, body: DecisionIn) -> ItemOut:
    s = extensions.session()
    item = review.decide(s, require_current_user(), item_id, Decision(body.decision), body.reason)
    return ItemOut.of(item, review.titles(s, [item.video_id]).get(item.video_id, ""))


@bp.post("/videos/<int:video_id>/resubmit")
@endpoint(summary="Send a video back to review after making the changes asked for (its uploader)", tags=TAGS,
          response=VideoOut, auth="required", errors=[404, 409])  # fmt: skip
def resubmit_video(video_id: int) -> VideoOut:
    return VideoOut.of(review.resubmit(extensions.session(), require_current_user(), video_id), owner=True)


class AuditQuery(QueryModel):
    subject_type: Literal["video", "comment", "product", "user", "brand"] | None = None
    subject_id: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class AuditPage(OutModel):
    items: list[ActionOut]
    next_cursor: str | None


@bp.get("/admin/audit")
@endpoint(summary="The moderation audit log, newest first (admins)", tags=TAGS, query=AuditQuery,
          response=AuditPage, auth="required", errors=[403])  # fmt: skip
def audit_log(query: AuditQuery) -> AuditPage:
    items, cursor = audit.history(extensions.session(), require_current_user(), subject_type=query.subject_type,
                                  subject_id=query.subject_id, cursor=query.cursor, limit=query.limit)  # fmt: skip
    return AuditPage(items=[ActionOut.of(a) for a in items], next_cursor=cursor)
