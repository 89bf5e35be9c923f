"""Which agent a new conversation goes to.

The customer's bound distributor first, when that distributor is one of the brand's available agents (the
customer came to the brand through them); otherwise the desk's mode: round robin (the next available agent after
the last one chosen, by user id) or least busy (the fewest open conversations, then the lowest user id). With no
agent available the conversation waits unassigned, seen by every agent, and the first agent to answer takes it;
when an agent comes on duty, the waiting conversations are routed by the same rules, oldest first (`route_waiting`).

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

WAITING_BATCH = 500  # waiting conversations routed at once when an agent comes on duty (the rest: the next one)


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


def _choose(session: Session, desk: Desk, brand_id: int, buyer_id: int, now: dt.datetime) -> tuple[int, str] | None:
    """The agent for a conversation of `buyer_id` (and how they were chosen), None when nobody is available. The
    caller holds the desk's lock and moves the round-robin cursor once the conversation is theirs."""
    agent_ids = [
        a
        for a in session.scalars(
            select(Agent.user_id)
            .where(Agent.brand_id == brand_id, Agent.is_available.is_(True))
            .order_by(Agent.user_id)
        )
        if a != buyer_id
    ]
    if not agent_ids:
        return None
    distributor = bound_distributor(session, brand_id, buyer_id, now)
    if distributor is not None and distributor.user_id in agent_ids:
        return distributor.user_id, "distributor"
    if desk.routing == RoutingMode.LEAST_BUSY:
        return _least_busy(session, brand_id, agent_ids), str(RoutingMode.LEAST_BUSY)
    after = desk.last_agent_id or 0
    return next((a for a in agent_ids if a > after), agent_ids[0]), str(RoutingMode.ROUND_ROBIN)


def _took_turn(desk: Desk, chosen: int, via: str) -> None:
    if via == RoutingMode.ROUND_ROBIN:
        desk.last_agent_id = chosen


def route(session: Session, conversation: Conversation, now: dt.datetime) -> int | None:
    """Assign `conversation` (of a brand, not yet assigned) to an agent, in the caller's transaction (no commit).
    Returns the agent's user id, None when nobody is available."""
    desk = _lock_desk(session, conversation.brand_id)
    choice = _choose(session, desk, conversation.brand_id, conversation.buyer_id, now)
    if choice is None:
        conversation.agent_id, conversation.routed_via = None, None
        return None
    chosen, via = choice
    _took_turn(desk, chosen, via)
    conversation.agent_id, conversation.routed_via = chosen, via
    session.flush()
    return chosen


def route_waiting(session: Session, brand_id: int, now: dt.datetime, *, limit: int = WAITING_BATCH) -> list[int]:
    """Route the brand's open conversations that wait for anybody, oldest first, by the same rules and under the
    same desk lock as a new one (an agent just came on duty). Each assignment is a conditional UPDATE (`agent_id IS
    NULL`): a conversation an agent claimed meanwhile by answering it stays theirs. In the caller's transaction (no
    commit); returns the ids of the conversations routed."""
    desk = _lock_desk(session, brand_id)
    waiting = session.execute(
        select(Conversation.id, Conversation.buyer_id)
        .where(Conversation.brand_id == brand_id, Conversation.status == ConversationStatus.OPEN,
               Conversation.agent_id.is_(None))
        .order_by(Conversation.created_at, Conversation.id)
        .limit(limit)
    ).all()  # fmt: skip
    routed = []
    for conversation_id, buyer_id in waiting:
        choice = _choose(session, desk, brand_id, buyer_id, now)
        if choice is None:
            continue  # only the buyer themselves is on duty
        chosen, via = choice
        taken = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.agent_id.is_(None),
                   Conversation.status == ConversationStatus.OPEN)
            .values(agent_id=chosen, routed_via=via)
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
        if taken:
            _took_turn(desk, chosen, via)
            routed.append(conversation_id)
            session.flush()
    for c in session.scalars(select(Conversation).where(Conversation.id.in_(routed))):
        session.refresh(c)
    return routed
