"""砍价 bargains through the real services: the offer's rules, the disclosed schedule, helps, checkout at the
bargained price, who funds the cut in the ledger, release on cancel, refunds, the dashboard's figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, balance
from commerce.marketing import bargains, campaign_stats, coupons
from commerce.marketing.models import Bargain, BargainOffer, BargainStatus
from commerce.orders import lifecycle, refunds
from commerce.orders.lifecycle import SYSTEM
from commerce.orders.models import CouponKind, Earning, EarningRole
from commerce.orders.money import line_split
from commerce.orders.refunds import RefundItem
from core.clock import FrozenClock, now
from core.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationFailed
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    orders_of,
    pay,
    pending_matches_earnings,
    place,
)

PRICE = 10_000  # the market's SKU


def offer(m: Market, **kw: Any) -> BargainOffer:
    kw.setdefault("floor_fen", 6_001)
    kw.setdefault("max_helpers", 3)
    kw.setdefault("window_hours", 24)
    kw.setdefault("starts_at", now())
    kw.setdefault("ends_at", now() + dt.timedelta(days=3))
    return bargains.create_offer(m.session, m.owner, m.brand.id, sku_id=m.sku.id, **kw)


def refusal(call: Any) -> str:
    with pytest.raises((Conflict, ValidationFailed)) as err:
        call()
    exc = err.value
    return exc.fields[0].code if isinstance(exc, ValidationFailed) else exc.code


def codes(call: Any) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        call()
    return {f.field: f.code for f in err.value.fields}


def helped(m: Market, bargain: Bargain, n: int) -> list[Any]:
    friends = [m.user() for _ in range(n)]
    return [bargains.help_bargain(m.session, f, bargain.id) for f in friends]


# -- the schedule --------------------------------------------------------------------------------------------------


@given(price=st.integers(2, 10**9), floor=st.integers(1, 10**9), helpers=st.integers(1, 100))
def test_the_schedule_sums_to_the_cut_and_ends_exactly_at_the_floor(price: int, floor: int, helpers: int) -> None:
    floor = min(floor, price - 1)
    cuts = bargains.schedule(price, floor, helpers)
    assert len(cuts) == helpers
    assert sum(cuts) == price - floor
    assert price - sum(cuts) == floor
    assert max(cuts) - min(cuts) <= 1  # no lucky or unlucky helper: the fen differ by at most one
    assert cuts == sorted(cuts, reverse=True)
    if price - floor >= helpers:
        assert min(cuts) >= 1


def test_the_schedule_is_disclosed_before_anyone_helps(market: Market) -> None:
    o = offer(market, floor_fen=6_001, max_helpers=3)  # 3_999 over 3 helps
    (v,) = bargains.for_product(market.session, market.product.id, market.buyer)
    assert v.schedule == [1_333, 1_333, 1_333]
    assert (v.offer.id, v.phase, v.mine) == (o.id, "live", None)
    b = bargains.start(market.session, market.buyer, o.id)
    shown = bargains.view(market.session, b.id, market.buyer)
    assert (shown.schedule, shown.cut_fen, shown.price_now, shown.left_fen, shown.helps_left) == (
        [1_333, 1_333, 1_333], 0, PRICE, 3_999, 3)  # fmt: skip
    assert (shown.phase, shown.is_owner) == ("active", True)


# -- the offer -----------------------------------------------------------------------------------------------------


def test_an_offer_is_validated_field_by_field(market: Market, frozen: FrozenClock) -> None:
    m = market
    assert codes(lambda: offer(m, floor_fen=PRICE)) == {"floor_fen": "bargain_floor_too_high"}
    assert codes(lambda: offer(m, floor_fen=0)) == {"floor_fen": "greater_than"}
    assert codes(lambda: offer(m, floor_fen=PRICE - 5, max_helpers=10)) == {"floor_fen": "bargain_cut_too_small"}
    assert codes(lambda: offer(m, max_helpers=0)) == {"max_helpers": "greater_than_equal"}
    assert codes(lambda: offer(m, max_helpers=101)) == {"max_helpers": "less_than_equal"}
    assert codes(lambda: offer(m, window_hours=0)) == {"window_hours": "greater_than_equal"}
    assert codes(lambda: offer(m, per_user_limit=0)) == {"per_user_limit": "greater_than_equal"}
    assert codes(lambda: offer(m, ends_at=now() - dt.timedelta(hours=1))) == {"ends_at": "greater_than"}
    assert codes(lambda: offer(m, ends_at=now() + dt.timedelta(days=90))) == {"ends_at": "less_than_equal"}
    assert offer(m, floor_fen=PRICE - 100, max_helpers=100).price_fen == PRICE  # exactly one fen a help


def test_only_the_brands_members_make_offers(market: Market) -> None:
    with pytest.raises(PermissionDenied):
        bargains.create_offer(
            market.session, market.buyer, market.brand.id, sku_id=market.sku.id, floor_fen=1, max_helpers=1,
            window_hours=1, starts_at=now(), ends_at=now() + dt.timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(NotAuthenticated):
        bargains.start(market.session, None, offer(market).id)


# -- starting and helping ------------------------------------------------------------------------------------------


def test_starting_respects_the_window_and_the_per_user_limit(market: Market, frozen: FrozenClock) -> None:
    m = market
    later = offer(m, starts_at=now() + dt.timedelta(hours=1))
    assert refusal(lambda: bargains.start(m.session, m.buyer, later.id)) == "bargain_not_started"
    o = offer(m, per_user_limit=1, window_hours=2)
    first = bargains.start(m.session, m.buyer, o.id)
    assert bargains.start(m.session, m.buyer, o.id).id == first.id  # the running one, not a second
    frozen.advance(hours=3)  # it expired: a new one would pass the limit
    assert refusal(lambda: bargains.start(m.session, m.buyer, o.id)) == "bargain_user_limit"
    frozen.advance(days=3)
    assert refusal(lambda: bargains.start(m.session, m.sharer, o.id)) == "bargain_offer_ended"


def test_each_help_cuts_the_disclosed_amount_and_the_last_reaches_the_floor(market: Market) -> None:
    m = market
    o = offer(m, floor_fen=6_000, max_helpers=3)  # 4_000 → 1_334, 1_333, 1_333
    b = bargains.start(m.session, m.buyer, o.id)
    helps = helped(m, b, 3)
    assert [h.cut_fen for h in helps] == [1_334, 1_333, 1_333]
    assert [h.seq for h in helps] == [1, 2, 3]
    v = bargains.view(m.session, b.id)
    assert (v.price_now, v.left_fen, v.helps_left, v.phase) == (6_000, 0, 0, "floor_reached")
    assert [h.cut_fen for h in v.helpers] == [1_334, 1_333, 1_333]
    assert refusal(lambda: bargains.help_bargain(m.session, m.user(), b.id)) == "bargain_complete"
    m.session.refresh(b)
    assert b.helps_count == 3


def test_no_self_help_and_one_help_per_friend(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m).id)
    assert refusal(lambda: bargains.help_bargain(m.session, m.buyer, b.id)) == "bargain_self_help"
    bargains.help_bargain(m.session, m.sharer, b.id)
    assert refusal(lambda: bargains.help_bargain(m.session, m.sharer, b.id)) == "bargain_already_helped"
    m.session.refresh(b)
    assert b.helps_count == 1
    assert bargains.view(m.session, b.id, m.sharer).helped
    with pytest.raises(NotAuthenticated):
        bargains.help_bargain(m.session, None, b.id)


def test_an_expired_bargain_takes_no_help_and_prices_nothing(market: Market, frozen: FrozenClock) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m, window_hours=1).id)
    helped(m, b, 1)
    frozen.advance(hours=1)
    assert refusal(lambda: bargains.help_bargain(m.session, m.sharer, b.id)) == "bargain_expired"
    assert bargains.view(m.session, b.id).phase == "expired"
    (order,) = orders_of(m, place(m))
    assert order.total == PRICE  # the window is over: the list price


# -- checkout, money, refunds --------------------------------------------------------------------------------------


def test_checkout_charges_the_bargained_price_and_the_brand_funds_the_cut(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m, floor_fen=6_001, max_helpers=3).id)
    helped(m, b, 2)  # 2 × 1_333 off
    checkout = place(m)
    (order,) = orders_of(m, checkout)
    (line,) = order.lines
    assert (line.unit_price, line.discount, line.platform_discount, line.paid_amount) == (PRICE, 2_666, 0, 7_334)
    assert order.total == 7_334
    m.session.refresh(b)
    assert (b.status, b.order_id, b.ordered_cut_fen) == (BargainStatus.ORDERED, order.id, 2_666)
    assert refusal(lambda: bargains.help_bargain(m.session, m.user(), b.id)) == "bargain_ordered"
    pay(m, checkout)
    split = line_split(line)
    assert split.artist == 1_467  # 20 % of the 7_334 paid (largest remainder), not of the 10_000 list price
    earnings = {e.role: e.amount for e in m.session.scalars(select(Earning).where(Earning.order_id == order.id))}
    assert EarningRole.SUBSIDY not in earnings  # the platform pays none of it
    assert sum(earnings.values()) == 7_334
    assert (earnings[EarningRole.BRAND], earnings[EarningRole.ARTIST]) == (split.brand, 1_467)
    assert balance(m.session, AccountRef.platform(AccountKind.MARKETING)).balance == 0
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)
    again = place(m)  # the bargain was used: the next order is at the list price
    assert orders_of(m, again)[0].total == PRICE


def test_only_one_unit_is_bargained_and_coupons_apply_to_what_is_left(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m, floor_fen=6_000, max_helpers=1).id)
    helped(m, b, 1)
    coupon = coupons.create_coupon(m.session, m.owner, m.brand.id, kind=CouponKind.AMOUNT, value=1_000)
    uc = coupons.claim(m.session, m.buyer, coupon.id).id
    (order,) = orders_of(m, place(m, qty=2, coupon_ids=[uc]))
    (line,) = order.lines
    assert line.discount == 4_000 + 1_000
    assert order.total == 6_000 + PRICE - 1_000


def test_a_cancelled_unpaid_order_releases_the_bargain(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m).id)
    helped(m, b, 1)
    (order,) = orders_of(m, place(m))
    lifecycle.cancel_unpaid(m.session, lifecycle.lock_order(m.session, order.id), SYSTEM, "test")
    m.session.commit()
    m.session.refresh(b)
    assert (b.status, b.order_id, b.ordered_cut_fen) == (BargainStatus.ACTIVE, None, 0)
    bargains.help_bargain(m.session, m.sharer, b.id)  # it runs again
    (again,) = orders_of(m, place(m))
    assert again.total == PRICE - 2 * 1_333


def test_a_help_after_the_price_was_read_fails_the_claim(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m).id)
    helped(m, b, 1)
    (line,) = bargains.lines_for(m.session, m.buyer.id, [m.sku.id], now()).values()
    bargains.help_bargain(m.session, m.sharer, b.id)
    with pytest.raises(Conflict) as err:
        bargains.claim(m.session, line, order_id=1, now=now(), field="items.0.sku_id", cut_fen=1)
    assert err.value.code == "bargain_changed"


def test_a_refund_returns_what_the_buyer_paid(market: Market) -> None:
    m = market
    b = bargains.start(m.session, m.buyer, offer(m, floor_fen=6_000, max_helpers=1).id)
    helped(m, b, 1)
    checkout = place(m)
    (order,) = orders_of(m, checkout)
    pay(m, checkout)
    asked = refunds.request_refund(m.session, m.buyer, order.id, items=[RefundItem(order.lines[0].id, quantity=1)],
                                   reason="不要了")  # fmt: skip
    assert asked.amount == 6_000  # what was paid, never the cut in cash
    refunds.decide_refund(m.session, m.owner, asked.id, approve=True, provider=m.provider, notify_url=NOTIFY_URL)
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)
    m.session.refresh(b)
    assert b.status == BargainStatus.ORDERED  # a refund does not reopen it


def test_campaign_stats_count_started_paid_gmv_and_cost(market: Market) -> None:
    m = market
    o = offer(m, floor_fen=6_000, max_helpers=2)
    b = bargains.start(m.session, m.buyer, o.id)
    bargains.start(m.session, m.sharer, o.id)
    helped(m, b, 1)
    checkout = place(m)
    (row,) = campaign_stats.for_brand(m.session, m.owner, m.brand.id, ["bargain"])
    assert (row.kind, row.campaign_id, row.taken, row.paid, row.units_left, row.gmv, row.cost) == (
        "bargain", o.id, 2, 0, None, 0, 0)  # fmt: skip
    pay(m, checkout)
    (row,) = campaign_stats.for_brand(m.session, m.owner, m.brand.id, ["bargain"])
    assert (row.taken, row.paid, row.gmv, row.cost) == (2, 1, 8_000, 2_000)
    assert "bargain" in campaign_stats.registered()
