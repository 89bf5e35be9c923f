"""Reports: one per user and subject, a queue item once enough different users agree, every reporter told the
outcome; what a decision does to a comment, a product and an artist; bans."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from commerce.catalog.models import ProductStatus
from commerce.notifications.models import Notification
from core.accounts import service as accounts
from core.accounts.models import User
from core.errors import Conflict, DomainError, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from media import comments
from moderation import bans, reports, review
from moderation.models import Decision, QueueReason, Report, ReportReason, ReviewItem, Subject
from tests import factories


@pytest.fixture
def admin(db_session: Session) -> User:
    return factories.user(db_session, admin=True)


def _report(session: Session, subject: Subject, subject_id: int, n: int, threshold: int = 3) -> list[User]:
    people = [factories.user(session) for _ in range(n)]
    for person in people:
        reports.file_report(session, person, subject, subject_id, reason=ReportReason.FRAUD, note="假货",
                            threshold=threshold)  # fmt: skip
    return people


def _item(session: Session, subject: Subject, subject_id: int) -> ReviewItem | None:
    return session.scalar(
        select(ReviewItem).where(ReviewItem.subject_type == subject, ReviewItem.subject_id == subject_id)
    )


def _kinds(session: Session, user: User) -> list[str]:
    return list(session.scalars(select(Notification.kind).where(Notification.user_id == user.id)))


def test_enough_different_reporters_queue_a_subject_and_each_hears_the_outcome(
    db_session: Session, admin: User
) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist)
    first = _report(db_session, Subject.VIDEO, video.id, 2)
    assert _item(db_session, Subject.VIDEO, video.id) is None  # two reporters: not yet
    with pytest.raises(Conflict):  # reporting again adds nothing
        reports.file_report(db_session, first[0], Subject.VIDEO, video.id, reason=ReportReason.SPAM, threshold=3)
    third = _report(db_session, Subject.VIDEO, video.id, 1)
    item = _item(db_session, Subject.VIDEO, video.id)
    assert item is not None
    assert item.reason is QueueReason.REPORTED
    review.decide(db_session, admin, item.id, Decision.APPROVE)  # nothing wrong with it
    for reporter in [*first, *third]:
        assert _kinds(db_session, reporter) == ["report_dismissed"]
    outcomes = db_session.scalars(select(Report.outcome).where(Report.subject_id == video.id)).all()
    assert outcomes == [Decision.APPROVE] * 3
    # Reports after the decision start a new round.
    reports.file_report(db_session, first[0], Subject.VIDEO, video.id, reason=ReportReason.SPAM, threshold=1)
    assert db_session.scalar(
        select(ReviewItem.id).where(ReviewItem.subject_id == video.id, ReviewItem.decided_at.is_(None))
    )


def test_a_reported_comment_is_taken_down_and_its_author_told(db_session: Session, admin: User) -> None:
    video = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    author = factories.user(db_session)
    view = comments.add_comment(db_session, author, video.id, "加微信买便宜货 vx123")
    reporters = _report(db_session, Subject.COMMENT, view.comment.id, 3)
    item = _item(db_session, Subject.COMMENT, view.comment.id)
    assert item is not None
    detail = review.review_detail(db_session, admin, item.id)
    assert detail.info is not None
    assert detail.info.title == "加微信买便宜货 vx123"
    assert detail.video is not None
    assert detail.video.id == video.id
    assert len(detail.reports) == 3
    with pytest.raises(ValidationFailed):  # only a video can be sent back for changes
        review.decide(db_session, admin, item.id, Decision.REQUEST_CHANGES, "改一下")
    review.decide(db_session, admin, item.id, Decision.REJECT, "站外交易引流")
    db_session.refresh(view.comment)
    assert view.comment.removed_at is not None
    assert _kinds(db_session, author) == ["comment_taken_down"]
    assert all(_kinds(db_session, r) == ["report_upheld"] for r in reporters)


def test_a_reported_product_goes_off_sale(db_session: Session, admin: User) -> None:
    owner = factories.user(db_session)
    product = factories.product(db_session, brand=factories.brand(db_session, owner=owner), name="神奇减肥茶")
    _report(db_session, Subject.PRODUCT, product.id, 1, threshold=1)
    item = _item(db_session, Subject.PRODUCT, product.id)
    assert item is not None
    with pytest.raises(PermissionDenied):  # the brand's own people never decide on its products
        review.decide(db_session, _admin_member(db_session, product.brand_id), item.id, Decision.APPROVE)
    review.decide(db_session, admin, item.id, Decision.REJECT, "宣称疗效，违反广告法")
    db_session.refresh(product)
    assert product.status is ProductStatus.ARCHIVED
    assert _kinds(db_session, owner) == ["product_taken_down"]


def _admin_member(session: Session, brand_id: int) -> User:
    from core.accounts.models import BrandMember, BrandRole

    member = factories.user(session, admin=True)
    session.add(BrandMember(brand_id=brand_id, user_id=member.id, role=BrandRole.MEMBER))
    session.flush()
    return member


def test_a_reported_artist_is_banned_and_signed_out_everywhere(db_session: Session, admin: User) -> None:
    artist = factories.user(db_session, artist=True)
    token = accounts.issue_token(db_session, artist)
    _report(db_session, Subject.ARTIST, artist.id, 1, threshold=1)
    item = _item(db_session, Subject.ARTIST, artist.id)
    assert item is not None
    review.decide(db_session, admin, item.id, Decision.REJECT, "冒充他人身份")
    db_session.refresh(artist)
    assert artist.is_active is False
    assert accounts.user_for_token(db_session, token) is None


def test_nobody_reports_their_own_content_or_what_does_not_exist(db_session: Session) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist)
    with pytest.raises(ValidationFailed) as err:
        reports.file_report(db_session, artist, Subject.VIDEO, video.id, reason=ReportReason.SPAM, threshold=3)
    assert err.value.fields[0].code == "report_own_content"
    with pytest.raises(NotAuthenticated):
        reports.file_report(db_session, None, Subject.VIDEO, video.id, reason=ReportReason.SPAM, threshold=3)
    with pytest.raises(NotFound):  # not an artist
        reports.file_report(db_session, factories.user(db_session), Subject.ARTIST, factories.user(db_session).id,
                            reason=ReportReason.SPAM, threshold=3)  # fmt: skip


def test_bans_are_for_admins_on_non_admins_and_logged(db_session: Session, admin: User) -> None:
    user = factories.user(db_session)
    with pytest.raises(PermissionDenied):
        bans.ban(db_session, factories.user(db_session), user.id, "spam")
    with pytest.raises(PermissionDenied):
        bans.ban(db_session, admin, factories.user(db_session, admin=True).id, "spam")
    bans.ban(db_session, admin, user.id, "批量发布广告")
    with pytest.raises(Conflict):
        bans.ban(db_session, admin, user.id, "again")
    sign_in = {"email": user.email, "password": factories.PASSWORD, "ip_hash": "x", "device_hash": None,
               "policy": accounts.LoginPolicy()}  # fmt: skip
    with pytest.raises(DomainError) as refused:
        accounts.authenticate(db_session, **sign_in)  # type: ignore[arg-type]
    assert refused.value.code == "account_disabled"
    bans.unban(db_session, admin, user.id, "申诉成功")
    assert accounts.authenticate(db_session, **sign_in).id == user.id  # type: ignore[arg-type]
