"""Buyer ↔ brand conversations: start one (from a product or an order), send text, images and cards, read them,
unread counts per side, and the orders placed from a cart card.

A buyer has one conversation per brand; starting it again reopens it (with the new product or order card). Each
message bumps the other side's unread count on the conversation row and, when the people it is for are not
connected (`is_online`, from the real-time hub), notifies them through `commerce.notifications`. Only agents send
cart cards and coupons; an agent answering a conversation that waits for anybody takes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.catalog.images import delete_objects, render, store_renditions
from commerce.catalog.models import Product, ProductStatus, Sku
from commerce.marketing import coupons
from commerce.notifications.service import notify, register_templates
from commerce.orders import cart, checkout
from commerce.orders.models import Order
from commerce.payments.provider import PaymentProvider
from commerce.policy import MoneyPolicy
from commerce.support import routing, staff
from commerce.support.models import Agent, Conversation, ConversationStatus, Message, MessageKind
from core import clock, ids
from core.accounts.models import Brand, User
from core.accounts.permissions import require_user
from core.errors import (
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    register_field_labels,
    register_messages,
)
from core.pagination import keyset_page
from core.storage import ObjectStorage

register_messages(
    {
        "support_own_brand": ("不能和自己的品牌聊天", "You cannot chat with your own brand"),
        "agents_only": ("只有客服可以发送购物车和优惠券", "Only agents send carts and coupons"),
        "card_not_of_brand": ("{label}不属于该品牌", "{label} is not the brand's"),
        "card_not_cart": ("这条消息不是购物车卡片", "That message is not a cart card"),
        "support_too_fast": (
            "消息发得太快了，请 {retry_after} 秒后再发",
            "You are sending messages too fast; please wait {retry_after} s and send again",
        ),
    }
)
register_field_labels(
    {
        "text": ("消息内容", "The message"),
        "kind": ("消息类型", "The message type"),
        "product_id": ("商品", "The product"),
        "order_id": ("订单", "The order"),
        "coupon_id": ("优惠券", "The coupon"),
        "items.*.quantity": ("第 {0} 件商品的数量", "Quantity of item {0}"),
        "items.*.sku_id": ("第 {0} 件商品的规格", "SKU of item {0}"),
        "message_id": ("购物车卡片", "The cart card"),
    }
)
register_templates(
    {
        "support_message": ("{brand} 的会话有新消息：{preview}", "New message in your chat with {brand}: {preview}"),
    }
)

MAX_TEXT = 2000
MAX_CART_ITEMS = 10
IMAGE_WIDTH, IMAGE_THUMB = 1080, 240
URL_SECONDS = 3600
AGENT_KINDS = frozenset({MessageKind.CART, MessageKind.COUPON})
Online = Callable[[int], bool]


def _nobody_online(_user_id: int) -> bool:
    return False


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class CartLine:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class Outgoing:
    """What to send: text, or a card (the ids it shows). Images come through `send_image`."""

    kind: MessageKind
    body: str = ""
    product_id: int | None = None
    order_id: int | None = None
    coupon_id: int | None = None
    items: Sequence[CartLine] = field(default_factory=tuple)


def get(session: Session, user: User | None, conversation_id: int) -> tuple[Conversation, str]:
    """The conversation and the caller's side of it; 404 for anyone else (its existence is not theirs to know)."""
    user = require_user(user)
    conversation = session.get(Conversation, conversation_id)
    side = None if conversation is None else staff.sees(session, user, conversation)
    if conversation is None or side is None:
        raise NotFound("conversation")
    return conversation, side


def start(
    session: Session, user: User | None, brand_id: int, *, product_id: int | None = None, order_id: int | None = None,
    is_online: Online = _nobody_online,
) -> Conversation:  # fmt: skip
    """The buyer opens (or reopens) their conversation with a brand, routed to an agent when new; a product or an
    order they name arrives as its card. Commits."""
    user = require_user(user)
    if session.get(Brand, brand_id) is None:
        raise NotFound("brand")
    if staff.staff_side(session, user, brand_id) is not None and not user.is_admin:
        raise PermissionDenied("support_own_brand")
    now = clock.now()
    try:
        conversation, new = _one_per_brand(session, brand_id, user.id, now)
        if new:
            routing.route(session, conversation, now)
        elif conversation.status == ConversationStatus.CLOSED:
            conversation.status = ConversationStatus.OPEN
            if conversation.agent_id is None:
                routing.route(session, conversation, now)
        if product_id is not None:
            _post(session, conversation, user, "buyer", Outgoing(MessageKind.PRODUCT, product_id=product_id),
                  now=now, is_online=is_online)  # fmt: skip
        if order_id is not None:
            _post(session, conversation, user, "buyer", Outgoing(MessageKind.ORDER, order_id=order_id), now=now,
                  is_online=is_online)  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return conversation


def _one_per_brand(session: Session, brand_id: int, buyer_id: int, now: dt.datetime) -> tuple[Conversation, bool]:
    """The buyer's conversation with the brand, made now (True) unless it exists; a racing first start (the same
    buyer's double tap) keeps the other's row."""
    where = (Conversation.brand_id == brand_id, Conversation.buyer_id == buyer_id)
    found = session.scalar(select(Conversation).where(*where))
    if found is not None:
        return found, False
    made = Conversation(brand_id=brand_id, buyer_id=buyer_id, created_at=now, last_message_at=now)
    try:
        with session.begin_nested():
            session.add(made)
            session.flush()
    except IntegrityError:
        found = session.scalar(select(Conversation).where(*where))
        assert found is not None
        return found, False
    return made, True


def send(
    session: Session, user: User | None, conversation_id: int, outgoing: Outgoing, *, is_online: Online = _nobody_online
) -> Message:
    """Post a text or a card to the conversation. Commits."""
    conversation, side = get(session, user, conversation_id)
    assert user is not None
    try:
        message = _post(session, conversation, user, side, outgoing, now=clock.now(), is_online=is_online)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return message


def send_image(
    session: Session, user: User | None, conversation_id: int, data: bytes, *, storage: ObjectStorage,
    limits: ImageLimits, is_online: Online = _nobody_online,
) -> Message:  # fmt: skip
    """An image, recognised by its bytes (JPEG, PNG, WebP, GIF) and re-encoded as EXIF-free JPEGs kept privately
    (shown through presigned URLs). Commits."""
    conversation, side = get(session, user, conversation_id)
    assert user is not None
    session.commit()  # the slow part holds no transaction
    rendered = render(data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, widths=(IMAGE_WIDTH, IMAGE_THUMB))
    keys = store_renditions(storage, rendered, f"support/conversations/{conversation.id}/{ids.short_id(nbytes=8)}")
    try:
        payload = {"key": keys[IMAGE_WIDTH], "thumb_key": keys[IMAGE_THUMB], "width": rendered.width,
                   "height": rendered.height}  # fmt: skip
        conversation = session.get(Conversation, conversation.id)  # type: ignore[assignment]
        assert conversation is not None
        message = _post(session, conversation, user, side, Outgoing(MessageKind.IMAGE), now=clock.now(),
                        is_online=is_online, payload=payload)  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        delete_objects(storage, list(keys.values()))
        raise
    return message


def _check_card(session: Session, conversation: Conversation, side: str, sender: User, out: Outgoing) -> dict[str, Any]:
    """The payload of a card after checking every id it names belongs to the conversation's brand (and buyer)."""
    if out.kind in AGENT_KINDS and side != "agent":
        raise PermissionDenied("agents_only")
    if out.kind == MessageKind.TEXT:
        text = out.body.strip()
        if not text:
            raise ValidationFailed.one("text", "missing")
        if len(text) > MAX_TEXT:
            raise ValidationFailed.one("text", "string_too_long")
        return {}
    if out.kind == MessageKind.PRODUCT:
        product = session.get(Product, out.product_id) if out.product_id is not None else None
        if product is None or product.status != ProductStatus.ACTIVE:
            raise ValidationFailed.one("product_id", "not_found" if product is None else "card_not_of_brand")
        if product.brand_id != conversation.brand_id:
            raise ValidationFailed.one("product_id", "card_not_of_brand")
        return {"product_id": product.id}
    if out.kind == MessageKind.ORDER:
        order = session.get(Order, out.order_id) if out.order_id is not None else None
        if order is None or order.buyer_id != conversation.buyer_id or order.brand_id != conversation.brand_id:
            raise ValidationFailed.one("order_id", "card_not_of_brand")
        return {"order_id": order.id}
    if out.kind == MessageKind.CART:
        return {"items": _check_items(session, conversation.brand_id, out.items)}
    if out.kind == MessageKind.COUPON:
        if out.coupon_id is None:
            raise ValidationFailed.one("coupon_id", "missing")
        held = coupons.issue_for_brand(session, conversation.brand_id, out.coupon_id, conversation.buyer_id,
                                       granted_by=sender.id)  # fmt: skip
        return {"coupon_id": out.coupon_id, "user_coupon_id": held.id}
    raise ValidationFailed.one("kind", "literal_error")


def _check_items(session: Session, brand_id: int, items: Sequence[CartLine]) -> list[dict[str, int]]:
    if not items:
        raise ValidationFailed.one("items", "too_short")
    if len(items) > MAX_CART_ITEMS:
        raise ValidationFailed.one("items", "too_long")
    skus = {
        s.id: s
        for s in session.scalars(
            select(Sku)
            .join(Product, Product.id == Sku.product_id)
            .where(
                Sku.id.in_([i.sku_id for i in items]), Sku.is_active.is_(True), Product.status == ProductStatus.ACTIVE
            )
        )
    }
    errors = []
    for n, item in enumerate(items):
        sku = skus.get(item.sku_id)
        if sku is None or sku.brand_id != brand_id:
            errors.append(FieldError(f"items.{n}.sku_id", "card_not_of_brand"))
        if not 1 <= item.quantity <= cart.MAX_QUANTITY:
            errors.append(FieldError(f"items.{n}.quantity", "less_than_equal" if item.quantity > 1
                                     else "greater_than_equal"))  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    return [{"sku_id": i.sku_id, "quantity": i.quantity} for i in items]


def _preview(kind: MessageKind, body: str) -> str:
    return body[:40] if kind == MessageKind.TEXT else f"[{kind}]"


def _post(
    session: Session, conversation: Conversation, sender: User, side: str, out: Outgoing, *, now: dt.datetime,
    is_online: Online, payload: dict[str, Any] | None = None,
) -> Message:  # fmt: skip
    if payload is None:
        payload = _check_card(session, conversation, side, sender, out)
    message = Message(conversation_id=conversation.id, sender_id=sender.id, side=side, kind=out.kind,
                      body=out.body.strip(), payload=payload, created_at=now)  # fmt: skip
    session.add(message)
    other = Conversation.agent_unread if side == "buyer" else Conversation.buyer_unread
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values({other: other + 1, Conversation.last_message_at: now})
        .execution_options(synchronize_session=False)
    )
    session.refresh(conversation)
    if side == "buyer":
        conversation.status = ConversationStatus.OPEN  # a closed conversation reopens when the buyer writes again
        if conversation.first_buyer_message_at is None:
            conversation.first_buyer_message_at = now
    if side == "agent":
        if conversation.agent_id is None and staff.is_agent(session, conversation.brand_id, sender.id):
            conversation.agent_id, conversation.routed_via = sender.id, "claimed"  # answered: theirs now
        if conversation.first_response_at is None and conversation.first_buyer_message_at is not None:
            conversation.first_response_at = now
    session.flush()
    recipients = [r for r in _recipients(session, conversation, side) if r != sender.id and not is_online(r)]
    if recipients:
        brand = session.get(Brand, conversation.brand_id)
        link = f"/chat/{conversation.id}" if side == "agent" else f"/brand/{conversation.brand_id}/inbox"
        notify(session, recipients, "support_message",
               {"brand": brand.name if brand else "", "preview": _preview(out.kind, message.body)}, link)  # fmt: skip
    return message


def _recipients(session: Session, conversation: Conversation, side: str) -> list[int]:
    """Who a message is for: the buyer, or the conversation's agent (every available agent while it waits)."""
    if side == "agent":
        return [conversation.buyer_id]
    if conversation.agent_id is not None:
        return [conversation.agent_id]
    return list(session.scalars(
        select(Agent.user_id).where(Agent.brand_id == conversation.brand_id, Agent.is_available.is_(True))
    ))  # fmt: skip


def messages(
    session: Session, user: User | None, conversation_id: int, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[Message], str | None]:
    """Newest first, a page at a time."""
    get(session, user, conversation_id)
    stmt = select(Message).where(Message.conversation_id == conversation_id)
    return keyset_page(session, stmt, [(Message.id, True)], lambda m: [m.id], cursor=cursor, limit=limit)


def mark_read(session: Session, user: User | None, conversation_id: int) -> Conversation:
    """The caller has read everything on their side. Commits."""
    conversation, side = get(session, user, conversation_id)
    if side == "buyer":
        conversation.buyer_unread = 0
    else:
        conversation.agent_unread = 0
    session.commit()
    return conversation


def of_buyer(session: Session, user: User | None) -> list[Conversation]:
    user = require_user(user)
    return list(session.scalars(
        select(Conversation).where(Conversation.buyer_id == user.id).order_by(Conversation.last_message_at.desc())
    ))  # fmt: skip


def inbox(session: Session, user: User | None, brand_id: int, *, limit: int = 100) -> list[Conversation]:
    """The brand's conversations the caller serves, latest activity first: an agent's own and the waiting ones,
    every one for a member."""
    user, side = staff.require_staff(session, user, brand_id)
    stmt = select(Conversation).where(Conversation.brand_id == brand_id)
    if side == "agent":
        stmt = stmt.where(or_(Conversation.agent_id == user.id, Conversation.agent_id.is_(None)))
    return list(
        session.scalars(stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit))
    )


def close(session: Session, user: User | None, conversation_id: int) -> Conversation:
    conversation, side = get(session, user, conversation_id)
    if side != "agent":
        raise PermissionDenied("not_support_staff")
    conversation.status = ConversationStatus.CLOSED
    session.commit()
    return conversation


def cart_card(
    session: Session, user: User | None, conversation_id: int, message_id: int
) -> tuple[Conversation, Message]:
    """A cart card of the buyer's conversation (for its checkout page and the checkout)."""
    conversation, side = get(session, user, conversation_id)
    message = session.get(Message, message_id)
    if side != "buyer" or message is None or message.conversation_id != conversation.id:
        raise NotFound("message")
    if message.kind != MessageKind.CART:
        raise ValidationFailed.one("message_id", "card_not_cart")
    return conversation, message


def checkout_cart(
    session: Session, user: User | None, conversation_id: int, message_id: int, *, address: checkout.Address,
    provider: PaymentProvider, policy: MoneyPolicy, links: checkout.PaymentLinks, device_hash: str | None = None,
    is_online: Online = _nobody_online,
) -> tuple[checkout.Checkout, list[Message]]:  # fmt: skip
    """The buyer checks out a cart card as it is: the orders carry the conversation, so its agent earns the desk's
    fee (`fees.credit_agent`); each order then appears in the conversation as an order card (returned with the
    checkout). Commits."""
    conversation, message = cart_card(session, user, conversation_id, message_id)
    assert user is not None
    items = [checkout.CheckoutItem(int(i["sku_id"]), int(i["quantity"])) for i in message.payload["items"]]
    placed = checkout.place_order(session, user, items=items, address=address, provider=provider, policy=policy,
                                  links=links, device_hash=device_hash, conversation_id=conversation.id)  # fmt: skip
    conversation = session.get(Conversation, conversation_id)  # type: ignore[assignment]
    assert conversation is not None
    cards = []
    try:
        for order in placed.orders:
            if order.brand_id == conversation.brand_id:
                cards.append(_post(session, conversation, user, "buyer", Outgoing(MessageKind.ORDER, order_id=order.id),
                      now=clock.now(), is_online=is_online))  # fmt: skip
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return placed, cards


def card_details(session: Session, storage: ObjectStorage, message: Message, locale: str) -> dict[str, Any]:
    p = message.payload or {}
    if message.kind == MessageKind.IMAGE:
        return {"url": storage.presigned_get_url(p["key"], URL_SECONDS),
                "thumb_url": storage.presigned_get_url(p["thumb_key"], URL_SECONDS),
                "width": p.get("width"), "height": p.get("height")}  # fmt: skip
    if message.kind == MessageKind.PRODUCT:
        product = session.get(Product, p["product_id"])
        prices = [s.price_fen for s in product.skus if s.is_active] if product else []
        return {"product_id": p["product_id"], "name": product.name if product else "",
                "price_fen": min(prices) if prices else None}  # fmt: skip
    if message.kind == MessageKind.ORDER:
        order = session.get(Order, p["order_id"])
        return {"order_id": p["order_id"], "status": str(order.status) if order else "", "total": order.total if order
                else 0}  # fmt: skip
    if message.kind == MessageKind.CART:
        lines = []
        for item in p["items"]:
            sku = session.get(Sku, item["sku_id"])
            product = session.get(Product, sku.product_id) if sku else None
            lines.append({"sku_id": item["sku_id"], "quantity": item["quantity"],
                          "name": product.name if product else "", "attributes": dict(sku.attributes or {}) if sku
                          else {}, "unit_price": sku.price_fen if sku else 0})  # fmt: skip
        return {"items": lines, "total": sum(line["unit_price"] * line["quantity"] for line in lines)}
    if message.kind == MessageKind.COUPON:
        coupon = session.get(coupons.Coupon, p["coupon_id"])
        zh, en = coupons.describe(coupon) if coupon else ("", "")
        return {"coupon_id": p["coupon_id"], "user_coupon_id": p.get("user_coupon_id"),
                "label": en if locale.startswith("en") else zh, "name": coupon.name if coupon else ""}  # fmt: skip
    return {}
