"""Which agent a new conversation goes to.

The customer's bound distributor first, when that distributor is one of the brand's available agents (the
customer came to the brand through them); otherwise the desk's mode: round robin (the next available agent after
the last one chosen, by user id) or least busy (the fewest open conversations, then the lowest user id). With no
agent available the conversation waits unassigned, seen by every agent, and the first agent to answer takes it.

Every routing of a brand starts with one conditional UPDATE of its desk row (`route_seq + 1`): on PostgreSQL that
row lock queues concurrent routings of the brand until the first commits, and the next then reads the cursor it
left; on SQLite the UPDATE takes the database's write lock. So two conversations started at once never go to the
same agent out of turn.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from commerce.distribution.binding import bound_distributor
from commerce.support import staff
from commerce.support.models import Agent, Conversation, ConversationStatus, Desk, RoutingMode


def _lock_desk(session: Session, brand_id: int) -> Desk:
    staff.desk(session, brand_id)
    session.execute(
        update(Desk)
        .where(Desk.brand_id == brand_id)
        .values(route_seq=Desk.route_seq + 1)
        .execution_options(synchronize_session=False)
    )
    found = session.get(Desk, brand_id, populate_existing=True)
    assert found is not None
    return found


def _least_busy(session: Session, brand_id: int, agent_ids: list[int]) -> int:
    open_counts = dict(
        session.execute(
            select(Conversation.agent_id, func.count())
            .where(Conversation.brand_id == brand_id, Conversation.status == ConversationStatus.OPEN,
                   Conversation.agent_id.in_(agent_ids))
            .group_by(Conversation.agent_id)
        ).all()
    )  # fmt: skip
    return min(agent_ids, key=lambda a: (open_counts.get(a, 0), a))


def route(session: Session, conversation: Conversation, now: dt.datetime) -> int | None:
    """Assign `conversation` (of a brand, not yet assigned) to an agent, in the caller's transaction (no commit).
    Returns the agent's user id, None when nobody is available."""
    desk = _lock_desk(session, conversation.brand_id)
    agent_ids = [
        a
        for a in session.scalars(
            select(Agent.user_id)
            .where(Agent.brand_id == conversation.brand_id, Agent.is_available.is_(True))
            .order_by(Agent.user_id)
        )
        if a != conversation.buyer_id
    ]
    if not agent_ids:
        conversation.agent_id, conversation.routed_via = None, None
        return None
    distributor = bound_distributor(session, conversation.brand_id, conversation.buyer_id, now)
    if distributor is not None and distributor.user_id in agent_ids:
        chosen, via = distributor.user_id, "distributor"
    elif desk.routing == RoutingMode.LEAST_BUSY:
        chosen, via = _least_busy(session, conversation.brand_id, agent_ids), str(RoutingMode.LEAST_BUSY)
    else:
        after = desk.last_agent_id or 0
        chosen = next((a for a in agent_ids if a > after), agent_ids[0])
        via = str(RoutingMode.ROUND_ROBIN)
        desk.last_agent_id = chosen
    conversation.agent_id, conversation.routed_via = chosen, via
    session.flush()
    return chosen
