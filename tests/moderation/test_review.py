"""Content review: who waits for a reviewer, what each decision does, who may decide, and the audit log."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from commerce.notifications.models import Notification
from core.accounts.models import User
from core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from core.outbox import OutboxEvent
from media.models import ReviewState, Video, VideoFingerprint
from moderation import review
from moderation.models import Decision, ModerationAction, QueueReason, ReviewItem
from moderation.review import ReviewPolicy
from search.documents import live_video_ids
from tests import factories

POLICY = ReviewPolicy(mode="new_accounts", trusted_after=2, sample_bp=0)


def _ready(session: Session, uploader: User, **kw: object) -> Video:
    return factories.video(session, uploader=uploader, review_state=ReviewState.PENDING, **kw)


def _approved_record(session: Session, uploader: User, admin: User, n: int) -> None:
    for _ in range(n):
        video = _ready(session, uploader)
        review.screen(session, video.id, ReviewPolicy(mode="everyone"))
        review.decide(session, admin, _open_item(session, video).id, Decision.APPROVE)


def _open_item(session: Session, video: Video) -> ReviewItem:
    item = session.scalar(select(ReviewItem).where(ReviewItem.video_id == video.id, ReviewItem.decided_at.is_(None)))
    assert item is not None
    return item


def _actions(session: Session, video: Video) -> list[tuple[int | None, str]]:
    rows = session.execute(
        select(ModerationAction.actor_id, ModerationAction.action)
        .where(ModerationAction.subject_type == "video", ModerationAction.subject_id == video.id)
        .order_by(ModerationAction.id)
    )
    return [(r.actor_id, r.action) for r in rows]


@pytest.fixture
def admin(db_session: Session) -> User:
    return factories.user(db_session, admin=True)


def test_a_new_accounts_video_is_held_until_approved(db_session: Session, admin: User) -> None:
    creator = factories.user(db_session, artist=True)
    video = _ready(db_session, creator)
    assert live_video_ids(db_session, [video.id]) == set()  # pending: not public before it is screened
    assert review.screen(db_session, video.id, POLICY) is ReviewState.HELD
    assert review.screen(db_session, video.id, POLICY) is None  # screened once, whatever replays
    item = _open_item(db_session, video)
    assert item.reason is QueueReason.NEW_UPLOADER
    assert live_video_ids(db_session, [video.id]) == set()
    review.decide(db_session, admin, item.id, Decision.APPROVE)
    assert live_video_ids(db_session, [video.id]) == {video.id}
    assert _actions(db_session, video) == [(None, "screen_held"), (admin.id, "approve")]
    kinds = db_session.scalars(select(Notification.kind).where(Notification.user_id == creator.id)).all()
    assert kinds == ["video_approved"]


def test_a_trusted_account_goes_public_at_once_and_a_share_is_sampled(db_session: Session, admin: User) -> None:
    creator = factories.user(db_session, artist=True)
    _approved_record(db_session, creator, admin, 2)
    quiet, sampled = _ready(db_session, creator), _ready(db_session, creator)
    assert review.screen(db_session, quiet.id, POLICY) is ReviewState.CLEARED
    assert db_session.scalar(select(ReviewItem).where(ReviewItem.video_id == quiet.id)) is None
    every = ReviewPolicy(mode="new_accounts", trusted_after=2, sample_bp=10_000)
    assert review.screen(db_session, sampled.id, every) is ReviewState.CLEARED
    assert _open_item(db_session, sampled).reason is QueueReason.SAMPLED
    assert live_video_ids(db_session, [quiet.id, sampled.id]) == {quiet.id, sampled.id}  # public while sampled
    # A sampled video the reviewer rejects leaves the listings.
    review.decide(db_session, admin, _open_item(db_session, sampled).id, Decision.REJECT, "含有违规内容")
    assert live_video_ids(db_session, [sampled.id]) == set()


def test_the_sample_is_the_share_the_policy_sets() -> None:
    policy = ReviewPolicy(sample_bp=1000)
    drawn = sum(policy.is_sampled(i) for i in range(1, 20_001))
    assert 1800 < drawn < 2200  # 10 % of 20,000, drawn by hash
    assert not any(ReviewPolicy(sample_bp=0).is_sampled(i) for i in range(1, 1000))


def test_a_recent_rejection_makes_an_account_new_again(db_session: Session, admin: User) -> None:
    creator = factories.user(db_session, artist=True)
    _approved_record(db_session, creator, admin, 2)
    bad = _ready(db_session, creator)
    review.screen(db_session, bad.id, ReviewPolicy(mode="everyone"))
    review.decide(db_session, admin, _open_item(db_session, bad).id, Decision.REJECT, "盗用他人作品")
    assert review.screen(db_session, _ready(db_session, creator).id, POLICY) is ReviewState.HELD


@pytest.mark.parametrize(("mode", "expected"), [("everyone", ReviewState.HELD), ("nobody", ReviewState.CLEARED)])
def test_the_policy_mode_applies_to_everyone(db_session: Session, mode: str, expected: ReviewState) -> None:
    creator = factories.user(db_session, artist=True)
    assert review.screen(db_session, _ready(db_session, creator).id, ReviewPolicy(mode=mode)) is expected  # type: ignore[arg-type]


def test_a_copy_of_another_uploaders_video_is_held_with_the_match_even_when_trusted(
    db_session: Session, admin: User
) -> None:
    original = factories.video(db_session, uploader=factories.user(db_session, artist=True))
    copier = factories.user(db_session, artist=True)
    _approved_record(db_session, copier, admin, 2)
    copy = _ready(db_session, copier)
    db_session.add(VideoFingerprint(video_id=copy.id, frames=b"", informative=0, match_video_id=original.id,
                                    match_similarity=0.93))  # fmt: skip
    db_session.flush()
    assert review.screen(db_session, copy.id, POLICY) is ReviewState.HELD
    item = _open_item(db_session, copy)
    assert (item.reason, item.matched_video_id, item.similarity) == (QueueReason.DUPLICATE, original.id, 0.93)
    detail = review.review_detail(db_session, admin, item.id)
    assert detail.matched is not None
    assert detail.matched.id == original.id


def test_rejection_and_changes_need_a_reason_the_creator_then_sees(db_session: Session, admin: User) -> None:
    creator = factories.user(db_session, artist=True)
    video = _ready(db_session, creator)
    review.screen(db_session, video.id, POLICY)
    item = _open_item(db_session, video)
    for decision in (Decision.REJECT, Decision.REQUEST_CHANGES):
        with pytest.raises(ValidationFailed):
            review.decide(db_session, admin, item.id, decision, "   ")
    review.decide(db_session, admin, item.id, Decision.REQUEST_CHANGES, "标题与内容不符，请修改标题")
    db_session.refresh(video)
    assert (video.review_state, video.review_note) == (ReviewState.CHANGES_REQUESTED, "标题与内容不符，请修改标题")
    with pytest.raises(Conflict):
        review.decide(db_session, admin, item.id, Decision.APPROVE)  # decided already
    # Only its uploader resubmits, and only after changes were asked for.
    with pytest.raises(NotFound):
        review.resubmit(db_session, factories.user(db_session), video.id)
    review.resubmit(db_session, creator, video.id)
    assert _open_item(db_session, video).reason is QueueReason.RESUBMITTED
    with pytest.raises(Conflict):
        review.resubmit(db_session, creator, video.id)
    assert [a for _, a in _actions(db_session, video)] == ["screen_held", "request_changes", "resubmit"]


def test_only_admins_review_and_never_their_own_uploads(db_session: Session, admin: User) -> None:
    creator = factories.user(db_session, artist=True)
    video = _ready(db_session, creator)
    review.screen(db_session, video.id, POLICY)
    item = _open_item(db_session, video)
    for who in (None, creator, factories.user(db_session)):
        with pytest.raises((PermissionDenied, NotAuthenticated)):
            review.queue(db_session, who)
        with pytest.raises((PermissionDenied, NotAuthenticated)):
            review.decide(db_session, who, item.id, Decision.APPROVE)
    own = _ready(db_session, admin)
    review.screen(db_session, own.id, POLICY)
    with pytest.raises(PermissionDenied) as own_err:
        review.decide(db_session, admin, _open_item(db_session, own).id, Decision.APPROVE)
    assert own_err.value.code == "review_own_content"


def test_a_decision_tells_search_through_the_outbox(db_session: Session, admin: User) -> None:
    video = _ready(db_session, factories.user(db_session, artist=True))
    review.screen(db_session, video.id, POLICY)
    before = db_session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
    review.decide(db_session, admin, _open_item(db_session, video).id, Decision.REJECT, "违规")
    events = db_session.execute(select(OutboxEvent.topic, OutboxEvent.entity_id).where(OutboxEvent.id > before))
    assert ("video", str(video.id)) in list(events)


def test_the_outbox_consumer_screens_a_video_that_became_ready(app: Flask, db_session: Session) -> None:
    from media.videos import video_changed

    video = _ready(db_session, factories.user(db_session, artist=True))
    video_changed(db_session, video)
    db_session.commit()
    app.extensions["outbox"].drain(db_session)
    db_session.refresh(video)
    # Screened by the session app's policy (the suite's: nobody waits), from pending: the consumer ran.
    assert video.review_state is ReviewState.CLEARED
    assert _actions(db_session, video) == [(None, "screen_cleared")]


def test_the_audit_log_refuses_updates_and_deletes(db_session: Session, admin: User) -> None:
    video = _ready(db_session, factories.user(db_session, artist=True))
    review.screen(db_session, video.id, POLICY)
    for statement in (
        update(ModerationAction).values(reason="nothing happened"),
        text("DELETE FROM moderation_actions"),
    ):
        with pytest.raises(DBAPIError), db_session.begin_nested():
            db_session.execute(statement)
    assert db_session.scalar(select(ModerationAction.reason).where(ModerationAction.subject_id == video.id)) == (
        "new_uploader"
    )


def test_a_rejected_video_keeps_its_files_and_manifest_for_an_appeal(db_session: Session, admin: User) -> None:
    manifest = {"prefix": "public/videos/1/v1", "files": ["master.m3u8"]}
    video = _ready(db_session, factories.user(db_session, artist=True), manifest=manifest,
                   original_key="originals/1/source.mp4")  # fmt: skip
    review.screen(db_session, video.id, POLICY)
    review.decide(db_session, admin, _open_item(db_session, video).id, Decision.REJECT, "侵权")
    db_session.refresh(video)
    assert (video.review_state, video.deleted_at) == (ReviewState.REJECTED, None)
    assert (video.manifest, video.original_key) == (manifest, "originals/1/source.mp4")
    assert live_video_ids(db_session, [video.id]) == set()
