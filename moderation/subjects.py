"""What a review decision does to each kind of subject, and how each is named to reviewers and reporters.

A video is held, cleared, rejected or sent back (its uploader is told); a comment is kept or taken down; a
product is kept or taken off sale; an artist is kept or banned (signed out everywhere). The reviewer may never
decide on their own content: their upload, comment, brand's product, or themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog.models import Product, ProductStatus
from commerce.catalog.products import QUALIFICATION_NAMES, changed, set_status
from commerce.notifications.service import notify, register_templates
from core.accounts.models import Brand, BrandMember, BrandQualification, User
from core.errors import NotFound, ValidationFailed, register_messages
from media import comments
from media.models import ReviewState, Video, VideoComment
from media.videos import video_changed
from moderation import qualifications
from moderation.models import Decision, Subject

register_messages(
    {
        "decision_not_applicable": (
            "只有视频可以要求修改，其他内容请通过或驳回",
            "Only a video can be sent back for changes; approve or reject anything else",
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
        "comment_taken_down": ("你的评论已被删除：{reason}", "Your comment was taken down: {reason}"),
        "product_taken_down": (
            "商品「{title}」已被下架：{reason}",
            "The product “{title}” was taken off sale: {reason}",
        ),
        "account_banned": ("你的账号已被封禁：{reason}", "Your account was banned: {reason}"),
        "qualification_approved": ("资质「{title}」已通过审核", "Your document “{title}” was approved"),
        "qualification_rejected": (
            "资质「{title}」未通过审核：{reason}",
            "Your document “{title}” was not approved: {reason}",
        ),
    }
)


@dataclass(frozen=True)
class SubjectInfo:
    title: str  # what reviewers and reporters read
    owner_ids: list[int]  # whose content it is: they may not review it, and they hear the decision
    link: str


def _video(session: Session, subject_id: int) -> SubjectInfo | None:
    video = session.get(Video, subject_id)
    if video is None or video.deleted_at is not None:
        return None
    return SubjectInfo(video.title, [video.uploader_id], f"/v/{video.id}")


def _comment(session: Session, subject_id: int) -> SubjectInfo | None:
    comment = session.get(VideoComment, subject_id)
    return None if comment is None else SubjectInfo(comment.body[:80], [comment.author_id], f"/v/{comment.video_id}")


def _product(session: Session, subject_id: int) -> SubjectInfo | None:
    product = session.get(Product, subject_id)
    if product is None:
        return None
    members = session.scalars(select(BrandMember.user_id).where(BrandMember.brand_id == product.brand_id))
    return SubjectInfo(product.name, list(members), f"/p/{product.id}")


def _artist(session: Session, subject_id: int) -> SubjectInfo | None:
    user = session.get(User, subject_id)
    return (
        None if user is None or not user.is_artist else SubjectInfo(user.display_name, [user.id], f"/artists/{user.id}")
    )


def _qualification(session: Session, subject_id: int) -> SubjectInfo | None:
    doc = session.get(BrandQualification, subject_id)
    brand = session.get(Brand, doc.brand_id) if doc else None
    if doc is None or brand is None:
        return None
    members = session.scalars(select(BrandMember.user_id).where(BrandMember.brand_id == doc.brand_id))
    title = f"{brand.name} · {QUALIFICATION_NAMES[doc.kind][0]} {doc.licence_number}"
    return SubjectInfo(title, list(members), "/brand#qualifications")


_DESCRIBE = {Subject.VIDEO: _video, Subject.COMMENT: _comment, Subject.PRODUCT: _product, Subject.ARTIST: _artist,
             Subject.QUALIFICATION: _qualification}  # fmt: skip


def describe(session: Session, subject: Subject, subject_id: int) -> SubjectInfo | None:
    """None when it does not exist (or no longer does)."""
    return _DESCRIBE[subject](session, subject_id)


def title_of(session: Session, subject: Subject, subject_id: int) -> str:
    """The subject as reviewers and reporters read it; one that is gone reads as empty."""
    info = describe(session, subject, subject_id)
    return info.title if info else ""


def apply(
    session: Session, reviewer: User, subject: Subject, subject_id: int, *, decision: Decision, reason: str
) -> None:
    """The decision's effect on the subject, in the caller's transaction; its owners are told."""
    info = describe(session, subject, subject_id)
    if info is None:
        raise NotFound(subject.value)
    if subject is not Subject.VIDEO and decision is Decision.REQUEST_CHANGES:
        raise ValidationFailed.one("decision", "decision_not_applicable")
    params = {"title": info.title, "reason": reason}
    if subject is Subject.VIDEO:
        _apply_to_video(session, subject_id, decision, reason, info)
    elif decision is Decision.REJECT and subject is Subject.COMMENT:
        comment = session.get(VideoComment, subject_id)
        assert comment is not None
        if comments.take_down(session, comment, by=reviewer):
            notify(session, info.owner_ids, "comment_taken_down", params, link=info.link)
    elif decision is Decision.REJECT and subject is Subject.PRODUCT:
        product = session.get(Product, subject_id)
        assert product is not None
        set_status(session, product, ProductStatus.ARCHIVED)
        changed(session, product)
        notify(session, info.owner_ids, "product_taken_down", params, link=info.link)
    elif decision is Decision.REJECT and subject is Subject.ARTIST:
        ban(session, subject_id)
        notify(session, info.owner_ids, "account_banned", params)
    elif subject is Subject.QUALIFICATION:
        approved = decision is Decision.APPROVE
        qualifications.decide(session, subject_id, approve=approved, note=reason)
        kind = "qualification_approved" if approved else "qualification_rejected"
        notify(session, info.owner_ids, kind, params, link=info.link)


_VIDEO_OUTCOME = {
    Decision.APPROVE: (ReviewState.CLEARED, "video_approved"),
    Decision.REJECT: (ReviewState.REJECTED, "video_rejected"),
    Decision.REQUEST_CHANGES: (ReviewState.CHANGES_REQUESTED, "video_changes_requested"),
}


def _apply_to_video(session: Session, video_id: int, decision: Decision, reason: str, info: SubjectInfo) -> None:
    video = session.scalar(select(Video).where(Video.id == video_id).with_for_update())
    assert video is not None
    state, notice = _VIDEO_OUTCOME[decision]
    if decision is Decision.APPROVE and video.review_state is ReviewState.CLEARED:
        return  # a sampled or reported video that was fine: nothing changes, nobody needs telling
    video.review_state = state
    video.review_note = reason or None
    notify(session, info.owner_ids, notice, {"title": video.title, "reason": reason},
           link=f"/studio/videos/{video.id}")  # fmt: skip
    video_changed(session, video)  # out of (or into) the index through the outbox


def ban(session: Session, user_id: int) -> User:
    """Deactivate an account and end every session and token it has (in the caller's transaction)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    user.is_active = False
    user.auth_version += 1
    return user
