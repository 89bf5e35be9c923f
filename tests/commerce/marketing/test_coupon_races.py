"""Claims racing on PostgreSQL with real threads and committed data: neither limit is ever exceeded."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from commerce.marketing import coupons
from commerce.orders.models import Coupon, CouponKind, Order, UserCoupon
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.accounts.models import User
from core.db import Database
from core.errors import Conflict
from tests.commerce.conftest import use_policy
from tests.commerce.money import make_market, place, sandbox
from tests.commerce.test_races import clock_at_start, race  # noqa: F401  (a fixture)

pytestmark = pytest.mark.postgres


def test_one_user_claiming_twenty_times_at_once_gets_the_per_user_limit(committed_db: Database, clock_at_start) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    passwords.configure(memory_kib=1024, time_cost=1)
    with committed_db.session() as s:
        m = make_market(s)
        coupon_id = coupons.create_coupon(
            s, m.owner, m.brand.id, kind=CouponKind.AMOUNT, value=100, per_user_limit=2
        ).id
        buyer_id = m.buyer.id

    def claim(_: int) -> int:
        with committed_db.session() as s:
            return coupons.claim(s, s.get(User, buyer_id), coupon_id).id

    results, errors = race(20, claim)
    assert len(results) == 2
    assert all(isinstance(e, Conflict) and e.code == "coupon_user_limit" for e in errors), errors[:3]
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).select_from(UserCoupon).where(UserCoupon.user_id == buyer_id)) == 2
        assert s.get(Coupon, coupon_id).claimed_count == 2  # type: ignore[union-attr]


def test_thirty_buyers_at_a_coupon_of_five_get_five(committed_db: Database, clock_at_start) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with committed_db.session() as s:
        m = make_market(s, stock=100)
        buyers = [m.user().id for _ in range(30)]
        coupon = coupons.create_coupon(s, m.owner, m.brand.id, code="FIVE", kind=CouponKind.AMOUNT, value=100,
                                       max_uses=5)  # fmt: skip
        coupon_id = coupon.id

    def claim_or_type(i: int) -> str:
        with committed_db.session() as s:
            buyer = s.get(User, buyers[i])
            if i % 2:  # half claim on the product page, half type the code at checkout
                return f"claim {coupons.claim(s, buyer, coupon_id).id}"
            mine = dataclasses.replace(m, session=s, provider=sandbox(s), buyer=buyer)
            return f"order {place(mine, buyer=buyer, device=f'device-{i}', coupons={m.brand.id: 'FIVE'}).id}"

    results, errors = race(30, claim_or_type)
    assert len(results) == 5
    assert all(isinstance(e, Conflict) and e.code == "coupon_exhausted" for e in errors), errors[:3]
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).select_from(UserCoupon).where(UserCoupon.coupon_id == coupon_id)) == 5
        assert s.get(Coupon, coupon_id).claimed_count == 5  # type: ignore[union-attr]
        orders = sum(r.startswith("order") for r in results)
        assert s.scalar(select(func.count()).select_from(Order).where(Order.discount == 100)) == orders
