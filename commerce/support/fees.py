"""The agents' service fee and their performance.

An order placed from a conversation's cart card carries the conversation: each of its lines of the conversation's
brand records the conversation's agent and the desk's fee (`agent_fee_bp`, never more than what the line has left
after the platform fee and the commissions). The fee is then one more share of the one split
(`commerce.orders.split`): posted to the agent's pending balance with the others when the order is paid, settled
after the return window like a commission, and reversed in proportion by a refund (clawed back once settled).

No double pay on one line: a line that already credits the agent a commission (as its artist, its sharer or
distributor, or the second-level sharer above them) carries no agent fee — the commission pays them for that sale.
The line keeps no agent (`agent_id` None, `agent_fee_bp` 0); the order still counts as the agent's conversation
order, and their other lines of the order carry the fee as usual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from commerce.ledger.models import OwnerKind
from commerce.orders.models import Earning, EarningRole, Order, OrderLine, OrderStatus
from commerce.support import staff
from commerce.support.models import Agent, Conversation, ConversationOrder, Desk
from core.accounts.models import User
from core.errors import NotFound
from core.money import BP_WHOLE


def credit_agent(session: Session, buyer_id: int, conversation_id: int, order_ids: Sequence[int],
                 now: dt.datetime) -> None:  # fmt: skip
    """Checkout's hook (in its transaction): the buyer's conversation's agent and the desk's fee onto the lines of
    the conversation's brand. A conversation not of this buyer is refused; one without an agent credits nobody."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.buyer_id != buyer_id:
        raise NotFound("conversation")
    orders = list(session.scalars(
        select(Order.id).where(Order.id.in_(list(order_ids)), Order.brand_id == conversation.brand_id)
    ))  # fmt: skip
    for order_id in orders:
        session.add(ConversationOrder(order_id=order_id, conversation_id=conversation.id,
                                      agent_id=conversation.agent_id, created_at=now))  # fmt: skip
    desk = session.get(Desk, conversation.brand_id)
    agent = conversation.agent_id
    if not orders or agent is None or agent == buyer_id or desk is None or not desk.agent_fee_bp:
        session.flush()
        return
    room = literal(BP_WHOLE) - OrderLine.platform_fee_bp - OrderLine.artist_rate_bp - OrderLine.sharer_rate_bp
    fee = literal(desk.agent_fee_bp)
    session.execute(
        update(OrderLine)
        .where(OrderLine.order_id.in_(orders), *_not_credited(agent))
        .values(agent_id=agent, agent_fee_bp=case((fee <= room, fee), else_=room))
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _not_credited(user_id: int) -> list[ColumnElement[bool]]:
    """The lines paying `user_id` no commission (NULL-safe: a line without an artist or a sharer pays nobody)."""
    credited = (
        (OrderLine.artist_id, OrderLine.artist_rate_bp),
        (OrderLine.sharer_id, OrderLine.sharer_rate_bp),
        (OrderLine.parent_sharer_id, OrderLine.level2_share_bp * OrderLine.sharer_rate_bp),
    )
    return [or_(who.is_(None), who != user_id, rate == 0) for who, rate in credited]


@dataclass(frozen=True)
class AgentPerformance:
    user_id: int
    name: str
    is_available: bool
    conversations: int
    answered: int
    first_response_seconds: float | None  # the mean over the conversations they answered
    orders: int  # paid orders placed from their conversations
    conversion_bp: int  # orders / conversations
    fees: int  # fen, what they keep of their fees (less refunds)


_PAID = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)


def performance(session: Session, user: User | None, brand_id: int) -> list[AgentPerformance]:
    """Each agent of the brand: conversations, mean first response, conversion and fees."""
    staff.require_staff(session, user, brand_id)
    agents = session.execute(
        select(Agent.user_id, User.display_name, Agent.is_available)
        .join(User, User.id == Agent.user_id)
        .where(Agent.brand_id == brand_id)
        .order_by(Agent.user_id)
    ).all()
    ids = [a.user_id for a in agents]
    convs: dict[int, list[Conversation]] = {i: [] for i in ids}
    for c in session.scalars(select(Conversation).where(Conversation.brand_id == brand_id,
                                                        Conversation.agent_id.in_(ids))):  # fmt: skip
        convs[c.agent_id].append(c)  # type: ignore[index]
    orders = dict(session.execute(
        select(ConversationOrder.agent_id, func.count())
        .join(Order, Order.id == ConversationOrder.order_id)
        .where(ConversationOrder.agent_id.in_(ids), Order.brand_id == brand_id, Order.status.in_(_PAID))
        .group_by(ConversationOrder.agent_id)
    ).all())  # fmt: skip
    fees = dict(session.execute(
        select(Earning.owner_id, func.coalesce(func.sum(Earning.amount - Earning.reversed_amount), 0))
        .join(Order, Order.id == Earning.order_id)
        .where(Earning.role == EarningRole.AGENT, Earning.owner_kind == OwnerKind.USER, Earning.owner_id.in_(ids),
               Order.brand_id == brand_id)
        .group_by(Earning.owner_id)
    ).all())  # fmt: skip
    out = []
    for a in agents:
        mine = convs[a.user_id]
        waits = [
            (c.first_response_at - c.first_buyer_message_at).total_seconds()
            for c in mine
            if c.first_response_at is not None and c.first_buyer_message_at is not None
        ]
        n_orders = int(orders.get(a.user_id, 0))
        out.append(AgentPerformance(
            a.user_id, a.display_name, a.is_available, len(mine), len(waits),
            sum(waits) / len(waits) if waits else None, n_orders,
            n_orders * BP_WHOLE // len(mine) if mine else 0, int(fees.get(a.user_id, 0)),
        ))  # fmt: skip
    return out
