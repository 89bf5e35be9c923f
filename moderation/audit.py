"""The moderation audit log: every action, by whom (None: the policy), on what, when and why. Append-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.accounts.permissions import require_admin
from core.pagination import keyset_page
from moderation.models import ModerationAction


def record_action(
    session: Session,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int,
    *,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> ModerationAction:
    """Add one entry in the caller's transaction."""
    entry = ModerationAction(actor_id=actor.id if actor else None, action=action, subject_type=subject_type,
                             subject_id=subject_id, reason=reason[:500], details=details or {})  # fmt: skip
    session.add(entry)
    return entry


def history(
    session: Session,
    actor: User | None,
    *,
    subject_type: str | None = None,
    subject_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ModerationAction], str | None]:
    """Newest first; admins only."""
    require_admin(actor)
    stmt = select(ModerationAction)
    if subject_type is not None:
        stmt = stmt.where(ModerationAction.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(ModerationAction.subject_id == subject_id)
    return keyset_page(session, stmt, [(ModerationAction.id, True)], lambda a: [a.id], cursor=cursor, limit=limit)
