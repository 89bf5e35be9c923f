"""Coupons: each kind, scope, window and limit; stacking; exact allocation; who funds each fen; the refund rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, balance
from commerce.marketing import coupons
from commerce.orders import lifecycle, refunds
from commerce.orders.lifecycle import SYSTEM
from commerce.orders.models import (
    Coupon,
    CouponFunding,
    CouponKind,
    Earning,
    EarningRole,
    Order,
    UserCoupon,
    UserCouponStatus,
)
from commerce.orders.money import line_split
from commerce.orders.refunds import RefundItem
from core.clock import FrozenClock
from core.errors import Conflict, PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    orders_of,
    pay,
    pending_matches_earnings,
    place,
)


def brand_coupon(m: Market, **kw: Any) -> Coupon:
    kw.setdefault("kind", CouponKind.AMOUNT)
    kw.setdefault("value", 1_000)
    return coupons.create_coupon(m.session, m.owner, m.brand.id, **kw)


def platform_coupon(m: Market, **kw: Any) -> Coupon:
    kw.setdefault("kind", CouponKind.AMOUNT)
    kw.setdefault("value", 1_000)
    return coupons.create_coupon(m.session, m.admin, kw.pop("brand_id", None), funded_by=CouponFunding.PLATFORM, **kw)


def wallet_id(m: Market, coupon: Coupon, buyer: Any = None) -> int:
    return coupons.claim(m.session, buyer or m.buyer, coupon.id).id


def refusal(call: Any) -> str:
    with pytest.raises((Conflict, ValidationFailed)) as err:
        call()
    exc = err.value
    return exc.fields[0].code if isinstance(exc, ValidationFailed) else exc.code


def second_product(m: Market, price: int = 3_333) -> Any:
    product = factories.product(m.session, brand=m.brand, name="面膜", prices=(price,))
    product.skus[0].stock = 10
    m.session.commit()
    return product


def place_two(m: Market, other: Any, coupon_ids: list[int]) -> Order:
    from commerce.orders import checkout as checkout_service
    from tests.commerce.money import ADDRESS, LINKS

    checkout = checkout_service.place_order(
        m.session, m.buyer, provider=m.provider, policy=m.policy, links=LINKS, address=ADDRESS,
        items=[checkout_service.CheckoutItem(m.sku.id, 1), checkout_service.CheckoutItem(other.skus[0].id, 1)],
        coupon_ids=coupon_ids,
    )  # fmt: skip
    (order,) = orders_of(m, checkout)
    return order


# -- kinds and allocation ------------------------------------------------------------------------------------------


def test_a_fixed_amount_is_spread_over_the_lines_exactly_to_the_fen(market: Market) -> None:
    m = market
    other = second_product(m)
    order = place_two(m, other, [wallet_id(m, brand_coupon(m, value=1_001))])
    # 10_000 : 3_333 of 1_001 -> 750.6 / 250.3 -> 751 / 250 (largest remainder), and they sum to the discount.
    assert [line.discount for line in order.lines] == [751, 250]
    assert (order.subtotal, order.discount, order.total) == (13_333, 1_001, 12_332)
    assert [line.paid_amount for line in order.lines] == [9_249, 3_083]
    assert all(line.platform_discount == 0 for line in order.lines)


def test_a_percentage_is_capped(market: Market) -> None:
    m = market
    capped = brand_coupon(m, kind=CouponKind.PERCENT, value=3_000, max_discount=2_000)
    (order,) = orders_of(m, place(m, coupon_ids=[wallet_id(m, capped)]))
    assert order.discount == 2_000  # 30% of 10_000 would be 3_000
    uncapped = brand_coupon(m, kind=CouponKind.PERCENT, value=1_500, max_discount=9_999)
    (order,) = orders_of(m, place(m, coupon_ids=[wallet_id(m, uncapped)]))
    assert order.discount == 1_500


def test_a_threshold_coupon_needs_the_minimum(market: Market) -> None:
    m = market
    mj = brand_coupon(m, kind=CouponKind.THRESHOLD, value=3_000, min_subtotal=20_000, per_user_limit=2)
    first = wallet_id(m, mj)
    assert refusal(lambda: place(m, coupon_ids=[first])) == "coupon_min_not_met"
    (order,) = orders_of(m, place(m, qty=2, coupon_ids=[first]))
    assert (order.subtotal, order.discount) == (20_000, 3_000)
    with pytest.raises(ValidationFailed):  # a threshold coupon without a threshold above its value
        brand_coupon(m, kind=CouponKind.THRESHOLD, value=3_000, min_subtotal=3_000)


def test_a_product_scoped_coupon_takes_off_only_its_products(market: Market) -> None:
    m = market
    other = second_product(m)
    scoped = brand_coupon(m, value=500, product_ids=[other.id], per_user_limit=2)
    order = place_two(m, other, [wallet_id(m, scoped)])
    assert [line.discount for line in order.lines] == [0, 500]
    only_main = wallet_id(m, scoped)
    assert refusal(lambda: place(m, coupon_ids=[only_main])) == "coupon_not_applicable"
    outsider = factories.product(m.session, brand=factories.brand(m.session), name="别家")
    m.session.commit()
    with pytest.raises(ValidationFailed):
        brand_coupon(m, product_ids=[outsider.id])


def test_every_line_keeps_a_fen(market: Market) -> None:
    m = market
    (order,) = orders_of(m, place(m, coupon_ids=[wallet_id(m, brand_coupon(m, value=50_000))]))
    assert (order.discount, order.total) == (9_999, 1)


# -- windows, limits, stacking -------------------------------------------------------------------------------------


def test_claims_respect_the_window_and_the_limits(market: Market, frozen: FrozenClock) -> None:
    m = market
    later = brand_coupon(m, starts_at=frozen.now() + dt.timedelta(days=1), ends_at=frozen.now() + dt.timedelta(days=2))
    assert refusal(lambda: coupons.claim(m.session, m.buyer, later.id)) == "coupon_not_started"
    two = brand_coupon(m, per_user_limit=2, max_uses=3, ends_at=frozen.now() + dt.timedelta(hours=1))
    wallet_id(m, two)
    wallet_id(m, two)
    assert refusal(lambda: coupons.claim(m.session, m.buyer, two.id)) == "coupon_user_limit"
    wallet_id(m, two, m.sharer)
    assert refusal(lambda: coupons.claim(m.session, m.artist, two.id)) == "coupon_exhausted"
    m.session.refresh(two)
    assert two.claimed_count == 3
    frozen.advance(hours=2)
    assert refusal(lambda: coupons.claim(m.session, m.upstream, two.id)) == "coupon_expired"


def test_a_claimed_coupon_expires_in_the_wallet(market: Market, frozen: FrozenClock) -> None:
    m = market
    uc = wallet_id(m, brand_coupon(m, ends_at=frozen.now() + dt.timedelta(hours=1)))
    frozen.advance(hours=2)
    assert refusal(lambda: place(m, coupon_ids=[uc])) == "coupon_expired"


def test_someone_elses_or_a_used_coupon_is_refused(market: Market) -> None:
    m = market
    coupon = brand_coupon(m)
    theirs = wallet_id(m, coupon, m.sharer)
    assert refusal(lambda: place(m, coupon_ids=[theirs])) == "coupon_invalid"
    mine = wallet_id(m, coupon)
    place(m, coupon_ids=[mine])
    assert refusal(lambda: place(m, coupon_ids=[mine])) == "coupon_used"


def test_at_most_one_brand_and_one_platform_coupon_per_order(market: Market) -> None:
    m = market
    a, b = wallet_id(m, brand_coupon(m, value=100)), wallet_id(m, brand_coupon(m, value=200))
    assert refusal(lambda: place(m, coupon_ids=[a, b])) == "coupon_stacking"
    p1, p2 = wallet_id(m, platform_coupon(m, value=300)), wallet_id(m, platform_coupon(m, value=400))
    assert refusal(lambda: place(m, coupon_ids=[a, p1, p2])) == "coupon_stacking"
    (order,) = orders_of(m, place(m, coupon_ids=[a, p1]))
    assert order.discount == 400
    used = m.session.scalars(select(UserCoupon).where(UserCoupon.order_id == order.id).order_by(UserCoupon.id)).all()
    assert [(u.id, u.discount) for u in used] == [(a, 100), (p1, 300)]


def test_only_admins_fund_platform_coupons(market: Market) -> None:
    m = market
    with pytest.raises(PermissionDenied):
        coupons.create_coupon(m.session, m.owner, m.brand.id, funded_by=CouponFunding.PLATFORM, kind=CouponKind.AMOUNT,
                              value=100)  # fmt: skip


@pytest.mark.parametrize("brand_id", [987_654_321, 2**63 - 1])
def test_a_platform_coupon_for_a_brand_that_does_not_exist_is_refused_as_such(market: Market, brand_id: int) -> None:
    # found fuzzing POST /admin/coupons: the row's foreign key refused it at the commit, which answered 409 "the code
    # is taken" for a coupon that had no code
    m = market
    with pytest.raises(ValidationFailed) as err:
        platform_coupon(m, brand_id=brand_id)
    assert [(f.field, f.code) for f in err.value.fields] == [("brand_id", "coupon_brand_not_found")]
    assert err.value.fields[0].render("en")["message"] == "No such brand"
    assert platform_coupon(m, brand_id=m.brand.id).brand_id == m.brand.id


def test_grants_hand_one_to_each_listed_user(market: Market) -> None:
    m = market
    coupon = brand_coupon(m, max_uses=2)
    first, second, third = sorted([m.buyer.id, m.sharer.id, m.artist.id])
    result = coupons.grant(m.session, m.owner, m.brand.id, coupon.id, [third, first, second, 999_999])
    assert result.granted == [first, second]  # in user-id order, until the total runs out
    assert result.refused == {third: "coupon_exhausted", 999_999: "not_found"}
    again = coupons.grant(m.session, m.owner, m.brand.id, coupon.id, [first])
    assert again.refused == {first: "coupon_user_limit"}
    with pytest.raises(PermissionDenied):
        coupons.grant(m.session, m.buyer, m.brand.id, coupon.id, [m.buyer.id])


# -- money: commissions, funding, refunds ---------------------------------------------------------------------------


def test_commissions_are_on_what_the_buyer_paid_and_the_platform_pays_its_part(market: Market) -> None:
    m = market
    brand_part, platform_part = (
        wallet_id(m, brand_coupon(m, value=1_000)),
        wallet_id(m, platform_coupon(m, value=1_500)),
    )
    checkout = place(m, coupon_ids=[brand_part, platform_part])
    (order,) = orders_of(m, checkout)
    (line,) = order.lines
    assert (line.discount, line.platform_discount, line.paid_amount, order.total) == (2_500, 1_500, 7_500, 7_500)
    pay(m, checkout)
    split = line_split(line)  # on the paid 7_500
    assert split.artist == 1_500  # 20% of 7_500, not of 10_000
    earnings = {e.role: e.amount for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))}
    assert earnings[EarningRole.ARTIST] == 1_500
    assert earnings[EarningRole.SUBSIDY] == 1_500  # the platform-funded fen, paid to the brand
    assert earnings[EarningRole.BRAND] == split.brand
    assert sum(v for k, v in earnings.items() if k != EarningRole.SUBSIDY) == 7_500
    assert balance(m.session, AccountRef.platform(AccountKind.MARKETING)).balance == -1_500
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)


def test_a_partial_refund_returns_paid_money_and_the_subsidy_in_proportion(market: Market) -> None:
    m = market
    uc = wallet_id(m, platform_coupon(m, value=1_000))
    checkout = place(m, qty=2, coupon_ids=[uc])
    (order,) = orders_of(m, checkout)
    pay(m, checkout)
    (line,) = order.lines
    assert (line.paid_amount, line.platform_discount) == (19_000, 1_000)
    asked = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="退")
    assert asked.amount == 9_500  # half of what the buyer paid, never the coupon's value in cash
    refunds.decide_refund(m.session, m.owner, asked.id, approve=True, provider=m.provider, notify_url=NOTIFY_URL)
    assert balance(m.session, AccountRef.platform(AccountKind.MARKETING)).balance == -500
    m.session.refresh(m.session.get(UserCoupon, uc))
    assert m.session.get(UserCoupon, uc).status == UserCouponStatus.USED  # a partial refund keeps the coupon used
    rest = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(line.id, quantity=1)], reason="退")
    refunds.decide_refund(m.session, m.owner, rest.id, approve=True, provider=m.provider, notify_url=NOTIFY_URL)
    assert balance(m.session, AccountRef.platform(AccountKind.MARKETING)).balance == 0
    assert m.session.get(UserCoupon, uc).status == UserCouponStatus.AVAILABLE  # the whole order: back in the wallet
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)


def test_a_full_refund_after_the_coupon_expired_keeps_it_used(market: Market, frozen: FrozenClock) -> None:
    m = market
    uc = wallet_id(m, brand_coupon(m, ends_at=frozen.now() + dt.timedelta(hours=1)))
    checkout = place(m, coupon_ids=[uc])
    (order,) = orders_of(m, checkout)
    pay(m, checkout)
    frozen.advance(hours=2)
    asked = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(order.lines[0].id, quantity=1)],
                                   reason="不要了")  # fmt: skip
    refunds.decide_refund(m.session, m.owner, asked.id, approve=True, provider=m.provider, notify_url=NOTIFY_URL)
    assert asked.amount == 9_000
    assert m.session.get(UserCoupon, uc).status == UserCouponStatus.USED


def test_an_unpaid_cancelled_order_gives_its_coupons_back(market: Market) -> None:
    m = market
    coupon = brand_coupon(m)
    uc = wallet_id(m, coupon)
    (order,) = orders_of(m, place(m, coupon_ids=[uc]))
    m.session.refresh(coupon)
    assert coupon.used_count == 1
    lifecycle.cancel_unpaid(m.session, lifecycle.lock_order(m.session, order.id), SYSTEM, "test")
    m.session.commit()
    m.session.refresh(coupon)
    assert (m.session.get(UserCoupon, uc).status, coupon.used_count) == (UserCouponStatus.AVAILABLE, 0)
    (again,) = orders_of(m, place(m, coupon_ids=[uc]))
    assert again.discount == 1_000


def test_stats_count_claims_uses_gmv_and_cost(market: Market) -> None:
    m = market
    coupon = brand_coupon(m, value=1_000)
    wallet_id(m, coupon, m.sharer)
    checkout = place(m, coupon_ids=[wallet_id(m, coupon)])
    assert coupons.stats(m.session, [coupon.id])[coupon.id] == coupons.CouponStats(2, 0, 0, 0)  # unpaid: not used
    pay(m, checkout)
    assert coupons.stats(m.session, [coupon.id])[coupon.id] == coupons.CouponStats(2, 1, 9_000, 1_000)


def test_the_product_page_offers_claimable_coupons(market: Market) -> None:
    m = market
    other = second_product(m)
    everywhere, scoped = brand_coupon(m), brand_coupon(m, product_ids=[other.id])
    site = platform_coupon(m)
    wallet_id(m, everywhere)
    offered = coupons.claimable_for_product(m.session, m.buyer, m.product.id)
    assert [(c.id, held) for c, held in offered] == [(everywhere.id, 1), (site.id, 0)]
    assert scoped.id in [c.id for c, _ in coupons.claimable_for_product(m.session, None, other.id)]


def test_typing_the_code_of_a_coupon_in_the_wallet_uses_that_one(market: Market) -> None:
    m = market
    coupon = brand_coupon(m, code="HELLO")
    held = wallet_id(m, coupon)
    (order,) = orders_of(m, place(m, coupons={m.brand.id: "hello"}))
    assert order.discount == 1_000
    assert m.session.get(UserCoupon, held).order_id == order.id  # not refused as a second one over the limit
