"""Comments on videos: who may read, write and remove them, the exact count on the video, text rules, the burst
limit, pages newest first, and concurrent comments and removals on PostgreSQL never losing or double-counting one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.db import Database
from core.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied, RateLimited, ValidationFailed
from media import comments
from media.models import Video, VideoComment, Visibility
from tests import factories
from tests.commerce.catalog.test_races import run_together


@pytest.fixture
def frozen() -> FrozenClock:
    clock = FrozenClock()
    with use_clock(clock):
        yield clock  # type: ignore[misc]


def _count(session: Session, video_id: int) -> int:
    session.expire_all()
    video = session.get(Video, video_id)
    assert video is not None
    return video.comment_count


def test_comment_read_and_remove_with_an_exact_count(db_session: Session, frozen: FrozenClock) -> None:
    creator = factories.user(db_session, artist=True)
    fan, other = factories.user(db_session, display_name="小王"), factories.user(db_session)
    video = factories.video(db_session, uploader=creator)
    first = comments.add_comment(db_session, fan, video.id, "  好看！\n求链接  ")
    assert first.comment.body == "好看！ 求链接"  # one line
    assert first.author_name == "小王"
    assert first.removable
    frozen.advance(seconds=1)
    second = comments.add_comment(db_session, other, video.id, "<b>不错</b>")
    assert second.comment.body == "<b>不错</b>"  # stored as typed; pages escape it
    assert _count(db_session, video.id) == 2

    # Anyone, signed in or not, reads them newest first; each sees what they may remove.
    page, cursor = comments.list_comments(db_session, None, video.id)
    assert [v.comment.id for v in page] == [second.comment.id, first.comment.id]
    assert cursor is None
    assert [v.removable for v in page] == [False, False]
    as_fan, _ = comments.list_comments(db_session, fan, video.id)
    assert [v.removable for v in as_fan] == [False, True]
    as_creator, _ = comments.list_comments(db_session, creator, video.id)
    assert [v.removable for v in as_creator] == [True, True]

    # Someone else may not remove a comment; its author and the video's uploader may, once each.
    with pytest.raises(PermissionDenied):
        comments.remove_comment(db_session, other, first.comment.id)
    comments.remove_comment(db_session, fan, first.comment.id)
    comments.remove_comment(db_session, creator, first.comment.id)  # already removed: nothing changes
    comments.remove_comment(db_session, creator, second.comment.id)
    assert _count(db_session, video.id) == 0
    assert comments.list_comments(db_session, None, video.id)[0] == []
    kept = db_session.scalars(select(VideoComment).order_by(VideoComment.id)).all()
    assert [(c.removed_by_id, c.removed_at is not None) for c in kept] == [(fan.id, True), (creator.id, True)]


def test_brand_members_and_admins_moderate_their_videos(db_session: Session) -> None:
    owner, admin = factories.user(db_session), factories.user(db_session, admin=True)
    brand = factories.brand(db_session, owner=owner)
    video = factories.video(db_session, uploader=owner, brand_id=brand.id)
    fan = factories.user(db_session)
    a = comments.add_comment(db_session, fan, video.id, "第一")
    b = comments.add_comment(db_session, fan, video.id, "第二")
    comments.remove_comment(db_session, owner, a.comment.id)
    comments.remove_comment(db_session, admin, b.comment.id)
    assert _count(db_session, video.id) == 0


def test_text_rules_sign_in_and_visibility(db_session: Session) -> None:
    creator, fan = factories.user(db_session, artist=True), factories.user(db_session)
    video = factories.video(db_session, uploader=creator)
    for body, code in [(" \n\t ", "string_too_short"), ("长" * (comments.MAX_CHARS + 1), "string_too_long")]:
        with pytest.raises(ValidationFailed) as refused:
            comments.add_comment(db_session, fan, video.id, body)
        assert [f.code for f in refused.value.fields] == [code]
    assert comments.add_comment(db_session, fan, video.id, "长" * comments.MAX_CHARS).comment.body
    with pytest.raises(NotAuthenticated):
        comments.add_comment(db_session, None, video.id, "匿名")
    private = factories.video(db_session, uploader=creator, visibility=Visibility.PRIVATE)
    draft = factories.video(db_session, uploader=creator, published=False)
    for hidden in (private, draft):  # not live: as if it did not exist, except to its owner
        with pytest.raises(NotFound):
            comments.add_comment(db_session, fan, hidden.id, "看不到")
        with pytest.raises(NotFound):
            comments.list_comments(db_session, fan, hidden.id)
        assert comments.add_comment(db_session, creator, hidden.id, "自己看").comment.id
    with pytest.raises(NotFound):
        comments.remove_comment(db_session, fan, 10**9)
    assert _count(db_session, video.id) == 1


def test_a_burst_of_comments_is_refused_until_the_window_passes(db_session: Session, frozen: FrozenClock) -> None:
    creator, fan = factories.user(db_session, artist=True), factories.user(db_session)
    video = factories.video(db_session, uploader=creator)
    for i in range(comments.BURST):
        comments.add_comment(db_session, fan, video.id, f"第{i}条")
    with pytest.raises(RateLimited) as refused:
        comments.add_comment(db_session, fan, video.id, "刷屏")
    assert refused.value.code == "comment_too_fast"
    assert refused.value.headers == {"Retry-After": "60"}
    assert _count(db_session, video.id) == comments.BURST  # the refused one left nothing
    frozen.advance(seconds=61)
    comments.add_comment(db_session, fan, video.id, "过了一分钟")
    assert _count(db_session, video.id) == comments.BURST + 1


def test_pages_follow_the_cursor_newest_first(db_session: Session, frozen: FrozenClock) -> None:
    creator = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=creator)
    fans = [factories.user(db_session) for _ in range(5)]
    written = [comments.add_comment(db_session, fan, video.id, f"评论{i}").comment.id for i, fan in enumerate(fans)]
    seen: list[int] = []
    cursor = None
    while True:
        page, cursor = comments.list_comments(db_session, None, video.id, cursor=cursor, limit=2)
        seen += [v.comment.id for v in page]
        if cursor is None:
            break
    assert seen == written[::-1]


@pytest.mark.postgres
def test_concurrent_comments_and_removals_keep_the_count_exact(committed_db: Database) -> None:
    with committed_db.session() as s:
        creator = factories.user(s, artist=True)
        fans = [factories.user(s) for _ in range(8)]
        video = factories.video(s, uploader=creator)
        s.commit()
        video_id, fan_ids, creator_id = video.id, [f.id for f in fans], creator.id

    def comment_as(fan_id: int) -> Callable[[Session], object]:
        return lambda s: comments.add_comment(s, s.get(User, fan_id), video_id, "同时")

    results = run_together(committed_db, [comment_as(f) for f in fan_ids])
    assert not [r for r in results if isinstance(r, DomainError)]
    with committed_db.session() as s:
        assert s.get(Video, video_id).comment_count == len(fan_ids)  # type: ignore[union-attr]
        target = s.scalars(select(VideoComment).where(VideoComment.video_id == video_id)).first()
        assert target is not None
        target_id, author_id = target.id, target.author_id

    # Its author and the creator remove the same comment at once: it comes off the count once.
    def remove_as(user_id: int) -> Callable[[Session], object]:
        return lambda s: comments.remove_comment(s, s.get(User, user_id), target_id)

    results = run_together(committed_db, [remove_as(author_id), remove_as(creator_id)])
    assert not [r for r in results if isinstance(r, DomainError)]
    with committed_db.session() as s:
        assert s.get(Video, video_id).comment_count == len(fan_ids) - 1  # type: ignore[union-attr]
