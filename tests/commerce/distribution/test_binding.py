"""Customer binding (锁客): first distributor wins for the programme's days; no self-binding; per brand."""

from __future__ import annotations

import datetime as dt

from commerce.distribution import binding
from commerce.orders.models import EarningRole
from core import clock
from core.clock import FrozenClock
from tests import factories
from tests.commerce.distribution.helpers import bring, buy, commissions, join, open_programme, via_link
from tests.commerce.money import Market


def test_first_distributor_binds_for_the_configured_days(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m, days=10)
    first, second = join(m, m.sharer), join(m, m.upstream)
    assert bring(m, first, m.buyer)
    assert not bring(m, second, m.buyer)  # held by the first
    assert binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now()).id == first.id  # type: ignore[union-attr]
    frozen.advance(seconds=dt.timedelta(days=10, seconds=1).total_seconds())
    assert binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now()) is None
    assert bring(m, second, m.buyer)  # free again: the next one to bring them
    assert binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now()).id == second.id  # type: ignore[union-attr]


def test_no_self_binding_and_distributors_are_nobodys_customers(market: Market) -> None:
    m = market
    open_programme(m)
    d, other = join(m, m.sharer), join(m, m.upstream)
    assert not bring(m, d, m.sharer)
    assert not bring(m, other, m.sharer)
    assert binding.bound_distributor(m.session, m.brand.id, m.sharer.id, clock.now()) is None


def test_binding_is_per_brand_and_a_suspended_distributor_holds_nobody(market: Market) -> None:
    m = market
    open_programme(m)
    d = join(m, m.sharer)
    assert bring(m, d, m.buyer)
    other_brand = factories.brand(m.session, owner=factories.user(m.session))
    assert binding.bound_distributor(m.session, other_brand.id, m.buyer.id, clock.now()) is None
    from commerce.distribution import service
    from commerce.distribution.models import DistributorStatus

    service.decide(m.session, m.owner, m.brand.id, d.id, status=DistributorStatus.SUSPENDED)
    assert binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now()) is None


def test_a_click_on_a_distributors_link_binds_at_checkout_and_later_purchases_credit_them(
    market: Market, frozen: FrozenClock
) -> None:
    m = market
    open_programme(m, rate_bp=1500)
    d, other = join(m, m.sharer), join(m, m.upstream)
    frozen.advance(seconds=60)
    click = via_link(m, m.sharer, m.buyer)
    frozen.advance(seconds=60)
    first = buy(m, m.buyer, click_ids=(click,))
    assert commissions(m, first) == {(EarningRole.SHARER, m.sharer.id): 1500}
    assert binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now()).id == d.id  # type: ignore[union-attr]
    # Another distributor's link later does not take the customer over while the binding lasts.
    frozen.advance(seconds=dt.timedelta(days=1).total_seconds())
    theirs = via_link(m, m.upstream, m.buyer)
    frozen.advance(seconds=60)
    later = buy(m, m.buyer, click_ids=(theirs,))
    assert commissions(m, later) == {(EarningRole.SHARER, m.sharer.id): 1500}
    assert other.id != d.id
