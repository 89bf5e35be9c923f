"""Notify users in the caller's transaction; list, count and mark them read.

Each kind registers its text once, in Chinese and English, with `{param}`
placeholders filled from the notification's params when it is shown, so a
notification reads in whatever language its recipient uses at that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from commerce.notifications.models import Notification
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.pagination import keyset_page

_TEMPLATES: dict[str, tuple[str, str]] = {}


def register_templates(templates: dict[str, tuple[str, str]]) -> None:
    clash = {k for k in templates if k in _TEMPLATES and _TEMPLATES[k] != templates[k]}
    if clash:
        raise ValueError(f"notification kinds registered twice with different text: {sorted(clash)}")
    _TEMPLATES.update(templates)


def render(kind: str, params: dict[str, Any], locale: str) -> str:
    zh, en = _TEMPLATES.get(kind, (kind, kind))
    template = en if locale.startswith("en") else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def notify(session: Session, user_ids: Iterable[int], kind: str, params: dict[str, Any], link: str = "") -> None:
    """One notification per distinct recipient, written in the caller's transaction (not committed here)."""
    if kind not in _TEMPLATES:
        raise ValueError(f"unregistered notification kind {kind!r}")
    now = clock.now()
    for user_id in sorted(set(user_ids)):
        session.add(Notification(user_id=user_id, kind=kind, params=params, link=link, created_at=now))


def list_for(
    session: Session, user: User | None, *, unread_only: bool = False, cursor: str | None = None, limit: int = 20
) -> tuple[list[Notification], str | None]:
    user = require_user(user)
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return keyset_page(session, stmt, [(Notification.id, True)], lambda n: [n.id], cursor=cursor, limit=limit)


def unread_count(session: Session, user: User | None) -> int:
    user = require_user(user)
    return int(
        session.scalar(select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0
    )


def mark_read(session: Session, user: User | None, ids: list[int] | None = None) -> int:
    """Mark the given notifications (or all of them) read; other users' ids are silently not touched."""
    user = require_user(user)
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    count = session.execute(stmt.values(read_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return int(count or 0)
