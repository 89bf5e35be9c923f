"""Races on PostgreSQL with real threads and committed data: the last unit, the whole balance, the same rows."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from commerce.catalog.models import Sku
from commerce.ledger import AccountKind, AccountRef, InsufficientFunds, LedgerTransaction, balance, verify
from commerce.orders import settlement
from commerce.orders.models import Earning, EarningStatus, Order, OrderStatus
from commerce.owners import Owner
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentEvent
from commerce.payouts import service as payouts
from commerce.payouts.models import Payout, PayoutMethod
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.accounts.models import User
from core.clock import FrozenClock, use_clock
from core.db import Database
from core.errors import Conflict
from tests import factories
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import fund, last_notification, make_market, pay, place, sandbox, ship_and_deliver

pytestmark = pytest.mark.postgres


def race(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run `work(i)` in `n` threads released together; collect results and errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            out = work(i)
            with lock:
                results.append(out)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.fixture
def clock_at_start():  # type: ignore[no-untyped-def]
    with use_clock(FrozenClock(START)) as c:
        yield c


def test_fifty_buyers_for_the_last_unit_make_exactly_one_order(committed_db: Database, clock_at_start) -> None:  # type: ignore[no-untyped-def]
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with committed_db.session() as s:
        m = make_market(s, stock=1)
        buyers = [m.user().id for _ in range(50)]
        sku_id = m.sku.id

    def buy(i: int) -> int:
        with committed_db.session() as s:
            # The same market seen from this thread's own connection.
            mine = dataclasses.replace(m, session=s, provider=sandbox(s), buyer=s.get(User, buyers[i]))
            return place(mine, buyer=mine.buyer, device=f"device-{i}").id

    results, errors = race(50, buy)
    assert len(results) == 1
    assert len(errors) == 49
    assert all(isinstance(e, Conflict) and e.code == "out_of_stock" for e in errors), errors[:3]
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        sku = s.get(Sku, sku_id)
        assert sku is not None
        assert sku.stock == 0


def test_twenty_withdrawals_of_the_whole_balance_pay_once(committed_db: Database) -> None:
    passwords.configure(memory_kib=1024, time_cost=1)
    policy = MoneyPolicy(payout_min_fen=100)
    with committed_db.session() as s:
        user = factories.user(s)
        me = Owner.user(user.id)
        fund(s, me, 10_000)
        payouts.set_payout_account(s, user, me, method=PayoutMethod.SANDBOX, account_no="acct-9999", account_name="x")
        user_id = user.id

    def withdraw(_: int) -> int:
        with committed_db.session() as s:
            return payouts.request_payout(s, s.get(User, user_id), me, amount=10_000, policy=policy).id

    results, errors = race(20, withdraw)
    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(e, InsufficientFunds | Conflict) for e in errors), errors[:3]
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Payout)) == 1
        assert balance(s, me.account(AccountKind.AVAILABLE)).balance == 0
        assert verify(s).ok


def test_two_settlement_workers_settle_each_row_once(committed_db: Database, clock_at_start: FrozenClock) -> None:
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with committed_db.session() as s:
        m = make_market(s, stock=100)
        for i in range(30):
            buyer = m.user()
            checkout = place(m, buyer=buyer, device=f"d{i}")
            pay(m, checkout)
            ship_and_deliver(m, checkout.orders[0])
        due = s.scalar(select(func.count()).select_from(Earning).where(Earning.status == EarningStatus.PENDING))
    assert due == 30 * 3  # brand, artist, platform per order
    clock_at_start.advance(days=8)

    def worker(i: int) -> int:
        settled = 0
        with committed_db.session() as s:
            while True:
                run = settlement.settle_batch(s, batch_size=7)
                settled += run.settled
                if run.settled == 0:
                    break
        return settled

    results, errors = race(2, worker)
    assert errors == []
    assert sum(results) == due  # together they settled everything, and nothing twice
    with committed_db.session() as s:
        keys = list(s.scalars(select(LedgerTransaction.idempotency_key).where(LedgerTransaction.kind == "settlement")))
        assert len(keys) == len(set(keys)) == due
        assert s.scalar(select(func.count()).select_from(Earning).where(Earning.status != EarningStatus.SETTLED)) == 0
        assert verify(s).ok
        settlement.complete_orders(s)
        assert s.scalar(select(func.count()).select_from(Order).where(Order.status == OrderStatus.COMPLETED)) == 30


def _paid_at_the_provider(committed_db: Database, buyers: int) -> list[bytes]:
    """`buyers` checkouts paid on the sandbox's page; the webhook bodies it is about to send."""
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    bodies = []
    with committed_db.session() as s:
        m = make_market(s, stock=100)
        for _ in range(buyers):
            checkout = place(m, buyer=m.user())
            payment = s.get(Payment, checkout.payment_id)
            assert payment is not None
            assert payment.provider_payment_id is not None
            m.provider.complete(payment.provider_payment_id, succeed=True)
            s.commit()
            bodies.append(last_notification(m).body.encode())
    return bodies


def _deliver(committed_db: Database, body: bytes) -> str:
    with committed_db.session() as s:
        provider = sandbox(s)
        return payments.handle_notification(s, provider, provider.signed_headers(body), body).outcome


def test_one_webhook_delivered_ten_times_at_once_is_applied_once(committed_db: Database, clock_at_start) -> None:  # type: ignore[no-untyped-def]
    (body,) = _paid_at_the_provider(committed_db, 1)
    results, errors = race(10, lambda _: _deliver(committed_db, body))
    assert errors == []
    assert sorted(results) == ["applied"] + ["duplicate"] * 9
    with committed_db.session() as s:
        kinds = s.scalars(select(LedgerTransaction.kind).order_by(LedgerTransaction.id)).all()
        assert kinds == ["capture", "split"]
        (order,) = s.scalars(select(Order)).all()
        assert order.status == OrderStatus.PAID
        shares = s.scalars(select(Earning.amount).where(Earning.order_id == order.id)).all()
        assert sum(shares) == order.total  # one split's earnings, not two
        assert s.scalar(select(func.count()).select_from(PaymentEvent)) == 1
        assert verify(s).ok


def test_webhooks_of_many_checkouts_at_once_all_apply_and_never_deadlock(
    committed_db: Database,
    clock_at_start,  # type: ignore[no-untyped-def]
) -> None:
    """Every payment locks the same platform accounts (and the brand's, the artist's): one lock order for all."""
    bodies = _paid_at_the_provider(committed_db, 12)
    results, errors = race(12, lambda i: _deliver(committed_db, bodies[i]))
    assert errors == []
    assert results == ["applied"] * 12
    with committed_db.session() as s:
        orders = s.scalars(select(Order)).all()
        assert {o.status for o in orders} == {OrderStatus.PAID}
        totals = sum(o.total for o in orders)
        fees = s.scalar(select(func.sum(Payment.fee))) or 0
        assert balance(s, AccountRef.platform(AccountKind.CLEARING)).balance == -(totals - fees)
        assert balance(s, AccountRef.platform(AccountKind.CLEARING)).version == 12
        kinds = s.scalars(select(LedgerTransaction.kind)).all()
        assert sorted(kinds) == ["capture"] * 12 + ["split"] * 12
        assert verify(s).ok
