"""Commission at each level through the one split; recruiting can never pay; never more than two levels."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from commerce.distribution import service
from commerce.distribution.models import Distributor
from commerce.ledger import AccountKind
from commerce.ledger.models import LedgerAccount, OwnerKind
from commerce.orders import commissions as receipts
from commerce.orders.models import Earning, EarningRole
from commerce.owners import Owner
from core.clock import FrozenClock
from core.money import BP_WHOLE, apply_bp
from tests.commerce.distribution.helpers import LIMITS, bring, buy, commissions, join, open_programme
from tests.commerce.money import Market, assert_books_balanced, owner_balances


def test_level_one_and_level_two_commission(market: Market, frozen: FrozenClock) -> None:
    m = market
    open_programme(m, rate_bp=1000, level2_bp=2000)
    join(m, m.upstream)
    down = join(m, m.sharer, inviter=m.upstream)
    bring(m, down, m.buyer)
    order = buy(m, m.buyer)
    paid = order.total
    total = apply_bp(paid, 1000)
    got = commissions(m, order)
    assert got[(EarningRole.SHARER_L2, m.upstream.id)] == apply_bp(total, 2000)
    assert got[(EarningRole.SHARER, m.sharer.id)] == total - apply_bp(total, 2000)
    assert owner_balances(m.session, Owner.user(m.sharer.id))[AccountKind.PENDING] == total - apply_bp(total, 2000)
    assert_books_balanced(m.session)
    # Each one's receipt names the rule that paid them.
    mine = receipts.receipt(m.session, m.sharer, order.id, policy=m.policy)
    theirs = receipts.receipt(m.session, m.upstream, order.id, policy=m.policy)
    assert [x.source.rule for x in mine.lines] == ["distributor"]
    assert [x.source.rule for x in theirs.lines] == ["distributor_inviter"]
    assert mine.posted == mine.kept


def test_per_product_rate_wins_and_one_level_programme_pays_no_inviter(market: Market) -> None:
    m = market
    service.set_terms(m.session, m.owner, m.brand.id, binding_days=15, default_rate_bp=1000,
                      rates=[(m.product.id, 1800)], limits=LIMITS)  # fmt: skip
    join(m, m.upstream)
    down = join(m, m.sharer, inviter=m.upstream)
    bring(m, down, m.buyer)
    order = buy(m, m.buyer)
    assert commissions(m, order) == {(EarningRole.SHARER, m.sharer.id): apply_bp(order.total, 1800)}


def test_recruiting_pays_nothing(market: Market) -> None:
    """No fee to join, no reward when a downline joins, no rebate on a downline's own purchase."""
    m = market
    open_programme(m, rate_bp=1000, level2_bp=3000)
    join(m, m.upstream)
    accounts = select(LedgerAccount.id).where(
        LedgerAccount.owner_kind == OwnerKind.USER, LedgerAccount.owner_id.in_([m.upstream.id, m.sharer.id])
    )
    assert m.session.scalar(accounts) is None
    down = join(m, m.sharer, inviter=m.upstream)
    assert m.session.scalar(accounts) is None  # joining (and being recruited) posted nothing to anyone
    own = buy(m, m.sharer)  # the downline buys for themselves
    assert commissions(m, own) == {}
    assert down.inviter_id is not None
    assert_books_balanced(m.session)


@st.composite
def trees(draw: st.DrawFn) -> list[int | None]:
    """A random distributor tree: parent index of each distributor (None: invited by the brand)."""
    n = draw(st.integers(min_value=1, max_value=6))
    return [None if i == 0 else draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(n)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees(), rate=st.integers(LIMITS.rate_min_bp, LIMITS.rate_max_bp), level2=st.integers(0, 5000),
       seller=st.integers(0, 5), qty=st.integers(1, 3))  # fmt: skip
def test_any_tree_pays_at_most_the_rate_and_two_levels(  # noqa: PLR0917 (hypothesis draws each as an argument)
    market: Market, frozen: FrozenClock, tree: list[int | None], rate: int, level2: int, seller: int, qty: int
) -> None:
    m = market
    m.sku.stock = 1000
    m.session.commit()
    open_programme(m, rate_bp=rate, level2_bp=level2)
    users = [m.user() for _ in tree]
    dists: list[Distributor] = []
    for i, parent in enumerate(tree):
        dists.append(join(m, users[i], inviter=users[parent] if parent is not None else None))
    d = dists[seller % len(dists)]
    customer = m.user()
    assert bring(m, d, customer)
    from tests.commerce.money import orders_of, pay, place

    checkout = place(m, buyer=customer, qty=qty, from_video=False, device=f"dev-{customer.id}")
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    earned = m.session.scalars(select(Earning).where(Earning.order_id == order.id,
                               Earning.role.in_((EarningRole.SHARER, EarningRole.SHARER_L2)))).all()  # fmt: skip
    paid = sum(e.amount for e in earned)
    # Never more than the rate (less than one fen above its exact value, which largest remainder may round up to).
    assert paid * BP_WHOLE < order.total * rate + BP_WHOLE
    assert paid * BP_WHOLE > order.total * rate - BP_WHOLE  # and the bound customer's distributor is paid it
    payees = {e.owner_id for e in earned}
    assert len(payees) <= 2
    allowed = {d.user_id}
    if d.inviter_id is not None and level2:
        allowed.add(next(x.user_id for x in dists if x.id == d.inviter_id))
    assert payees <= allowed
    frozen.advance(seconds=dt.timedelta(minutes=1).total_seconds())
