"""Customer binding (锁客): first distributor wins for the programme's days; no self-binding; per brand."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select

from commerce.distribution import binding
from commerce.distribution.models import Binding
from commerce.orders.models import EarningRole
from core import clock
from core.clock import FrozenClock, use_clock
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


def _bound_to(m: Market) -> int | None:
    d = binding.bound_distributor(m.session, m.brand.id, m.buyer.id, clock.now())
    return d.id if d is not None else None


def test_a_lapsed_binding_frees_the_customer_for_the_next_distributors_link(market: Market) -> None:
    m = market
    with use_clock(FrozenClock(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC))) as c:
        assert isinstance(c, FrozenClock)
        open_programme(m, days=7, rate_bp=1200)
        first, second = join(m, m.sharer), join(m, m.upstream)
        assert bring(m, first, m.buyer)
        c.advance(days=7, seconds=-1)
        assert _bound_to(m) == first.id  # the last second of the seventh day
        assert not bring(m, second, m.buyer)
        c.advance(seconds=1)
        assert _bound_to(m) is None  # lapsed
        click = via_link(m, m.upstream, m.buyer)
        c.advance(seconds=60)
        order = buy(m, m.buyer, click_ids=(click,))  # the second distributor's link binds them at checkout
        assert commissions(m, order) == {(EarningRole.SHARER, m.upstream.id): 1200}
        assert _bound_to(m) == second.id


def test_a_paid_order_renews_the_binding_when_the_programme_says_so(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m, days=10, rate_bp=1000)
    first, second = join(m, m.sharer), join(m, m.upstream)
    assert bring(m, first, m.buyer)
    start = clock.now()
    frozen.advance(days=8)
    buy(m, m.buyer)  # paid on day 8: bound for ten days from the payment
    (b,) = m.session.scalars(select(Binding).where(Binding.customer_id == m.buyer.id))
    assert b.expires_at == clock.now() + dt.timedelta(days=10)
    frozen.advance(days=4)  # day 12: past the first ten days, still bound
    assert _bound_to(m) == first.id
    assert not bring(m, second, m.buyer)
    later = buy(m, m.buyer)
    assert commissions(m, later) == {(EarningRole.SHARER, m.sharer.id): 1000}
    frozen.advance(days=10, seconds=1)  # ten days after the last payment
    assert _bound_to(m) is None
    assert bring(m, second, m.buyer)
    assert clock.now() - start > dt.timedelta(days=20)


def test_without_renewal_a_paid_order_leaves_the_binding_as_it_was(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m, days=10, renew=False)
    first, second = join(m, m.sharer), join(m, m.upstream)
    assert bring(m, first, m.buyer)
    frozen.advance(days=8)
    order = buy(m, m.buyer)
    assert commissions(m, order) == {(EarningRole.SHARER, m.sharer.id): 1000}
    frozen.advance(days=2, seconds=1)
    assert _bound_to(m) is None  # ten days from the visit, whatever they bought
    assert bring(m, second, m.buyer)
    assert _bound_to(m) == second.id


def test_another_distributors_sale_does_not_renew_someone_elses_binding(market: Market, frozen: FrozenClock) -> None:
    """A paid order renews only the binding of the distributor it credits (a brand member's own link, say,
    credits no distributor and renews nothing)."""
    m = market
    open_programme(m, days=10)
    first = join(m, m.sharer)
    assert bring(m, first, m.buyer)
    (b,) = m.session.scalars(select(Binding).where(Binding.customer_id == m.buyer.id))
    until = b.expires_at
    lines = [SimpleNamespace(sharer_via=binding.VIA, sharer_id=m.upstream.id, sharer_blocked=None)]
    binding.renew_on_payment(m.session, m.brand.id, m.buyer.id, lines, clock.now())
    assert b.expires_at == until
    lines = [SimpleNamespace(sharer_via=binding.VIA, sharer_id=m.sharer.id, sharer_blocked="self_dealing")]
    frozen.advance(days=1)
    binding.renew_on_payment(m.session, m.brand.id, m.buyer.id, lines, clock.now())
    assert b.expires_at == until  # a blocked credit renews nothing either
    lines = [SimpleNamespace(sharer_via=binding.VIA, sharer_id=m.sharer.id, sharer_blocked=None)]
    binding.renew_on_payment(m.session, m.brand.id, m.buyer.id, lines, clock.now())
    assert b.expires_at == clock.now() + dt.timedelta(days=10)


def test_a_suspended_distributors_customer_is_free_for_the_next_one(market: Market) -> None:
    m = market
    open_programme(m)
    first, second = join(m, m.sharer), join(m, m.upstream)
    assert bring(m, first, m.buyer)
    assert not bring(m, second, m.buyer)
    from commerce.distribution import service
    from commerce.distribution.models import DistributorStatus

    service.decide(m.session, m.owner, m.brand.id, first.id, status=DistributorStatus.SUSPENDED)
    assert bring(m, second, m.buyer)
    assert _bound_to(m) == second.id
    service.decide(m.session, m.owner, m.brand.id, first.id, status=DistributorStatus.APPROVED)
    assert _bound_to(m) == second.id  # reinstating the first does not take the customer back
    assert not bring(m, first, m.buyer)
