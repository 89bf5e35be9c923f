"""Conversations: persisted messages of every kind, unread counts per side, who may see and send what, cards checked
against the brand, images re-encoded into storage, and offline recipients notified."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from commerce.marketing import coupons
from commerce.notifications.models import Notification
from commerce.orders.models import CouponKind, UserCoupon
from commerce.support import conversations
from commerce.support.conversations import CartLine, ImageLimits, Outgoing
from commerce.support.models import Conversation, ConversationStatus, Message, MessageKind
from core.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationFailed
from core.storage.local import LocalStorage
from tests import factories
from tests.commerce.money import Market
from tests.commerce.support.helpers import agents, cart_card, chat, say


def _kinds(m: Market, c: Conversation) -> list[MessageKind]:
    rows, _ = conversations.messages(m.session, m.buyer, c.id, limit=50)
    return [r.kind for r in reversed(rows)]


def test_messages_persist_and_unread_counts_are_per_side(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)  # with the product's card
    say(m, m.buyer, c, "这款防晒适合油皮吗？")
    m.session.refresh(c)
    assert (c.agent_unread, c.buyer_unread) == (2, 0)
    say(m, agent, c, "适合的，清爽不油腻")
    m.session.refresh(c)
    assert (c.agent_unread, c.buyer_unread) == (2, 1)
    conversations.mark_read(m.session, agent, c.id)
    m.session.refresh(c)
    assert (c.agent_unread, c.buyer_unread) == (0, 1)
    conversations.mark_read(m.session, m.buyer, c.id)
    m.session.refresh(c)
    assert c.buyer_unread == 0
    m.session.expire_all()
    rows, _ = conversations.messages(m.session, agent, c.id)
    assert [(r.side, r.kind, r.body) for r in reversed(rows)] == [
        ("buyer", MessageKind.PRODUCT, ""), ("buyer", MessageKind.TEXT, "这款防晒适合油皮吗？"),
        ("agent", MessageKind.TEXT, "适合的，清爽不油腻"),
    ]  # fmt: skip
    assert rows[0].payload == {}
    assert c.first_response_at is not None
    assert c.first_buyer_message_at is not None


def test_only_the_buyer_and_the_brands_staff_see_a_conversation(market: Market) -> None:
    m = market
    a, b = agents(m, 2)
    c = chat(m, m.buyer)
    assert c.agent_id == a.id
    stranger = m.user()
    for who in (stranger, b):  # another agent does not see a conversation routed to a colleague
        with pytest.raises(NotFound):
            conversations.get(m.session, who, c.id)
        with pytest.raises(NotFound):
            say(m, who, c, "hi")
    assert conversations.get(m.session, m.owner, c.id)[1] == "agent"  # a member sees every one
    assert conversations.get(m.session, m.buyer, c.id)[1] == "buyer"
    with pytest.raises(PermissionDenied):
        conversations.inbox(m.session, stranger, m.brand.id)
    with pytest.raises(PermissionDenied):  # staff do not open chats with their own brand
        conversations.start(m.session, a, m.brand.id)
    with pytest.raises(NotFound):
        conversations.start(m.session, m.buyer, 10**12)


def test_buyers_cannot_send_carts_or_coupons(market: Market) -> None:
    m = market
    agents(m, 1)
    c = chat(m, m.buyer)
    with pytest.raises(PermissionDenied):
        conversations.send(m.session, m.buyer, c.id, Outgoing(MessageKind.CART, items=[CartLine(m.sku.id, 1)]))
    with pytest.raises(PermissionDenied):
        conversations.send(m.session, m.buyer, c.id, Outgoing(MessageKind.COUPON, coupon_id=1))


def test_cards_are_checked_against_the_conversations_brand(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)
    other_brand = factories.brand(m.session, owner=m.user())
    foreign = factories.product(m.session, brand=other_brand, name="别家的")
    m.session.commit()

    def refused(out: Outgoing, who=agent) -> list[str]:  # type: ignore[no-untyped-def]
        with pytest.raises(ValidationFailed) as err:
            conversations.send(m.session, who, c.id, out)
        return [f.field for f in err.value.fields]

    assert refused(Outgoing(MessageKind.TEXT, body="   ")) == ["text"]
    assert refused(Outgoing(MessageKind.TEXT, body="长" * 2001)) == ["text"]
    assert refused(Outgoing(MessageKind.PRODUCT, product_id=foreign.id)) == ["product_id"]
    assert refused(Outgoing(MessageKind.PRODUCT, product_id=10**12)) == ["product_id"]
    assert refused(Outgoing(MessageKind.ORDER, order_id=10**12), m.buyer) == ["order_id"]
    assert refused(Outgoing(MessageKind.CART)) == ["items"]
    assert refused(Outgoing(MessageKind.CART, items=[CartLine(m.sku.id, 1)] * 11)) == ["items"]
    assert refused(Outgoing(MessageKind.CART, items=[CartLine(foreign.skus[0].id, 1), CartLine(m.sku.id, 0)])) == [
        "items.0.sku_id", "items.1.quantity",
    ]  # fmt: skip
    assert refused(Outgoing(MessageKind.CART, items=[CartLine(m.sku.id, 100)])) == ["items.0.quantity"]
    assert refused(Outgoing(MessageKind.COUPON)) == ["coupon_id"]
    assert _kinds(m, c) == [MessageKind.PRODUCT]  # nothing refused was kept
    card = cart_card(m, agent, c, qty=2)
    assert card.payload == {"items": [{"sku_id": m.sku.id, "quantity": 2}]}
    details = conversations.card_details(m.session, None, card, "zh-CN")  # type: ignore[arg-type]
    assert details["total"] == 2 * m.sku.price_fen


def test_an_agent_issues_a_brand_coupon_into_the_buyers_wallet(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)
    coupon = coupons.create_coupon(m.session, m.owner, m.brand.id, kind=CouponKind.AMOUNT, value=500, max_uses=1)
    msg = conversations.send(m.session, agent, c.id, Outgoing(MessageKind.COUPON, coupon_id=coupon.id))
    held = m.session.get(UserCoupon, msg.payload["user_coupon_id"])
    assert held is not None
    assert (held.user_id, held.coupon_id, held.granted_by) == (m.buyer.id, coupon.id, agent.id)
    with pytest.raises(Conflict):  # the buyer holds their one
        conversations.send(m.session, agent, c.id, Outgoing(MessageKind.COUPON, coupon_id=coupon.id))
    platform = coupons.create_coupon(m.session, m.admin, None, funded_by="platform", kind=CouponKind.AMOUNT, value=1)
    with pytest.raises(ValidationFailed):  # not the brand's own
        conversations.send(m.session, agent, c.id, Outgoing(MessageKind.COUPON, coupon_id=platform.id))


def test_offline_recipients_are_notified_and_connected_ones_are_not(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)

    def agent_notes() -> list[Notification]:
        return list(m.session.scalars(select(Notification).where(Notification.user_id == agent.id)))

    opening = agent_notes()  # the product card arrived while the agent was not connected
    assert [n.link for n in opening] == [f"/brand/{m.brand.id}/inbox"]
    online = {agent.id}
    conversations.send(m.session, m.buyer, c.id, Outgoing(MessageKind.TEXT, body="在吗"), is_online=online.__contains__)
    assert agent_notes() == opening  # connected: the socket shows it, no notification
    conversations.send(m.session, agent, c.id, Outgoing(MessageKind.TEXT, body="在的"), is_online=online.__contains__)
    note = m.session.scalars(select(Notification).where(Notification.user_id == m.buyer.id)).one()
    assert (note.kind, note.link, note.params["preview"]) == ("support_message", f"/chat/{c.id}", "在的")


def test_images_are_reencoded_into_storage(market: Market, tmp_path: Path) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)
    storage = LocalStorage(tmp_path / "objects", secret=b"test", base_url="http://cdn.test/storage")
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buf, "PNG")
    msg = conversations.send_image(m.session, m.buyer, c.id, buf.getvalue(), storage=storage, limits=ImageLimits())
    assert msg.kind == MessageKind.IMAGE
    assert storage.get(msg.payload["key"])[:3] == b"\xff\xd8\xff"  # a JPEG, whatever was sent
    assert msg.payload["width"] == 640
    details = conversations.card_details(m.session, storage, msg, "zh-CN")
    assert details["url"].startswith("http://cdn.test/storage/")
    with pytest.raises(ValidationFailed) as err:
        conversations.send_image(m.session, agent, c.id, b"GIF89a not really", storage=storage, limits=ImageLimits())
    assert err.value.fields[0].code == "not_an_image"
    with pytest.raises(PayloadTooLarge):
        conversations.send_image(m.session, agent, c.id, buf.getvalue(), storage=storage,
                                 limits=ImageLimits(max_bytes=100))  # fmt: skip
    assert m.session.scalar(select(Message.id).where(Message.kind == MessageKind.IMAGE, Message.sender_id == agent.id))\
        is None  # fmt: skip


def test_a_closed_conversation_reopens_when_the_buyer_writes(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)
    conversations.close(m.session, agent, c.id)
    with pytest.raises(PermissionDenied):  # the buyer does not close it
        conversations.close(m.session, m.buyer, c.id)
    m.session.refresh(c)
    assert c.status == ConversationStatus.CLOSED
    say(m, m.buyer, c, "还有一个问题")
    m.session.refresh(c)
    assert c.status == ConversationStatus.OPEN
    assert c.agent_id == agent.id
