"""Coupons (优惠券): templates funded by a brand or by the platform, a wallet of claimed coupons, and the rules.

- **Templates.** A brand member creates brand-funded coupons for the brand's products; an admin creates
  platform-funded ones (for every product, a brand's, or listed products). Kinds: a fixed amount, a percentage
  with a cap, a threshold (满减: an amount off once the eligible lines reach the minimum); every kind may also
  have a minimum. A validity window, a total limit (`max_uses`, counted when coupons are handed out) and a
  per-user limit.
- **Wallet.** A buyer claims a coupon (a product page or a video's product card), or a brand / admin grants it to
  listed users; typing a code at checkout claims it on the way. The per-user limit is a unique key
  (`coupon_id, user_id, seq`) and the total limit a conditional UPDATE, so racing claims never exceed either.
- **Checkout.** At most one brand-funded and one platform-funded coupon per order (the tables hold any number).
  The brand coupon is taken off the eligible lines first, the platform coupon off what is left; each discount is
  spread over the eligible lines exactly to the fen (largest remainder), every line keeping at least one fen.
  Commissions and the platform fee are computed on what the buyer paid for the line; the platform-funded part is
  paid to the brand as a `brand_subsidy` earning out of the platform's `marketing` account.
- **Refunds.** The buyer gets back what they paid for the refunded part of a line, never a coupon's value in
  cash; the platform takes back its subsidy in the same proportion. When every line of an order is refunded (or
  the order is cancelled unpaid) its coupons go back to the buyer's wallet if they are still valid; an expired
  coupon stays used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.marketing import campaign_stats
from commerce.orders.models import (
    Coupon,
    CouponFunding,
    CouponKind,
    Order,
    UserCoupon,
    UserCouponStatus,
)
from core import clock
from core.accounts.models import Brand, User
from core.accounts.permissions import require_admin, require_brand_member, require_user
from core.db import expire_loaded
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_field_labels, register_messages
from core.money import BP_WHOLE, apply_bp

register_messages(
    {
        "coupon_code_taken": ("该优惠码已存在", "This coupon code already exists"),
        "invalid_coupon_code": ("优惠码只能包含字母、数字和短横线", "Use letters, digits and dashes only"),
        "coupon_invalid": ("优惠券无效或已停用", "This coupon is not valid"),
        "coupon_not_started": ("优惠券尚未开始，{starts_at} 起可用", "This coupon is not valid until {starts_at}"),
        "coupon_expired": ("优惠券已过期", "This coupon has expired"),
        "coupon_exhausted": ("优惠券已被领完", "This coupon has been used up"),
        "coupon_user_limit": ("每人限领 {limit} 张，您已领满", "You already hold the {limit} allowed per person"),
        "coupon_min_not_met": (
            "未达到优惠券使用门槛：满 {min_subtotal} 分可用",
            "The eligible items do not reach the coupon's minimum of {min_subtotal} fen",
        ),
        "coupon_not_applicable": ("该优惠券不适用于所选商品", "This coupon does not apply to these items"),
        "coupon_stacking": (
            "每笔订单最多使用一张品牌券和一张平台券",
            "An order takes at most one brand coupon and one platform coupon",
        ),
        "coupon_used": ("该优惠券已使用", "This coupon has already been used"),
        "coupon_threshold_required": ("满减券须设置使用门槛", "A threshold coupon needs a minimum spend"),
        "coupon_products_outside_brand": ("只能选择本品牌的商品", "Choose products of this brand only"),
        "coupon_brand_not_found": ("没有这个品牌", "No such brand"),
    }
)
register_field_labels(
    {
        "coupon_ids": ("优惠券", "The coupons"),
        "coupon_ids.*": ("第 {0} 张优惠券", "Coupon {0}"),
        "user_ids": ("发放对象", "The recipients"),
        "max_discount": ("最高优惠金额", "The maximum discount"),
        "min_subtotal": ("使用门槛", "The minimum spend"),
        "per_user_limit": ("每人限领", "The per-person limit"),
        "max_uses": ("发放总量", "The total number"),
    }
)

_CODE = re.compile(r"^[A-Z0-9-]{3,32}$")
MAX_GRANT = 500


# -- templates ---------------------------------------------------------------------------------------------------


def create_coupon(  # noqa: PLR0912
    session: Session,
    user: User | None,
    brand_id: int | None,
    *,
    kind: CouponKind,
    value: int,
    funded_by: CouponFunding = CouponFunding.BRAND,
    code: str | None = None,
    name: str = "",
    max_discount: int | None = None,
    min_subtotal: int = 0,
    product_ids: Sequence[int] | None = None,
    max_uses: int | None = None,
    per_user_limit: int = 1,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> Coupon:
    """A brand member creates the brand's own coupons; only an admin creates platform-funded ones. Commits."""
    errors = []
    if funded_by == CouponFunding.PLATFORM:
        creator = require_admin(user)
        # Checked here: left to the foreign key, the commit would refuse it as a taken code (the only clash it expects)
        if brand_id is not None and session.get(Brand, brand_id) is None:
            errors.append(FieldError("brand_id", "coupon_brand_not_found"))
    else:
        if brand_id is None:
            raise ValidationFailed.one("brand_id", "missing")
        require_brand_member(session, user, brand_id)
        creator = require_user(user)
    now = clock.now()
    if code is not None:
        code = code.strip().upper()
        if not _CODE.match(code):
            errors.append(FieldError("code", "invalid_coupon_code"))
    if value <= 0 or (kind == CouponKind.PERCENT and value >= BP_WHOLE):
        errors.append(FieldError("value", "less_than" if value > 0 else "greater_than"))
    if max_discount is not None and max_discount <= 0:
        errors.append(FieldError("max_discount", "greater_than"))
    if min_subtotal < 0:
        errors.append(FieldError("min_subtotal", "greater_than_equal"))
    if kind == CouponKind.THRESHOLD and min_subtotal <= value:
        errors.append(FieldError("min_subtotal", "coupon_threshold_required"))
    if max_uses is not None and max_uses <= 0:
        errors.append(FieldError("max_uses", "greater_than"))
    if per_user_limit < 1 or (max_uses is not None and per_user_limit > max_uses):
        errors.append(FieldError("per_user_limit", "greater_than_equal" if per_user_limit < 1 else "less_than_equal"))
    starts_at = starts_at or now
    if ends_at is not None and ends_at <= max(starts_at, now):
        errors.append(FieldError("ends_at", "greater_than"))
    products = sorted(set(product_ids)) if product_ids else None
    if products and brand_id is not None:
        from commerce.catalog.models import Product

        found = set(session.scalars(select(Product.id).where(Product.id.in_(products), Product.brand_id == brand_id)))
        if found != set(products):
            errors.append(FieldError("product_ids", "coupon_products_outside_brand"))
    if errors:
        raise ValidationFailed(fields=errors)
    coupon = Coupon(
        brand_id=brand_id, code=code, name=name.strip()[:60], funded_by=funded_by, kind=kind, value=value,
        max_discount=max_discount, min_subtotal=min_subtotal, product_ids=products, max_uses=max_uses,
        per_user_limit=per_user_limit, starts_at=starts_at, ends_at=ends_at, created_by=creator.id, created_at=now,
    )  # fmt: skip
    session.add(coupon)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("coupon_code_taken", fields=[FieldError("code", "coupon_code_taken")]) from exc
    return coupon


def list_coupons(session: Session, user: User | None, brand_id: int) -> list[Coupon]:
    require_brand_member(session, user, brand_id)
    return list(session.scalars(select(Coupon).where(Coupon.brand_id == brand_id).order_by(Coupon.id.desc())))


def _owned(session: Session, user: User | None, brand_id: int | None, coupon_id: int) -> Coupon:
    """A brand's coupon for its members; a platform coupon (brand_id None) for admins."""
    coupon = session.get(Coupon, coupon_id)
    if brand_id is None:
        require_admin(user)
        if coupon is None or coupon.funded_by != CouponFunding.PLATFORM:
            raise NotFound("coupon")
    else:
        require_brand_member(session, user, brand_id)
        if coupon is None or coupon.brand_id != brand_id or coupon.funded_by != CouponFunding.BRAND:
            raise NotFound("coupon")
    return coupon


def deactivate_coupon(session: Session, user: User | None, brand_id: int | None, coupon_id: int) -> Coupon:
    coupon = _owned(session, user, brand_id, coupon_id)
    coupon.is_active = False
    session.commit()
    return coupon


@dataclass(frozen=True)
class CouponStats:
    claimed: int
    used: int  # on orders that were paid (and not cancelled unpaid)
    gmv: int  # what buyers paid on those orders, fen
    cost: int  # what the coupon took off them, fen


_SOLD = campaign_stats.SOLD


def stats(session: Session, coupon_ids: Sequence[int]) -> dict[int, CouponStats]:
    """Claimed, used, GMV and cost per coupon, in two queries."""
    ids = list(coupon_ids)
    claimed = {
        cid: n
        for cid, n in session.execute(
            select(UserCoupon.coupon_id, func.count())
            .where(UserCoupon.coupon_id.in_(ids))
            .group_by(UserCoupon.coupon_id)
        )
    }
    rows = session.execute(
        select(UserCoupon.coupon_id, func.count(), func.sum(Order.total - Order.refunded_amount),
               func.sum(UserCoupon.discount))
        .join(Order, Order.id == UserCoupon.order_id)
        .where(UserCoupon.coupon_id.in_(ids), UserCoupon.status == UserCouponStatus.USED, Order.status.in_(_SOLD))
        .group_by(UserCoupon.coupon_id)
    )  # fmt: skip
    used = {row[0]: row[1:] for row in rows}
    out = {}
    for cid in ids:
        n, gmv, cost = used.get(cid, (0, 0, 0))
        out[cid] = CouponStats(int(claimed.get(cid, 0)), int(n), int(gmv or 0), int(cost or 0))
    return out


def campaign_rows(session: Session, brand_id: int) -> list[campaign_stats.CampaignStats]:
    """The brand's coupons as the dashboard's campaign rows (see `campaign_stats`)."""
    rows = list(session.scalars(select(Coupon).where(Coupon.brand_id == brand_id).order_by(Coupon.id.desc())))
    numbers = stats(session, [c.id for c in rows])
    out = []
    for c in rows:
        n = numbers[c.id]
        left = None if c.max_uses is None else max(0, c.max_uses - n.claimed)
        name = (c.name, c.name) if c.name else describe(c)
        out.append(campaign_stats.CampaignStats("coupon", c.id, name, n.claimed, n.used, left, n.gmv, n.cost))
    return out


campaign_stats.register("coupon", campaign_rows)


def describe(coupon: Coupon) -> tuple[str, str]:
    """What a coupon gives, as people say it (zh-CN, English): 满 ¥199 减 ¥30, 9 折 最高减 ¥20, 减 ¥10."""
    from core.money import format_yuan

    if coupon.kind == CouponKind.PERCENT:
        zh_rate = f"{(BP_WHOLE - coupon.value) / 1000:g} 折"
        zh, en = zh_rate, f"{coupon.value / 100:g}% off"
        if coupon.max_discount is not None:
            zh, en = (
                f"{zh}，最高减 ¥{format_yuan(coupon.max_discount)}",
                f"{en}, up to ¥{format_yuan(coupon.max_discount)}",
            )
    else:
        zh, en = f"减 ¥{format_yuan(coupon.value)}", f"¥{format_yuan(coupon.value)} off"
    if coupon.min_subtotal:
        zh, en = f"满 ¥{format_yuan(coupon.min_subtotal)} {zh}", f"{en} orders of ¥{format_yuan(coupon.min_subtotal)}+"
    return zh, en


# -- the wallet --------------------------------------------------------------------------------------------------


def check_window(coupon: Coupon, now: dt.datetime, field: str) -> None:
    if not coupon.is_active:
        raise ValidationFailed.one(field, "coupon_invalid")
    if coupon.starts_at > now:
        raise ValidationFailed.one(field, "coupon_not_started", starts_at=coupon.starts_at.isoformat())
    if coupon.ends_at is not None and coupon.ends_at <= now:
        raise ValidationFailed.one(field, "coupon_expired")


def _user_limit(coupon: Coupon, field: str) -> Conflict:
    limit = coupon.per_user_limit
    fields = [FieldError(field, "coupon_user_limit", params={"limit": limit})]
    return Conflict("coupon_user_limit", limit=limit, fields=fields)


def _issue(
    session: Session, coupon: Coupon, user_id: int, *, source: str, granted_by: int | None, now: dt.datetime,
    field: str,
) -> UserCoupon:  # fmt: skip
    """Hand one coupon to a user, inside the caller's transaction: the next free `seq` (a unique key: a racing claim
    of the same user that took it makes this one try the next, until the per-user limit), then one conditional
    UPDATE of the total."""
    held = session.scalar(select(func.count()).where(UserCoupon.coupon_id == coupon.id, UserCoupon.user_id == user_id))
    row = None
    for seq in range(held + 1, coupon.per_user_limit + 1):
        candidate = UserCoupon(coupon_id=coupon.id, user_id=user_id, seq=seq, source=source, granted_by=granted_by,
                               claimed_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(candidate)
                session.flush()
        except IntegrityError:
            continue  # taken by a claim racing this one
        row = candidate
        break
    if row is None:
        raise _user_limit(coupon, field)
    taken = session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.max_uses.is_(None) | (Coupon.claimed_count < Coupon.max_uses))
        .values(claimed_count=Coupon.claimed_count + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("coupon_exhausted", fields=[FieldError(field, "coupon_exhausted")])
    return row


def claim(session: Session, user: User | None, coupon_id: int) -> UserCoupon:
    """The buyer takes a coupon into their wallet (a claim button). Refusals: 409 with a sentence. Commits."""
    user = require_user(user)
    coupon = session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound("coupon")
    try:
        check_window(coupon, clock.now(), "coupon_id")
        row = _issue(session, coupon, user.id, source="claim", granted_by=None, now=clock.now(), field="coupon_id")
        session.commit()
    except ValidationFailed as exc:
        session.rollback()
        raise Conflict(exc.fields[0].code, **(exc.fields[0].params or {})) from None
    except BaseException:
        session.rollback()
        raise
    return row


@dataclass(frozen=True)
class GrantResult:
    granted: list[int]  # user ids
    refused: dict[int, str]  # user id -> why (an error code)


def grant(
    session: Session, user: User | None, brand_id: int | None, coupon_id: int, user_ids: Sequence[int]
) -> GrantResult:
    """A brand (its coupons) or an admin (platform coupons) hands one coupon to each listed user. Commits."""
    coupon = _owned(session, user, brand_id, coupon_id)
    granter = require_user(user)
    ids = sorted(set(user_ids))
    if not ids:
        raise ValidationFailed.one("user_ids", "too_short")
    if len(ids) > MAX_GRANT:
        raise ValidationFailed.one("user_ids", "too_long")
    now = clock.now()
    try:
        check_window(coupon, now, "coupon_id")
        known = set(session.scalars(select(User.id).where(User.id.in_(ids))))
        granted, refused = [], {}
        for uid in ids:
            if uid not in known:
                refused[uid] = "not_found"
                continue
            try:
                _issue(session, coupon, uid, source="grant", granted_by=granter.id, now=now, field="user_ids")
                granted.append(uid)
            except Conflict as exc:
                refused[uid] = exc.code
                if exc.code == "coupon_exhausted":
                    refused.update({u: "coupon_exhausted" if u in known else "not_found" for u in ids if u > uid})
                    break
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return GrantResult(granted, refused)


def issue_for_brand(
    session: Session, brand_id: int, coupon_id: int, user_id: int, *, granted_by: int, field: str = "coupon_id"
) -> UserCoupon:
    """One of `brand_id`'s own coupons into a buyer's wallet, in the caller's transaction (no commit), for a service
    that has already checked the giver may act for the brand (a customer-service agent sending it in a chat).
    Refusals as a claim's: a 422 on the field for a coupon not of the brand or out of its window, a 409 when the
    buyer holds their limit or none are left."""
    coupon = session.get(Coupon, coupon_id)
    if coupon is None or coupon.brand_id != brand_id or coupon.funded_by != CouponFunding.BRAND:
        raise ValidationFailed.one(field, "coupon_invalid")
    now = clock.now()
    check_window(coupon, now, field)
    return _issue(session, coupon, user_id, source="grant", granted_by=granted_by, now=now, field=field)


def wallet(session: Session, user: User | None) -> list[UserCoupon]:
    user = require_user(user)
    return list(session.scalars(select(UserCoupon).where(UserCoupon.user_id == user.id).order_by(UserCoupon.id.desc())))


def claimable_for_product(session: Session, user: User | None, product_id: int) -> list[tuple[Coupon, int]]:
    """The coupons a product page offers (active, in their window, not handed out in full), with how many of
    each this user already holds."""
    from commerce.catalog.models import Product

    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("product")
    now = clock.now()
    rows = session.scalars(
        select(Coupon)
        .where(
            Coupon.is_active.is_(True), Coupon.starts_at <= now, Coupon.ends_at.is_(None) | (Coupon.ends_at > now),
            Coupon.brand_id.is_(None) | (Coupon.brand_id == product.brand_id),
            Coupon.max_uses.is_(None) | (Coupon.claimed_count < Coupon.max_uses),
        )
        .order_by(Coupon.funded_by, Coupon.id)
    )  # fmt: skip
    offered = [c for c in rows if not c.product_ids or product_id in c.product_ids]
    held: dict[int, int] = {}
    if user is not None and offered:
        held = {
            cid: n
            for cid, n in session.execute(
                select(UserCoupon.coupon_id, func.count())
                .where(UserCoupon.user_id == user.id, UserCoupon.coupon_id.in_([c.id for c in offered]))
                .group_by(UserCoupon.coupon_id)
            )
        }
    return [(c, int(held.get(c.id, 0))) for c in offered]


def usable_for(session: Session, buyer_id: int, lines: Sequence[PricedLine]) -> list[tuple[UserCoupon, int]]:
    """The buyer's wallet coupons that these lines could take, each with what it would take off on its own
    (best first): what checkout offers to choose from."""
    now = clock.now()
    out = []
    for uc in session.scalars(
        select(UserCoupon).where(UserCoupon.user_id == buyer_id, UserCoupon.status == UserCouponStatus.AVAILABLE)
    ):
        try:
            check_window(uc.coupon, now, "coupon_ids")
            out.append((uc, sum(allocate(uc.coupon, lines, "coupon_ids"))))
        except ValidationFailed:
            continue
    return sorted(out, key=lambda p: (-p[1], p[0].id))


# -- pricing -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedLine:
    brand_id: int
    product_id: int
    amount: int  # what the line costs before this coupon


def applies_to(coupon: Coupon, line: PricedLine) -> bool:
    if coupon.brand_id is not None and coupon.brand_id != line.brand_id:
        return False
    return not coupon.product_ids or line.product_id in coupon.product_ids


def face_value(coupon: Coupon, eligible: int) -> int:
    """What the coupon takes off `eligible` fen, before the one-fen-per-line floor."""
    if coupon.kind == CouponKind.PERCENT:
        off = apply_bp(eligible, coupon.value)
        return min(off, coupon.max_discount) if coupon.max_discount is not None else off
    return coupon.value


def allocate(coupon: Coupon, lines: Sequence[PricedLine], field: str) -> list[int]:
    """The coupon's discount on each line, exactly to the fen (largest remainder over the eligible lines, each
    keeping at least one fen). Raises when no line is eligible or the eligible lines are below the minimum."""
    from core.money import largest_remainder

    eligible = [i for i, line in enumerate(lines) if applies_to(coupon, line)]
    if not eligible:
        raise ValidationFailed.one(field, "coupon_not_applicable")
    amount = sum(lines[i].amount for i in eligible)
    if amount < coupon.min_subtotal:
        raise ValidationFailed.one(field, "coupon_min_not_met", min_subtotal=coupon.min_subtotal)
    discount = max(0, min(face_value(coupon, amount), amount - len(eligible)))
    parts = largest_remainder(discount, [lines[i].amount - 1 for i in eligible]) if discount else []
    out = [0] * len(lines)
    for i, part in zip(eligible, parts, strict=False):
        out[i] = part
    return out


@dataclass
class Chosen:
    """A coupon the buyer chose for a checkout: from the wallet, or a code claimed on the way."""

    coupon: Coupon
    field: str
    user_coupon_id: int | None = None  # None: a typed code, claimed when the checkout commits


def choose(  # noqa: PLR0917
    session: Session, buyer_id: int, wallet_ids: Sequence[int], codes: dict[int, str], brand_ids: set[int],
    now: dt.datetime,
) -> tuple[dict[int, Chosen], list[Chosen]]:  # fmt: skip
    """The brand coupon of each brand's order and the platform coupons, checked (window, ownership, stacking)."""
    by_brand: dict[int, Chosen] = {}
    platform: list[Chosen] = []
    rows = {}
    if wallet_ids:
        rows = {
            uc.id: uc
            for uc in session.scalars(
                select(UserCoupon).where(UserCoupon.id.in_(list(wallet_ids)), UserCoupon.user_id == buyer_id)
            )
        }
    chosen: list[Chosen] = []
    for i, uid in enumerate(wallet_ids):
        field = f"coupon_ids.{i}"
        uc = rows.get(uid)
        if uc is None:
            raise ValidationFailed.one(field, "coupon_invalid")
        if uc.status != UserCouponStatus.AVAILABLE:
            raise ValidationFailed.one(field, "coupon_used")
        chosen.append(Chosen(uc.coupon, field, uc.id))
    for brand_id, code in sorted(codes.items()):
        field = f"coupons.{brand_id}"
        coupon = session.scalar(select(Coupon).where(Coupon.brand_id == brand_id, Coupon.code == code.strip().upper()))
        if coupon is None or brand_id not in brand_ids:
            raise ValidationFailed.one(field, "coupon_invalid")
        held = session.scalar(  # typed while already in the wallet: that one, not a second
            select(UserCoupon.id)
            .where(UserCoupon.coupon_id == coupon.id, UserCoupon.user_id == buyer_id,
                   UserCoupon.status == UserCouponStatus.AVAILABLE)
            .order_by(UserCoupon.id)
            .limit(1)
        )  # fmt: skip
        chosen.append(Chosen(coupon, field, held))
    for c in chosen:
        check_window(c.coupon, now, c.field)
        if c.coupon.funded_by == CouponFunding.PLATFORM:
            if any(p.coupon.id == c.coupon.id for p in platform):
                raise ValidationFailed.one(c.field, "coupon_stacking")
            platform.append(c)
            continue
        assert c.coupon.brand_id is not None
        if c.coupon.brand_id not in brand_ids:
            raise ValidationFailed.one(c.field, "coupon_not_applicable")
        if c.coupon.brand_id in by_brand:
            raise ValidationFailed.one(c.field, "coupon_stacking")
        by_brand[c.coupon.brand_id] = c
    if len(platform) > len(brand_ids):
        raise ValidationFailed.one(platform[-1].field, "coupon_stacking")
    return by_brand, platform


def use(  # noqa: PLR0917
    session: Session, buyer_id: int, chosen: Chosen, order_id: int, discount: int, now: dt.datetime
) -> None:
    """Mark the coupon used on the order (a conditional update: a wallet coupon is used once), claiming a typed
    code first. Inside the checkout's transaction."""
    uc_id = chosen.user_coupon_id
    if uc_id is None:
        uc_id = _issue(session, chosen.coupon, buyer_id, source="code", granted_by=None, now=now,
                       field=chosen.field).id  # fmt: skip
    done = session.execute(
        update(UserCoupon)
        .where(UserCoupon.id == uc_id, UserCoupon.status == UserCouponStatus.AVAILABLE)
        .values(status=UserCouponStatus.USED, order_id=order_id, discount=discount, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("coupon_used", fields=[FieldError(chosen.field, "coupon_used")])
    expire_loaded(session, UserCoupon, [uc_id])  # a wallet coupon the session still holds reads it used
    session.execute(
        update(Coupon)
        .where(Coupon.id == chosen.coupon.id)
        .values(used_count=Coupon.used_count + 1)
        .execution_options(synchronize_session=False)
    )


def give_back(session: Session, order_id: int, *, only_valid: bool) -> list[int]:
    """The order's coupons back to the buyer's wallet: always when it is cancelled unpaid; after a full refund only
    those still in their window (`only_valid`). Returns the wallet ids given back."""
    now = clock.now()
    rows = list(
        session.scalars(
            select(UserCoupon)
            .where(UserCoupon.order_id == order_id, UserCoupon.status == UserCouponStatus.USED)
            .order_by(UserCoupon.id)
            .with_for_update(of=UserCoupon)
        )
    )
    back = []
    for uc in rows:
        c = uc.coupon
        if only_valid and (not c.is_active or (c.ends_at is not None and c.ends_at <= now)):
            continue
        uc.status, uc.order_id, uc.discount, uc.used_at = UserCouponStatus.AVAILABLE, None, 0, None
        session.execute(
            update(Coupon)
            .where(Coupon.id == c.id, Coupon.used_count > 0)
            .values(used_count=Coupon.used_count - 1)
            .execution_options(synchronize_session=False)
        )
        back.append(uc.id)
    return back
