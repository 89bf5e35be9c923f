"""Customer service: buyers chat with brands (text, images, product and order cards); agents answer from the brand's
inbox, send cart cards and coupons, and earn the desk's fee on orders placed from their conversations. Each change
is published to the conversation's open sockets and streams (`web.realtime`) after it commits."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import request
from pydantic import Field
from werkzeug.datastructures import FileStorage

from commerce.catalog.limits import CatalogLimits
from commerce.orders import checkout
from commerce.support import conversations, fees, staff
from commerce.support.conversations import CartLine, ImageLimits, Outgoing
from commerce.support.models import Agent, Conversation, Desk, Message, MessageKind, RoutingMode
from core import extensions
from core.accounts.models import Brand, User
from web import realtime
from web.api.blueprint import bp
from web.api.catalog import PageQuery, read_upload
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.api.orders import AddressIn, CheckoutOut, _notify_url, _policy, _provider
from web.auth import current_user
from web.device import device_hash
from web.i18n import get_locale
from web.ratelimit import rate_limited

TAGS = ["support"]


class StartIn(ApiModel):
    brand_id: int = Field(ge=1)
    product_id: int | None = Field(default=None, ge=1, description="sent as a product card (asking about it)")
    order_id: int | None = Field(default=None, ge=1, description="sent as an order card (one of the buyer's)")


class CartItemIn(ApiModel):
    sku_id: int = Field(ge=1)
    quantity: int = Field(ge=1, le=99)


class MessageIn(ApiModel):
    kind: Literal["text", "product", "order", "cart", "coupon"] = "text"
    text: str = Field(default="", max_length=conversations.MAX_TEXT)
    product_id: int | None = Field(default=None, ge=1)
    order_id: int | None = Field(default=None, ge=1)
    coupon_id: int | None = Field(default=None, ge=1, description="a brand coupon issued to the buyer (agents)")
    items: list[CartItemIn] = Field(default_factory=list, max_length=conversations.MAX_CART_ITEMS,
                                    description="a cart card's SKUs and quantities (agents)")  # fmt: skip


class CardCheckoutIn(ApiModel):
    address: AddressIn


class DeskIn(ApiModel):
    routing: Literal["round_robin", "least_busy"] | None = None
    agent_fee_bp: int | None = Field(default=None, ge=0, le=10_000, description="0: none; else the affiliate bounds")


class AvailabilityIn(ApiModel):
    available: bool


class MessagesQuery(PageQuery):
    limit: int = Field(default=50, ge=1, le=100)


class ConversationOut(OutModel):
    id: int
    brand_id: int
    brand_name: str
    buyer_id: int
    buyer_name: str
    agent_id: int | None
    agent_name: str | None
    routed_via: str | None
    status: str
    buyer_unread: int
    agent_unread: int
    created_at: dt.datetime
    last_message_at: dt.datetime

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        s = extensions.session()
        brand, buyer = s.get(Brand, c.brand_id), s.get(User, c.buyer_id)
        agent = s.get(User, c.agent_id) if c.agent_id else None
        return cls(
            id=c.id, brand_id=c.brand_id, brand_name=brand.name if brand else "", buyer_id=c.buyer_id,
            buyer_name=buyer.display_name if buyer else "", agent_id=c.agent_id,
            agent_name=agent.display_name if agent else None, routed_via=c.routed_via, status=str(c.status),
            buyer_unread=c.buyer_unread, agent_unread=c.agent_unread, created_at=c.created_at,
            last_message_at=c.last_message_at,
        )  # fmt: skip


class MessageOut(OutModel):
    id: int
    conversation_id: int
    side: str = Field(description="buyer | agent")
    sender_id: int
    sender_name: str
    kind: MessageKind
    text: str
    card: dict[str, Any] = Field(description="what the card shows (image URLs, product, order, cart lines, coupon)")
    created_at: dt.datetime

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        s = extensions.session()
        sender = s.get(User, m.sender_id)
        return cls(
            id=m.id, conversation_id=m.conversation_id, side=m.side, sender_id=m.sender_id,
            sender_name=sender.display_name if sender else "", kind=m.kind, text=m.body,
            card=conversations.card_details(s, extensions.storage(), m, get_locale()), created_at=m.created_at,
        )  # fmt: skip


class MessagePage(OutModel):
    items: list[MessageOut]
    next_cursor: str | None


class AgentOut(OutModel):
    user_id: int
    is_available: bool


class DeskOut(OutModel):
    brand_id: int
    routing: RoutingMode
    agent_fee_bp: int
    agents: list[AgentOut]


class PerformanceOut(OutModel):
    user_id: int
    name: str
    is_available: bool
    conversations: int
    answered: int
    first_response_seconds: float | None
    orders: int
    conversion_bp: int
    fees: int


def _announce(conversation: Conversation, event: dict[str, Any]) -> None:
    realtime.publish(
        [realtime.conversation_channel(conversation.id), realtime.brand_channel(conversation.brand_id)], event
    )


def _announce_message(message: Message) -> MessageOut:
    s = extensions.session()
    conversation = s.get(Conversation, message.conversation_id)
    assert conversation is not None
    out = MessageOut.of(message)
    _announce(conversation, {"type": "message", "conversation": ConversationOut.of(conversation).model_dump(
        mode="json"), "message": out.model_dump(mode="json")})  # fmt: skip
    return out


def _desk_out(desk: Desk, agents: list[Agent]) -> DeskOut:
    return DeskOut(brand_id=desk.brand_id, routing=desk.routing, agent_fee_bp=desk.agent_fee_bp,
                   agents=[AgentOut.model_validate(a) for a in agents])  # fmt: skip


# -- the buyer's side and the conversation -------------------------------------------------------------------


@bp.post("/conversations")
@endpoint(summary="Open (or reopen) the caller's chat with a brand, optionally about a product or an order",
          tags=TAGS, body=StartIn, response=ConversationOut, status=201, auth="required",
          errors=[403, 404, 422])  # fmt: skip
def start_conversation(body: StartIn) -> tuple[ConversationOut, int]:
    """A new conversation is routed to an agent: the buyer's bound distributor when they are one, else by the
    desk's round robin or least busy."""
    s = extensions.session()
    c = conversations.start(s, current_user(), body.brand_id, product_id=body.product_id, order_id=body.order_id,
                            is_online=realtime.is_online)  # fmt: skip
    out = ConversationOut.of(c)
    _announce(c, {"type": "conversation", "conversation": out.model_dump(mode="json")})
    return out, 201


@bp.get("/me/conversations")
@endpoint(summary="The caller's chats with brands, latest first", tags=TAGS, response=list[ConversationOut],
          auth="required")  # fmt: skip
def my_conversations() -> list[ConversationOut]:
    return [ConversationOut.of(c) for c in conversations.of_buyer(extensions.session(), current_user())]


@bp.get("/conversations/<int:conversation_id>")
@endpoint(summary="One conversation (its buyer, the brand's agents and members)", tags=TAGS,
          response=ConversationOut, auth="required", errors=[404])  # fmt: skip
def get_conversation(conversation_id: int) -> ConversationOut:
    return ConversationOut.of(conversations.get(extensions.session(), current_user(), conversation_id)[0])


@bp.get("/conversations/<int:conversation_id>/messages")
@endpoint(summary="A conversation's messages, newest first", tags=TAGS, query=MessagesQuery, response=MessagePage,
          auth="required", errors=[404, 422])  # fmt: skip
def list_messages(conversation_id: int, query: MessagesQuery) -> MessagePage:
    rows, cursor = conversations.messages(extensions.session(), current_user(), conversation_id, cursor=query.cursor,
                                          limit=query.limit)  # fmt: skip
    return MessagePage(items=[MessageOut.of(m) for m in rows], next_cursor=cursor)


@bp.post("/conversations/<int:conversation_id>/messages")
@rate_limited("support_messages", code="support_too_fast", shared=True)
@endpoint(summary="Send a text, a product or order card, or (agents) a cart card or a coupon", tags=TAGS,
          body=MessageIn, response=MessageOut, status=201, auth="required", errors=[403, 404, 409, 422])  # fmt: skip
def send_message(conversation_id: int, body: MessageIn) -> tuple[MessageOut, int]:
    outgoing = Outgoing(
        MessageKind(body.kind), body=body.text, product_id=body.product_id, order_id=body.order_id,
        coupon_id=body.coupon_id, items=[CartLine(i.sku_id, i.quantity) for i in body.items],
    )  # fmt: skip
    m = conversations.send(extensions.session(), current_user(), conversation_id, outgoing,
                           is_online=realtime.is_online)  # fmt: skip
    return _announce_message(m), 201


@bp.post("/conversations/<int:conversation_id>/images")
@rate_limited("support_messages", code="support_too_fast", shared=True)
@endpoint(summary="Send an image (JPEG, PNG, WebP or GIF; re-encoded, kept privately)", tags=TAGS,
          response=MessageOut, status=201, auth="required", upload="file", errors=[404, 413, 422])  # fmt: skip
def send_image(conversation_id: int, file: FileStorage) -> tuple[MessageOut, int]:
    settings = extensions.settings()
    data = read_upload(file, settings.support_image_max_bytes, "image_too_large")
    m = conversations.send_image(
        extensions.session(), current_user(), conversation_id, data, storage=extensions.storage(),
        limits=ImageLimits(max_bytes=settings.support_image_max_bytes, max_pixels=settings.product_image_max_pixels),
        is_online=realtime.is_online,
    )  # fmt: skip
    return _announce_message(m), 201


@bp.post("/conversations/<int:conversation_id>/read")
@endpoint(summary="Mark the conversation read on the caller's side", tags=TAGS, response=ConversationOut,
          auth="required", errors=[404])  # fmt: skip
def read_conversation(conversation_id: int) -> ConversationOut:
    c = conversations.mark_read(extensions.session(), current_user(), conversation_id)
    out = ConversationOut.of(c)
    _announce(c, {"type": "read", "conversation": out.model_dump(mode="json")})
    return out


@bp.post("/conversations/<int:conversation_id>/close")
@endpoint(summary="Close the conversation (agents); the buyer's next message reopens it", tags=TAGS,
          response=ConversationOut, auth="required", errors=[403, 404])  # fmt: skip
def close_conversation(conversation_id: int) -> ConversationOut:
    c = conversations.close(extensions.session(), current_user(), conversation_id)
    out = ConversationOut.of(c)
    _announce(c, {"type": "conversation", "conversation": out.model_dump(mode="json")})
    return out


@bp.post("/conversations/<int:conversation_id>/cards/<int:message_id>/checkout")
@rate_limited("checkout")
@endpoint(summary="Check out a cart card in one step (the buyer): orders credit the conversation's agent",
          tags=TAGS, body=CardCheckoutIn, response=CheckoutOut, status=201, auth="required", idempotent=True,
          errors=[404, 409, 422])  # fmt: skip
def checkout_card(conversation_id: int, message_id: int, body: CardCheckoutIn) -> tuple[CheckoutOut, int]:
    """Requires an `Idempotency-Key`. Send the buyer to `pay_url`."""
    settings = extensions.settings()
    s = extensions.session()
    placed, cards = conversations.checkout_cart(
        s, current_user(), conversation_id, message_id, address=checkout.Address(**body.address.model_dump()),
        provider=_provider(), policy=_policy(),
        links=checkout.PaymentLinks(notify_url=_notify_url(), client_ip=request.remote_addr,
                                    return_url=settings.public_base_url.rstrip("/") + "/pay/return/{checkout_id}"),
        device_hash=device_hash(), is_online=realtime.is_online,
    )  # fmt: skip
    out = CheckoutOut.of(placed)
    for card in cards:
        _announce_message(card)
    return out, 201


# -- the brand's side ----------------------------------------------------------------------------------------


@bp.get("/brands/<int:brand_id>/inbox")
@endpoint(summary="The brand's conversations the caller serves (an agent's own and the waiting ones)", tags=TAGS,
          response=list[ConversationOut], auth="required", errors=[403])  # fmt: skip
def brand_inbox(brand_id: int) -> list[ConversationOut]:
    return [ConversationOut.of(c) for c in conversations.inbox(extensions.session(), current_user(), brand_id)]


@bp.get("/brands/<int:brand_id>/support")
@endpoint(summary="The brand's customer-service desk: routing, the agents' fee, the agents", tags=TAGS,
          response=DeskOut, auth="required", errors=[403])  # fmt: skip
def get_desk(brand_id: int) -> DeskOut:
    s = extensions.session()
    agents = staff.list_agents(s, current_user(), brand_id)
    return _desk_out(staff.settings_of(s, brand_id), agents)


@bp.patch("/brands/<int:brand_id>/support")
@endpoint(summary="Set the routing (members) and the agents' fee (the owner)", tags=TAGS, body=DeskIn,
          response=DeskOut, auth="required", errors=[403, 422])  # fmt: skip
def set_desk(brand_id: int, body: DeskIn) -> DeskOut:
    s = extensions.session()
    desk = staff.configure(
        s, current_user(), brand_id, routing=RoutingMode(body.routing) if body.routing else None,
        agent_fee_bp=body.agent_fee_bp, limits=CatalogLimits.from_settings(extensions.settings()),
    )  # fmt: skip
    return _desk_out(desk, staff.list_agents(s, current_user(), brand_id))


@bp.put("/brands/<int:brand_id>/support/agents/<int:user_id>")
@endpoint(summary="Appoint a member or an approved distributor of the brand as an agent", tags=TAGS,
          response=AgentOut, auth="required", errors=[403, 422])  # fmt: skip
def appoint_agent(brand_id: int, user_id: int) -> AgentOut:
    return AgentOut.model_validate(staff.appoint(extensions.session(), current_user(), brand_id, user_id))


@bp.delete("/brands/<int:brand_id>/support/agents/<int:user_id>")
@endpoint(summary="Dismiss an agent (their conversations wait for another)", tags=TAGS, status=204,
          auth="required", errors=[403, 404])  # fmt: skip
def dismiss_agent(brand_id: int, user_id: int) -> tuple[None, int]:
    staff.dismiss(extensions.session(), current_user(), brand_id, user_id)
    return None, 204


@bp.put("/brands/<int:brand_id>/support/availability")
@endpoint(summary="The calling agent goes on or off duty", tags=TAGS, body=AvailabilityIn, response=AgentOut,
          auth="required", errors=[403])  # fmt: skip
def set_availability(brand_id: int, body: AvailabilityIn) -> AgentOut:
    return AgentOut.model_validate(staff.set_available(extensions.session(), current_user(), brand_id, body.available))


@bp.get("/brands/<int:brand_id>/support/performance")
@endpoint(summary="Each agent's conversations, first response time, conversion and fees", tags=TAGS,
          response=list[PerformanceOut], auth="required", errors=[403])  # fmt: skip
def agent_performance(brand_id: int) -> list[PerformanceOut]:
    return [PerformanceOut.model_validate(p) for p in fees.performance(extensions.session(), current_user(), brand_id)]
