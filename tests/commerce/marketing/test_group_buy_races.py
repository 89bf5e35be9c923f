"""拼团 under contention, on PostgreSQL with real threads and committed data.

20 buyers join a group of 5 at once: exactly 4 get in besides the leader, nobody twice. The last payments of a group
race the expiry job as the window ends: the group either completes (nobody refunded) or fails (every paid member
refunded exactly once), never both, however many expiry jobs run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from commerce.marketing import group_buys
from commerce.marketing.models import GroupBuyGroup, GroupBuySeat, GroupStatus, SeatStatus
from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, OrderRefund
from commerce.payments import service as payments
from commerce.payments.models import Payment
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.accounts.models import User
from core.clock import FrozenClock
from core.db import Database
from core.errors import Conflict
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import ADDRESS, LINKS, NOTIFY_URL, assert_books_balanced, make_market, sandbox
from tests.commerce.test_races import race

pytestmark = pytest.mark.postgres


def _offer(db: Database, *, size: int, buyers: int) -> tuple[int, int, list[int]]:
    """A market, an offer of groups of `size`, and a group opened by its leader; returns (SKU, group, buyers)."""
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with db.session() as s:
        m = make_market(s, stock=50)
        users = [m.user().id for _ in range(buyers)]
        offer = group_buys.create_offer(
            s, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=5_000, group_size=size, window_hours=1,
            starts_at=START, ends_at=START + dt.timedelta(days=1),
        )  # fmt: skip
        group_id = group_buys.open_group(s, s.get(User, users[0]), offer.id).group_id
        return m.sku.id, group_id, users


def _check_out(db: Database, user_id: int, sku_id: int, n: int) -> int:
    with db.session() as s:
        checkout = checkout_service.place_order(
            s, s.get(User, user_id), items=[checkout_service.CheckoutItem(sku_id, 1)],
            address=dataclasses.replace(ADDRESS, detail=f"漕溪北路 {n} 号"), provider=sandbox(s),
            policy=MoneyPolicy(), links=LINKS, device_hash=f"device-{n}",
        )  # fmt: skip
        return checkout.id


def _provider_pays(db: Database, checkout_id: int) -> int:
    """The buyer pays at the sandbox (before the window ends); returns the payment to apply."""
    with db.session() as s:
        checkout = s.get(Checkout, checkout_id)
        assert checkout is not None
        payment = s.get(Payment, checkout.payment_id)
        assert payment is not None
        assert payment.provider_payment_id is not None
        sandbox(s).complete(payment.provider_payment_id, succeed=True)
        s.commit()
        return payment.id


def _apply(db: Database, payment_id: int) -> None:
    """The return page asks the provider and applies what it says (the paid path)."""
    with db.session() as s:
        payments.sync_payment(s, sandbox(s), payment_id)


def test_twenty_joins_at_a_group_of_five_seat_exactly_four(committed_db: Database, frozen: FrozenClock) -> None:
    assert committed_db.dialect == "postgresql"
    _, group_id, users = _offer(committed_db, size=5, buyers=21)
    joiners = users[1:]

    def join(i: int) -> int:
        with committed_db.session() as s:
            return group_buys.join(s, s.get(User, joiners[i % 20]), group_id).user_id

    # The 20 buyers, and 5 of them a second time: never a second seat, never a sixth member.
    results, errors = race(25, join)
    assert len(results) == 4
    assert len(set(results)) == 4
    assert all(isinstance(e, Conflict) for e in errors), errors[:3]
    assert {e.code for e in errors if isinstance(e, Conflict)} <= {"group_full", "group_already_joined"}
    with committed_db.session() as s:
        group = s.get(GroupBuyGroup, group_id)
        assert group is not None
        assert group.members == 5
        seats = s.scalars(select(GroupBuySeat.user_id).where(GroupBuySeat.group_id == group_id)).all()
        assert sorted(seats) == sorted([users[0], *results])


@pytest.mark.parametrize("window_ends", ["before_the_payments_apply", "after_them"])
def test_the_last_payments_race_the_expiry_job_complete_or_refund_exactly_once(
    committed_db: Database, frozen: FrozenClock, window_ends: str
) -> None:
    size = 3
    sku_id, group_id, users = _offer(committed_db, size=size, buyers=size)
    _apply(committed_db, _provider_pays(committed_db, _check_out(committed_db, users[0], sku_id, 0)))
    frozen.advance(minutes=50)
    with committed_db.session() as s:
        for user_id in users[1:]:
            group_buys.join(s, s.get(User, user_id), group_id)
    late = [_check_out(committed_db, user_id, sku_id, n) for n, user_id in enumerate(users[1:], start=1)]
    frozen.advance(minutes=9, seconds=59)
    paid_at_provider = [_provider_pays(committed_db, c) for c in late]  # in time, at the provider
    if window_ends == "before_the_payments_apply":
        frozen.advance(seconds=1)

    def work(i: int) -> None:
        if i < len(paid_at_provider):
            _apply(committed_db, paid_at_provider[i])
        else:
            with committed_db.session() as s:
                group_buys.expire(s, provider=sandbox(s), notify_url=NOTIFY_URL)

    # The last two payments and two expiry jobs at once.
    _, errors = race(len(paid_at_provider) + 2, work)
    assert not errors, errors
    frozen.advance(minutes=1)
    for _ in range(2):  # the job again, twice: whatever is left, once
        with committed_db.session() as s:
            group_buys.expire(s, provider=sandbox(s), notify_url=NOTIFY_URL)
    with committed_db.session() as s:
        group = s.get(GroupBuyGroup, group_id)
        assert group is not None
        refunded = s.scalars(select(OrderRefund.order_id)).all()
        rows = s.execute(
            select(GroupBuySeat.status, func.count()).where(GroupBuySeat.group_id == group_id)
            .group_by(GroupBuySeat.status)
        ).all()  # fmt: skip
        statuses = {status: int(n) for status, n in rows}
        assert group.paid == size  # every payment counted once, in time or not
        if window_ends == "after_them":
            assert group.status == GroupStatus.COMPLETED
            assert refunded == []
            assert statuses == {SeatStatus.PAID: size}
        else:
            assert group.status == GroupStatus.FAILED
            assert sorted(refunded) == sorted(set(refunded))  # nobody refunded twice
            assert len(refunded) == size  # every paid member, the leader too
            assert statuses == {SeatStatus.REFUNDED: size}
        assert_books_balanced(s)
