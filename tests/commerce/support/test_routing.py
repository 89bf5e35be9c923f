"""Routing new conversations: the bound distributor first (when they are an agent), else round robin or least busy;
with nobody available the conversation waits, and the first agent to answer takes it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from commerce.support import conversations, staff
from commerce.support.models import Conversation, MessageKind, RoutingMode
from core.clock import FrozenClock
from core.db import Database
from core.errors import NotFound, PermissionDenied, ValidationFailed
from tests.commerce.distribution.helpers import bring, join, open_programme
from tests.commerce.money import Market
from tests.commerce.support.helpers import agents, chat, desk, distributor_agent, say


def test_the_bound_distributor_is_first_when_they_are_an_agent(market: Market) -> None:
    m = market
    open_programme(m)
    distributor_user = m.user(display_name="分销员")
    d = join(m, distributor_user)
    (other,) = agents(m, 1)
    customer = m.user()
    assert bring(m, d, customer)
    # Not an agent yet: the desk's turn decides.
    first = chat(m, customer)
    assert first.agent_id == other.id
    assert first.routed_via == "round_robin"
    staff.appoint(m.session, m.owner, m.brand.id, distributor_user.id)
    second_customer = m.user()
    assert bring(m, d, second_customer)
    c = chat(m, second_customer)
    assert (c.agent_id, c.routed_via) == (distributor_user.id, "distributor")
    # Off duty: their customer goes to the desk's turn.
    staff.set_available(m.session, distributor_user, m.brand.id, False)
    third = m.user()
    assert bring(m, d, third)
    assert chat(m, third).agent_id == other.id


def test_a_distributor_who_is_not_approved_cannot_be_an_agent(market: Market) -> None:
    m = market
    open_programme(m)
    pending = m.user()
    join(m, pending, approve=False)
    with pytest.raises(ValidationFailed) as err:
        staff.appoint(m.session, m.owner, m.brand.id, pending.id)
    assert err.value.fields[0].code == "agent_not_staff"
    with pytest.raises(PermissionDenied):
        staff.appoint(m.session, pending, m.brand.id, pending.id)


def test_round_robin_takes_turns_by_user_id(market: Market) -> None:
    m = market
    a, b, c = agents(m, 3)
    routed = [chat(m, m.user()).agent_id for _ in range(7)]
    assert routed == [a.id, b.id, c.id, a.id, b.id, c.id, a.id]
    staff.set_available(m.session, b, m.brand.id, False)
    assert [chat(m, m.user()).agent_id for _ in range(3)] == [c.id, a.id, c.id]


def test_least_busy_picks_the_fewest_open_conversations(market: Market) -> None:
    m = market
    a, b = agents(m, 2)
    desk(m, routing=RoutingMode.LEAST_BUSY)
    assert chat(m, m.user()).agent_id == a.id  # a tie: the lower id
    assert chat(m, m.user()).agent_id == b.id
    busy = chat(m, m.user())
    assert busy.agent_id == a.id
    conversations.close(m.session, a, busy.id)  # a closed one does not count
    assert chat(m, m.user()).agent_id == a.id
    assert chat(m, m.user()).agent_id == b.id


def test_no_available_agent_waits_and_the_first_answer_takes_it(market: Market) -> None:
    m = market
    buyer = m.user()
    waiting = chat(m, buyer)
    assert waiting.agent_id is None
    assert waiting.routed_via is None
    (a, b) = agents(m, 2)
    staff.set_available(m.session, a, m.brand.id, False)
    staff.set_available(m.session, b, m.brand.id, False)
    assert chat(m, m.user()).agent_id is None
    # Every agent sees the waiting ones; the first to answer takes it, and then the other no longer sees it.
    assert waiting.id in {c.id for c in conversations.inbox(m.session, b, m.brand.id)}
    say(m, a, waiting, "您好，有什么可以帮您？")
    m.session.refresh(waiting)
    assert (waiting.agent_id, waiting.routed_via) == (a.id, "claimed")
    assert waiting.id not in {c.id for c in conversations.inbox(m.session, b, m.brand.id)}
    assert waiting.id in {c.id for c in conversations.inbox(m.session, m.owner, m.brand.id)}  # members see all


def test_a_buyer_has_one_conversation_per_brand(market: Market) -> None:
    m = market
    agents(m, 2)
    buyer = m.user()
    first = chat(m, buyer)
    again = chat(m, buyer)
    assert again.id == first.id
    assert again.agent_id == first.agent_id


@pytest.mark.postgres
def test_concurrent_new_conversations_keep_round_robin(committed_db: Database) -> None:
    """Two (or more) conversations started at once each take the next turn: never the same agent twice."""
    from core.accounts.models import BrandMember, BrandRole
    from tests import factories

    with committed_db.session() as s:
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner)
        people = [factories.user(s) for _ in range(3)]
        for p in people:
            s.add(BrandMember(brand_id=brand.id, user_id=p.id, role=BrandRole.MEMBER))
        s.commit()
        for p in people:
            staff.appoint(s, owner, brand.id, p.id)
        buyers = [factories.user(s).id for _ in range(6)]
        s.commit()
        brand_id = brand.id
    barrier = threading.Barrier(len(buyers))
    errors: list[BaseException] = []

    def start(buyer_id: int) -> None:
        from core.accounts.models import User

        with committed_db.session() as s:
            user = s.get(User, buyer_id)
            barrier.wait()
            try:
                conversations.start(s, user, brand_id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=start, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with committed_db.session() as s:
        routed = list(s.scalars(select(Conversation.agent_id).where(Conversation.brand_id == brand_id)))
    counts = {p.id: routed.count(p.id) for p in people}
    assert counts == {p.id: 2 for p in people}, counts


@pytest.mark.postgres
def test_a_double_tap_opens_one_conversation(committed_db: Database) -> None:
    from core.accounts.models import User
    from tests import factories

    with committed_db.session() as s:
        brand = factories.brand(s, owner=factories.user(s))
        buyer_id, brand_id = factories.user(s).id, brand.id
        s.commit()
    barrier = threading.Barrier(2)
    opened: list[int] = []

    def start() -> None:
        with committed_db.session() as s:
            user = s.get(User, buyer_id)
            barrier.wait()
            opened.append(conversations.start(s, user, brand_id).id)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 2
    assert len(set(opened)) == 1


def test_waiting_conversations_are_routed_oldest_first_when_an_agent_comes_on_duty(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    a, b = agents(m, 2)
    for agent in (a, b):
        staff.set_available(m.session, agent, m.brand.id, False)
    waiting = []
    for _ in range(4):
        waiting.append(chat(m, m.user()))
        frozen.advance(minutes=1)
    assert {c.agent_id for c in waiting} == {None}
    say(m, b, waiting[1], "我来处理")  # claimed by answering: stays b's
    conversations.close(m.session, m.owner, waiting[3].id)  # closed: not routed
    staff.set_available(m.session, a, m.brand.id, True)
    for c in waiting:
        m.session.refresh(c)
    assert [(c.agent_id, c.routed_via) for c in waiting] == [
        (a.id, "round_robin"), (b.id, "claimed"), (a.id, "round_robin"), (None, None),
    ]  # fmt: skip
    # Both on duty, round robin takes turns over the waiting ones, oldest first, after the cursor a left.
    staff.set_available(m.session, a, m.brand.id, False)
    later = [chat(m, m.user()) for _ in range(3)]
    assert [c.agent_id for c in later] == [None, None, None]
    staff.set_available(m.session, b, m.brand.id, True)  # b alone on duty: all three to b
    assert [m.session.get(Conversation, c.id).agent_id for c in later] == [b.id] * 3  # type: ignore[union-attr]


def test_a_bound_customer_waiting_goes_to_their_distributor_when_on_duty(market: Market) -> None:
    m = market
    seller, d = distributor_agent(m)
    staff.set_available(m.session, seller, m.brand.id, False)
    customer = m.user()
    assert bring(m, d, customer)
    stranger, bound = chat(m, m.user()), chat(m, customer)
    staff.set_available(m.session, seller, m.brand.id, True)
    m.session.refresh(bound)
    m.session.refresh(stranger)
    assert (bound.agent_id, bound.routed_via) == (seller.id, "distributor")
    assert (stranger.agent_id, stranger.routed_via) == (seller.id, "round_robin")


def test_a_dismissed_distributor_agent_loses_the_conversations_and_the_inbox(market: Market) -> None:
    m = market
    distributor_user, d = distributor_agent(m)
    customer = m.user()
    assert bring(m, d, customer)
    c = chat(m, customer)
    assert c.agent_id == distributor_user.id
    staff.dismiss(m.session, m.owner, m.brand.id, distributor_user.id)
    with pytest.raises(NotFound):
        conversations.get(m.session, distributor_user, c.id)
    with pytest.raises(PermissionDenied):
        conversations.inbox(m.session, distributor_user, m.brand.id)


@pytest.mark.postgres
def test_an_agent_answering_while_another_comes_on_duty_never_loses_or_shares_a_conversation(
    committed_db: Database,
) -> None:
    """a answers the waiting conversations one by one (each answer claims it) while b comes on duty and routes the
    waiting ones: each conversation ends with exactly one of them, a's claims are never overwritten by b's routing,
    and nothing b routed is claimed after the fact."""
    from core.accounts.models import BrandMember, BrandRole, User
    from tests import factories

    with committed_db.session() as s:
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner)
        a, b = factories.user(s), factories.user(s)
        for p in (a, b):
            s.add(BrandMember(brand_id=brand.id, user_id=p.id, role=BrandRole.MEMBER))
        s.commit()
        for p in (a, b):
            staff.appoint(s, owner, brand.id, p.id)
            staff.set_available(s, p, brand.id, False)
        waiting = [conversations.start(s, factories.user(s), brand.id).id for _ in range(24)]
        brand_id, a_id, b_id = brand.id, a.id, b.id
    a_is_answering = threading.Event()
    claimed: list[int] = []
    lost: list[int] = []
    routed: list[int] = []
    errors: list[BaseException] = []

    def answer() -> None:
        with committed_db.session() as s:
            agent = s.get(User, a_id)
            for n, cid in enumerate(waiting):
                if n == len(waiting) // 3:
                    a_is_answering.set()  # b comes on duty in the middle of a's round
                try:
                    conversations.send(s, agent, cid, conversations.Outgoing(MessageKind.TEXT, body="我来"))
                except NotFound:
                    lost.append(cid)  # b had it first: no longer a's to see
                    continue
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return
                if s.get(Conversation, cid, populate_existing=True).agent_id == a_id:  # type: ignore[union-attr]
                    claimed.append(cid)

    def come_on_duty() -> None:
        with committed_db.session() as s:
            agent = s.get(User, b_id)
            a_is_answering.wait(30)
            try:
                staff.set_available(s, agent, brand_id, True)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            mine = select(Conversation.id).where(Conversation.brand_id == brand_id, Conversation.agent_id == b_id)
            routed.extend(s.scalars(mine))

    threads = [threading.Thread(target=answer), threading.Thread(target=come_on_duty)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with committed_db.session() as s:
        final = dict(
            s.execute(select(Conversation.id, Conversation.agent_id).where(Conversation.brand_id == brand_id)).all()
        )
        vias = dict(
            s.execute(select(Conversation.id, Conversation.routed_via).where(Conversation.brand_id == brand_id)).all()
        )
    assert set(final) == set(waiting)
    assert set(final.values()) <= {a_id, b_id}  # nothing left waiting: one of them has each
    assert set(claimed).isdisjoint(routed)
    assert {c for c, agent in final.items() if agent == a_id} == set(claimed)
    assert all(vias[c] == "claimed" for c in claimed)
    assert all(vias[c] == "round_robin" for c in final if final[c] == b_id)
    assert set(lost) <= {c for c in final if final[c] == b_id}
