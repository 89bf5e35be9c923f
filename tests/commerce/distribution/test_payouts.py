"""A distributor's commission is paid out through the one wallet: pending from the paid order, held until the return
window closes, then available (the settlement job), then withdrawn like any other earning."""

from __future__ import annotations

import pytest

from commerce.distribution import reports
from commerce.ledger import AccountKind, InsufficientFunds
from commerce.orders import settlement
from commerce.orders.models import EarningRole, OrderStatus
from commerce.owners import Owner
from commerce.payouts import service as payouts
from commerce.payouts.models import PayoutMethod, PayoutStatus
from core.clock import FrozenClock
from core.errors import ValidationFailed
from tests.commerce.distribution.helpers import bring, commissions, join, open_programme
from tests.commerce.money import (
    Market,
    assert_books_balanced,
    orders_of,
    owner_balances,
    pay,
    place,
    sandbox,
    ship_and_deliver,
    status,
)

PENDING, AVAILABLE = AccountKind.PENDING, AccountKind.AVAILABLE


def test_commission_walks_from_the_paid_order_through_the_hold_into_a_payout(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    open_programme(m, rate_bp=1000, level2_bp=2000)
    up = join(m, m.upstream)
    down = join(m, m.sharer, inviter=m.upstream)
    assert bring(m, down, m.buyer)
    checkout = place(m, qty=2, from_video=False, device="dev-walk")
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    got = commissions(m, order)
    mine, theirs = got[(EarningRole.SHARER, m.sharer.id)], got[(EarningRole.SHARER_L2, m.upstream.id)]
    assert (mine, theirs) == (1600, 400)  # 10 % of ¥200, the inviter's 20 % of it at level 2
    me, upline = Owner.user(m.sharer.id), Owner.user(m.upstream.id)
    # Paid: pending, not yet theirs to withdraw.
    assert (owner_balances(m.session, me)[PENDING], owner_balances(m.session, me).get(AVAILABLE, 0)) == (mine, 0)
    payouts.set_payout_account(m.session, m.sharer, me, method=PayoutMethod.SANDBOX, account_no="acct-d1",
                               account_name="店员小王")  # fmt: skip
    with pytest.raises(InsufficientFunds):
        payouts.request_payout(m.session, m.sharer, me, amount=mine, policy=m.policy)
    # Held while the return window is open.
    ship_and_deliver(m, order)
    frozen.advance(seconds=m.policy.return_window.total_seconds() - 1)
    assert settlement.settle_due(m.session).settled == 0
    assert owner_balances(m.session, me).get(AVAILABLE, 0) == 0
    # The window closes: the settlement job makes it available, and the order is complete.
    frozen.advance(seconds=1)
    assert settlement.settle_due(m.session).completed_orders == 1
    assert status(m, order) == OrderStatus.COMPLETED
    assert owner_balances(m.session, me)[AVAILABLE] == mine
    assert owner_balances(m.session, me)[PENDING] == 0
    assert owner_balances(m.session, upline)[AVAILABLE] == theirs
    # The distributor withdraws it through the wallet.
    payout = payouts.request_payout(m.session, m.sharer, me, amount=mine, policy=m.policy)
    assert payout.status == PayoutStatus.REQUESTED
    assert owner_balances(m.session, me)[AVAILABLE] == 0
    payouts.execute_payout(m.session, sandbox(m.session), payout.id)
    assert payout.status == PayoutStatus.PAID
    with pytest.raises(ValidationFailed):  # the wallet's own minimum applies to distributors too
        payouts.request_payout(m.session, m.upstream, upline, amount=theirs, policy=m.policy)
    # Their dashboards still show what they earned; a withdrawal is not a reward for anything.
    assert reports.dashboard(m.session, m.sharer, down.id).earned == mine
    assert reports.dashboard(m.session, m.upstream, up.id).earned == theirs
    report = reports.compliance(m.session, m.owner, m.brand.id)
    assert (report.recruitment_rewards, report.own_purchase_rebates) == (0, 0)
    assert report.paid_by_level == {1: mine, 2: theirs}
    assert_books_balanced(m.session)
