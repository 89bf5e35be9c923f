"""Comments on videos: a short text each, newest first, on videos the commenter can see.

Its author, the video's managers (uploader, brand members) and admins may remove
a comment; the row stays, marked with who removed it and when, for moderation.
The video's `comment_count` moves in the comment's own transaction with one
atomic UPDATE, so the count on a card is exact and two concurrent comments
never lose one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed, register_messages
from core.pagination import keyset_page
from media.models import Video, VideoComment
from media.videos import can_manage, get_video

MAX_CHARS = 300
# People talk, scripts flood: more than this many comments from one account within the window is refused.
BURST = 5
BURST_WINDOW = dt.timedelta(minutes=1)

register_messages(
    {
        "comment_too_fast": ("评论太频繁了，请稍后再试", "You are commenting too fast; try again shortly"),
    }
)


@dataclass(frozen=True)
class CommentView:
    comment: VideoComment
    author_name: str
    removable: bool  # by the viewer asking


def _views(session: Session, viewer: User | None, video: Video, rows: list[VideoComment]) -> list[CommentView]:
    names = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_({c.author_id for c in rows}))).all()
    )
    manager = can_manage(session, viewer, video)
    return [
        CommentView(c, names.get(c.author_id, ""), viewer is not None and (manager or c.author_id == viewer.id))
        for c in rows
    ]


def list_comments(
    session: Session, viewer: User | None, video_id: int, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[CommentView], str | None]:
    """A video's comments, newest first (removed ones left out), for anyone who may see the video."""
    video = get_video(session, viewer, video_id)
    stmt = select(VideoComment).where(VideoComment.video_id == video.id, VideoComment.removed_at.is_(None))
    rows, next_cursor = keyset_page(session, stmt, [(VideoComment.id, True)], lambda c: [c.id], cursor=cursor,
                                    limit=limit)  # fmt: skip
    return _views(session, viewer, video, rows), next_cursor


def _clean(body: str) -> str:
    text = " ".join(body.split())  # one line: newlines and runs of spaces would break the card layout
    if not text:
        raise ValidationFailed.one("body", "string_too_short")
    if len(text) > MAX_CHARS:
        raise ValidationFailed.one("body", "string_too_long")
    return text


def _count(session: Session, video_id: int, delta: int) -> None:
    # updated_at stays as it is: it dates the video's own edits, not the talk about it.
    session.execute(
        update(Video)
        .where(Video.id == video_id)
        .values(comment_count=Video.comment_count + delta, updated_at=Video.updated_at)
    )


def add_comment(session: Session, author: User | None, video_id: int, body: str) -> CommentView:
    """Comment on a video the author can see. Commits."""
    author = require_user(author)
    video = get_video(session, author, video_id)
    text = _clean(body)
    recent = session.scalar(
        select(func.count())
        .select_from(VideoComment)
        .where(VideoComment.author_id == author.id, VideoComment.created_at > clock.now() - BURST_WINDOW)
    )
    if (recent or 0) >= BURST:
        raise RateLimited(retry_after=int(BURST_WINDOW.total_seconds()), code="comment_too_fast")
    comment = VideoComment(video_id=video.id, author_id=author.id, body=text, created_at=clock.now())
    session.add(comment)
    _count(session, video.id, +1)
    session.commit()
    return _views(session, author, video, [comment])[0]


def remove_comment(session: Session, actor: User | None, comment_id: int) -> None:
    """Remove a comment: its author, the video's managers or an admin. Removing it again changes nothing. Commits."""
    actor = require_user(actor)
    comment = session.get(VideoComment, comment_id)
    video = session.get(Video, comment.video_id) if comment is not None else None
    if comment is None or video is None:
        raise NotFound("comment")
    if comment.author_id != actor.id and not can_manage(session, actor, video):
        raise PermissionDenied()
    take_down(session, comment, by=actor)
    session.commit()


def take_down(session: Session, comment: VideoComment, *, by: User) -> bool:
    """Mark a comment removed, in the caller's transaction; False when it already was (nothing changes)."""
    # Guarded on removed_at, so two removals at once take one off the count, not two.
    removed = session.execute(
        update(VideoComment)
        .where(VideoComment.id == comment.id, VideoComment.removed_at.is_(None))
        .values(removed_at=clock.now(), removed_by_id=by.id)
    )
    if removed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _count(session, comment.video_id, -1)
    return True
