"""A brand's distributor programme on top of the money-path market: invite, accept, approve, bring, buy."""

from __future__ import annotations

from sqlalchemy import select

from commerce.attribution.links import TargetKind
from commerce.catalog.limits import CatalogLimits
from commerce.distribution import binding, service
from commerce.distribution.models import Distributor, DistributorStatus
from commerce.orders.models import Checkout, Earning, EarningRole, Order
from core import clock
from core.accounts.models import User
from tests.commerce.money import LINK_KEYS, Market, orders_of, pay, place, share_click

LIMITS = CatalogLimits()
BASE = "http://testserver"


def open_programme(m: Market, *, rate_bp: int = 1000, level2_bp: int = 0, days: int = 15,
                   renew: bool = True) -> service.Terms:  # fmt: skip
    return service.set_terms(m.session, m.owner, m.brand.id, binding_days=days, default_rate_bp=rate_bp,
                             level2_share_bp=level2_bp, limits=LIMITS, renew_on_purchase=renew)  # fmt: skip


def join(m: Market, user: User, *, inviter: User | None = None, approve: bool = True) -> Distributor:
    """`inviter` (a distributor, or the brand's owner) invites `user`, who accepts; the brand approves."""
    link = service.create_invite(m.session, inviter or m.owner, m.brand.id, keys=LINK_KEYS, base_url=BASE)
    d = service.accept_invite(m.session, user, link.token, keys=LINK_KEYS, store="徐汇店", region="上海")
    if approve:
        service.decide(m.session, m.owner, m.brand.id, d.id, status=DistributorStatus.APPROVED)
    return d


def bring(m: Market, d: Distributor, customer: User) -> bool:
    bound = binding.bring(m.session, d, customer.id, via="shop", now=clock.now())
    m.session.commit()
    return bound


def buy(m: Market, buyer: User, *, click_ids: tuple[str, ...] = ()) -> Order:
    checkout: Checkout = place(m, buyer=buyer, from_video=False, click_ids=click_ids, device=f"dev-{buyer.id}")
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    return order


def via_link(m: Market, d_user: User, buyer: User) -> str:
    return share_click(m, d_user, viewer=buyer, target=TargetKind.PRODUCT).click_id


def commissions(m: Market, order: Order) -> dict[tuple[EarningRole, int], int]:
    rows = m.session.scalars(select(Earning).where(Earning.order_id == order.id))
    return {(e.role, e.owner_id): e.amount for e in rows
            if e.role in (EarningRole.SHARER, EarningRole.SHARER_L2, EarningRole.ARTIST)}  # fmt: skip
