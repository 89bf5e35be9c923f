"""Reports: brand sales per store and distributor, the distributor's own view, and compliance from the ledger."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce.distribution import reports
from commerce.ledger import AccountKind, AccountRef, Leg, post
from commerce.orders import refunds
from commerce.orders.models import EarningRole
from commerce.owners import Owner
from core import clock
from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied
from tests.commerce.distribution.helpers import bring, buy, commissions, join, open_programme
from tests.commerce.money import NOTIFY_URL, Market, deliver


def _two_levels(m: Market):  # type: ignore[no-untyped-def]
    open_programme(m, rate_bp=1000, level2_bp=2500)
    up = join(m, m.upstream)
    down = join(m, m.sharer, inviter=m.upstream)
    down.store = "静安店"
    m.session.commit()
    bring(m, down, m.buyer)
    return up, down


def test_compliance_is_read_from_ledger_postings(market: Market, frozen: FrozenClock) -> None:
    m = market
    _two_levels(m)
    order = buy(m, m.buyer)
    got = commissions(m, order)
    report = reports.compliance(m.session, m.owner, m.brand.id)
    assert report.levels_in_use == [1, 2]
    assert report.paid_by_level == {1: got[(EarningRole.SHARER, m.sharer.id)],
                                    2: got[(EarningRole.SHARER_L2, m.upstream.id)]}  # fmt: skip
    assert report.recruitment_rewards == 0
    assert report.own_purchase_rebates == 0
    assert report.postings_checked >= 2
    # A refund reverses the commissions: the report follows the ledger, not the rates on file.
    refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)
    deliver(m)
    after = reports.compliance(m.session, m.owner, m.brand.id)
    assert after.paid_by_level == {1: 0, 2: 0}
    assert after.levels_in_use == []


def test_money_given_to_a_distributor_outside_a_sale_shows_as_a_recruitment_reward(market: Market) -> None:
    """The check can fail: a posting no sale explains (say a joining bonus) is found and counted."""
    m = market
    _two_levels(m)
    post(m.session, key="test:bonus", kind="bonus", legs=[
        Leg(AccountRef.platform(AccountKind.MARKETING), -888),
        Leg(Owner.user(m.upstream.id).account(AccountKind.AVAILABLE), 888)])  # fmt: skip
    m.session.commit()
    assert reports.compliance(m.session, m.owner, m.brand.id).recruitment_rewards == 888


def test_brand_sales_by_distributor_and_store_and_the_distributors_dashboard(market: Market) -> None:
    m = market
    up, down = _two_levels(m)
    order = buy(m, m.buyer)
    got = commissions(m, order)
    sales = reports.brand_sales(m.session, m.owner, m.brand.id)
    (row,) = [r for r in sales.by_distributor if r.distributor_id == down.id]
    assert (row.orders, row.gmv, row.store) == (1, order.total, "静安店")
    assert row.commission == got[(EarningRole.SHARER, m.sharer.id)]
    assert {s.store: s.gmv for s in sales.by_store} == {"静安店": order.total}
    mine = reports.dashboard(m.session, m.sharer, down.id)
    assert [(o.order_id, o.level) for o in mine.orders] == [(order.id, 1)]
    assert mine.customers == 1
    assert mine.earned == got[(EarningRole.SHARER, m.sharer.id)]
    theirs = reports.dashboard(m.session, m.upstream, up.id)
    assert [(o.order_id, o.level) for o in theirs.orders] == [(order.id, 2)]
    assert theirs.earned == got[(EarningRole.SHARER_L2, m.upstream.id)]
    with pytest.raises(NotFound):
        reports.dashboard(m.session, m.upstream, down.id)
    with pytest.raises(PermissionDenied):
        reports.brand_sales(m.session, m.sharer, m.brand.id)


def test_reports_count_orders_paid_in_the_range_default_the_last_30_days(market: Market, frozen: FrozenClock) -> None:
    m = market
    m.sku.stock = 100
    _up, down = _two_levels(m)
    old = buy(m, m.buyer)  # paid on day 0
    frozen.advance(days=31)
    bring(m, down, m.buyer)  # bound again (the binding's 15 days have passed)
    recent = buy(m, m.buyer)  # paid on day 31
    today = clock.now().date()
    mine = commissions(m, recent)[(EarningRole.SHARER, m.sharer.id)]
    # By default: the last 30 days, today included, so only the recent order.
    sales = reports.brand_sales(m.session, m.owner, m.brand.id)
    assert (sales.period.since, sales.period.until) == (today - dt.timedelta(days=29), today)
    assert sales.gmv == recent.total
    dash = reports.dashboard(m.session, m.sharer, down.id)
    assert [o.order_id for o in dash.orders] == [recent.id]
    assert dash.earned == mine
    # A range covering both, then one covering only the first day.
    both = reports.Period(today - dt.timedelta(days=31), today)
    assert reports.brand_sales(m.session, m.owner, m.brand.id, both).gmv == old.total + recent.total
    assert {o.order_id for o in reports.dashboard(m.session, m.sharer, down.id, both).orders} == {old.id, recent.id}
    first = reports.Period(today - dt.timedelta(days=31), today - dt.timedelta(days=31))
    (row,) = reports.brand_sales(m.session, m.owner, m.brand.id, first).by_distributor
    assert (row.orders, row.gmv) == (1, old.total)
    assert [o.order_id for o in reports.dashboard(m.session, m.sharer, down.id, first).orders] == [old.id]
    empty = reports.Period(today - dt.timedelta(days=20), today - dt.timedelta(days=1))
    assert reports.brand_sales(m.session, m.owner, m.brand.id, empty).by_distributor == []
    assert reports.dashboard(m.session, m.sharer, down.id, empty).earned == 0
