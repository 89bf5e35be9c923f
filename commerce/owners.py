"""Who holds money: a user (artist, sharer), a brand, or the platform, and who may act for them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from commerce.ledger.models import AccountKind, OwnerKind
from commerce.ledger.service import AccountRef
from core.accounts.models import User
from core.accounts.permissions import require_admin, require_brand_member, require_user
from core.errors import PermissionDenied


@dataclass(frozen=True, order=True)
class Owner:
    kind: OwnerKind
    id: int

    @classmethod
    def user(cls, user_id: int) -> Owner:
        return cls(OwnerKind.USER, user_id)

    @classmethod
    def brand(cls, brand_id: int) -> Owner:
        return cls(OwnerKind.BRAND, brand_id)

    @classmethod
    def platform(cls) -> Owner:
        return cls(OwnerKind.PLATFORM, 0)

    def account(self, kind: AccountKind) -> AccountRef:
        return AccountRef(self.kind, self.id, kind)

    @property
    def available_kind(self) -> AccountKind:
        """Where settled earnings go: the platform's settled fees are its revenue."""
        return AccountKind.REVENUE if self.kind == OwnerKind.PLATFORM else AccountKind.AVAILABLE


def require_owner(session: Session, actor: User | None, owner: Owner, *, manage: bool = False) -> User:
    """The actor may see (or, with `manage`, move) the owner's money: themselves, their brand, or an admin."""
    actor = require_user(actor)
    if owner.kind == OwnerKind.USER:
        if actor.id != owner.id and not actor.is_admin:
            raise PermissionDenied()
    elif owner.kind == OwnerKind.BRAND:
        require_brand_member(session, actor, owner.id, owner=manage)
    else:
        require_admin(actor)
    return actor
