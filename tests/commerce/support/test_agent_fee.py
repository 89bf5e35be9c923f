"""The agent's service fee: set by the brand within the affiliate bounds, snapshotted on the lines of an order placed
from the conversation's cart card, paid through the one split into the ledger like a commission, settled, reversed
in proportion by a refund and clawed back by a dispute once settled; the books balance throughout."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commerce.ledger import AccountKind
from commerce.orders import disputes, refunds, settlement
from commerce.orders.models import Earning, EarningRole, Order
from commerce.orders.refunds import RefundItem
from commerce.owners import Owner
from commerce.support import fees, staff
from commerce.support.models import ConversationOrder
from core import clock
from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied, ValidationFailed
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    orders_of,
    owner_balances,
    pending_matches_earnings,
    place,
    ship_and_deliver,
)
from tests.commerce.support.helpers import LIMITS, agents, cart_card, chat, checkout_card, desk, member

PENDING, AVAILABLE, CLAWBACK = AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.CLAWBACK


def _earnings(m: Market, order: Order) -> dict[EarningRole, int]:
    return {e.role: e.amount for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))}


def _fee(m: Market, order: Order) -> Earning:
    stmt = select(Earning).where(Earning.order_id == order.id, Earning.role == EarningRole.AGENT)
    return m.session.scalars(stmt).one()


def _conversation_order(m: Market, *, fee_bp: int = 300, qty: int = 1):  # type: ignore[no-untyped-def]
    (agent,) = agents(m, 1)
    desk(m, fee_bp=fee_bp)
    c = chat(m, m.buyer)
    placed = checkout_card(m, m.buyer, c, cart_card(m, agent, c, qty=qty))
    (order,) = orders_of(m, placed)
    return agent, c, order


def test_the_fee_is_a_share_of_the_one_split(market: Market) -> None:
    m = market
    agent, c, order = _conversation_order(m, fee_bp=300, qty=2)  # 20 000 fen
    (line,) = order.lines
    assert (line.agent_id, line.agent_fee_bp) == (agent.id, 300)
    assert _earnings(m, order) == {EarningRole.BRAND: 18_400, EarningRole.AGENT: 600, EarningRole.PLATFORM: 1_000}
    assert owner_balances(m.session, Owner.user(agent.id))[PENDING] == 600
    assert m.session.get(ConversationOrder, order.id).conversation_id == c.id  # type: ignore[union-attr]
    pending_matches_earnings(m.session)
    assert_books_balanced(m.session)
    (row,) = fees.performance(m.session, m.owner, m.brand.id)
    assert (row.user_id, row.conversations, row.orders, row.conversion_bp, row.fees) == (agent.id, 1, 1, 10_000, 600)


def test_orders_not_from_a_conversation_pay_no_agent(market: Market) -> None:
    m = market
    agents(m, 1)
    desk(m, fee_bp=300)
    chat(m, m.buyer)
    placed = place(m, from_video=False)
    (order,) = orders_of(m, placed)
    assert order.lines[0].agent_id is None
    assert order.lines[0].agent_fee_bp == 0


def test_the_fee_stays_within_the_affiliate_bounds_and_only_the_owner_sets_it(market: Market) -> None:
    m = market
    for wrong in (50, 5001, 10_000):
        with pytest.raises(ValidationFailed) as err:
            desk(m, fee_bp=wrong)
        assert err.value.fields[0].field == "agent_fee_bp"
    desk(m, fee_bp=0)
    desk(m, fee_bp=100)
    desk(m, fee_bp=5000)
    helper = member(m, "运营")
    with pytest.raises(PermissionDenied):
        staff.configure(m.session, helper, m.brand.id, routing=None, agent_fee_bp=200, limits=LIMITS)
    with pytest.raises(PermissionDenied):
        staff.configure(m.session, m.buyer, m.brand.id, routing=None, agent_fee_bp=None, limits=LIMITS)


def test_a_conversation_of_someone_else_credits_nobody(market: Market) -> None:
    m = market
    (agent,) = agents(m, 1)
    c = chat(m, m.buyer)
    other = m.user()
    with pytest.raises(NotFound):
        fees.credit_agent(m.session, other.id, c.id, [], clock.now())
    m.session.rollback()
    with pytest.raises(NotFound):  # another buyer cannot check out this buyer's card
        checkout_card(m, other, c, cart_card(m, agent, c))


def test_a_refund_reverses_the_fee_in_proportion_and_the_books_balance(market: Market, frozen: FrozenClock) -> None:
    m = market
    agent, _c, order = _conversation_order(m, fee_bp=300, qty=3)  # 30 000 fen, fee 900
    (line,) = order.lines
    ship_and_deliver(m, order)
    refund = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="坏")
    refunds.decide_refund(m.session, m.owner, refund.id, approve=True, provider=m.provider, notify_url=NOTIFY_URL)
    assert deliver(m) == ["applied"]
    fee = m.session.scalars(
        select(Earning).where(Earning.order_id == order.id, Earning.role == EarningRole.AGENT)
    ).one()
    assert (fee.amount, fee.reversed_amount) == (900, 300)
    pending_matches_earnings(m.session)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert owner_balances(m.session, Owner.user(agent.id))[AVAILABLE] == 600
    assert fees.performance(m.session, m.owner, m.brand.id)[0].fees == 600
    assert_books_balanced(m.session)


def test_a_dispute_after_settlement_claws_the_fee_back(market: Market, frozen: FrozenClock) -> None:
    m = market
    agent, _c, order = _conversation_order(m, fee_bp=300)  # 10 000 fen, fee 300
    ship_and_deliver(m, order)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert owner_balances(m.session, Owner.user(agent.id))[AVAILABLE] == 300
    dispute = disputes.open_dispute(m.session, m.buyer, order.id, reason="货不对板", amount=10_000)
    disputes.decide(m.session, m.owner, dispute.id, approve=True, note="同意", provider=m.provider,
                    notify_url=NOTIFY_URL)  # fmt: skip
    assert deliver(m) == ["applied"]
    fee = m.session.scalars(
        select(Earning).where(Earning.order_id == order.id, Earning.role == EarningRole.AGENT)
    ).one()
    assert fee.clawed_back == 300
    assert owner_balances(m.session, Owner.user(agent.id))[AVAILABLE] == 0
    assert_books_balanced(m.session)


def test_the_agent_finds_the_fee_among_their_commissions(market: Market) -> None:
    from commerce.orders import commissions

    m = market
    agent, _c, order = _conversation_order(m, fee_bp=300)
    receipt = commissions.receipt(m.session, agent, order.id, policy=m.policy)
    (line,) = receipt.lines
    assert (line.commission.earning.role, line.commission.rate_bp, line.source.rule) == (
        EarningRole.AGENT, 300, "support_agent",
    )  # fmt: skip
    assert sum(p.amount for p in receipt.postings if p.account == PENDING) == 300


def _earnings_of(m: Market, order: Order) -> list[tuple[EarningRole, int | None, int]]:
    rows = m.session.scalars(select(Earning).where(Earning.order_id == order.id).order_by(Earning.id))
    return [(e.role, e.owner_id, e.amount) for e in rows]


def test_an_agent_credited_a_commission_on_a_line_is_not_paid_the_fee_too(market: Market) -> None:
    """The bound distributor serves their own customer: the distributor commission pays them, no agent fee."""
    from tests.commerce.distribution.helpers import bring, join, open_programme

    m = market
    open_programme(m, rate_bp=1000)
    desk(m, fee_bp=300)
    seller = m.user(display_name="分销员客服")
    d = join(m, seller)
    staff.appoint(m.session, m.owner, m.brand.id, seller.id)
    (other,) = agents(m, 1)
    mine, theirs = m.user(), m.user()
    assert bring(m, d, mine)
    assert bring(m, d, theirs)
    c = chat(m, mine)
    assert c.agent_id == seller.id  # routed to the bound distributor
    (order,) = orders_of(m, checkout_card(m, mine, c, cart_card(m, seller, c)))  # 10 000 fen
    (line,) = order.lines
    assert (line.sharer_id, line.agent_id, line.agent_fee_bp) == (seller.id, None, 0)
    paid_to_seller = [(role, amount) for role, owner, amount in _earnings_of(m, order) if owner == seller.id]
    assert paid_to_seller == [(EarningRole.SHARER, 1000)]
    assert owner_balances(m.session, Owner.user(seller.id))[PENDING] == 1000
    assert m.session.get(ConversationOrder, order.id).agent_id == seller.id  # type: ignore[union-attr]
    # Another agent serving the distributor's customer is paid the fee beside the distributor's commission.
    staff.set_available(m.session, seller, m.brand.id, False)
    c2 = chat(m, theirs)
    assert c2.agent_id == other.id
    (order2,) = orders_of(m, checkout_card(m, theirs, c2, cart_card(m, other, c2)))
    roles = {(role, owner): amount for role, owner, amount in _earnings_of(m, order2)}
    assert roles[(EarningRole.SHARER, seller.id)] == 1000
    assert roles[(EarningRole.AGENT, other.id)] == 300
    pending_matches_earnings(m.session)
    assert_books_balanced(m.session)
