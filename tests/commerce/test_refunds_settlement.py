"""Order lifecycle, refunds (partial, full, after settlement), clawbacks and the settlement job."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, InsufficientFunds, balance
from commerce.orders import lifecycle, refunds, settlement
from commerce.orders.models import Earning, EarningRole, EarningStatus, OrderStatus, RefundState
from commerce.orders.refunds import RefundItem
from commerce.owners import Owner
from commerce.payouts import service as payouts
from commerce.payouts.models import PayoutMethod
from core.clock import FrozenClock
from core.errors import Conflict, ValidationFailed
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    escrow,
    orders_of,
    owner_balances,
    pay,
    pending_matches_earnings,
    place,
    share_click,
    ship_and_deliver,
    status,
)

PENDING, AVAILABLE, CLAWBACK = AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.CLAWBACK


def _paid_order(m: Market, frozen: FrozenClock, *, qty: int = 1):  # type: ignore[no-untyped-def]
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    checkout = place(m, qty=qty, click_ids=[click.click_id])
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    return order


def _decide(m: Market, refund_id: int, approve: bool = True) -> None:
    refunds.decide_refund(m.session, m.owner, refund_id, approve=approve, provider=m.provider, notify_url=NOTIFY_URL)


def test_every_transition_is_recorded_with_actor_and_time(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen)
    frozen.advance(hours=2)
    lifecycle.ship(m.session, m.owner, order.id, carrier="顺丰", tracking_no="SF100200300")
    frozen.advance(days=10)
    lifecycle.auto_confirm_due(m.session, auto_confirm=m.policy.auto_confirm, return_window=m.policy.return_window)
    assert status(m, order) == OrderStatus.DELIVERED
    frozen.advance(days=7)
    settlement.settle_due(m.session)
    assert status(m, order) == OrderStatus.COMPLETED
    trail = [(e.from_status, e.to_status, e.actor_role, e.actor_id) for e in lifecycle.events(m.session, order.id)]
    assert trail == [
        (None, OrderStatus.PENDING_PAYMENT, "buyer", m.buyer.id),
        (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, "provider", None),
        (OrderStatus.PAID, OrderStatus.SHIPPED, "brand", m.owner.id),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED, "system", None),
        (OrderStatus.DELIVERED, OrderStatus.COMPLETED, "system", None),
    ]
    times = [e.at for e in lifecycle.events(m.session, order.id)]
    assert times == sorted(times)
    assert times[-1] - times[2] == dt.timedelta(days=17)


def test_illegal_transitions_and_strangers_are_refused(market: Market, frozen: FrozenClock) -> None:
    m = market
    checkout = place(m)
    (order,) = orders_of(m, checkout)
    with pytest.raises(Conflict):
        lifecycle.ship(m.session, m.owner, order.id, carrier="顺丰", tracking_no="SF1")  # not paid yet
    pay(m, checkout)
    from core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        lifecycle.ship(m.session, m.sharer, order.id, carrier="顺丰", tracking_no="SF12345")
    with pytest.raises(Conflict):
        lifecycle.confirm_delivery(m.session, m.buyer, order.id, return_window=m.policy.return_window)


def test_settlement_waits_for_the_return_window(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen)
    ship_and_deliver(m, order)
    frozen.advance(days=7, seconds=-1)
    assert settlement.settle_due(m.session).settled == 0
    frozen.advance(seconds=1)
    run = settlement.settle_due(m.session)
    assert (run.settled, run.amount, run.completed_orders) == (4, 10_000, 1)
    assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 1000
    assert owner_balances(m.session, Owner.user(m.artist.id))[AVAILABLE] == 2000
    assert owner_balances(m.session, Owner.brand(m.brand.id))[AVAILABLE] == 6500
    assert balance(m.session, AccountRef.platform(AccountKind.REVENUE)).balance == 500
    assert settlement.settle_due(m.session).settled == 0  # each row once
    assert_books_balanced(m.session)


def test_a_partial_refund_reverses_every_share_in_proportion(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen, qty=3)  # 30 000 fen
    (line,) = order.lines
    ship_and_deliver(m, order)
    refund = refunds.request_refund(
        m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="坏了"
    )
    assert refund.amount == 10_000
    # While the brand decides, that line does not settle.
    frozen.advance(days=8)
    assert settlement.settle_due(m.session).settled == 0
    _decide(m, refund.id)
    assert deliver(m) == ["applied"]
    m.session.refresh(refund)
    assert refund.status == RefundState.REFUNDED
    reversed_ = {
        e.role: e.reversed_amount for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))
    }
    assert reversed_ == {EarningRole.BRAND: 6500, EarningRole.ARTIST: 2000, EarningRole.SHARER: 1000,
                         EarningRole.PLATFORM: 500}  # fmt: skip
    pending_matches_earnings(m.session)
    settlement.settle_due(m.session)
    assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 2000
    assert status(m, order) == OrderStatus.COMPLETED
    assert_books_balanced(m.session)


def test_the_last_fen_of_a_full_refund_can_bring_back_only_fee(market: Market, frozen: FrozenClock) -> None:
    """The fee (60 fen on 10 000) comes back pro rata: 59 with the first 9 999 fen, the last 1 with the last fen."""
    m = market
    order = _paid_order(m, frozen)
    (line,) = order.lines
    ship_and_deliver(m, order)
    for amount in (9_999, 1):
        refund = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, amount=amount)],
                                        reason="坏了")  # fmt: skip
        _decide(m, refund.id)
        assert deliver(m) == ["applied"]
        m.session.refresh(refund)
        assert refund.status == RefundState.REFUNDED
    assert balance(m.session, AccountRef.platform(AccountKind.PROVIDER_FEES)).balance == 0
    assert_books_balanced(m.session)


def test_odd_amounts_refund_without_losing_a_fen(market: Market, frozen: FrozenClock) -> None:
    m = market
    m.sku.price_fen = 3_333
    m.session.commit()
    order = _paid_order(m, frozen, qty=3)  # 9 999 fen
    (line,) = order.lines
    lifecycle.ship(m.session, m.owner, order.id, carrier="顺丰", tracking_no="SF7654321")
    amounts = []
    for qty in (1, 1, 1):
        r = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=qty)], reason="退")
        _decide(m, r.id)
        amounts.append(r.amount)
    deliver(m)
    assert sum(amounts) == 9_999
    assert status(m, order) == OrderStatus.REFUNDED
    for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id)):
        assert e.remaining == 0
    assert_books_balanced(m.session)


def test_a_full_refund_nets_every_participant_to_zero(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen, qty=2)
    (line,) = order.lines
    ship_and_deliver(m, order)
    refund = refunds.request_refund(
        m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=2)], reason="不要了"
    )
    _decide(m, refund.id)
    deliver(m)
    assert status(m, order) == OrderStatus.REFUNDED
    for owner in (Owner.user(m.sharer.id), Owner.user(m.artist.id), Owner.brand(m.brand.id), Owner.platform()):
        assert all(v == 0 for v in owner_balances(m.session, owner).values()), owner
    assert escrow(m.session, order) == 0
    assert_books_balanced(m.session)


def test_a_refund_after_settlement_is_a_clawback_the_next_settlement_repays(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    first = _paid_order(m, frozen)
    ship_and_deliver(m, first)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert status(m, first) == OrderStatus.COMPLETED
    sharer = Owner.user(m.sharer.id)
    payouts.set_payout_account(m.session, m.sharer, sharer, method=PayoutMethod.SANDBOX, account_no="sharer-001",
                               account_name="分享者")  # fmt: skip
    payout = payouts.request_payout(m.session, m.sharer, sharer, amount=1000, policy=m.policy)
    payouts.execute_payout(m.session, m.provider, payout.id)
    assert owner_balances(m.session, sharer)[AVAILABLE] == 0
    # The buyer's window closed ...
    with pytest.raises(Conflict):
        refunds.request_refund(m.session, m.buyer, first.id, items=[RefundItem(first.lines[0].id, quantity=1)],
                               reason="late")  # fmt: skip
    # ... but an admin resolving a dispute refunds half: every settled share is clawed back in proportion.
    refunds.force_refund(m.session, m.admin, first.id, items=[RefundItem(first.lines[0].id, amount=5000)],
                         reason="dispute", provider=m.provider, notify_url=NOTIFY_URL)  # fmt: skip
    assert deliver(m) == ["applied"]
    assert owner_balances(m.session, sharer)[CLAWBACK] == -500
    # The artist and the brand had not withdrawn: their shares come out of available, not as a debt.
    assert owner_balances(m.session, Owner.user(m.artist.id))[CLAWBACK] == 0
    assert owner_balances(m.session, Owner.user(m.artist.id))[AVAILABLE] == 2000 - 1000
    # The brand had not withdrawn: its share comes out of its available balance, not as a debt.
    assert owner_balances(m.session, Owner.brand(m.brand.id))[CLAWBACK] == 0
    assert owner_balances(m.session, Owner.brand(m.brand.id))[AVAILABLE] == 6500 - 3250
    assert balance(m.session, AccountRef.platform(AccountKind.REVENUE)).balance == 250  # its own fee, straight back
    assert owner_balances(m.session, sharer)[AVAILABLE] == 0  # nothing went negative
    # The sharer's next sale settles and repays the clawback first; only the rest can be withdrawn.
    second = _paid_order(m, frozen)
    ship_and_deliver(m, second)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert owner_balances(m.session, sharer)[AVAILABLE] == 500
    assert owner_balances(m.session, sharer)[CLAWBACK] == 0
    with pytest.raises(InsufficientFunds):
        payouts.request_payout(m.session, m.sharer, sharer, amount=1000, policy=m.policy)
    assert_books_balanced(m.session)


def test_cancelling_a_paid_order_before_shipping_refunds_it_in_full(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen)
    refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL, reason="买错了")
    assert status(m, order) == OrderStatus.CANCELLED
    assert deliver(m) == ["applied"]
    for kind in (AccountKind.CLEARING, AccountKind.REFUNDS, AccountKind.PROVIDER_FEES):
        assert balance(m.session, AccountRef.platform(kind)).balance == 0
    m.session.refresh(m.sku)
    assert m.sku.stock == 10  # it never shipped: the unit is for sale again
    with pytest.raises(Conflict):
        refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)


def test_cancelling_an_unpaid_checkout_closes_the_payment(market: Market) -> None:
    m = market
    checkout = place(m, qty=2)
    (order,) = orders_of(m, checkout)
    refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)
    assert status(m, order) == OrderStatus.CANCELLED
    m.session.refresh(m.sku)
    assert m.sku.stock == 10
    with pytest.raises(Conflict):
        pay(m, checkout)


def test_refund_requests_are_validated(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen, qty=2)
    (line,) = order.lines
    with pytest.raises(ValidationFailed):
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=3)], reason="x")
    with pytest.raises(ValidationFailed):
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, amount=20_001)], reason="x")
    with pytest.raises(ValidationFailed):
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id)], reason="x")
    first = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=2)], reason="x")
    with pytest.raises(ValidationFailed):  # already asked for, waiting for the brand
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="y")
    from core.errors import NotFound

    with pytest.raises(NotFound):
        refunds.request_refund(m.session, m.sharer, order.id, items=[RefundItem(line.id, quantity=1)], reason="z")
    _decide(m, first.id, approve=False)
    m.session.refresh(first)
    assert first.status == RefundState.REJECTED
    with pytest.raises(Conflict):
        _decide(m, first.id)


def test_settlement_claims_each_row_once_on_sqlite_too(market: Market, frozen: FrozenClock) -> None:
    """The SQLite path (no SKIP LOCKED): the write transaction serialises; rows are settled once."""
    m = market
    for _ in range(3):
        order = _paid_order(m, frozen)
        ship_and_deliver(m, order)
    frozen.advance(days=8)
    first = settlement.settle_batch(m.session, batch_size=5)
    second = settlement.settle_batch(m.session, batch_size=5)
    third = settlement.settle_batch(m.session, batch_size=5)
    assert (first.settled, second.settled, third.settled) == (5, 5, 2)
    from commerce.ledger import LedgerTransaction

    keys = m.session.scalars(select(LedgerTransaction.idempotency_key).where(LedgerTransaction.kind == "settlement"))
    assert len(set(keys.all())) == 12
    assert {e.status for e in m.session.scalars(select(Earning))} == {EarningStatus.SETTLED}


def test_units_refunded_before_shipping_go_back_on_sale(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen, qty=3)
    (line,) = order.lines
    refund = refunds.request_refund(
        m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="少要一件"
    )
    _decide(m, refund.id)
    m.session.refresh(m.sku)
    assert m.sku.stock == 8  # 10 - 3 + 1
    assert status(m, order) == OrderStatus.PAID  # the other two still ship
    lifecycle.ship(m.session, m.owner, order.id, carrier="顺丰", tracking_no="SF55555555")
    after = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="退货")
    _decide(m, after.id)
    m.session.refresh(m.sku)
    assert m.sku.stock == 8  # a unit that shipped comes back through the brand's own restocking


def test_a_dispute_refund_supersedes_open_requests(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _paid_order(m, frozen, qty=2)
    (line,) = order.lines
    ship_and_deliver(m, order)
    asked = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="坏")
    refunds.force_refund(m.session, m.admin, order.id, items=[RefundItem(line.id, quantity=2)], reason="争议全退",
                         provider=m.provider, notify_url=NOTIFY_URL)  # fmt: skip
    m.session.refresh(asked)
    assert asked.status == RefundState.REJECTED
    with pytest.raises(Conflict):
        _decide(m, asked.id)
    assert status(m, order) == OrderStatus.REFUNDED
    assert_books_balanced(m.session)
