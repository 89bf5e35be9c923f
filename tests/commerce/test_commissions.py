"""Earnings people can trust: each commission per order with where it stands and why, and its receipt (click →
rule → ledger postings that add up to what the user keeps), readable only by the user who earns it."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce.ledger import AccountKind
from commerce.orders import commissions, refunds, review, settlement
from commerce.orders.commissions import CommissionStatus
from commerce.orders.models import EarningRole, Order
from commerce.orders.refunds import RefundItem
from core.clock import FrozenClock
from core.errors import NotFound
from tests.commerce.money import (
    NOTIFY_URL,
    Market,
    assert_books_balanced,
    deliver,
    orders_of,
    pay,
    place,
    share_click,
    ship_and_deliver,
)


def _bought(m: Market, frozen: FrozenClock, *, wait: dt.timedelta = dt.timedelta(minutes=5)) -> Order:
    """The buyer opens the sharer's link, waits, buys from the artist's video, pays."""
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(seconds=wait.total_seconds())
    checkout = place(m, click_ids=[click.click_id])
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    return order


def _statuses(m: Market, user_id: int) -> dict[int, list[tuple[EarningRole, CommissionStatus]]]:
    user = m.session.get(type(m.sharer), user_id)
    rows, _ = commissions.list_commissions(m.session, user)
    return {o.order.id: [(c.earning.role, c.status) for c in o.commissions] for o in rows}


def test_each_commission_says_where_it_stands(market: Market, frozen: FrozenClock) -> None:
    m = market
    held = _bought(m, frozen, wait=dt.timedelta(seconds=3))  # click to buy in 3 s: held for review
    pending = _bought(m, frozen)
    settled = _bought(m, frozen)
    clawed = _bought(m, frozen)
    cancelled = _bought(m, frozen)
    for order in (settled, clawed, pending):
        ship_and_deliver(m, order)
    refunds.cancel_order(m.session, m.buyer, cancelled.id, provider=m.provider, notify_url=NOTIFY_URL)
    deliver(m)
    # Before the window closes: pending, with the date it closes.
    rows, _ = commissions.list_commissions(m.session, m.sharer)
    by_order = {o.order.id: o for o in rows}
    (waiting,) = by_order[pending.id].commissions
    assert waiting.status == CommissionStatus.PENDING
    m.session.refresh(pending)
    assert waiting.earning.settle_after == pending.return_window_ends_at
    (in_review,) = by_order[held.id].commissions
    assert in_review.status == CommissionStatus.HELD
    assert in_review.line.hold_reasons == ["fast_click_to_buy"]
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    refunds.force_refund(m.session, m.admin, clawed.id, items=[RefundItem(clawed.lines[0].id, amount=3333)],
                         reason="dispute", provider=m.provider, notify_url=NOTIFY_URL)  # fmt: skip
    deliver(m)
    statuses = _statuses(m, m.sharer.id)
    assert statuses == {
        held.id: [(EarningRole.SHARER, CommissionStatus.HELD)],
        pending.id: [(EarningRole.SHARER, CommissionStatus.SETTLED)],
        settled.id: [(EarningRole.SHARER, CommissionStatus.SETTLED)],
        clawed.id: [(EarningRole.SHARER, CommissionStatus.CLAWED_BACK)],
        cancelled.id: [(EarningRole.SHARER, CommissionStatus.REFUNDED)],
    }
    assert list(statuses) == sorted(statuses, reverse=True)  # newest order first
    (taken,) = next(
        o for o in commissions.list_commissions(m.session, m.sharer)[0] if o.order.id == clawed.id
    ).commissions
    assert (taken.earning.amount, taken.earning.clawed_back, taken.refunded, taken.kept) == (1000, 333, 0, 667)
    # The artist's commissions on the same orders are theirs: 20 % instead of 10 %.
    artist = _statuses(m, m.artist.id)
    assert artist[clawed.id] == [(EarningRole.ARTIST, CommissionStatus.CLAWED_BACK)]
    # Review rejects the held sale: forfeited to the brand.
    review.decide_hold(m.session, m.admin, held.lines[0].id, approve=False)
    assert _statuses(m, m.sharer.id)[held.id] == [(EarningRole.SHARER, CommissionStatus.FORFEITED)]
    assert_books_balanced(m.session)


def test_the_receipt_shows_click_rule_and_postings_that_add_up(market: Market, frozen: FrozenClock) -> None:
    m = market
    first = _bought(m, frozen)
    ship_and_deliver(m, first)
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    refunds.force_refund(m.session, m.admin, first.id, items=[RefundItem(first.lines[0].id, amount=2501)],
                         reason="dispute", provider=m.provider, notify_url=NOTIFY_URL)  # fmt: skip
    deliver(m)
    r = commissions.receipt(m.session, m.sharer, first.id, policy=m.policy)
    (line,) = r.lines
    assert line.source.rule == "last_click"
    assert line.source.click is not None
    assert line.source.click.click_id == first.lines[0].click_id
    assert line.source.click.target_kind == "video"
    assert line.source.click.clicked_at < first.created_at
    assert first.created_at - line.source.click.clicked_at <= r.attribution_window
    assert (line.commission.line.paid_amount, line.commission.rate_bp, line.commission.earning.amount) == (
        10_000, 1000, 1000,
    )  # fmt: skip
    # split +1000 pending; settled: -1000 pending, +1000 available; clawed back 250 (10 % of 2 501, rounded),
    # from the available balance it had not withdrawn.
    assert [(p.kind, p.account, p.amount) for p in r.postings] == [
        ("split", AccountKind.PENDING, 1000),
        ("settlement", AccountKind.PENDING, -1000),
        ("settlement", AccountKind.AVAILABLE, 1000),
        ("refund", AccountKind.AVAILABLE, -250),
    ]
    assert r.posted == r.kept == 750
    assert r.earned == 1000
    # The next purchase is credited through the binding the first click made.
    second = place(m)
    pay(m, second)
    (order,) = orders_of(m, second)
    bound = commissions.receipt(m.session, m.sharer, order.id, policy=m.policy)
    assert bound.lines[0].source.rule == "binding"
    assert bound.lines[0].source.bound_until is not None
    assert bound.posted == bound.kept == 1000
    # The artist's receipt names the video the purchase started from.
    art = commissions.receipt(m.session, m.artist, first.id, policy=m.policy)
    assert (art.lines[0].source.rule, art.lines[0].source.video_id, art.lines[0].source.video_title) == (
        "video_card", m.video.id, "夏日防晒",
    )  # fmt: skip
    assert art.posted == art.kept == 2000 - 500


def test_a_receipt_is_only_for_whoever_earned_it(market: Market, frozen: FrozenClock) -> None:
    m = market
    order = _bought(m, frozen)
    for stranger in (m.buyer, m.upstream, m.owner, m.user()):
        with pytest.raises(NotFound):
            commissions.receipt(m.session, stranger, order.id, policy=m.policy)
        assert commissions.list_commissions(m.session, stranger)[0] == []
    with pytest.raises(NotFound):
        commissions.receipt(m.session, m.sharer, 999_999, policy=m.policy)
