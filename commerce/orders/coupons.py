"""Brand coupons: an amount or a percentage off the brand's order, with a minimum spend and a use limit."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.orders.models import Coupon, CouponKind
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member
from core.errors import Conflict, NotFound, ValidationFailed, register_messages
from core.money import BP_WHOLE

register_messages(
    {
        "coupon_code_taken": ("该优惠码已存在", "This coupon code already exists"),
        "invalid_coupon_code": ("优惠码只能包含字母、数字和短横线", "Use letters, digits and dashes only"),
    }
)

_CODE = re.compile(r"^[A-Z0-9-]{3,32}$")


def create_coupon(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    code: str,
    kind: CouponKind,
    value: int,
    min_subtotal: int = 0,
    max_uses: int | None = None,
    ends_at: dt.datetime | None = None,
) -> Coupon:
    require_brand_member(session, user, brand_id)
    code = code.strip().upper()
    if not _CODE.match(code):
        raise ValidationFailed.one("code", "invalid_coupon_code")
    if value <= 0 or (kind == CouponKind.PERCENT and value >= BP_WHOLE):
        raise ValidationFailed.one("value", "less_than" if value > 0 else "greater_than")
    if min_subtotal < 0:
        raise ValidationFailed.one("min_subtotal", "greater_than_equal")
    if max_uses is not None and max_uses <= 0:
        raise ValidationFailed.one("max_uses", "greater_than")
    if ends_at is not None and ends_at <= clock.now():
        raise ValidationFailed.one("ends_at", "greater_than")
    coupon = Coupon(
        brand_id=brand_id, code=code, kind=kind, value=value, min_subtotal=min_subtotal, max_uses=max_uses,
        ends_at=ends_at,
    )  # fmt: skip
    session.add(coupon)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("coupon_code_taken") from exc
    return coupon


def list_coupons(session: Session, user: User | None, brand_id: int) -> list[Coupon]:
    require_brand_member(session, user, brand_id)
    return list(session.scalars(select(Coupon).where(Coupon.brand_id == brand_id).order_by(Coupon.id.desc())))


def deactivate_coupon(session: Session, user: User | None, brand_id: int, coupon_id: int) -> Coupon:
    require_brand_member(session, user, brand_id)
    coupon = session.get(Coupon, coupon_id)
    if coupon is None or coupon.brand_id != brand_id:
        raise NotFound("coupon")
    coupon.is_active = False
    session.commit()
    return coupon
