"""Role and ownership checks. Services call these; views may too, but never instead."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.accounts.models import Brand, BrandMember, BrandRole, User
from core.errors import NotAuthenticated, NotFound, PermissionDenied


def require_user(user: User | None) -> User:
    if user is None:
        raise NotAuthenticated()
    return user


def require_admin(user: User | None) -> User:
    if not require_user(user).is_admin:
        raise PermissionDenied()
    return user  # type: ignore[return-value]


def require_artist(user: User | None) -> User:
    if not require_user(user).is_artist:
        raise PermissionDenied("artist_only")
    return user  # type: ignore[return-value]


def require_brand_member(session: Session, user: User | None, brand_id: int, *, owner: bool = False) -> BrandMember:
    """The caller's membership of `brand_id`; admins act for any brand."""
    user = require_user(user)
    member = session.get(BrandMember, (brand_id, user.id))
    if member is None:
        if user.is_admin:
            # An admin's stand-in membership must not reach a write for a brand that does not exist
            if session.get(Brand, brand_id) is None:
                raise NotFound("brand")
            return BrandMember(brand_id=brand_id, user_id=user.id, role=BrandRole.OWNER)
        raise PermissionDenied("not_brand_member")
    if owner and member.role != BrandRole.OWNER:
        raise PermissionDenied("brand_owner_only")
    return member
