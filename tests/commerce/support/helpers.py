"""Customer service on top of the money-path market: agents, conversations, a cart card checked out and paid."""

from __future__ import annotations

from commerce.catalog.limits import CatalogLimits
from commerce.distribution.models import Distributor
from commerce.orders.models import Checkout
from commerce.support import conversations, staff
from commerce.support.conversations import CartLine, Outgoing
from commerce.support.models import Conversation, Message, MessageKind, RoutingMode
from core.accounts.models import BrandMember, BrandRole, User
from tests.commerce.distribution.helpers import join, open_programme
from tests.commerce.money import ADDRESS, LINKS, Market, pay

LIMITS = CatalogLimits()


def member(m: Market, name: str) -> User:
    u = m.user(display_name=name)
    m.session.add(BrandMember(brand_id=m.brand.id, user_id=u.id, role=BrandRole.MEMBER))
    m.session.commit()
    return u


def agents(m: Market, n: int) -> list[User]:
    out = []
    for i in range(n):
        u = member(m, f"客服{i + 1}")
        staff.appoint(m.session, m.owner, m.brand.id, u.id)
        out.append(u)
    return out


def distributor_agent(m: Market) -> tuple[User, Distributor]:
    """The brand opens its distributor programme; an approved distributor of it is appointed an agent."""
    open_programme(m)
    user = m.user(display_name="分销员")
    d = join(m, user)
    staff.appoint(m.session, m.owner, m.brand.id, user.id)
    return user, d


def desk(m: Market, *, routing: RoutingMode | None = None, fee_bp: int | None = None) -> None:
    staff.configure(m.session, m.owner, m.brand.id, routing=routing, agent_fee_bp=fee_bp, limits=LIMITS)


def chat(m: Market, buyer: User) -> Conversation:
    return conversations.start(m.session, buyer, m.brand.id, product_id=m.product.id)


def say(m: Market, who: User, c: Conversation, text: str) -> Message:
    return conversations.send(m.session, who, c.id, Outgoing(MessageKind.TEXT, body=text))


def cart_card(m: Market, agent: User, c: Conversation, qty: int = 1) -> Message:
    return conversations.send(m.session, agent, c.id, Outgoing(MessageKind.CART, items=[CartLine(m.sku.id, qty)]))


def checkout_card(m: Market, buyer: User, c: Conversation, card: Message, *, paid: bool = True) -> Checkout:
    placed, _cards = conversations.checkout_cart(
        m.session, buyer, c.id, card.id, address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
        device_hash=f"dev-{buyer.id}",
    )  # fmt: skip
    if paid:
        pay(m, placed)
    return placed
