"""拼团 through the real services and the sandbox provider: the offer, opening and joining, the group price at
checkout, completion on the N-th payment (once), shipping held while waiting, the refunds of an unfilled group
(once, however often the job runs), balanced books, and no reward to the leader for recruiting."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from commerce.attribution.links import TargetKind
from commerce.marketing import campaign_stats, group_buys
from commerce.marketing.models import GroupBuyGroup, GroupBuyOffer, GroupBuySeat, GroupStatus, SeatStatus
from commerce.orders import expiry, lifecycle, refunds
from commerce.orders.models import Earning, EarningRole, Order, OrderRefund, OrderStatus
from commerce.owners import Owner
from core.accounts.models import User
from core.clock import FrozenClock, now
from core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.commerce.money import (
    ADDRESS,
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    ledger_transactions,
    orders_of,
    owner_balances,
    pay,
    pending_matches_earnings,
    place,
    share_click,
    status,
)

PRICE, GROUP_PRICE = 10_000, 6_000


def offer(m: Market, *, size: int = 3, price: int = GROUP_PRICE, hours: int = 24, limit: int = 1) -> GroupBuyOffer:
    return group_buys.create_offer(
        m.session, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=price, group_size=size, window_hours=hours,
        starts_at=now(), ends_at=now() + dt.timedelta(days=7), per_user_limit=limit,
    )  # fmt: skip


def address(n: int) -> object:
    return dataclasses.replace(ADDRESS, detail=f"漕溪北路 {n} 号")


def buy(m: Market, user: User, n: int, **kw: object) -> Order:
    """`user` checks out one unit from their own device and address (never anyone's self-referral)."""
    (order,) = orders_of(m, place(m, buyer=user, device=f"device-{n}", address=address(n), **kw))  # type: ignore[arg-type]
    return order


def buy_and_pay(m: Market, user: User, n: int, **kw: object) -> Order:
    checkout = place(m, buyer=user, device=f"device-{n}", address=address(n), **kw)  # type: ignore[arg-type]
    assert pay(m, checkout) == ["applied"]
    (order,) = orders_of(m, checkout)
    return order


def group_of(m: Market, group_id: int) -> GroupBuyGroup:
    group = m.session.get(GroupBuyGroup, group_id)
    assert group is not None
    m.session.refresh(group)
    return group


def seat_status(m: Market, seat: GroupBuySeat) -> SeatStatus:
    m.session.refresh(seat)
    return seat.status


# -- the offer -------------------------------------------------------------------------------------------------


def test_only_brand_members_offer_and_every_field_is_checked(market: Market) -> None:
    m = market
    with pytest.raises(PermissionDenied):
        group_buys.create_offer(
            m.session, m.buyer, m.brand.id, sku_id=m.sku.id, price_fen=1, group_size=2, window_hours=24,
            starts_at=now(), ends_at=now() + dt.timedelta(days=1),
        )  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        group_buys.create_offer(
            m.session, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=PRICE, group_size=51, window_hours=0,
            starts_at=now(), ends_at=now() - dt.timedelta(hours=1), per_user_limit=0,
        )  # fmt: skip
    assert {f.field: f.code for f in exc.value.fields} == {
        "price_fen": "group_price_too_high", "group_size": "less_than_equal", "window_hours": "greater_than_equal",
        "member_limit": "greater_than_equal", "ends_at": "greater_than",
    }  # fmt: skip
    zh = {f.field: f.render("zh-CN")["message"] for f in exc.value.fields}
    en = {f.field: f.render("en")["message"] for f in exc.value.fields}
    assert zh["price_fen"] == "拼团价须低于商品原价"
    assert en["group_size"] == "The group size is too large"
    assert "时限（小时）" in zh["window_hours"]
    assert "time limit in hours" in en["window_hours"]
    with pytest.raises(ValidationFailed) as small:
        offer(m, size=1, price=0, hours=100)
    assert [f.code for f in small.value.fields] == ["greater_than", "greater_than_equal", "less_than_equal"]
    assert m.session.scalar(select(func.count()).select_from(GroupBuyOffer)) == 0
    made = offer(m, size=2)
    assert (made.price_fen, made.group_size, made.window, made.product_id) == (
        GROUP_PRICE, 2, dt.timedelta(hours=24), m.product.id
    )  # fmt: skip


# -- open and join ---------------------------------------------------------------------------------------------


def test_open_join_full_and_one_seat_per_user(market: Market) -> None:
    m = market
    o = offer(m, size=3)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    assert lead.is_leader
    assert lead.status == SeatStatus.SEATED
    group = group_of(m, lead.group_id)
    assert (group.leader_id, group.members, group.size, group.expires_at) == (
        m.buyer.id, 1, 3, now() + dt.timedelta(hours=24)
    )  # fmt: skip
    with pytest.raises(Conflict) as own:
        group_buys.join(m.session, m.buyer, group.id)  # the leader already holds a seat
    assert own.value.code == "group_already_joined"
    second = group_buys.join(m.session, m.sharer, group.id)
    assert not second.is_leader
    with pytest.raises(Conflict) as twice:
        group_buys.join(m.session, m.sharer, group.id)
    assert twice.value.code == "group_already_joined"
    group_buys.join(m.session, m.upstream, group.id)
    with pytest.raises(Conflict) as full:
        group_buys.join(m.session, m.artist, group.id)
    assert full.value.code == "group_full"
    assert group_of(m, group.id).members == 3
    seats = m.session.scalars(select(GroupBuySeat.user_id).where(GroupBuySeat.group_id == group.id)).all()
    assert sorted(seats) == sorted([m.buyer.id, m.sharer.id, m.upstream.id])


def test_an_expired_group_cannot_be_joined_and_an_ended_offer_cannot_be_opened(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    o = offer(m, size=2, hours=1)
    group_id = group_buys.open_group(m.session, m.buyer, o.id).group_id
    frozen.advance(hours=1)
    with pytest.raises(Conflict) as late:
        group_buys.join(m.session, m.sharer, group_id)
    assert late.value.code == "group_closed"
    assert group_buys.view(m.session, group_id).phase == "failed"
    frozen.advance(days=7)
    with pytest.raises(Conflict) as ended:
        group_buys.open_group(m.session, m.sharer, o.id)
    assert ended.value.code == "group_buy_ended"


# -- checkout, payment, completion, shipping -------------------------------------------------------------------


def test_the_group_completes_on_the_nth_payment_exactly_once_and_ships_only_then(market: Market) -> None:
    m = market
    o = offer(m, size=2, limit=2)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    with pytest.raises(ValidationFailed) as over:
        buy(m, m.buyer, 1, qty=3)
    assert over.value.fields[0].code == "group_buy_limit"

    first = buy_and_pay(m, m.buyer, 1)
    (line,) = first.lines
    assert (line.unit_price, line.list_price, first.total) == (GROUP_PRICE, PRICE, GROUP_PRICE)
    assert first.reserved_until <= now() + dt.timedelta(hours=24)
    assert seat_status(m, lead) == SeatStatus.PAID
    assert group_of(m, lead.group_id).status == GroupStatus.OPEN
    with pytest.raises(Conflict) as waiting:
        lifecycle.ship(m.session, m.owner, first.id, carrier="顺丰", tracking_no="SF1")
    assert waiting.value.code == "group_buy_waiting"
    m.session.rollback()
    assert status(m, first) == OrderStatus.PAID

    # The seat was used: another checkout of the SKU is at the ordinary price.
    plain = buy(m, m.buyer, 1)
    assert plain.lines[0].unit_price == PRICE

    seat = group_buys.join(m.session, m.sharer, lead.group_id)
    second = buy_and_pay(m, m.sharer, 2)
    assert second.total == GROUP_PRICE
    group = group_of(m, lead.group_id)
    assert (group.status, group.paid, group.completed_at) == (GroupStatus.COMPLETED, 2, now())
    assert seat_status(m, seat) == SeatStatus.PAID
    # The same success again (a replayed webhook) changes nothing.
    assert group_buys.on_paid(m.session, [first.id, second.id], now()) == []
    assert group_of(m, lead.group_id).paid == 2
    lifecycle.ship(m.session, m.owner, first.id, carrier="顺丰", tracking_no="SF1")
    assert status(m, first) == OrderStatus.SHIPPED
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 0  # completed: nothing back
    assert m.session.scalar(select(func.count()).select_from(OrderRefund)) == 0
    assert_books_balanced(m.session)


def test_an_unpaid_cancelled_order_frees_the_seat_to_check_out_again(market: Market, frozen: FrozenClock) -> None:
    m = market
    o = offer(m, size=2)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    order = buy(m, m.buyer, 1)
    assert seat_status(m, lead) == SeatStatus.ORDERED
    frozen.advance(minutes=16)
    assert expiry.expire_unpaid(m.session, m.provider) == 1
    assert status(m, order) == OrderStatus.CANCELLED
    assert seat_status(m, lead) == SeatStatus.SEATED
    assert buy(m, m.buyer, 1).total == GROUP_PRICE


def test_a_seat_nobody_checks_out_is_given_up_so_the_group_can_fill(market: Market, frozen: FrozenClock) -> None:
    m = market
    o = offer(m, size=2)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    buy_and_pay(m, m.buyer, 1)
    squatter = group_buys.join(m.session, m.sharer, lead.group_id)  # joins, never checks out
    with pytest.raises(Conflict):
        group_buys.join(m.session, m.upstream, lead.group_id)
    frozen.advance(minutes=29)
    group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL)
    assert seat_status(m, squatter) == SeatStatus.SEATED  # still inside the hold
    frozen.advance(minutes=1)
    group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL)
    group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL)
    assert seat_status(m, squatter) == SeatStatus.RELEASED
    assert group_of(m, lead.group_id).members == 1  # given up once
    group_buys.join(m.session, m.upstream, lead.group_id)
    buy_and_pay(m, m.upstream, 3)
    assert group_of(m, lead.group_id).status == GroupStatus.COMPLETED
    # A seat whose order is waiting for payment is not idle.
    o2 = offer(m, size=2)
    seat = group_buys.open_group(m.session, m.artist, o2.id)
    buy(m, m.artist, 4)
    frozen.advance(minutes=40)
    group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL)
    assert seat_status(m, seat) == SeatStatus.ORDERED


def test_an_unfilled_group_refunds_every_paid_member_once_and_releases_unpaid_seats(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    o = offer(m, size=3, hours=2)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    first = buy_and_pay(m, m.buyer, 1)
    group_buys.join(m.session, m.sharer, lead.group_id)
    second = buy_and_pay(m, m.sharer, 2)
    idle = group_buys.join(m.session, m.upstream, lead.group_id)  # never checks out
    paid_seats = m.session.scalars(select(GroupBuySeat).where(GroupBuySeat.status == SeatStatus.PAID)).all()
    assert len(paid_seats) == 2

    frozen.advance(hours=1)
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 0  # still inside the window
    assert group_of(m, lead.group_id).status == GroupStatus.OPEN
    frozen.advance(hours=1)
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 2
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 0  # safe to run twice
    deliver(m)
    group = group_of(m, lead.group_id)
    assert (group.status, group.failed_at) == (GroupStatus.FAILED, now())
    assert {seat_status(m, s) for s in paid_seats} == {SeatStatus.REFUNDED}
    assert seat_status(m, idle) == SeatStatus.RELEASED
    for order in (first, second):
        assert status(m, order) == OrderStatus.CANCELLED
        (refund,) = m.session.scalars(select(OrderRefund).where(OrderRefund.order_id == order.id)).all()
        assert (refund.amount, refund.reason) == (GROUP_PRICE, group_buys.REFUND_REASON)
        assert refund.status.value == "refunded"  # the sandbox paid it back
    assert_books_balanced(m.session)
    pending_matches_earnings(m.session)
    assert owner_balances(m.session, Owner.brand(m.brand.id)).get("pending", 0) == 0
    with pytest.raises(Conflict):
        group_buys.join(m.session, m.artist, lead.group_id)


def test_a_member_who_cancels_gives_the_seat_up_and_is_refunded_once(market: Market, frozen: FrozenClock) -> None:
    m = market
    o = offer(m, size=3, hours=1)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    buy_and_pay(m, m.buyer, 1)
    quitter = group_buys.join(m.session, m.sharer, lead.group_id)
    cancelled = buy_and_pay(m, m.sharer, 2)
    group_buys.join(m.session, m.upstream, lead.group_id)
    with pytest.raises(Conflict) as full:
        group_buys.join(m.session, m.artist, lead.group_id)
    assert full.value.code == "group_full"

    # A paid member cancels before the group filled: refunded as any cancellation, and the seat is free again.
    refunds.cancel_order(m.session, m.sharer, cancelled.id, provider=m.provider, notify_url=NOTIFY_URL)
    assert deliver(m) == ["applied"]  # the refund, paid back
    assert seat_status(m, quitter) == SeatStatus.RELEASED
    group = group_of(m, lead.group_id)
    assert (group.members, group.paid, group.status) == (2, 1, GroupStatus.OPEN)
    group_buys.join(m.session, m.artist, lead.group_id)
    buy_and_pay(m, m.artist, 3)
    buy_and_pay(m, m.upstream, 4)
    assert group_of(m, lead.group_id).status == GroupStatus.COMPLETED  # three members who paid and stayed
    frozen.advance(hours=2)
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 0
    assert m.session.scalars(select(OrderRefund.order_id)).all() == [cancelled.id]  # once, by the cancellation
    assert_books_balanced(m.session)


def test_a_member_who_cancelled_is_not_refunded_again_when_the_group_fails(market: Market, frozen: FrozenClock) -> None:
    m = market
    o = offer(m, size=2, hours=1)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    order = buy_and_pay(m, m.buyer, 1)
    refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)
    frozen.advance(hours=1)
    assert group_buys.expire(m.session, provider=m.provider, notify_url=NOTIFY_URL) == 0
    assert seat_status(m, lead) == SeatStatus.RELEASED
    assert group_of(m, lead.group_id).status == GroupStatus.FAILED
    assert m.session.scalar(select(func.count()).select_from(OrderRefund)) == 1
    assert_books_balanced(m.session)


# -- attribution: the leader is a sharer, never paid for recruiting -------------------------------------------


def test_the_leader_earns_only_the_sharer_commission_on_orders_through_their_link(market: Market) -> None:
    m = market
    o = offer(m, size=3)
    leader = m.sharer
    lead = group_buys.open_group(m.session, leader, o.id)
    buy_and_pay(m, leader, 1)
    before = ledger_transactions(m.session)
    # Joining posts nothing and pays nothing.
    group_buys.join(m.session, m.buyer, lead.group_id)
    group_buys.join(m.session, m.upstream, lead.group_id)
    assert ledger_transactions(m.session) == before
    assert m.session.scalar(select(func.count()).select_from(Earning).where(Earning.owner_id == leader.id)) == 0

    # One member came through the leader's share link: the usual sharer credit on their order's line.
    click = share_click(m, leader, viewer=m.buyer, target=TargetKind.PRODUCT)
    through = buy_and_pay(m, m.buyer, 2, click_ids=[click.click_id], from_video=False)
    # The other joined without it: the leader gets nothing from that order.
    direct = buy_and_pay(m, m.upstream, 3, from_video=False)
    assert through.lines[0].sharer_id == leader.id
    assert direct.lines[0].sharer_id is None
    assert group_of(m, lead.group_id).status == GroupStatus.COMPLETED

    earned = m.session.execute(
        select(Earning.order_id, Earning.role, Earning.amount).where(Earning.owner_id == leader.id,
                                                                     Earning.owner_kind == "user")
    ).all()  # fmt: skip
    assert [(e.order_id, e.role) for e in earned] == [(through.id, EarningRole.SHARER)]
    assert earned[0].amount == GROUP_PRICE * 1000 // 10_000  # the offer's sharer rate on what the buyer paid
    # The leader's own order cost the group price like anyone's: no discount for recruiting.
    own = m.session.scalar(select(Order).where(Order.buyer_id == leader.id))
    assert own is not None
    assert (own.total, own.discount) == (GROUP_PRICE, 0)
    assert_books_balanced(m.session)


# -- the dashboard's figures -----------------------------------------------------------------------------------


def test_campaign_stats_count_members_paid_gmv_and_cost(market: Market) -> None:
    m = market
    o = offer(m, size=3)
    lead = group_buys.open_group(m.session, m.buyer, o.id)
    buy_and_pay(m, m.buyer, 1)
    group_buys.join(m.session, m.sharer, lead.group_id)
    assert "group_buy" in campaign_stats.registered()
    (row,) = campaign_stats.for_brand(m.session, m.owner, m.brand.id, ["group_buy"])
    assert (row.kind, row.campaign_id, row.taken, row.paid, row.units_left) == ("group_buy", o.id, 2, 1, None)
    assert (row.gmv, row.cost) == (GROUP_PRICE, PRICE - GROUP_PRICE)
