"""Distribution reports: the brand's sales per store and distributor, a distributor's own orders, customers and
earnings, and the compliance report.

Sales count what buyers paid net of refunds on paid orders whose lines credit a distributor. The compliance
report is read from the ledger, not from the programme's settings: every posting to a distributor's accounts
is explained as a level-1 or level-2 commission on a sale of the brand, or else counted as something paid for
joining or recruiting. That count is always zero here (the programme has no fee, no joining reward, and pays no
one on a distributor's own purchase); the report says so and shows the sums it checked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from commerce.distribution.binding import VIA
from commerce.distribution.models import Binding, Distributor
from commerce.ledger.models import LedgerAccount, LedgerPosting, LedgerTransaction, OwnerKind
from commerce.orders.models import Earning, EarningRole, Order, OrderLine, OrderStatus
from commerce.reports import Period
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.errors import NotFound

PAID = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.REFUNDED,
        OrderStatus.CANCELLED)  # fmt: skip
DEFAULT_DAYS = 30
# Ledger kinds that move a holder's own money around (withdrawals), not pay them anything.
_PAYOUT_KINDS = ("payout", "payout_failed", "payout_paid")


@dataclass
class SalesRow:
    key: str  # a store name, or a distributor's name
    distributor_id: int | None
    store: str
    region: str
    orders: int = 0
    gmv: int = 0
    commission: int = 0


def last_days(days: int = DEFAULT_DAYS) -> Period:
    """The default report range: the last `days` days (UTC), today included."""
    until = clock.now().date()
    return Period(until - dt.timedelta(days=days - 1), until)


def _paid_in(period: Period) -> ColumnElement[bool]:
    return Order.paid_at.is_not(None) & (Order.paid_at >= period.start) & (Order.paid_at < period.end)


def _paid_lines(brand_id: int, period: Period):  # type: ignore[no-untyped-def]
    return (
        select(OrderLine.order_id, OrderLine.sharer_id, OrderLine.paid_amount - OrderLine.refunded_amount)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.brand_id == brand_id, _paid_in(period), OrderLine.sharer_via == VIA)
    )


def _commission_by_order_user(session: Session, order_ids: set[int]) -> dict[tuple[int, int], int]:
    if not order_ids:
        return {}
    rows = session.execute(
        select(Earning.order_id, Earning.owner_id, func.sum(Earning.amount - Earning.reversed_amount))
        .where(Earning.order_id.in_(order_ids), Earning.owner_kind == OwnerKind.USER,
               Earning.role.in_((EarningRole.SHARER, EarningRole.SHARER_L2)))
        .group_by(Earning.order_id, Earning.owner_id)
    )  # fmt: skip
    return {(int(o), int(u)): int(a) for o, u, a in rows}


@dataclass(frozen=True)
class BrandSales:
    by_distributor: list[SalesRow]
    by_store: list[SalesRow]
    period: Period

    @property
    def gmv(self) -> int:
        return sum(r.gmv for r in self.by_distributor)


def brand_sales(session: Session, user: User | None, brand_id: int, period: Period | None = None) -> BrandSales:
    """Sales of orders paid in `period` (default: the last 30 days) per distributor and per store."""
    require_brand_member(session, user, brand_id)
    period = period or last_days()
    people = {
        d.user_id: (d, u)
        for d, u in session.execute(
            select(Distributor, User).join(User, User.id == Distributor.user_id).where(Distributor.brand_id == brand_id)
        )
    }
    rows = list(session.execute(_paid_lines(brand_id, period)))
    earned = _commission_by_order_user(session, {int(r[0]) for r in rows})
    per: dict[int, SalesRow] = {}
    orders: dict[int, set[int]] = defaultdict(set)
    for order_id, sharer_id, net in rows:
        if sharer_id not in people:
            continue
        d, u = people[sharer_id]
        row = per.setdefault(sharer_id, SalesRow(u.display_name, d.id, d.store, d.region))
        row.gmv += int(net)
        orders[sharer_id].add(int(order_id))
    for sharer_id, row in per.items():
        row.orders = len(orders[sharer_id])
        row.commission = sum(earned.get((o, sharer_id), 0) for o in orders[sharer_id])
        # the level-2 part belongs to the inviter's row
    for (order_id, owner), amount in earned.items():
        if owner in per and order_id not in orders[owner]:
            per[owner].commission += amount
    stores: dict[str, SalesRow] = {}
    for row in per.values():
        s = stores.setdefault(row.store, SalesRow(row.store, None, row.store, row.region))
        s.orders += row.orders
        s.gmv += row.gmv
        s.commission += row.commission
    return BrandSales(
        sorted(per.values(), key=lambda r: (-r.gmv, r.key)), sorted(stores.values(), key=lambda r: -r.gmv), period
    )


@dataclass(frozen=True)
class MyOrder:
    order_id: int
    created_at: object
    total: int
    status: str
    level: int
    commission: int


@dataclass(frozen=True)
class Dashboard:
    distributor: Distributor
    orders: list[MyOrder]
    customers: int  # bound now
    earned: int  # commissions kept (net of refunds), both levels, on orders paid in `period`
    period: Period
    by_level: dict[int, int] = field(default_factory=dict)


def dashboard(session: Session, user: User | None, distributor_id: int, period: Period | None = None) -> Dashboard:
    """The distributor's own orders paid in `period` (default: the last 30 days) as level 1 or 2, customers bound
    now, and earnings on those orders (paid out through the wallet like every other earning)."""
    user = require_user(user)
    period = period or last_days()
    d = session.get(Distributor, distributor_id)
    if d is None or d.user_id != user.id:
        raise NotFound("distributor", code="distribution_not_distributor")
    lines = session.execute(
        select(Order.id, Order.created_at, Order.total, Order.status, OrderLine.sharer_id, OrderLine.parent_sharer_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.brand_id == d.brand_id, _paid_in(period), OrderLine.sharer_via == VIA,
               (OrderLine.sharer_id == user.id) | (OrderLine.parent_sharer_id == user.id))
        .order_by(Order.id.desc())
    ).all()  # fmt: skip
    earned = _commission_by_order_user(session, {int(r[0]) for r in lines})
    seen: dict[int, MyOrder] = {}
    for oid, created, total, status, sharer, _parent in lines:
        if oid not in seen:
            seen[oid] = MyOrder(oid, created, total, status.value, 1 if sharer == user.id else 2,
                                earned.get((oid, user.id), 0))  # fmt: skip
    by_level: dict[int, int] = defaultdict(int)
    for o in seen.values():
        by_level[o.level] += o.commission
    customers = session.scalar(
        select(func.count(func.distinct(Binding.customer_id)))
        .where(Binding.distributor_id == d.id, Binding.expires_at > clock.now())
    ) or 0  # fmt: skip
    return Dashboard(d, list(seen.values()), int(customers), sum(by_level.values()), period, dict(by_level))


@dataclass(frozen=True)
class Compliance:
    levels_in_use: list[int]  # levels that were actually paid (from the ledger)
    paid_by_level: dict[int, int]  # fen, net of refunds, per level
    recruitment_rewards: int  # fen paid to distributors for anything but a commission on a sale: always 0
    own_purchase_rebates: int  # fen paid on a distributor's own purchase: always 0
    distributors: int
    postings_checked: int


def compliance(session: Session, user: User | None, brand_id: int) -> Compliance:
    """Levels paid, commission per level and rewards for recruiting, all from ledger postings."""
    require_brand_member(session, user, brand_id)
    members = set(session.scalars(select(Distributor.user_id).where(Distributor.brand_id == brand_id)))
    paid: dict[int, int] = defaultdict(int)
    rewards = rebates = checked = 0
    if members:
        postings = session.execute(
            select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.order_id, LedgerAccount.owner_id,
                   func.sum(LedgerPosting.amount), func.count(LedgerPosting.id))
            .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerAccount.owner_kind == OwnerKind.USER, LedgerAccount.owner_id.in_(members))
            .group_by(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.order_id, LedgerAccount.owner_id)
        ).all()  # fmt: skip
        order_ids = {int(r[2]) for r in postings if r[2] is not None}
        orders = {
            int(o.id): o for o in session.execute(
                select(Order.id, Order.brand_id, Order.buyer_id).where(Order.id.in_(order_ids))
            )
        } if order_ids else {}  # fmt: skip
        roles: dict[tuple[int, int], int] = {}
        if order_ids:
            for oid, sharer, parent in session.execute(
                select(OrderLine.order_id, OrderLine.sharer_id, OrderLine.parent_sharer_id)
                .where(OrderLine.order_id.in_(order_ids), OrderLine.sharer_via == VIA)
            ):  # fmt: skip
                if sharer is not None:
                    roles[(int(oid), int(sharer))] = 1
                if parent is not None:
                    roles.setdefault((int(oid), int(parent)), 2)
        for _tid, kind, order_id, owner, amount, count in postings:
            checked += int(count)
            net = int(amount)
            if order_id is None:
                if kind not in _PAYOUT_KINDS and net > 0:
                    rewards += net  # money given to a distributor outside any sale
                continue
            order = orders.get(int(order_id))
            if order is None or order.brand_id != brand_id:
                continue  # their earnings on other brands' sales are none of this programme's business
            level = roles.get((int(order_id), int(owner)))
            if level is None:
                continue  # an artist's or ordinary sharer's commission, not the programme's
            if order.buyer_id in members:
                rebates += max(net, 0)
            paid[level] += net
    return Compliance(
        levels_in_use=sorted(lv for lv, v in paid.items() if v), paid_by_level={1: paid.get(1, 0), 2: paid.get(2, 0)},
        recruitment_rewards=rewards, own_purchase_rebates=rebates, distributors=len(members), postings_checked=checked,
    )  # fmt: skip


__all__ = ["BrandSales", "Compliance", "Dashboard", "Period", "brand_sales", "compliance", "dashboard", "last_days"]
