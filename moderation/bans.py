"""Banning an account (admins): it is signed out everywhere and can no longer sign in, upload, comment or share.
Every ban and unban is in the audit log with its reason."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.accounts.permissions import require_admin
from core.errors import Conflict, NotFound, PermissionDenied, register_messages
from moderation import subjects
from moderation.audit import record_action

register_messages(
    {
        "ban_not_allowed": ("不能封禁自己或其他管理员", "You cannot ban yourself or another admin"),
        "already_banned": ("该账号已被封禁", "This account is banned already"),
    }
)


def ban(session: Session, actor: User | None, user_id: int, reason: str) -> User:
    """Commits."""
    admin = require_admin(actor)
    target = session.get(User, user_id)
    if target is None:
        raise NotFound("user")
    if target.id == admin.id or target.is_admin:
        raise PermissionDenied("ban_not_allowed")
    if not target.is_active:
        raise Conflict("already_banned")
    subjects.ban(session, target.id)
    record_action(session, admin, "ban", "user", target.id, reason=reason)
    session.commit()
    return target


def unban(session: Session, actor: User | None, user_id: int, reason: str) -> User:
    """Commits; lifting a ban that is not there changes nothing but is still logged."""
    admin = require_admin(actor)
    target = session.get(User, user_id)
    if target is None:
        raise NotFound("user")
    target.is_active = True
    record_action(session, admin, "unban", "user", target.id, reason=reason)
    session.commit()
    return target
