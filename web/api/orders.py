"""Cart, checkout (and its quote), orders, refunds and the admin review queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from pydantic import Field
from werkzeug.datastructures import FileStorage

from commerce.orders import cart, checkout, lifecycle, refund_photos, refunds, review
from commerce.orders.models import (
    Checkout,
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    OrderStatus,
    RefundState,
    ReviewStatus,
)
from commerce.payments import notify_url, open_provider
from core import extensions, metrics
from core.errors import ValidationFailed
from web.api.blueprint import bp
from web.api.catalog import PageQuery, read_upload
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user
from web.device import device_hash
from web.money_pages import CLICK_COOKIE
from web.observability import count_outcome
from web.ratelimit import rate_limited

TAGS = ["orders"]


# -- models ---------------------------------------------------------------------------------------------------


class CartItemIn(ApiModel):
    sku_id: int = Field(ge=1)
    quantity: int = Field(default=1, ge=1, le=cart.MAX_QUANTITY)
    source_video_id: int | None = Field(default=None, ge=1, description="bought from a product card on this video")
    source_artist_id: int | None = Field(default=None, ge=1, description="bought from this artist's showcase")


class QuantityIn(ApiModel):
    quantity: int = Field(ge=1, le=cart.MAX_QUANTITY)


class CartLineOut(OutModel):
    id: int
    sku_id: int
    product_id: int
    product_name: str
    brand_id: int
    attributes: dict[str, str]
    unit_price: int
    quantity: int
    available: bool
    source_video_id: int | None
    source_artist_id: int | None

    @classmethod
    def of(cls, line: cart.CartLine) -> CartLineOut:
        return cls(
            id=line.item.id, sku_id=line.sku.id, product_id=line.product.id, product_name=line.product.name,
            brand_id=line.product.brand_id, attributes=dict(line.sku.attributes or {}), unit_price=line.sku.price_fen,
            quantity=line.item.quantity, available=line.available, source_video_id=line.item.source_video_id,
            source_artist_id=line.item.source_artist_id,
        )  # fmt: skip


class AddressIn(ApiModel):
    name: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=6, max_length=20)
    province: str = Field(min_length=1, max_length=32)
    city: str = Field(min_length=1, max_length=32)
    district: str = Field(min_length=1, max_length=32)
    detail: str = Field(min_length=2, max_length=200)


class CheckoutIn(ApiModel):
    items: list[CartItemIn] = Field(
        default_factory=list, max_length=cart.MAX_ITEMS, description="what to buy; empty with `from_cart`: the cart"
    )
    from_cart: bool = False
    address: AddressIn
    coupons: dict[str, str] = Field(default_factory=dict, description="brand id -> coupon code (claimed on the way)")
    coupon_ids: list[int] = Field(
        default_factory=list, max_length=10,
        description="wallet coupons (`/me/coupons` ids): at most one brand coupon and one platform coupon per order",
    )  # fmt: skip
    click_id: str | None = Field(default=None, max_length=40, description="the share click id from the landing URL")


class OrderLineOut(OutModel):
    id: int
    product_id: int
    sku_id: int
    product_name: str
    sku_attributes: dict[str, str]
    quantity: int
    unit_price: int
    list_price: int | None
    discount: int
    platform_discount: int = Field(description="the part of `discount` the platform funds; the rest the brand funds")
    paid_amount: int
    platform_fee_bp: int
    artist_rate_bp: int
    sharer_rate_bp: int
    level2_share_bp: int
    source_kind: str | None
    source_video_id: int | None
    artist_id: int | None
    sharer_id: int | None
    parent_sharer_id: int | None
    review_status: ReviewStatus
    hold_reasons: list[str]
    refunded_quantity: int
    refunded_amount: int


class OrderEventOut(OutModel):
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor_id: int | None
    actor_role: str
    note: str
    at: dt.datetime


class OrderOut(OutModel):
    id: int
    checkout_id: int
    buyer_id: int
    brand_id: int
    status: OrderStatus
    currency: str
    subtotal: int
    discount: int
    total: int
    refunded_amount: int
    address: dict[str, Any]
    created_at: dt.datetime
    reserved_until: dt.datetime
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    carrier: str | None
    tracking_no: str | None
    delivered_at: dt.datetime | None
    return_window_ends_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    lines: list[OrderLineOut]
    events: list[OrderEventOut] = Field(default_factory=list)

    @classmethod
    def of(cls, order: Order, events: list[OrderEvent] | None = None) -> OrderOut:
        out = cls.model_validate(order)
        out.events = [OrderEventOut.model_validate(e) for e in events or []]
        return out


class CheckoutOut(OutModel):
    id: int
    total: int
    payment_id: int | None
    pay_url: str | None
    payment_status: str | None
    orders: list[OrderOut]

    @classmethod
    def of(cls, c: Checkout) -> CheckoutOut:
        payment = c.payment
        return cls(
            id=c.id, total=c.total, payment_id=c.payment_id, pay_url=payment.pay_url if payment else None,
            payment_status=payment.status.value if payment else None, orders=[OrderOut.of(o) for o in c.orders],
        )  # fmt: skip


class OrderPage(OutModel):
    items: list[OrderOut]
    next_cursor: str | None


class OrdersQuery(PageQuery):
    brand_id: int | None = Field(default=None, ge=1, description="a brand's sales (members only) instead of yours")
    status: OrderStatus | None = None


class ShipIn(ApiModel):
    carrier: str = Field(min_length=1, max_length=40)
    tracking_no: str = Field(min_length=4, max_length=64)


class ReasonIn(ApiModel):
    reason: str = Field(default="", max_length=200)


class RefundLineIn(ApiModel):
    order_line_id: int = Field(ge=1)
    quantity: int = Field(default=0, ge=0, le=cart.MAX_QUANTITY)
    amount: int | None = Field(default=None, gt=0, description="fen; default: the returned units' share")


class RefundIn(ApiModel):
    lines: list[RefundLineIn] = Field(max_length=cart.MAX_ITEMS)
    reason: str = Field(max_length=200)
    photo_ids: list[int] = Field(
        default_factory=list,
        max_length=refund_photos.DEFAULT_PHOTO_LIMITS.per_request,
        description="photos uploaded to the order for this request (POST /orders/{id}/refund-photos)",
    )


class RefundPhotoOut(OutModel):
    id: int
    url: str = Field(description="presigned, expires in an hour")
    thumb_url: str


class RefundLineOut(OutModel):
    order_line_id: int
    quantity: int
    amount: int


class RefundOut(OutModel):
    id: int
    order_id: int
    reason: str
    amount: int
    status: RefundState
    decision_note: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    finished_at: dt.datetime | None
    lines: list[RefundLineOut]
    photos: list[RefundPhotoOut] = Field(default_factory=list)

    @classmethod
    def of(cls, refund: OrderRefund) -> RefundOut:
        """With presigned photo URLs (the caller has been allowed to see the refund)."""
        fields = {name: getattr(refund, name) for name in cls.model_fields if name != "photos"}
        photos = [vars(u) for u in refund_photos.urls(extensions.storage(), refund.photos)]
        return cls.model_validate({**fields, "photos": photos})


class DecisionIn(ApiModel):
    note: str = Field(default="", max_length=200)


class ReviewIn(ApiModel):
    approve: bool


# -- helpers --------------------------------------------------------------------------------------------------


def _provider():  # type: ignore[no-untyped-def]
    return open_provider(extensions.settings(), extensions.session())


def _notify_url() -> str:
    settings = extensions.settings()
    return notify_url(settings, settings.payment_provider)


def _policy():  # type: ignore[no-untyped-def]
    return extensions.extension("money_policy")


# -- cart -----------------------------------------------------------------------------------------------------


@bp.get("/cart")
@endpoint(summary="The caller's cart", tags=TAGS, response=list[CartLineOut], auth="required")
def get_cart() -> list[CartLineOut]:
    return [CartLineOut.of(line) for line in cart.list_items(extensions.session(), current_user())]


@bp.post("/cart/items")
@endpoint(summary="Put a SKU in the cart", tags=TAGS, body=CartItemIn, response=list[CartLineOut], status=201,
          auth="required", errors=[422])  # fmt: skip
def add_cart_item(body: CartItemIn) -> tuple[list[CartLineOut], int]:
    session = extensions.session()
    cart.add_item(session, current_user(), sku_id=body.sku_id, quantity=body.quantity,
                  source_video_id=body.source_video_id, source_artist_id=body.source_artist_id)  # fmt: skip
    return [CartLineOut.of(line) for line in cart.list_items(session, current_user())], 201


@bp.patch("/cart/items/<int:item_id>")
@endpoint(summary="Change a cart item's quantity", tags=TAGS, body=QuantityIn, response=list[CartLineOut],
          auth="required", errors=[404, 422])  # fmt: skip
def patch_cart_item(item_id: int, body: QuantityIn) -> list[CartLineOut]:
    session = extensions.session()
    cart.set_quantity(session, current_user(), item_id, body.quantity)
    return [CartLineOut.of(line) for line in cart.list_items(session, current_user())]


@bp.delete("/cart/items/<int:item_id>")
@endpoint(summary="Remove a cart item", tags=TAGS, status=204, auth="required", errors=[404])
def delete_cart_item(item_id: int) -> tuple[None, int]:
    cart.remove_item(extensions.session(), current_user(), item_id)
    return None, 204


# -- checkout and orders --------------------------------------------------------------------------------------


@bp.post("/checkouts")
@rate_limited("checkout")
@endpoint(summary="Place orders (one per brand) and start the payment", tags=TAGS, body=CheckoutIn,
          response=CheckoutOut, status=201, auth="required", idempotent=True, errors=[409, 422])  # fmt: skip
@count_outcome(lambda **_: metrics.CHECKOUTS.labels)
def create_checkout(body: CheckoutIn) -> tuple[CheckoutOut, int]:
    """Stock is reserved for the reservation period (15 min by default). Prices, discounts, commission rates and
    attribution are fixed on every line now. Send the buyer to `pay_url`. Requires an `Idempotency-Key`."""
    session = extensions.session()
    user = current_user()
    settings = extensions.settings()
    if body.from_cart and not body.items:
        items = checkout.cart_items(session, user)
    else:
        items = [checkout.CheckoutItem(i.sku_id, i.quantity, i.source_video_id, i.source_artist_id) for i in body.items]
    click_ids = [c for c in (body.click_id, request.cookies.get(CLICK_COOKIE)) if c]
    try:
        coupon_codes = {int(brand): code for brand, code in body.coupons.items()}
    except ValueError:
        raise ValidationFailed.one("coupons", "int_parsing") from None
    result = checkout.place_order(
        session,
        user,
        items=items,
        address=checkout.Address(**body.address.model_dump()),
        provider=_provider(),
        policy=_policy(),
        links=checkout.PaymentLinks(
            notify_url=_notify_url(),
            return_url=settings.public_base_url.rstrip("/") + "/pay/return/{checkout_id}",
            client_ip=request.remote_addr,
        ),
        coupon_codes=coupon_codes,
        coupon_ids=body.coupon_ids,
        click_ids=click_ids,
        device_hash=device_hash(),
        from_cart=body.from_cart,
    )
    return CheckoutOut.of(result), 201


class QuoteIn(ApiModel):
    items: list[CartItemIn] = Field(min_length=1, max_length=cart.MAX_ITEMS)
    coupon_ids: list[int] = Field(default_factory=list, max_length=10)


class AppliedCouponOut(OutModel):
    id: int | None = Field(description="the wallet coupon")
    amount: int = Field(description="fen it takes off")
    funded_by: str = Field(description="brand | platform: who pays for it")


class QuoteOut(OutModel):
    subtotal: int
    brand_discount: int = Field(description="fen off that the brand funds")
    platform_discount: int = Field(description="fen off that the platform funds")
    total: int = Field(description="what the buyer pays")
    applied: list[AppliedCouponOut]


@bp.post("/checkouts/quote")
@endpoint(summary="Price a checkout with wallet coupons, nothing placed", tags=TAGS, body=QuoteIn, response=QuoteOut,
          auth="required", errors=[409, 422])  # fmt: skip
def quote_checkout(body: QuoteIn) -> QuoteOut:
    """The same pricing and refusals as placing the order: at most one brand and one platform coupon per order."""
    items = [checkout.CheckoutItem(i.sku_id, i.quantity, i.source_video_id, i.source_artist_id) for i in body.items]
    q = checkout.quote(extensions.session(), current_user(), items=items, policy=_policy(), coupon_ids=body.coupon_ids)
    applied = [AppliedCouponOut(id=uid, amount=amount, funded_by=funded) for uid, amount, funded in q.applied]
    return QuoteOut(subtotal=q.subtotal, brand_discount=q.brand_discount, platform_discount=q.platform_discount,
                    total=q.total, applied=applied)  # fmt: skip


@bp.get("/checkouts/<int:checkout_id>")
@endpoint(summary="A checkout and its orders (the buyer only)", tags=TAGS, response=CheckoutOut, auth="required",
          errors=[404])  # fmt: skip
def get_checkout(checkout_id: int) -> CheckoutOut:
    return CheckoutOut.of(lifecycle.get_checkout(extensions.session(), current_user(), checkout_id))


@bp.get("/orders")
@endpoint(summary="Your purchases, or a brand's sales", tags=TAGS, query=OrdersQuery, response=OrderPage,
          auth="required", errors=[403])  # fmt: skip
def list_orders(query: OrdersQuery) -> OrderPage:
    rows, cursor = lifecycle.list_orders(
        extensions.session(), current_user(), brand_id=query.brand_id, status=query.status, cursor=query.cursor,
        limit=query.limit,
    )  # fmt: skip
    return OrderPage(items=[OrderOut.of(o) for o in rows], next_cursor=cursor)


@bp.get("/orders/<int:order_id>")
@endpoint(summary="An order with its lines and every status change", tags=TAGS, response=OrderOut,
          auth="required", errors=[404])  # fmt: skip
def get_order(order_id: int) -> OrderOut:
    session = extensions.session()
    order = lifecycle.get_order(session, current_user(), order_id)
    return OrderOut.of(order, lifecycle.events(session, order.id))


@bp.post("/orders/<int:order_id>/ship")
@endpoint(summary="Mark an order shipped with its tracking number (brand)", tags=TAGS, body=ShipIn,
          response=OrderOut, auth="required", errors=[403, 404, 409])  # fmt: skip
def ship_order(order_id: int, body: ShipIn) -> OrderOut:
    order = lifecycle.ship(extensions.session(), current_user(), order_id, carrier=body.carrier,
                           tracking_no=body.tracking_no)  # fmt: skip
    return OrderOut.of(order)


@bp.post("/orders/<int:order_id>/confirm")
@endpoint(summary="Confirm delivery (buyer); the return window starts", tags=TAGS, response=OrderOut,
          auth="required", errors=[404, 409])  # fmt: skip
def confirm_order(order_id: int) -> OrderOut:
    order = lifecycle.confirm_delivery(extensions.session(), current_user(), order_id,
                                       return_window=_policy().return_window)  # fmt: skip
    return OrderOut.of(order)


@bp.post("/orders/<int:order_id>/cancel")
@endpoint(summary="Cancel before shipping (unpaid: closes the payment; paid: refunds in full)", tags=TAGS,
          body=ReasonIn, response=OrderOut, auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def cancel_order(order_id: int, body: ReasonIn) -> OrderOut:
    order = refunds.cancel_order(extensions.session(), current_user(), order_id, provider=_provider(),
                                 notify_url=_notify_url(), reason=body.reason)  # fmt: skip
    return OrderOut.of(order)


@bp.post("/orders/<int:order_id>/refund-photos")
@endpoint(summary="Upload a photo for a refund request you are about to make (buyer)", tags=TAGS, upload="file",
          response=RefundPhotoOut, status=201, auth="required", errors=[404, 409, 413, 422])  # fmt: skip
def upload_refund_photo(order_id: int, file: FileStorage) -> tuple[RefundPhotoOut, int]:
    """JPEG, PNG, WebP or GIF, checked by its bytes. Kept privately as JPEGs without EXIF (no GPS reaches the
    brand); name its id in `photo_ids` of the refund request. Photos not named in the next request are deleted."""
    limits = refund_photos.DEFAULT_PHOTO_LIMITS
    data = read_upload(file, limits.max_bytes, "image_too_large")
    storage = extensions.storage()
    photo = refund_photos.add_photo(extensions.session(), current_user(), order_id, data, storage=storage,
                                    limits=limits)  # fmt: skip
    return RefundPhotoOut(**vars(refund_photos.urls(storage, [photo])[0])), 201


@bp.post("/orders/<int:order_id>/refunds")
@endpoint(summary="Ask for a refund of some units or an amount per line (buyer)", tags=TAGS, body=RefundIn,
          response=RefundOut, status=201, auth="required", idempotent=True, errors=[404, 409, 422])  # fmt: skip
def request_refund(order_id: int, body: RefundIn) -> tuple[RefundOut, int]:
    items = [refunds.RefundItem(x.order_line_id, x.quantity, x.amount) for x in body.lines]
    refund = refunds.request_refund(extensions.session(), current_user(), order_id, items=items, reason=body.reason,
                                    photo_ids=body.photo_ids, storage=extensions.storage())  # fmt: skip
    return RefundOut.of(refund), 201


@bp.get("/orders/<int:order_id>/refunds")
@endpoint(summary="Refunds of an order", tags=TAGS, response=list[RefundOut], auth="required", errors=[404])
def list_refunds(order_id: int) -> list[RefundOut]:
    session = extensions.session()
    order = lifecycle.get_order(session, current_user(), order_id)
    return [RefundOut.of(r) for r in refunds.list_refunds(session, order.id)]


def _decide(refund_id: int, approve: bool, note: str) -> RefundOut:
    return RefundOut.of(refunds.decide_refund(extensions.session(), current_user(), refund_id, approve=approve,
                                              note=note, provider=_provider(), notify_url=_notify_url()))  # fmt: skip


@bp.post("/refunds/<int:refund_id>/approve")
@endpoint(summary="Approve a refund request (brand): shares are reversed and the buyer is paid back", tags=TAGS,
          body=DecisionIn, response=RefundOut, auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def approve_refund(refund_id: int, body: DecisionIn) -> RefundOut:
    return _decide(refund_id, True, body.note)


@bp.post("/refunds/<int:refund_id>/reject")
@endpoint(summary="Reject a refund request (brand)", tags=TAGS, body=DecisionIn, response=RefundOut,
          auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def reject_refund(refund_id: int, body: DecisionIn) -> RefundOut:
    return _decide(refund_id, False, body.note)


class RefundPage(OutModel):
    items: list[RefundOut]
    next_cursor: str | None


class BrandRefundsQuery(PageQuery):
    status: RefundState | None = Field(default=None, description="`requested`: the requests waiting for a decision")


@bp.get("/brands/<int:brand_id>/refunds")
@endpoint(summary="Refunds of the brand's orders, newest first (members only)", tags=["brands"],
          query=BrandRefundsQuery, response=RefundPage, auth="required", errors=[403])  # fmt: skip
def list_brand_refunds(brand_id: int, query: BrandRefundsQuery) -> RefundPage:
    rows, cursor = refunds.list_brand_refunds(extensions.session(), current_user(), brand_id, status=query.status,
                                              cursor=query.cursor, limit=query.limit)  # fmt: skip
    return RefundPage(items=[RefundOut.of(r) for r in rows], next_cursor=cursor)


@bp.post("/admin/refunds/<int:refund_id>/retry")
@endpoint(summary="Resubmit a refund the provider refused (admin)", tags=["admin"], response=RefundOut,
          auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def retry_refund(refund_id: int) -> RefundOut:
    return RefundOut.of(refunds.retry_refund(extensions.session(), current_user(), refund_id, provider=_provider(),
                                             notify_url=_notify_url()))  # fmt: skip


@bp.get("/admin/reviews")
@endpoint(summary="Order lines whose commissions are held for review (admin)", tags=["admin"],
          response=list[OrderLineOut], auth="required", errors=[403])  # fmt: skip
def held_lines() -> list[OrderLineOut]:
    return [OrderLineOut.model_validate(line) for line in review.held_lines(extensions.session(), current_user())]


@bp.post("/admin/reviews/<int:line_id>")
@endpoint(summary="Release held commissions, or forfeit them to the brand (admin)", tags=["admin"], body=ReviewIn,
          response=OrderLineOut, auth="required", idempotent=True, errors=[403, 404, 409])  # fmt: skip
def decide_review(line_id: int, body: ReviewIn) -> OrderLine:
    return review.decide_hold(extensions.session(), current_user(), line_id, approve=body.approve)
