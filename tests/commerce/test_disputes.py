"""Disputes and chargebacks after settlement: the refund, the clawback of every settled share, and who may decide."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, balance
from commerce.notifications.models import Notification
from commerce.orders import disputes, refunds, settlement
from commerce.orders.models import (
    Dispute,
    DisputeSource,
    DisputeState,
    Earning,
    EarningRole,
    Order,
    OrderRefund,
    OrderStatus,
    RefundState,
)
from commerce.orders.refunds import RefundItem
from commerce.owners import Owner
from commerce.payments import service as payments
from commerce.payments.models import Payment
from commerce.payments.provider import EventType
from commerce.payouts import service as payouts
from commerce.payouts.models import PayoutMethod, PayoutStatus
from core.clock import FrozenClock
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    last_notification,
    ledger_transactions,
    orders_of,
    owner_balances,
    pay,
    payment_of,
    pending_matches_earnings,
    place,
    share_click,
    ship_and_deliver,
    status,
)

PENDING, AVAILABLE, CLAWBACK = AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.CLAWBACK


def _settled_order(m: Market, frozen: FrozenClock) -> Order:
    """A 100.00 order through the sharer's link, delivered, its window closed and every share settled:
    brand 6500, artist 2000, sharer 1000, platform 500."""
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    checkout = place(m, click_ids=[click.click_id])
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    ship_and_deliver(m, order)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert status(m, order) == OrderStatus.COMPLETED
    return order


def _withdraw(m: Market, who: object, owner: Owner, amount: int, *, execute: bool = True) -> int:
    payouts.set_payout_account(m.session, who, owner, method=PayoutMethod.SANDBOX,
                               account_no=f"acct-{owner.kind}-{owner.id}", account_name="收款人")  # fmt: skip
    payout = payouts.request_payout(m.session, who, owner, amount=amount, policy=m.policy)  # type: ignore[arg-type]
    if execute:
        payouts.execute_payout(m.session, m.provider, payout.id)
    return payout.id


def _decide(m: Market, dispute_id: int, *, by: object = None, approve: bool = True, note: str = "") -> None:
    disputes.decide(m.session, by or m.owner, dispute_id, approve=approve, note=note, provider=m.provider,  # type: ignore[arg-type]
                    notify_url=NOTIFY_URL)  # fmt: skip


def _kinds(m: Market, user_id: int) -> list[str]:
    return list(m.session.scalars(select(Notification.kind).where(Notification.user_id == user_id)))


def test_after_settlement_a_refund_is_refused_but_a_dispute_claws_back_every_settled_share(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    order = _settled_order(m, frozen)
    sharer, artist, brand = Owner.user(m.sharer.id), Owner.user(m.artist.id), Owner.brand(m.brand.id)
    _withdraw(m, m.artist, artist, 2000)  # the artist spent everything; the sharer and the brand did not
    with pytest.raises(Conflict) as refused:
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(order.lines[0].id, quantity=1)],
                               reason="late")  # fmt: skip
    assert refused.value.code == "return_window_closed"

    dispute = disputes.open_dispute(m.session, m.buyer, order.id, reason="货不对板", amount=5000)
    assert (dispute.state, dispute.source, dispute.amount) == (DisputeState.OPEN, DisputeSource.BUYER, 5000)
    assert "dispute_opened" in _kinds(m, m.owner.id)
    _decide(m, dispute.id, note="同意")
    assert deliver(m) == ["applied"]  # the provider paid the buyer back

    m.session.refresh(dispute)
    assert dispute.state == DisputeState.APPROVED
    refund = m.session.get(OrderRefund, dispute.refund_id)
    assert refund is not None
    assert (refund.amount, refund.status) == (5000, RefundState.REFUNDED)
    # Half of each settled share comes back: from available while there is some, the rest as a debt.
    assert owner_balances(m.session, sharer)[AVAILABLE] == 500
    assert owner_balances(m.session, sharer)[CLAWBACK] == 0
    assert owner_balances(m.session, artist)[AVAILABLE] == 0
    assert owner_balances(m.session, artist)[CLAWBACK] == -1000
    assert owner_balances(m.session, brand)[AVAILABLE] == 3250
    assert balance(m.session, AccountRef.platform(AccountKind.REVENUE)).balance == 250
    # Every party sees what was taken back on its earnings, and the artist and sharer are told.
    taken = {e.role: e.clawed_back for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))}
    assert taken == {EarningRole.BRAND: 3250, EarningRole.ARTIST: 1000, EarningRole.SHARER: 500,
                     EarningRole.PLATFORM: 250}  # fmt: skip
    assert "commission_clawed_back" in _kinds(m, m.artist.id)
    assert "commission_clawed_back" in _kinds(m, m.sharer.id)
    assert "dispute_approved" in _kinds(m, m.buyer.id)
    assert_books_balanced(m.session)


def test_a_debt_is_repaid_by_the_next_settlement_and_a_withdrawal_in_flight_is_honoured(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    order = _settled_order(m, frozen)
    sharer = Owner.user(m.sharer.id)
    in_flight = _withdraw(m, m.sharer, sharer, 1000, execute=False)  # requested, not transferred yet
    dispute = disputes.open_dispute(m.session, m.buyer, order.id, reason="没收到货")  # all of it
    _decide(m, dispute.id)
    deliver(m)
    assert status(m, order) == OrderStatus.REFUNDED
    assert owner_balances(m.session, sharer)[AVAILABLE] == 0
    assert owner_balances(m.session, sharer)[CLAWBACK] == -1000  # the money in flight is not spent twice
    paid = payouts.execute_payout(m.session, m.provider, in_flight)
    assert paid.status == PayoutStatus.PAID
    # The sharer's next sale settles: it repays the debt before anything becomes available.
    _settled_order(m, frozen)
    assert owner_balances(m.session, sharer)[CLAWBACK] == 0
    assert owner_balances(m.session, sharer)[AVAILABLE] == 0
    _settled_order(m, frozen)
    assert owner_balances(m.session, sharer)[AVAILABLE] == 1000
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)


def test_inside_the_window_the_buyer_is_sent_to_the_refund_path_and_amounts_are_checked(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    checkout = place(m, click_ids=[click.click_id])
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    ship_and_deliver(m, order)
    with pytest.raises(Conflict) as early:
        disputes.open_dispute(m.session, m.buyer, order.id, reason="坏了")
    assert early.value.code == "dispute_use_refund"
    asked = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(order.lines[0].id, quantity=1)],
                                   reason="坏了")  # fmt: skip
    refunds.decide_refund(m.session, m.owner, asked.id, approve=False, provider=m.provider, notify_url=NOTIFY_URL)
    # The brand said no: now the buyer may dispute, for no more than was paid.
    for bad in (0, -1, order.total + 1):
        with pytest.raises(ValidationFailed):
            disputes.open_dispute(m.session, m.buyer, order.id, reason="坏了", amount=bad)
    with pytest.raises(ValidationFailed):
        disputes.open_dispute(m.session, m.buyer, order.id, reason="   ")
    stranger = m.user()
    with pytest.raises(NotFound):
        disputes.open_dispute(m.session, stranger, order.id, reason="坏了")
    first = disputes.open_dispute(m.session, m.buyer, order.id, reason="坏了", amount=100)
    with pytest.raises(Conflict) as twice:
        disputes.open_dispute(m.session, m.buyer, order.id, reason="再来", amount=100)
    assert twice.value.code == "dispute_already_open"
    # While it is undecided, no other refund can pay the buyer beside it, and nothing settles.
    with pytest.raises(Conflict):
        refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(order.lines[0].id, amount=1)],
                               reason="x")  # fmt: skip
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    assert status(m, order) == OrderStatus.DELIVERED
    assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 0
    _decide(m, first.id, approve=False, note="商品无问题")
    settlement.settle_due(m.session)
    assert status(m, order) == OrderStatus.COMPLETED
    assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 1000


def test_a_rejected_dispute_can_go_to_the_platform_and_only_an_admin_decides_it(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    order = _settled_order(m, frozen)
    dispute = disputes.open_dispute(m.session, m.buyer, order.id, reason="假货", amount=3000)
    other_brand_owner = m.user()
    factories.brand(m.session, owner=other_brand_owner)
    m.session.commit()
    for intruder in (other_brand_owner, m.buyer, m.sharer):
        with pytest.raises(PermissionDenied):
            _decide(m, dispute.id, by=intruder)
    _decide(m, dispute.id, approve=False, note="不是假货")
    assert "dispute_rejected" in _kinds(m, m.buyer.id)
    with pytest.raises(NotFound):
        disputes.escalate(m.session, m.sharer, dispute.id)
    escalated = disputes.escalate(m.session, m.buyer, dispute.id)
    assert escalated.state == DisputeState.ESCALATED
    assert [d.id for d in disputes.list_escalated(m.session, m.admin)] == [dispute.id]
    with pytest.raises(PermissionDenied):
        _decide(m, dispute.id)  # the brand had its say
    _decide(m, dispute.id, by=m.admin, note="平台判定假货")
    deliver(m)
    m.session.refresh(dispute)
    assert dispute.state == DisputeState.APPROVED
    with pytest.raises(Conflict):
        disputes.escalate(m.session, m.buyer, dispute.id)  # an admin's decision is final
    assert owner_balances(m.session, Owner.user(m.artist.id))[AVAILABLE] == 2000 - 600
    assert_books_balanced(m.session)


def _chargeback(m: Market, order: Order, amount: int) -> str:
    payment = m.session.scalar(select(Payment).where(Payment.reference_id == order.checkout_id))
    assert payment is not None
    assert payment.provider_payment_id is not None
    case = m.provider.open_chargeback(payment.provider_payment_id, amount=amount, reason="持卡人否认交易")
    m.session.commit()
    assert deliver(m) == ["applied"]
    return case


def _provider_dispute(m: Market, case: str):  # type: ignore[no-untyped-def]
    found = m.session.scalars(select(Dispute).where(Dispute.provider_dispute_id == case)).all()
    (dispute,) = found
    return dispute


@pytest.mark.parametrize("outcome", ["conceded", "contested_and_lost", "contested_and_won"])
def test_a_chargeback_is_decided_by_the_provider_and_never_paid_twice(
    market: Market, frozen: FrozenClock, outcome: str
) -> None:
    m = market
    order = _settled_order(m, frozen)
    clearing_before = balance(m.session, AccountRef.platform(AccountKind.CLEARING)).balance
    case = _chargeback(m, order, 4000)
    dispute = _provider_dispute(m, case)
    assert (dispute.source, dispute.state, dispute.amount) == (DisputeSource.PROVIDER, DisputeState.OPEN, 4000)
    if outcome == "conceded":
        _decide(m, dispute.id, note="认了")
    else:
        _decide(m, dispute.id, approve=False, note="有签收记录")
        m.session.refresh(dispute)
        assert dispute.state == DisputeState.CONTESTED
        with pytest.raises(Conflict):
            _decide(m, dispute.id, by=m.admin)  # the provider decides now
        m.provider.resolve_chargeback(case, lost=outcome == "contested_and_lost")
        m.session.commit()
    assert deliver(m) == ["applied"]
    m.session.refresh(dispute)
    clearing = balance(m.session, AccountRef.platform(AccountKind.CLEARING)).balance
    payment = payment_of(m, order.checkout)
    if outcome == "contested_and_won":
        assert dispute.state == DisputeState.REJECTED
        assert clearing == clearing_before
        assert payment.refunded_amount == 0
        assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 1000
    else:
        assert dispute.state == DisputeState.APPROVED
        refund = m.session.get(OrderRefund, dispute.refund_id)
        assert refund is not None
        assert refund.status == RefundState.REFUNDED
        assert clearing == clearing_before + 4000  # the provider kept it for the buyer
        assert payment.refunded_amount == 4000
        assert owner_balances(m.session, Owner.user(m.sharer.id))[AVAILABLE] == 600
        # The money the provider kept cannot also be refunded: what is left to refund is what is left.
        with pytest.raises((Conflict, ValidationFailed)):
            disputes.open_dispute(m.session, m.buyer, order.id, reason="再退", amount=order.total - 4000 + 1)
    # The provider's last word again, under a fresh event id: nothing moves twice.
    before = ledger_transactions(m.session)
    doc = json.loads(last_notification(m).body)
    doc["id"] += "-again"
    again = json.dumps(doc).encode()
    payments.handle_notification(m.session, m.provider, m.provider.signed_headers(again), again)
    assert ledger_transactions(m.session) == before
    assert_books_balanced(m.session)


def test_a_chargeback_larger_than_what_is_left_is_stored_for_a_human_and_moves_nothing(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    order = _settled_order(m, frozen)
    dispute = disputes.open_dispute(m.session, m.buyer, order.id, reason="退一半", amount=6000)
    _decide(m, dispute.id)
    deliver(m)
    payment = payment_of(m, order.checkout)
    assert payment.provider_payment_id is not None
    # The sandbox itself refuses more than it holds; a real provider might not, so the notification is checked too.
    with pytest.raises(Conflict):
        m.provider.open_chargeback(payment.provider_payment_id, amount=4001, reason="全额拒付")
    body = m.provider.event_body(
        EventType.DISPUTE_OPENED,
        {"payment_id": payment.provider_payment_id, "merchant_ref": payment.merchant_ref, "amount": 4001,
         "currency": payment.currency, "dispute_id": "sbxdp_forged", "reason": "全额拒付"},
    )  # fmt: skip
    result = payments.handle_notification(m.session, m.provider, m.provider.signed_headers(body), body)
    assert result.outcome == "rejected"
    assert m.session.scalars(select(Dispute).where(Dispute.source == DisputeSource.PROVIDER)).all() == []
    assert_books_balanced(m.session)
