"""Moderation over HTTP: the review queue and decisions (admins), reports (anyone signed in), resubmitting a
video after changes (its uploader), bans and the audit log (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field
from werkzeug.datastructures import FileStorage

from commerce.catalog.products import QUALIFICATION_NAMES
from core import extensions
from core.accounts.models import BrandQualification, QualificationKind, QualificationStatus
from media.models import ReviewState
from moderation import audit, bans, cases, qualifications, reports, review
from moderation.models import Decision, ModerationAction, QueueReason, Report, ReportReason, ReviewItem, Subject
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.api.links import LinkOut
from web.api.orders import OrderLineOut
from web.api.videos import VideoOut
from web.auth import require_current_user
from web.i18n import pick

TAGS = ["moderation"]

REASONS = {
    QueueReason.NEW_UPLOADER: ("新账号的视频，公开前先审核", "A new account's video, reviewed before it goes public"),
    QueueReason.SAMPLED: ("已公开，抽样复查", "Public already, drawn for a second look"),
    QueueReason.DUPLICATE: ("与其他用户的视频高度相似", "Closely matches another user's video"),
    QueueReason.RESUBMITTED: ("创作者已按要求修改", "The creator made the changes asked for"),
    QueueReason.EVERYONE: ("所有视频公开前都需审核", "Every video is reviewed before it goes public"),
    QueueReason.REPORTED: ("多位用户举报", "Reported by several users"),
    QueueReason.SUBMITTED: ("品牌提交的证照，待核验", "A brand's document, waiting to be checked"),
}
SUBJECTS = {
    Subject.VIDEO: ("视频", "Video"),
    Subject.COMMENT: ("评论", "Comment"),
    Subject.PRODUCT: ("商品", "Product"),
    Subject.ARTIST: ("艺人", "Artist"),
    Subject.QUALIFICATION: ("品牌资质", "Brand document"),
}
REPORT_REASONS = {
    ReportReason.SPAM: ("垃圾广告", "Spam"),
    ReportReason.FRAUD: ("虚假宣传或假货", "Fake claims or counterfeit goods"),
    ReportReason.INFRINGEMENT: ("侵权或搬运", "Someone else's work or trademark"),
    ReportReason.INAPPROPRIATE: ("低俗、暴力或仇恨内容", "Sexual, violent or hateful content"),
    ReportReason.PROHIBITED: ("违禁商品", "Goods that may not be sold"),
    ReportReason.OTHER: ("其他", "Something else"),
}


class QueueQuery(QueryModel):
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=20, ge=1, le=100)


class ItemOut(OutModel):
    id: int
    subject_type: Subject
    subject_id: int
    subject_text: str = Field(description="The kind of subject, in words")
    title: str = Field(description="The subject as reviewers read it (a video's title, a comment's text, ...)")
    video_id: int | None
    reason: QueueReason
    reason_text: str
    public_while_reviewed: bool = Field(description="Sampled or reported: it stays public while it is reviewed")
    matched_video_id: int | None
    similarity: float | None
    created_at: dt.datetime
    decision: Decision | None
    decided_at: dt.datetime | None
    note: str | None

    @classmethod
    def of(cls, item: ReviewItem, title: str) -> ItemOut:
        return cls(
            id=item.id, subject_type=item.subject_type, subject_id=item.subject_id,
            subject_text=pick(SUBJECTS, item.subject_type), title=title, video_id=item.video_id, reason=item.reason,
            reason_text=pick(REASONS, item.reason),
            public_while_reviewed=item.reason in (QueueReason.SAMPLED, QueueReason.REPORTED),
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


class OwnerOut(OutModel):
    id: int
    display_name: str
    is_artist: bool
    is_active: bool
    history: HistoryOut


class ReportOut(OutModel):
    id: int
    subject_type: Subject
    subject_id: int
    title: str
    reason: ReportReason
    reason_text: str
    note: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    outcome: Literal["upheld", "dismissed"] | None

    @classmethod
    def of(cls, r: Report, title: str) -> ReportOut:
        outcome = None if r.outcome is None else ("dismissed" if r.outcome is Decision.APPROVE else "upheld")
        return cls(id=r.id, subject_type=r.subject_type, subject_id=r.subject_id, title=title, reason=r.reason,
                   reason_text=pick(REPORT_REASONS, r.reason), note=r.note, created_at=r.created_at,
                   resolved_at=r.resolved_at, outcome=outcome)  # fmt: skip


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


class QualificationOut(OutModel):
    id: int
    brand_id: int
    kind: QualificationKind
    kind_text: str
    licence_number: str
    expires_on: dt.date | None
    status: QualificationStatus
    review_note: str | None
    created_at: dt.datetime
    content_type: str
    document_url: str | None = Field(description="Reviewers only: a link valid for 10 minutes")

    @classmethod
    def of(cls, q: BrandQualification, *, signed: bool = False) -> QualificationOut:
        url = extensions.storage().presigned_get_url(q.document_key, expires=600) if signed else None
        return cls(id=q.id, brand_id=q.brand_id, kind=q.kind, kind_text=pick(QUALIFICATION_NAMES, q.kind),
                   licence_number=q.licence_number, expires_on=q.expires_on, status=q.status,
                   review_note=q.review_note, created_at=q.created_at, content_type=q.content_type,
                   document_url=url)  # fmt: skip


class DetailOut(OutModel):
    item: ItemOut
    video: VideoOut | None = Field(description="The video under review, or the one a reported comment is on")
    review_state: ReviewState | None
    owner: OwnerOut | None = Field(description="Whose content it is, with their review record")
    matched_video: VideoOut | None
    products: list[LinkOut]
    reports: list[ReportOut]
    actions: list[ActionOut]
    document: QualificationOut | None = Field(description="A brand's submitted document, with a signed link")

    @classmethod
    def of(cls, d: review.ReviewDetail) -> DetailOut:
        title = d.info.title if d.info else ""
        owner = None
        if d.owner is not None and d.history is not None:
            h = d.history
            history = HistoryOut(videos=h.videos, approved=h.approved, rejected=h.rejected,
                                 changes_requested=h.changes_requested, joined_at=h.joined_at)  # fmt: skip
            owner = OwnerOut(id=d.owner.id, display_name=d.owner.display_name, is_artist=d.owner.is_artist,
                             is_active=d.owner.is_active, history=history)  # fmt: skip
        return cls(
            item=ItemOut.of(d.item, title),
            video=VideoOut.of(d.video, owner=True) if d.video else None,
            review_state=d.video.review_state if d.video and d.item.subject_type is Subject.VIDEO else None,
            owner=owner,
            matched_video=VideoOut.of(d.matched, owner=True) if d.matched else None,
            products=[LinkOut.of(lk) for lk in d.links],
            reports=[ReportOut.of(r, title) for r in d.reports],
            actions=[ActionOut.of(a) for a in d.actions],
            document=QualificationOut.of(d.document, signed=True) if d.document else None,
        )


class DecisionIn(ApiModel):
    decision: Literal["approve", "reject", "request_changes"]
    reason: str = Field(default="", max_length=500)


@bp.get("/admin/review-queue")
@endpoint(summary="The review queue, oldest first (admins)", tags=TAGS, query=QueueQuery, response=QueuePage,
          auth="required", errors=[403])  # fmt: skip
def review_queue_page(query: QueueQuery) -> QueuePage:
    s = extensions.session()
    items, cursor = review.queue(s, require_current_user(), cursor=query.cursor, limit=query.limit)
    titles = review.titles(s, items)
    return QueuePage(items=[ItemOut.of(i, titles[i.id]) for i in items], next_cursor=cursor)


@bp.get("/admin/review-queue/<int:item_id>")
@endpoint(summary="One review: the subject, its products, its owner's record, the match, the reports (admins)",
          tags=TAGS, response=DetailOut, auth="required", errors=[403, 404])  # fmt: skip
def review_detail_page(item_id: int) -> DetailOut:
    return DetailOut.of(review.review_detail(extensions.session(), require_current_user(), item_id))


@bp.post("/admin/review-queue/<int:item_id>/decision")
@endpoint(summary="Approve, reject (with a reason its owner sees) or ask for changes (videos) (admins)", tags=TAGS,
          body=DecisionIn, response=ItemOut, auth="required", errors=[403, 404, 409, 422])  # fmt: skip
def decide_review_item(item_id: int, body: DecisionIn) -> ItemOut:
    s = extensions.session()
    item = review.decide(s, require_current_user(), item_id, Decision(body.decision), body.reason)
    return ItemOut.of(item, review.titles(s, [item])[item.id])


@bp.post("/videos/<int:video_id>/resubmit")
@endpoint(summary="Send a video back to review after making the changes asked for (its uploader)", tags=TAGS,
          response=VideoOut, auth="required", errors=[404, 409])  # fmt: skip
def resubmit_video(video_id: int) -> VideoOut:
    return VideoOut.of(review.resubmit(extensions.session(), require_current_user(), video_id), owner=True)


class ReportIn(ApiModel):
    subject_type: Subject
    subject_id: int = Field(ge=1)
    reason: ReportReason
    note: str = Field(default="", max_length=500)


@bp.post("/reports")
@endpoint(summary="Report a video, comment, product or artist", tags=TAGS, body=ReportIn, response=ReportOut,
          status=201, auth="required", errors=[404, 409, 422])  # fmt: skip
def create_report(body: ReportIn) -> ReportOut:
    s = extensions.session()
    report = reports.file_report(s, require_current_user(), body.subject_type, body.subject_id, reason=body.reason,
                                 note=body.note, threshold=extensions.settings().review_report_threshold)  # fmt: skip
    return ReportOut.of(report, reports.subject_titles(s, [report])[report.id])


class ReportPage(OutModel):
    items: list[ReportOut]
    next_cursor: str | None


@bp.get("/me/reports")
@endpoint(summary="My reports and what came of them", tags=TAGS, query=QueueQuery, response=ReportPage,
          auth="required")  # fmt: skip
def my_reports(query: QueueQuery) -> ReportPage:
    s = extensions.session()
    items, cursor = reports.mine(s, require_current_user(), cursor=query.cursor, limit=query.limit)
    titles = reports.subject_titles(s, items)
    return ReportPage(items=[ReportOut.of(r, titles[r.id]) for r in items], next_cursor=cursor)


class QualificationQuery(QueryModel):
    kind: QualificationKind
    licence_number: str = Field(min_length=1, max_length=64)
    expires_on: dt.date | None = None


@bp.post("/brands/<int:brand_id>/qualifications")
@endpoint(summary="Submit a business licence or category qualification for review (brand members)", tags=TAGS,
          query=QualificationQuery, upload="file", response=QualificationOut, status=201, auth="required",
          errors=[403, 404, 413, 422])  # fmt: skip
def submit_qualification(brand_id: int, query: QualificationQuery, file: FileStorage) -> QualificationOut:
    """The file (JPG, PNG or PDF, up to 10 MB) goes in the multipart field `file`."""
    doc = qualifications.submit(extensions.session(), extensions.storage(), require_current_user(), brand_id,
                                kind=query.kind, licence_number=query.licence_number, expires_on=query.expires_on,
                                data=file.read(qualifications.MAX_BYTES + 1))  # fmt: skip
    return QualificationOut.of(doc)


@bp.get("/brands/<int:brand_id>/qualifications")
@endpoint(summary="The brand's submitted documents and their review (brand members)", tags=TAGS,
          response=list[QualificationOut], auth="required", errors=[403, 404])  # fmt: skip
def list_qualifications(brand_id: int) -> list[QualificationOut]:
    return [QualificationOut.of(q) for q in qualifications.of_brand(extensions.session(), require_current_user(),
                                                                    brand_id)]  # fmt: skip


class HoldIn(ApiModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=500)


@bp.post("/admin/holds/<int:line_id>/decision")
@endpoint(summary="Release an order line's held commissions, or forfeit them to the brand, with a reason (admins)",
          tags=TAGS, body=HoldIn, response=OrderLineOut, auth="required", errors=[403, 404, 409])  # fmt: skip
def decide_hold(line_id: int, body: HoldIn) -> OrderLineOut:
    line = cases.decide_hold(extensions.session(), require_current_user(), line_id, approve=body.approve,
                             reason=body.reason)  # fmt: skip
    return OrderLineOut.model_validate(line)


class BanIn(ApiModel):
    reason: str = Field(min_length=1, max_length=500)


class AccountOut(OutModel):
    id: int
    display_name: str
    is_active: bool


@bp.post("/admin/users/<int:user_id>/ban")
@endpoint(summary="Ban an account: signed out everywhere, it can no longer sign in (admins)", tags=TAGS, body=BanIn,
          response=AccountOut, auth="required", errors=[403, 404, 409])  # fmt: skip
def ban_user(user_id: int, body: BanIn) -> AccountOut:
    user = bans.ban(extensions.session(), require_current_user(), user_id, body.reason)
    return AccountOut(id=user.id, display_name=user.display_name, is_active=user.is_active)


@bp.post("/admin/users/<int:user_id>/unban")
@endpoint(summary="Lift a ban (admins)", tags=TAGS, body=BanIn, response=AccountOut, auth="required",
          errors=[403, 404])  # fmt: skip
def unban_user(user_id: int, body: BanIn) -> AccountOut:
    user = bans.unban(extensions.session(), require_current_user(), user_id, body.reason)
    return AccountOut(id=user.id, display_name=user.display_name, is_active=user.is_active)


class AuditQuery(QueryModel):
    subject_type: Literal["video", "comment", "product", "artist", "qualification", "user", "order_line"] | None = None
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
