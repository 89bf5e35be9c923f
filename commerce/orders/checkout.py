"""Checkout: reserve stock, snapshot prices, discounts, rates and attribution, create the payment.

Stock is reserved with one atomic conditional UPDATE per SKU
(`stock = stock - q WHERE stock >= q`), taken in SKU-id order, so concurrent
buyers can neither oversell nor deadlock; a failed reservation rolls the whole
checkout back. The reservation lasts `policy.reservation`; the expiry job, a
failed payment or a cancellation gives it back. These row locks (and coupon
uses) are the contended ones, so they are taken last, right before the
commit: a SKU already sold out fails first, on what the checkout read; a
buyer who loses the race for the last unit leaves at most an unreachable
payment at the provider, which expires there.

One checkout makes one order per brand and one payment for all of them.
Every line records what decides its money later: unit and list price, its
part of the discount, the affiliate offer version and rates in force, the
platform fee, the artist and sharer credited (or why they are not), and
whether its commissions are held for review.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import BigInteger, Row, Select, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.catalog import affiliate, showcase
from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, Sku, VideoProduct
from commerce.distribution import binding as distribution
from commerce.marketing import bargains, coupons, flash_sales, group_buys
from commerce.orders import cart, lifecycle
from commerce.orders.models import PAYMENT_PURPOSE, Checkout, Order, OrderEvent, OrderLine, ReviewStatus
from commerce.payments import service as payments
from commerce.payments.provider import PaymentProvider
from commerce.policy import MoneyPolicy
from commerce.support import fees as support_fees
from core import clock
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_user
from core.db import (
    Lookup,
    Rows,
    UTCDateTime,
    adopt,
    complete_rows,
    insert_from_json,
    is_postgres,
    rows_json,
    write_together,
)
from core.errors import Conflict, FieldError, ValidationFailed, register_field_labels, register_messages
from core.ids import sha256_hex
from core.money import BP_WHOLE
from media.models import Video

register_field_labels(
    {
        "address": ("收货地址", "The delivery address"),
        "address.name": ("收货人姓名", "Recipient's name"),
        "address.phone": ("收货人手机号", "Recipient's phone number"),
        "address.province": ("省份", "The province"),
        "address.city": ("城市", "The city"),
        "address.district": ("区县", "The district"),
        "address.detail": ("详细地址", "The street address"),
        "items": ("商品", "The items"),
        "items.*.quantity": ("第 {0} 件商品的数量", "Quantity of item {0}"),
        "items.*.sku_id": ("第 {0} 件商品的规格", "SKU of item {0}"),
        "items.*.source_video_id": ("第 {0} 件商品的来源视频", "Source video of item {0}"),
        "items.*.source_artist_id": ("第 {0} 件商品的来源艺人", "Source artist of item {0}"),
        "coupons": ("优惠券", "The coupons"),
        "coupons.*": ("优惠券", "The coupon"),
        "click_id": ("分享链接", "The share link"),
        "from_cart": ("是否结算购物车", "From the cart"),
    }
)
register_messages(
    {
        "out_of_stock": ("库存不足", "Not enough stock"),
        "quantity_over_stock": ("{label}超过了现有库存", "{label} is more than the stock left"),
        "invalid_phone": ("手机号格式不正确", "The phone number is not valid"),
    }
)

PURPOSE = PAYMENT_PURPOSE
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
                size = len(value.strip())
                kind = "missing" if not size else "string_too_long" if size > high else "string_too_short"
                errors.append(FieldError(f"address.{field_name}", kind))
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
    client_ip: str | None = None  # the buyer's address (WeChat Pay's H5 payment needs it)
    payer_openid: str | None = None  # the buyer inside WeChat (its JSAPI payment needs it)


def _over_stock(i: int) -> FieldError:
    return FieldError(f"items.{i}.quantity", "out_of_stock", says="quantity_over_stock")


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

    def remember(self, video_id: int, product_id: int, linked: bool) -> None:
        self._cache[(video_id, product_id)] = linked

    def prefetch(self, video_ids: set[int], product_ids: set[int]) -> None:
        """Every (video, product) pair the checkout may ask about, in one query."""
        video_ids = {v for v in video_ids if any((v, p) not in self._cache for p in product_ids)}
        if not video_ids:
            return
        rows = self.session.execute(_LINKS, {"videos": sorted(video_ids), "products": sorted(product_ids)})
        found = {(v, p) for v, p in rows}
        for v in video_ids:
            for p in product_ids:
                self._cache.setdefault((v, p), (v, p) in found)

    def linked(self, video_id: int, product_id: int) -> bool:
        key = (video_id, product_id)
        if key not in self._cache:
            self.prefetch({video_id}, {product_id})
        return self._cache[key]

    def click_matches(self, product_id: int) -> Callable[[attribution.Click], bool]:
        def matches(click: attribution.Click) -> bool:
            if click.target_kind == TargetKind.PRODUCT:
                return click.target_id == product_id
            return self.linked(click.target_id, product_id)

        return matches


@dataclass(frozen=True)
class _ArtistSource:
    artist_id: int | None
    kind: str | None
    video_id: int | None
    own_brand: bool = False


def _artist_source(
    session: Session, links: _Links, item: CheckoutItem, sku: Row[Any], loaded_video: int | None
) -> _ArtistSource:
    """The artist credited because the purchase started on their video's product card or in their showcase.

    `own_brand` comes back set when that artist is a member of the product's brand (their own sale, no commission).
    The video `loaded_video` was read with the SKUs (`_LOAD`); another one is asked for here.
    """
    if item.source_video_id is not None:
        if item.source_video_id == loaded_video:
            video: Any = None if sku.src_uploader_id is None else (
                sku.src_video_id, sku.src_video_brand_id, sku.src_uploader_id, sku.src_uploader_is_artist,
                sku.src_linked, sku.src_own,
            )  # fmt: skip
        else:
            video = session.execute(
                _VIDEO_SOURCE, {"video": item.source_video_id, "product": sku.product_id, "brand": sku.brand_id}
            ).first()
        if video is None:
            return _ArtistSource(None, None, None)
        video_id, brand_id, uploader_id, is_artist, linked, own = video
        links.remember(video_id, sku.product_id, linked)
        if not linked:
            return _ArtistSource(None, None, None)  # a claim the catalog does not back: no credit
        artist = uploader_id if is_artist and brand_id is None else None
        return _ArtistSource(artist, "video", video_id, own_brand=bool(own) and artist is not None)
    if item.source_artist_id is not None:
        member = exists().where(BrandMember.brand_id == sku.brand_id, BrandMember.user_id == User.id)
        row = session.execute(select(User.is_artist, member).where(User.id == item.source_artist_id)).first()
        if row is not None and row[0] and showcase.carries(session, item.source_artist_id, sku.product_id):
            return _ArtistSource(item.source_artist_id, "showcase", None, own_brand=bool(row[1]))
    return _ArtistSource(None, None, None)


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
    coupon_ids: Sequence[int] = (),
    click_ids: Sequence[str] = (),
    device_hash: str | None = None,
    from_cart: bool = False,
    conversation_id: int | None = None,
) -> Checkout:
    """Reserve, snapshot, attribute, create the payment. Commits; on any error nothing is kept."""
    buyer = require_user(buyer)
    wanted = _merge(items)
    address.check()
    builder = _Builder(session, buyer, address, policy, device_hash)
    try:
        skus = builder.load(wanted)
        by_brand: dict[int, list[CheckoutItem]] = defaultdict(list)
        for w in wanted:
            by_brand[skus[w.sku_id].brand_id].append(w)
        # At most one brand coupon and one platform coupon per order (a wallet's or a typed code's).
        brand_coupons, platform_coupons = coupons.choose(
            session, buyer.id, list(coupon_ids), dict(coupon_codes or {}), set(by_brand), builder.now
        )
        builder.attribution_context(click_ids)
        plans = [builder.plan(brand, by_brand[brand], brand_coupons.get(brand)) for brand in sorted(by_brand)]
        builder.apply_platform(plans, platform_coupons)
        total = sum(p.total for p in plans)
        checkout_id, order_ids = builder.checkout(plans, total, builder.lines(plans))
        if conversation_id is not None:  # placed from a customer-service chat: its agent's fee on the brand's lines
            support_fees.credit_agent(session, buyer.id, conversation_id, order_ids, builder.now)
        builder.claim_flash(plans, order_ids)
        builder.claim_bargains(plans, order_ids)
        builder.bind_and_remember()
        if from_cart:
            cart.remove_skus(session, buyer.id, [w.sku_id for w in wanted])
        payment = payments.start_payment(
            session,
            provider,
            purpose=PURPOSE,
            reference_id=checkout_id,
            payer_id=buyer.id,
            amount=total,
            description=", ".join(sorted({skus[w.sku_id].product_name for w in wanted}))[:200],
            notify_url=links.notify_url,
            return_url=links.return_url.format(checkout_id=checkout_id),
            expires_at=builder.reserved_until(wanted),
            client_ip=links.client_ip,
            payer_openid=links.payer_openid,
        )
        # The contended rows (stock, coupon uses) are taken last, so their locks are held as briefly as can be (never
        # across the provider's round trip): SKUs in id order, then coupons in brand order, in every checkout.
        builder.reserve(wanted)
        builder.use_coupons(plans, order_ids)
        checkout = adopt(session, Checkout(id=checkout_id, buyer_id=buyer.id, total=total, created_at=builder.now))
        set_committed_value(checkout, "payment", payment)  # what the caller shows next (its pay URL), as written
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return checkout


@dataclass(frozen=True)
class Quote:
    """What a checkout would cost with these coupons, and who funds the discount (nothing is written)."""

    subtotal: int
    brand_discount: int
    platform_discount: int
    total: int
    applied: list[tuple[int | None, int, str]]  # (wallet coupon id, fen off, funded by)


_NOWHERE = Address("", "", "", "", "", "")


def quote(
    session: Session, buyer: User | None, *, items: Sequence[CheckoutItem], policy: MoneyPolicy,
    coupon_ids: Sequence[int] = (),
) -> Quote:  # fmt: skip
    """The checkout's pricing, read only: the same refusals as `place_order` (stacking, thresholds, windows)."""
    buyer = require_user(buyer)
    wanted = _merge(items)
    builder = _Builder(session, buyer, _NOWHERE, policy, None)
    skus = builder.load(wanted)
    by_brand: dict[int, list[CheckoutItem]] = defaultdict(list)
    for w in wanted:
        by_brand[skus[w.sku_id].brand_id].append(w)
    brand_coupons, platform_coupons = coupons.choose(
        session, buyer.id, list(coupon_ids), {}, set(by_brand), builder.now
    )
    plans = [builder.plan(brand, by_brand[brand], brand_coupons.get(brand)) for brand in sorted(by_brand)]
    builder.apply_platform(plans, platform_coupons)
    platform = sum(sum(p.platform_discounts) for p in plans)
    discount = sum(p.discount for p in plans)
    return Quote(
        subtotal=sum(sum(p.subtotals) for p in plans), brand_discount=discount - platform, platform_discount=platform,
        total=sum(p.total for p in plans),
        applied=[(c.user_coupon_id, amount, str(c.coupon.funded_by)) for p in plans for c, amount in p.used],
    )  # fmt: skip


@dataclass
class _LineCredit:
    """Who a line pays besides the brand and the platform, at which rates, and why not when not."""

    source: _ArtistSource
    artist_blocked: str | None
    credit: attribution.SharerCredit | None
    sharer_blocked: str | None
    parent: int | None
    parent_blocked: str | None
    artist_bp: int
    sharer_bp: int
    level2_bp: int
    offer_id: int | None


@dataclass
class _Plan:
    brand_id: int
    group: list[CheckoutItem]
    subtotals: list[int]
    line_discounts: list[int]  # every coupon's part of each line
    platform_discounts: list[int]  # the platform-funded part of `line_discounts`
    used: list[tuple[coupons.Chosen, int]]  # each coupon and what it took off

    @property
    def discount(self) -> int:
        return sum(self.line_discounts)

    @property
    def coupon_id(self) -> int | None:
        """The order's brand coupon (the orders table's own column; every coupon is on its wallet row)."""
        return next((c.coupon.id for c, _ in self.used if c.coupon.funded_by == "brand"), None)

    @property
    def total(self) -> int:
        return sum(self.subtotals) - self.discount


class _Builder:
    """The steps of one checkout, sharing what they look up once."""

    def __init__(
        self, session: Session, buyer: User, address: Address, policy: MoneyPolicy, device_hash: str | None
    ) -> None:
        self.session, self.buyer, self.address, self.policy = session, buyer, address, policy
        self.device_hash = device_hash
        self.now = clock.now()
        self.facts = attribution.BuyerFacts(buyer.id, device_hash, address.fingerprint())
        self.links = _Links(session)
        self.skus: dict[int, Row[Any]] = {}
        self.loaded_video: int | None = None  # the source video read with the SKUs
        self.context = attribution.BuyerContext(None, None)
        self.clicks: list[attribution.Click] = []
        self.credits: dict[int, attribution.SharerCredit] = {}
        self.flash: dict[int, flash_sales.FlashLine] = {}
        self.bargains: dict[int, bargains.BargainLine] = {}
        self.group: dict[int, group_buys.GroupLine] = {}  # lines the buyer holds a group-buy seat for

    def unit_price(self, sku_id: int) -> int:
        line = self.flash.get(sku_id) or self.group.get(sku_id)
        return line.price_fen if line is not None else int(self.skus[sku_id].price_fen)

    def reserved_until(self, group: Sequence[CheckoutItem]) -> dt.datetime:
        """The reservation, cut short by the pay deadline of any flash-sale line in it."""
        deadlines = [m[w.sku_id].pay_deadline for m in (self.flash, self.group) for w in group if w.sku_id in m]
        return min([self.now + self.policy.reservation, *deadlines])

    def claim_flash(self, plans: list[_Plan], order_ids: list[int]) -> None:
        for plan, order_id in zip(plans, order_ids, strict=True):
            for i, w in enumerate(plan.group):
                if w.sku_id in self.flash:
                    flash_sales.claim(self.session, self.flash[w.sku_id], order_id, self.now, f"items.{i}.sku_id")
                elif w.sku_id in self.group:
                    group_buys.claim(self.session, self.group[w.sku_id], order_id, self.now, f"items.{i}.sku_id")

    def bargain_cut(self, sku_id: int) -> int:
        """What a bargain takes off the line (one unit down to the bargained price; brand-funded), else 0."""
        line = self.bargains.get(sku_id)
        return line.cut(self.unit_price(sku_id)) if line is not None else 0

    def claim_bargains(self, plans: list[_Plan], order_ids: list[int]) -> None:
        for plan, order_id in zip(plans, order_ids, strict=True):
            for i, w in enumerate(plan.group):
                cut = self.bargain_cut(w.sku_id)
                if cut:
                    bargains.claim(
                        self.session, self.bargains[w.sku_id], order_id, self.now, f"items.{i}.sku_id", cut_fen=cut
                    )

    def load(self, wanted: list[CheckoutItem]) -> dict[int, Row[Any]]:
        """The SKUs with their product's name and status and the affiliate offer in force, in one query; with them,
        the first source video's uploader and whether it carries each product (most checkouts name one video)."""
        self.loaded_video = next((w.source_video_id for w in wanted if w.source_video_id is not None), None)
        rows = self.session.execute(
            _LOAD,
            {"ids": [w.sku_id for w in wanted], "now": self.now, "buyer": self.buyer.id, "video": self.loaded_video,
             "device": self.device_hash, "address": self.facts.address_hash},
        )  # fmt: skip
        self.skus = {r.id: r for r in rows}
        errors = [
            FieldError(f"items.{i}.sku_id", "sku_unavailable")
            for i, w in enumerate(wanted)
            if w.sku_id not in self.skus
            or not self.skus[w.sku_id].is_active
            or self.skus[w.sku_id].product_status != ProductStatus.ACTIVE
        ]
        if errors:
            raise ValidationFailed(fields=errors)
        # Marketing prices the lines the buyer was admitted for in a flash sale; the sale holds their units.
        # (Asked only when the load saw an admission: most checkouts have none.)
        if any(r.flash_admitted for r in self.skus.values()):
            self.flash = flash_sales.lines_for(self.session, self.buyer.id, [w.sku_id for w in wanted], self.now)
        if any(r.group_seated for r in self.skus.values()):  # a group-buy seat: the group price (same idea)
            self.group = group_buys.lines_for(self.session, self.buyer.id, wanted, self.now)
        if any(r.bargain_started for r in self.skus.values()):  # a bargained unit: the cut is a brand discount
            found = bargains.lines_for(self.session, self.buyer.id, [w.sku_id for w in wanted], self.now)
            self.bargains = {
                sku: line for sku, line in found.items() if sku not in self.flash and sku not in self.group
            }
        for i, w in enumerate(wanted):
            flash = self.flash.get(w.sku_id)
            if flash is not None and flash.quantity != w.quantity:
                raise ValidationFailed.one(f"items.{i}.quantity", "flash_sale_quantity", quantity=flash.quantity)
        # Gone already: fail before doing the rest. (Only a hint: the conditional decrement in `reserve` decides.)
        for i, w in enumerate(wanted):
            if w.sku_id not in self.flash and self.skus[w.sku_id].stock < w.quantity:
                raise Conflict("out_of_stock", fields=[_over_stock(i)])
        return self.skus

    def reserve(self, wanted: list[CheckoutItem]) -> None:
        """One conditional decrement per SKU, in id order: no oversell, no deadlock."""
        for i, w in sorted(enumerate(wanted), key=lambda p: p[1].sku_id):
            if w.sku_id in self.flash:
                continue  # the flash sale set these units aside; the claimed admission holds them
            reserved = self.session.execute(_RESERVE, {"sku": w.sku_id, "qty": w.quantity, "now": self.now})
            if reserved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("out_of_stock", fields=[_over_stock(i)])

    def attribution_context(self, click_ids: Sequence[str]) -> None:
        """The buyer's binding and device's recent checkouts; only without a binding do their recent clicks matter."""
        # One product (the usual checkout): the clicks say whether their videos carry it, so crediting a click on a
        # video asks nothing more.
        products = {int(sku.product_id) for sku in self.skus.values()}
        only = next(iter(products)) if len(products) == 1 else None
        self.context = attribution.buyer_context(
            self.session, self.facts, self.now, policy=self.policy, click_ids=click_ids, product_id=only
        )
        self.clicks = list(self.context.clicks)
        if only is not None:
            for click in self.clicks:
                if click.target_kind == TargetKind.VIDEO:
                    self.links.remember(click.target_id, only, click.carries)

    def _priced(self, brand_id: int, group: list[CheckoutItem], amounts: list[int]) -> list[coupons.PricedLine]:
        return [
            coupons.PricedLine(brand_id, int(self.skus[w.sku_id].product_id), amount)
            for w, amount in zip(group, amounts, strict=True)
        ]

    def plan(self, brand_id: int, group: list[CheckoutItem], chosen: coupons.Chosen | None) -> _Plan:
        """One brand's order before it is written: amounts, and its brand coupon's part of each line."""
        subtotals = [self.unit_price(w.sku_id) * w.quantity for w in group]
        cuts = [self.bargain_cut(w.sku_id) for w in group]
        parts, used = [0] * len(group), []
        if chosen is not None:
            left = [s - c for s, c in zip(subtotals, cuts, strict=True)]
            parts = coupons.allocate(chosen.coupon, self._priced(brand_id, group, left), chosen.field)
            used.append((chosen, sum(parts)))
        discounts = [c + p for c, p in zip(cuts, parts, strict=True)]
        return _Plan(brand_id, group, subtotals, discounts, [0] * len(group), used)

    def apply_platform(self, plans: list[_Plan], chosen: list[coupons.Chosen]) -> None:
        """Each platform coupon goes to the order (without one yet) it takes the most off, after the brand coupon."""
        for c in chosen:
            best: tuple[int, _Plan, list[int]] | None = None
            refusal: ValidationFailed | None = None
            for plan in plans:
                if any(u.coupon.funded_by == "platform" for u, _ in plan.used):
                    continue
                left = [s - d for s, d in zip(plan.subtotals, plan.line_discounts, strict=True)]
                try:
                    parts = coupons.allocate(c.coupon, self._priced(plan.brand_id, plan.group, left), c.field)
                except ValidationFailed as exc:
                    if refusal is None or exc.fields[0].code == "coupon_min_not_met":
                        refusal = exc
                    continue
                if best is None or sum(parts) > best[0]:
                    best = (sum(parts), plan, parts)
            if best is None:
                raise refusal or ValidationFailed.one(c.field, "coupon_stacking")
            amount, plan, parts = best
            plan.line_discounts = [d + p for d, p in zip(plan.line_discounts, parts, strict=True)]
            plan.platform_discounts = [d + p for d, p in zip(plan.platform_discounts, parts, strict=True)]
            plan.used.append((c, amount))

    def use_coupons(self, plans: list[_Plan], order_ids: list[int]) -> None:
        """Mark every coupon used on its order, in coupon-id order (the lock order of every checkout)."""
        uses = [(c, amount, order) for plan, order in zip(plans, order_ids, strict=True) for c, amount in plan.used]
        for c, amount, order_id in sorted(uses, key=lambda u: u[0].coupon.id):
            coupons.use(self.session, self.buyer.id, c, order_id, amount, self.now)

    def checkout(self, plans: list[_Plan], total: int, lines: Rows) -> tuple[int, list[int]]:
        """Insert the checkout, its orders (one per brand), their `lines` and their first events: the checkout's id
        and the orders', in `plans` order.

        PostgreSQL writes them all in one statement: the orders take the checkout's id from its insert's RETURNING,
        the lines and events their order's id from the orders' (found by brand). SQLite has no writable WITH: the
        checkout, then the orders, then the lines and events. The rows and their values are the same on both.
        """
        checkout = {"checkout_buyer": self.buyer.id, "checkout_total": total, "checkout_at": self.now}
        orders = complete_rows(_orders, [
            {"buyer_id": self.buyer.id, "brand_id": plan.brand_id, "subtotal": sum(plan.subtotals),
             "discount": plan.discount, "total": plan.total, "coupon_id": plan.coupon_id,
             "address": asdict(self.address), "address_hash": self.facts.address_hash,
             "device_hash": self.device_hash, "reserved_until": self.reserved_until(plan.group), "created_at": self.now}
            for plan in plans
        ])  # fmt: skip
        # Keyed by brand like the lines: the brand stands in for its order's id until the orders are written.
        events = lifecycle.created_write([plan.brand_id for plan in plans], self.buyer, self.now)
        postgres = is_postgres(self.session)
        if postgres:
            line_rows, event_rows = complete_rows(lines.table, lines.rows), complete_rows(events.table, events.rows)
            written = self.session.execute(
                _checkout_written(tuple(orders[0]), tuple(line_rows[0]), tuple(event_rows[0])),
                {**checkout, "orders": rows_json(orders), "lines": rows_json(line_rows),
                 "events": rows_json(event_rows)},
            ).all()  # fmt: skip
        else:
            checkout_id = self.session.execute(_INSERT_CHECKOUT, checkout).scalar_one()
            written = self.session.execute(_INSERT_ORDERS, [{**o, "checkout_id": checkout_id} for o in orders]).all()
        # RETURNING promises no order: a checkout's orders are told apart by their brand (one order per brand).
        by_brand = {int(row.brand_id): int(row.id) for row in written}
        if not postgres:  # the lines and events once their orders' ids are known, in one round trip where it can
            write_together(self.session, [
                Rows(w.table, [{**row, "order_id": by_brand[row["order_id"]]} for row in w.rows])
                for w in (lines, events)
            ])  # fmt: skip
        return int(written[0].checkout_id), [by_brand[plan.brand_id] for plan in plans]

    def lines(self, plans: list[_Plan]) -> Rows:
        """Every line of every order, with its credits, for `checkout` to insert. The orders are not written yet: a
        line's `order_id` is its brand's id, which `checkout` turns into its order's (one order per brand)."""
        items = [w for plan in plans for w in plan.group]
        sources = {
            w.sku_id: _artist_source(self.session, self.links, w, self.skus[w.sku_id], self.loaded_video) for w in items
        }
        video_clicks = {c.target_id for c in self.clicks if c.target_kind == TargetKind.VIDEO}
        if video_clicks:
            self.links.prefetch(video_clicks, {self.skus[w.sku_id].product_id for w in items})
        credits = {
            w.sku_id: attribution.credit_sharer(
                binding=self.context.binding, clicks=self.clicks,
                matches=self.links.click_matches(self.skus[w.sku_id].product_id), policy=self.policy,
            )
            for w in items
        }  # fmt: skip
        # A brand's distributor programme decides the sharer and rates of its lines (bound customers).
        terms = distribution.checkout_terms(self.session, self.buyer.id, [
            distribution.Line(w.sku_id, self.skus[w.sku_id].brand_id, self.skus[w.sku_id].product_id, credits[w.sku_id])
            for w in items if self.skus[w.sku_id].programme_open], self.now)  # fmt: skip
        credits.update({sku_id: t.credit for sku_id, t in terms.items()})
        # What the SKU and buyer queries read already of the source video's uploader and of the sharers is not asked
        # again: most checkouts ask nothing here.
        known = {
            **{int(sku.src_uploader_id): attribution.self_referral(sku.src_device, sku.src_payout, sku.src_address)
               for sku in self.skus.values() if sku.src_uploader_id is not None},
            **self.context.self_referrals,
        }  # fmt: skip
        blocked = attribution.self_referrals(self.session, self._beneficiaries(sources, credits), self.facts, known)
        rows = []
        for plan in plans:
            for w, line_subtotal, line_discount, platform_part in zip(
                plan.group, plan.subtotals, plan.line_discounts, plan.platform_discounts, strict=True
            ):
                sku = self.skus[w.sku_id]
                c = self._credit(sku, sources[w.sku_id], credits[w.sku_id], blocked, terms.get(w.sku_id))
                hold = self._hold(c) if c.artist_bp or c.sharer_bp else []
                rows.append(
                    {"order_id": plan.brand_id, "product_id": sku.product_id, "sku_id": sku.id,
                     "product_name": sku.product_name, "sku_attributes": dict(sku.attributes or {}),
                     "quantity": w.quantity, "unit_price": self.unit_price(sku.id),
                     "list_price": sku.list_price_fen
                     or (sku.price_fen if sku.id in self.flash or sku.id in self.group else None),
                     "discount": line_discount, "platform_discount": platform_part,
                     "paid_amount": line_subtotal - line_discount, "offer_id": c.offer_id,
                     "platform_fee_bp": self.policy.platform_fee_bp, "artist_rate_bp": c.artist_bp,
                     "sharer_rate_bp": c.sharer_bp, "level2_share_bp": c.level2_bp, "source_kind": c.source.kind,
                     "source_video_id": c.source.video_id, "artist_id": c.source.artist_id,
                     "artist_blocked": c.artist_blocked, "sharer_id": c.credit.sharer_id if c.credit else None,
                     "sharer_via": c.credit.via if c.credit else None,
                     "click_id": c.credit.click_id if c.credit else None, "sharer_blocked": c.sharer_blocked,
                     "parent_sharer_id": c.parent, "parent_blocked": c.parent_blocked,
                     "review_status": ReviewStatus.HELD if hold else ReviewStatus.NONE, "hold_reasons": list(hold)}
                )  # fmt: skip
        return Rows(OrderLine.__table__, rows)

    def _beneficiaries(
        self, sources: dict[int, _ArtistSource], credits: dict[int, attribution.SharerCredit | None]
    ) -> set[int]:
        """Everyone a line could pay a commission to, for one self-referral check."""
        out = {s.artist_id for s in sources.values() if s.artist_id is not None and not s.own_brand}
        for credit in credits.values():
            if credit is not None:
                out.add(credit.sharer_id)
                parent = self._parent(credit)
                if parent is not None and parent != credit.sharer_id:
                    out.add(parent)
        return out

    def _credit(
        self, sku: Row[Any], source: _ArtistSource, credit: attribution.SharerCredit | None,
        blocked: dict[int, str | None], terms: distribution.LineTerms | None = None,
    ) -> _LineCredit:  # fmt: skip
        artist_blocked = None
        if source.artist_id is not None:
            artist_blocked = "own_brand" if source.own_brand else blocked[source.artist_id]
        sharer_blocked = parent_blocked = parent = None
        if credit is not None:
            sharer_blocked = blocked[credit.sharer_id]
            parent = self._parent(credit)
            if parent is not None:
                parent_blocked = "same_as_sharer" if parent == credit.sharer_id else blocked[parent]
            if sharer_blocked is None and credit.via == "click":
                self.credits[credit.sharer_id] = credit
        # Rates are the offer's in force (none: the product is not open for affiliation, nobody earns a commission).
        artist_bp = (sku.artist_rate_bp or 0) if source.artist_id is not None and artist_blocked is None else 0
        sharer_rate, level2_share = (sku.sharer_rate_bp or 0), self.policy.level2_share_bp
        if terms is not None:  # the programme's rates, never more than what is left of the line after the others
            sharer_rate = min(terms.rate_bp, BP_WHOLE - artist_bp - self.policy.platform_fee_bp)
            level2_share = terms.level2_share_bp
        sharer_bp = sharer_rate if credit is not None and sharer_blocked is None else 0
        level2_bp = level2_share if sharer_bp and parent is not None and parent_blocked is None else 0
        return _LineCredit(source, artist_blocked, credit, sharer_blocked, parent, parent_blocked, artist_bp,
                           sharer_bp, level2_bp, sku.offer_id)  # fmt: skip

    def _parent(self, credit: attribution.SharerCredit) -> int | None:
        """The second level: a re-share's upstream sharer while the platform pays two levels; a distributor's
        inviter when their brand's programme has a level-2 share (`distribution.checkout_terms` decides)."""
        if credit.via == distribution.VIA or self.policy.commission_levels >= 2:
            return credit.parent_sharer_id
        return None

    def _hold(self, c: _LineCredit) -> list[str]:
        return attribution.review_reasons(
            buyer=self.buyer, credit=c.credit, device_checkouts=self.context.device_checkouts, now=self.now,
            policy=self.policy,
        )  # fmt: skip

    def bind_and_remember(self) -> None:
        for credit in self.credits.values():
            attribution.bind(self.session, self.buyer.id, credit, until=self.now + self.policy.binding)
        attribution.remember_device(
            self.session, self.buyer.id, self.device_hash, last_seen=self.context.device_seen_at
        )


# The statements of every checkout, built once from the tables (Core): no per-call construction, no ORM unit of
# work on the hot path.
_skus, _products, _offers = Sku.__table__.c, Product.__table__.c, AffiliateOffer.__table__.c
_videos, _users, _cards, _members = (
    Video.__table__.c,
    User.__table__.c,
    VideoProduct.__table__.c,
    BrandMember.__table__.c,
)
# Aliases: the SKU query's own subqueries must not correlate with the source video it joins.
_src_video, _src_uploader = Video.__table__.alias("src_video"), User.__table__.alias("src_uploader")
_LOAD = (
    select(
        _skus.id, _skus.product_id, _skus.brand_id, _skus.attributes, _skus.price_fen, _skus.list_price_fen,
        _skus.is_active, _skus.stock, _products.name.label("product_name"), _products.status.label("product_status"),
        _offers.id.label("offer_id"), _offers.artist_rate_bp, _offers.sharer_rate_bp,
        flash_sales.admitted(_skus.id).label("flash_admitted"), bargains.started(_skus.id).label("bargain_started"),
        group_buys.seated(_skus.id).label("group_seated"),
        distribution.open_programme(_skus.brand_id).label("programme_open"),
        # The source video (`:video`, or none) as `_VIDEO_SOURCE` reads it, for each SKU's product and brand.
        _src_video.c.id.label("src_video_id"), _src_video.c.brand_id.label("src_video_brand_id"),
        _src_uploader.c.id.label("src_uploader_id"), _src_uploader.c.is_artist.label("src_uploader_is_artist"),
        exists().where(_cards.video_id == _src_video.c.id, _cards.product_id == _skus.product_id).label("src_linked"),
        exists().where(_members.brand_id == _skus.brand_id, _members.user_id == _src_uploader.c.id).label("src_own"),
        *(c.label(f"src_{n}") for c, n in zip(
            attribution.self_referral_checks(_src_uploader.c.id), ("device", "payout", "address"), strict=True
        )),
    )
    .join_from(Sku.__table__, Product.__table__, _products.id == _skus.product_id)
    .outerjoin(
        AffiliateOffer.__table__,
        _offers.id == affiliate.offer_in_force(_products.id, bindparam("now", type_=UTCDateTime())),
    )
    .outerjoin(_src_video, _src_video.c.id == bindparam("video", type_=BigInteger()))
    .outerjoin(_src_uploader, _src_uploader.c.id == _src_video.c.uploader_id)
    .where(_skus.id.in_(bindparam("ids", expanding=True)))
)  # fmt: skip
_RESERVE = (
    update(Sku.__table__)
    .where(_skus.id == bindparam("sku"), _skus.stock >= bindparam("qty"), _skus.is_active.is_(True))
    .values(stock=_skus.stock - bindparam("qty"), updated_at=bindparam("now", type_=UTCDateTime()))
)
_VIDEO_SOURCE = (
    select(
        _videos.id, _videos.brand_id, _users.id, _users.is_artist,
        exists().where(_cards.video_id == _videos.id, _cards.product_id == bindparam("product")),
        exists().where(_members.brand_id == bindparam("brand"), _members.user_id == _users.id),
    )
    .join_from(Video.__table__, User.__table__, _users.id == _videos.uploader_id)
    .where(_videos.id == bindparam("video"))
)  # fmt: skip
_LINKS = select(_cards.video_id, _cards.product_id).where(
    _cards.video_id.in_(bindparam("videos", expanding=True)),
    _cards.product_id.in_(bindparam("products", expanding=True)),
)
_checkouts, _orders, _lines, _events = Checkout.__table__, Order.__table__, OrderLine.__table__, OrderEvent.__table__
# Parameters named apart from the orders' columns: on PostgreSQL this insert is a WITH clause of the orders' insert.
_INSERT_CHECKOUT = (
    insert(_checkouts)
    .values(
        buyer_id=bindparam("checkout_buyer", type_=_checkouts.c.buyer_id.type),
        total=bindparam("checkout_total", type_=_checkouts.c.total.type),
        created_at=bindparam("checkout_at", type_=_checkouts.c.created_at.type),
    )
    .returning(_checkouts.c.id)
)
_ORDERS_WRITTEN = (_orders.c.id, _orders.c.checkout_id, _orders.c.brand_id)
_INSERT_ORDERS = insert(_orders).returning(*_ORDERS_WRITTEN)


@functools.cache
def _checkout_written(
    order_keys: tuple[str, ...], line_keys: tuple[str, ...], event_keys: tuple[str, ...]
) -> Select[Any]:
    """WITH c AS (INSERT INTO checkouts ... RETURNING id),
    o AS (INSERT INTO orders SELECT (SELECT id FROM c), ... FROM jsonb_to_recordset(:orders) RETURNING ...),
    l AS (INSERT INTO order_lines SELECT (SELECT o.id FROM o WHERE o.brand_id = r.order_id), ...
          FROM jsonb_to_recordset(:lines) r),
    e AS (the same for order_events) SELECT the orders' id, checkout_id, brand_id FROM o: one statement for any number
    of brands and lines. Built once for the rows' keys (always the same), so it is compiled and prepared once."""
    checkout = _INSERT_CHECKOUT.cte("c")
    orders = (
        insert_from_json(_orders, order_keys, "orders", given={"checkout_id": select(checkout.c.id).scalar_subquery()})
        .returning(*_ORDERS_WRITTEN)
        .cte("o")
    )
    by_brand = Lookup("order_id", orders, "brand_id")
    lines = insert_from_json(_lines, line_keys, "lines", lookup=by_brand).cte("l")
    events = insert_from_json(_events, event_keys, "events", lookup=by_brand).cte("e")
    return select(orders.c.id, orders.c.checkout_id, orders.c.brand_id).add_cte(checkout, orders, lines, events)


def cart_items(session: Session, buyer: User | None) -> list[CheckoutItem]:
    """Everything in the buyer's cart, with its sources, as checkout items."""
    return [
        CheckoutItem(line.item.sku_id, line.item.quantity, line.item.source_video_id, line.item.source_artist_id)
        for line in cart.list_items(session, buyer)
    ]
