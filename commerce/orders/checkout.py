"""Checkout: reserve stock, snapshot prices, discounts, rates and attribution, create the payment.

Stock is reserved with one atomic conditional UPDATE per SKU
(`stock = stock - q WHERE stock >= q`), taken in SKU-id order, so concurrent
buyers can neither oversell nor deadlock; a failed reservation rolls the whole
checkout back. The reservation lasts `policy.reservation`; the expiry job, a
failed payment or a cancellation gives it back.

One checkout makes one order per brand and one payment for all of them.
Every line records what decides its money later: unit and list price, its
part of the discount, the affiliate offer version and rates in force, the
platform fee, the artist and sharer credited (or why they are not), and
whether its commissions are held for review.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.attribution.models import ShareClick
from commerce.catalog import affiliate, showcase
from commerce.catalog.models import Product, ProductStatus, Sku, VideoProduct
from commerce.orders import cart, lifecycle
from commerce.orders.lifecycle import Actor
from commerce.orders.models import Checkout, Coupon, CouponKind, Order, OrderLine, ReviewStatus
from commerce.payments import service as payments
from commerce.payments.provider import PaymentProvider
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_user
from core.errors import Conflict, FieldError, ValidationFailed, register_messages
from core.ids import sha256_hex
from core.money import apply_bp, largest_remainder
from media.models import Video

register_messages(
    {
        "out_of_stock": ("库存不足", "Not enough stock"),
        "coupon_invalid": ("优惠券无效或已过期", "This coupon is not valid"),
        "coupon_min_not_met": ("未达到优惠券使用门槛", "The order does not reach the coupon's minimum"),
        "coupon_exhausted": ("优惠券已被领完", "This coupon has been used up"),
        "invalid_phone": ("手机号格式不正确", "The phone number is not valid"),
    }
)

PURPOSE = "checkout"
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


@dataclass(frozen=True)
class CheckoutItem:
    sku_id: int
    quantity: int
    source_video_id: int | None = None  # bought from a product card on this video
    source_artist_id: int | None = None  # bought from this artist's showcase


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str

    def check(self) -> None:
        errors = []
        for field_name, value, low, high in (
            ("name", self.name, 1, 32), ("province", self.province, 1, 32), ("city", self.city, 1, 32),
            ("district", self.district, 1, 32), ("detail", self.detail, 2, 200),
        ):  # fmt: skip
            if not low <= len(value.strip()) <= high:
                errors.append(FieldError(f"address.{field_name}", "string_too_short" if value.strip() else "missing"))
        if not _PHONE.match(self.phone.strip()):
            errors.append(FieldError("address.phone", "invalid_phone"))
        if errors:
            raise ValidationFailed(fields=errors)

    def fingerprint(self) -> str:
        """The same place however it is typed: spaces and case ignored; who receives it does not matter."""
        parts = (self.province, self.city, self.district, self.detail)
        return sha256_hex("|".join(re.sub(r"\s+", "", p).lower() for p in parts))


@dataclass(frozen=True)
class PaymentLinks:
    notify_url: str
    return_url: str  # may contain "{checkout_id}"


def _merge(items: Sequence[CheckoutItem]) -> list[CheckoutItem]:
    if not items:
        raise ValidationFailed.one("items", "too_short")
    if len(items) > cart.MAX_ITEMS:
        raise ValidationFailed.one("items", "too_long")
    merged: dict[int, CheckoutItem] = {}
    errors = []
    for i, item in enumerate(items):
        if not 1 <= item.quantity <= cart.MAX_QUANTITY:
            errors.append(
                FieldError(f"items.{i}.quantity", "less_than_equal" if item.quantity > 1 else "greater_than_equal")
            )
            continue
        seen = merged.get(item.sku_id)
        merged[item.sku_id] = item if seen is None else CheckoutItem(
            item.sku_id, seen.quantity + item.quantity, seen.source_video_id or item.source_video_id,
            seen.source_artist_id or item.source_artist_id,
        )  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    return list(merged.values())


class _Links:
    """Which videos carry which products, asked once per checkout."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[int, int], bool] = {}

    def linked(self, video_id: int, product_id: int) -> bool:
        key = (video_id, product_id)
        if key not in self._cache:
            self._cache[key] = (
                self.session.scalar(
                    select(VideoProduct.id).where(
                        VideoProduct.video_id == video_id, VideoProduct.product_id == product_id
                    )
                )
                is not None
            )
        return self._cache[key]

    def click_matches(self, product_id: int):  # type: ignore[no-untyped-def]
        def matches(click: ShareClick) -> bool:
            if click.target_kind == TargetKind.PRODUCT:
                return click.target_id == product_id
            return self.linked(click.target_id, product_id)

        return matches


@dataclass(frozen=True)
class _ArtistSource:
    artist_id: int | None
    kind: str | None
    video_id: int | None


def _artist_source(session: Session, links: _Links, item: CheckoutItem, product: Product) -> _ArtistSource:
    """The artist credited because the purchase started on their video's product card or in their showcase."""
    if item.source_video_id is not None:
        video = session.get(Video, item.source_video_id)
        if video is None or not links.linked(video.id, product.id):
            return _ArtistSource(None, None, None)  # a claim the catalog does not back: no credit
        uploader = session.get(User, video.uploader_id)
        artist = uploader.id if uploader is not None and uploader.is_artist and video.brand_id is None else None
        return _ArtistSource(artist, "video", video.id)
    if item.source_artist_id is not None:
        artist_user = session.get(User, item.source_artist_id)
        if artist_user is not None and artist_user.is_artist and showcase.carries(session, artist_user.id, product.id):
            return _ArtistSource(artist_user.id, "showcase", None)
    return _ArtistSource(None, None, None)


def _coupon_discount(session: Session, brand_id: int, code: str, subtotal: int, field: str) -> Coupon:
    coupon = session.scalar(select(Coupon).where(Coupon.brand_id == brand_id, Coupon.code == code.strip().upper()))
    now = clock.now()
    if coupon is None or not coupon.is_active or coupon.starts_at > now or (coupon.ends_at and coupon.ends_at <= now):
        raise ValidationFailed.one(field, "coupon_invalid")
    if subtotal < coupon.min_subtotal:
        raise ValidationFailed.one(field, "coupon_min_not_met")
    return coupon


def coupon_amount(coupon: Coupon, subtotal: int) -> int:
    return coupon.value if coupon.kind == CouponKind.AMOUNT else apply_bp(subtotal, coupon.value)


def place_order(
    session: Session,
    buyer: User | None,
    *,
    items: Sequence[CheckoutItem],
    address: Address,
    provider: PaymentProvider,
    policy: MoneyPolicy,
    links: PaymentLinks,
    coupon_codes: Mapping[int, str] | None = None,
    click_ids: Sequence[str] = (),
    device_hash: str | None = None,
    from_cart: bool = False,
) -> Checkout:
    """Reserve, snapshot, attribute, create the payment. Commits; on any error nothing is kept."""
    buyer = require_user(buyer)
    wanted = _merge(items)
    address.check()
    try:
        checkout = _place(session, buyer, wanted, address, provider, policy, links, coupon_codes or {}, click_ids,
                          device_hash, from_cart)  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return checkout


def _place(
    session: Session,
    buyer: User,
    wanted: list[CheckoutItem],
    address: Address,
    provider: PaymentProvider,
    policy: MoneyPolicy,
    links: PaymentLinks,
    coupon_codes: Mapping[int, str],
    click_ids: Sequence[str],
    device_hash: str | None,
    from_cart: bool,
) -> Checkout:
    now = clock.now()
    skus = {s.id: s for s in session.scalars(select(Sku).where(Sku.id.in_([w.sku_id for w in wanted])))}
    errors = [
        FieldError(f"items.{i}.sku_id", "sku_unavailable")
        for i, w in enumerate(wanted)
        if w.sku_id not in skus or not skus[w.sku_id].is_active or skus[w.sku_id].product.status != ProductStatus.ACTIVE
    ]
    if errors:
        raise ValidationFailed(fields=errors)

    # Reserve: one conditional decrement per SKU, in id order.
    for i, w in sorted(enumerate(wanted), key=lambda p: p[1].sku_id):
        reserved = session.execute(
            update(Sku)
            .where(Sku.id == w.sku_id, Sku.stock >= w.quantity, Sku.is_active.is_(True))
            .values(stock=Sku.stock - w.quantity)
            .execution_options(synchronize_session=False)
        )
        if reserved.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("out_of_stock", fields=[FieldError(f"items.{i}.quantity", "out_of_stock")])

    by_brand: dict[int, list[CheckoutItem]] = defaultdict(list)
    for w in wanted:
        by_brand[skus[w.sku_id].brand_id].append(w)
    unknown = [b for b in coupon_codes if b not in by_brand]
    if unknown:
        raise ValidationFailed.one(f"coupons.{unknown[0]}", "coupon_invalid")

    buyer_facts = attribution.BuyerFacts(buyer.id, device_hash, address.fingerprint())
    clicks = attribution.candidate_clicks(
        session, buyer_id=buyer.id, device_hash=device_hash, click_ids=click_ids, now=now, policy=policy
    )
    video_links = _Links(session)
    checkout = Checkout(buyer_id=buyer.id, total=0, created_at=now)
    session.add(checkout)
    session.flush()
    credits: dict[int, attribution.SharerCredit] = {}
    review: list[str] | None = None
    orders: list[Order] = []
    for brand_id in sorted(by_brand):
        group = by_brand[brand_id]
        subtotals = [skus[w.sku_id].price_fen * w.quantity for w in group]
        subtotal = sum(subtotals)
        coupon = None
        discount = 0
        if brand_id in coupon_codes:
            coupon = _coupon_discount(session, brand_id, coupon_codes[brand_id], subtotal, f"coupons.{brand_id}")
            # Every line keeps at least one fen, so every line has something to split.
            discount = min(coupon_amount(coupon, subtotal), subtotal - len(group))
            claimed = session.execute(
                update(Coupon)
                .where(Coupon.id == coupon.id, (Coupon.max_uses.is_(None)) | (Coupon.used_count < Coupon.max_uses))
                .values(used_count=Coupon.used_count + 1)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("coupon_exhausted", fields=[FieldError(f"coupons.{brand_id}", "coupon_exhausted")])
        line_discounts = largest_remainder(discount, [s - 1 for s in subtotals]) if discount else [0] * len(group)
        order = Order(
            checkout_id=checkout.id, buyer_id=buyer.id, brand_id=brand_id, subtotal=subtotal, discount=discount,
            total=subtotal - discount, coupon_id=coupon.id if coupon else None, address=asdict(address),
            address_hash=buyer_facts.address_hash, device_hash=device_hash, reserved_until=now + policy.reservation,
            created_at=now,
        )  # fmt: skip
        session.add(order)
        session.flush()
        brand_members = set(session.scalars(select(BrandMember.user_id).where(BrandMember.brand_id == brand_id)))
        for w, line_subtotal, line_discount in zip(group, subtotals, line_discounts, strict=True):
            sku = skus[w.sku_id]
            product = sku.product
            rates = affiliate.commission_rates(session, product.id, at=now)
            source = _artist_source(session, video_links, w, product)
            artist_blocked = None
            if source.artist_id is not None:
                artist_blocked = (
                    "own_brand" if source.artist_id in brand_members
                    else attribution.self_referral(session, source.artist_id, buyer_facts)
                )  # fmt: skip
            credit = attribution.credit_sharer(
                session, buyer_id=buyer.id, clicks=clicks, matches=video_links.click_matches(product.id), now=now,
                policy=policy,
            )  # fmt: skip
            sharer_blocked = parent_blocked = None
            parent = None
            if credit is not None:
                sharer_blocked = attribution.self_referral(session, credit.sharer_id, buyer_facts)
                parent = credit.parent_sharer_id if policy.commission_levels >= 2 else None
                if parent is not None:
                    parent_blocked = (
                        "same_as_sharer" if parent == credit.sharer_id
                        else attribution.self_referral(session, parent, buyer_facts)
                    )  # fmt: skip
                if sharer_blocked is None and credit.via == "click":
                    credits[credit.sharer_id] = credit
            artist_bp = rates.artist_rate_bp if source.artist_id is not None and artist_blocked is None else 0
            sharer_bp = rates.sharer_rate_bp if credit is not None and sharer_blocked is None else 0
            level2_bp = policy.level2_share_bp if sharer_bp and parent is not None and parent_blocked is None else 0
            hold: list[str] = []
            if artist_bp or sharer_bp:
                if review is None:
                    review = attribution.review_reasons(
                        session, buyer=buyer, device_hash=device_hash, credit=credit, now=now, policy=policy
                    )
                hold = review
            session.add(
                OrderLine(
                    order_id=order.id, product_id=product.id, sku_id=sku.id, product_name=product.name,
                    sku_attributes=dict(sku.attributes or {}), quantity=w.quantity, unit_price=sku.price_fen,
                    list_price=sku.list_price_fen, discount=line_discount, paid_amount=line_subtotal - line_discount,
                    offer_id=rates.offer_id, platform_fee_bp=policy.platform_fee_bp, artist_rate_bp=artist_bp,
                    sharer_rate_bp=sharer_bp, level2_share_bp=level2_bp, source_kind=source.kind,
                    source_video_id=source.video_id, artist_id=source.artist_id, artist_blocked=artist_blocked,
                    sharer_id=credit.sharer_id if credit else None, sharer_via=credit.via if credit else None,
                    click_id=credit.click_id if credit else None, sharer_blocked=sharer_blocked,
                    parent_sharer_id=parent, parent_blocked=parent_blocked,
                    review_status=ReviewStatus.HELD if hold else ReviewStatus.NONE, hold_reasons=list(hold),
                )
            )  # fmt: skip
        lifecycle.record_created(session, order, Actor.of("buyer", buyer))
        orders.append(order)

    for credit in credits.values():
        attribution.bind(session, buyer.id, credit, until=now + policy.binding)
    attribution.remember_device(session, buyer.id, device_hash)
    if from_cart:
        cart.remove_skus(session, buyer.id, [w.sku_id for w in wanted])
    checkout.total = sum(o.total for o in orders)
    session.flush()
    payment = payments.start_payment(
        session,
        provider,
        purpose=PURPOSE,
        reference_id=checkout.id,
        payer_id=buyer.id,
        amount=checkout.total,
        description=", ".join(sorted({skus[w.sku_id].product.name for w in wanted}))[:200],
        notify_url=links.notify_url,
        return_url=links.return_url.format(checkout_id=checkout.id),
        expires_at=now + policy.reservation,
    )
    checkout.payment_id = payment.id
    session.flush()
    session.expire(checkout, ["orders"])
    return checkout


def cart_items(session: Session, buyer: User | None) -> list[CheckoutItem]:
    """Everything in the buyer's cart, with its sources, as checkout items."""
    return [
        CheckoutItem(line.item.sku_id, line.item.quantity, line.item.source_video_id, line.item.source_artist_id)
        for line in cart.list_items(session, buyer)
    ]
