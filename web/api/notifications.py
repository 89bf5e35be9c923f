"""The caller's in-app notifications."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from commerce.notifications import service as notifications
from commerce.notifications.models import Notification
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user
from web.i18n import get_locale

TAGS = ["notifications"]


class NotificationOut(OutModel):
    id: int
    kind: str
    text: str = Field(description="rendered in the caller's language")
    params: dict[str, object]
    link: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @classmethod
    def of(cls, n: Notification, locale: str) -> NotificationOut:
        return cls(
            id=n.id, kind=n.kind, text=notifications.render(n.kind, n.params, locale), params=n.params, link=n.link,
            created_at=n.created_at, read_at=n.read_at,
        )  # fmt: skip


class NotificationPage(OutModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class NotificationsQuery(QueryModel):
    unread_only: bool = False
    cursor: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


class ReadIn(ApiModel):
    ids: list[int] | None = Field(default=None, max_length=500, description="omit to mark everything read")


class ReadOut(OutModel):
    marked: int
    unread: int


@bp.get("/notifications")
@endpoint(summary="Your notifications, newest first", tags=TAGS, query=NotificationsQuery, response=NotificationPage,
          auth="required")  # fmt: skip
def list_notifications(query: NotificationsQuery) -> NotificationPage:
    session, user, locale = extensions.session(), current_user(), get_locale()
    items, cursor = notifications.list_for(
        session, user, unread_only=query.unread_only, cursor=query.cursor, limit=query.limit
    )
    return NotificationPage(
        items=[NotificationOut.of(n, locale) for n in items],
        next_cursor=cursor,
        unread=notifications.unread_count(session, user),
    )


@bp.post("/notifications/read")
@endpoint(summary="Mark notifications read", tags=TAGS, body=ReadIn, response=ReadOut, auth="required")
def mark_read(body: ReadIn) -> ReadOut:
    session, user = extensions.session(), current_user()
    marked = notifications.mark_read(session, user, body.ids)
    return ReadOut(marked=marked, unread=notifications.unread_count(session, user))
