"""Comments on videos over HTTP: read (anyone who may see the video), write and remove (signed in)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from core import extensions
from media import comments
from media.comments import CommentView
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user, require_current_user

TAGS = ["comments"]


class CommentOut(OutModel):
    id: int
    video_id: int
    author_id: int
    author_name: str
    body: str
    created_at: dt.datetime
    removable: bool = Field(description="The caller may remove it (its author, the video's owners, admins)")

    @classmethod
    def of(cls, view: CommentView) -> CommentOut:
        c = view.comment
        return cls(
            id=c.id, video_id=c.video_id, author_id=c.author_id, author_name=view.author_name, body=c.body,
            created_at=c.created_at, removable=view.removable,
        )  # fmt: skip


class CommentPage(OutModel):
    items: list[CommentOut]
    next_cursor: str | None


class CommentsQuery(QueryModel):
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=50)


class CommentIn(ApiModel):
    body: str = Field(min_length=1, max_length=comments.MAX_CHARS, description="Plain text, one line")


@bp.get("/videos/<int:video_id>/comments")
@endpoint(summary="A video's comments, newest first", tags=TAGS, query=CommentsQuery, response=CommentPage,
          errors=[404])  # fmt: skip
def list_comments(video_id: int, query: CommentsQuery) -> CommentPage:
    views, cursor = comments.list_comments(
        extensions.session(), current_user(), video_id, cursor=query.cursor, limit=query.limit
    )
    return CommentPage(items=[CommentOut.of(v) for v in views], next_cursor=cursor)


@bp.post("/videos/<int:video_id>/comments")
@endpoint(summary="Comment on a video", tags=TAGS, body=CommentIn, response=CommentOut, status=201, auth="required",
          idempotent=True, errors=[404, 422, 429])  # fmt: skip
def add_comment(video_id: int, body: CommentIn) -> tuple[CommentOut, int]:
    """At most a few comments a minute per account (429 with Retry-After beyond that)."""
    view = comments.add_comment(extensions.session(), require_current_user(), video_id, body.body)
    return CommentOut.of(view), 201


@bp.delete("/comments/<int:comment_id>")
@endpoint(summary="Remove a comment (its author, the video's owners, admins)", tags=TAGS, status=204,
          auth="required", errors=[403, 404])  # fmt: skip
def remove_comment(comment_id: int) -> tuple[None, int]:
    comments.remove_comment(extensions.session(), require_current_user(), comment_id)
    return None, 204
