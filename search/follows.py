"""Following creators: the "following" feed and a personalisation signal of "for you"."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import NotFound, ValidationFailed, register_messages
from core.outbox import emit
from search.models import Follow

register_messages({"cannot_follow_self": ("不能关注自己", "You cannot follow yourself")})

MAX_FOLLOWING_IN_FEED = 2000


def _creator(session: Session, creator_id: int) -> User:
    creator = session.get(User, creator_id)
    if creator is None or not creator.is_active:
        raise NotFound("creator")
    return creator


def follow(session: Session, user: User | None, creator_id: int) -> int:
    """Follow a creator (again is fine); returns the creator's follower count."""
    user = require_user(user)
    if user.id == creator_id:
        raise ValidationFailed.one("creator_id", "cannot_follow_self")
    creator = _creator(session, creator_id)
    if session.get(Follow, (user.id, creator_id)) is None:
        session.add(Follow(follower_id=user.id, creator_id=creator_id))
        if creator.is_artist:
            emit(session, "artist", creator_id)  # the follower count is on the artist document
    session.commit()
    return follower_count(session, creator_id)


def unfollow(session: Session, user: User | None, creator_id: int) -> int:
    user = require_user(user)
    creator = _creator(session, creator_id)
    gone = session.execute(delete(Follow).where(Follow.follower_id == user.id, Follow.creator_id == creator_id))
    if gone.rowcount and creator.is_artist:  # type: ignore[attr-defined]
        emit(session, "artist", creator_id)
    session.commit()
    return follower_count(session, creator_id)


def is_following(session: Session, user: User | None, creator_id: int) -> bool:
    return user is not None and session.get(Follow, (user.id, creator_id)) is not None


def follower_count(session: Session, creator_id: int) -> int:
    return session.scalar(select(func.count()).where(Follow.creator_id == creator_id)) or 0


def following_ids(session: Session, user_id: int, limit: int = MAX_FOLLOWING_IN_FEED) -> list[int]:
    """Whom the user follows, most recent first."""
    return list(
        session.scalars(
            select(Follow.creator_id)
            .where(Follow.follower_id == user_id)
            .order_by(Follow.created_at.desc(), Follow.creator_id)
            .limit(limit)
        )
    )


def following(session: Session, user: User | None) -> list[User]:
    user = require_user(user)
    ids = following_ids(session, user.id)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return [users[i] for i in ids if i in users]
