"""The order state machine. Every transition goes through `transition()` (or `transition_locked()`, for orders
locked as plain rows), which checks it is allowed and records who did it and when.

pending_payment ─┬─> paid ─┬─> shipped ──> delivered ──> completed
                 │         │        │            │
                 └─> cancelled <────┘ (paid, before shipping: refunded in full)
                 shipped / delivered / completed ──> refunded (every line refunded)
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from commerce.orders.models import Checkout, Earning, EarningStatus, Order, OrderEvent, OrderStatus
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_brand_member, require_user
from core.db import Rows, Statement, UTCDateTime, expire_loaded, is_postgres, write_together
from core.errors import Conflict, NotFound, register_messages
from core.pagination import keyset_page

register_messages(
    {
        "order_state": (
            "订单当前状态（{status}）不能执行此操作",
            "This cannot be done while the order is {status}",
        ),
    }
)

S = OrderStatus
ALLOWED: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({S.PENDING_PAYMENT}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),  # an admin's dispute refund after the window
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}


@dataclass(frozen=True)
class Actor:
    role: str  # buyer | brand | admin | system | provider
    user_id: int | None = None

    @classmethod
    def of(cls, role: str, user: User) -> Actor:
        return cls("admin" if user.is_admin and role != "buyer" else role, user.id)


SYSTEM = Actor("system")
PROVIDER = Actor("provider")


# The column each status stamps with the time the order reached it.
_STAMPS = {S.PAID: "paid_at", S.SHIPPED: "shipped_at", S.DELIVERED: "delivered_at", S.COMPLETED: "completed_at",
           S.CANCELLED: "cancelled_at"}  # fmt: skip


def transition(session: Session, order: Order, to: OrderStatus, actor: Actor, note: str = "") -> None:
    """Move `order` (locked by the caller) to `to`, stamping the time and recording the event."""
    if to not in ALLOWED[order.status]:
        raise Conflict("order_state", status=order.status.value)
    now = clock.now()
    _record(session, order.id, order.status, to, actor=actor, note=note, at=now)
    order.status = to
    if to in _STAMPS:
        setattr(order, _STAMPS[to], now)
    if to == S.CANCELLED:
        order.cancel_reason = note[:64] or None


def transition_locked(
    session: Session, current: Mapping[int, OrderStatus], to: OrderStatus, actor: Actor, note: str = ""
) -> dt.datetime:
    """`transition()` for orders the caller has locked without loading them as objects ({id: status}): their
    UPDATE and the insert of their events, one round trip on PostgreSQL. Returns the time stamped."""
    now = clock.now()
    write_together(session, transition_writes(current, to, actor, note, now))
    expire_loaded(session, Order, current)
    return now


def transition_writes(
    current: Mapping[int, OrderStatus], to: OrderStatus, actor: Actor, note: str, now: dt.datetime
) -> list[Rows | Statement]:
    """The statements of `transition_locked` (checked, not run), for a caller that writes them along with its own
    (`core.db.write_together`) and then calls `expire_loaded` on the orders."""
    for status in current.values():
        if to not in ALLOWED[status]:
            raise Conflict("order_state", status=status.value)
    return [
        Statement(_set_status_statement(to), {"ids": list(current), "new_status": to, "at": now,
                                              "reason": note[:64] or None}),
        Rows(
            OrderEvent.__table__,
            [{"order_id": order_id, "from_status": status, "to_status": to, "actor_id": actor.user_id,
              "actor_role": actor.role, "note": note[:200], "at": now} for order_id, status in current.items()],
        ),
    ]  # fmt: skip


@functools.cache
def _set_status_statement(to: OrderStatus) -> Any:
    """Orders (`:ids`) to a status, stamped with its time (and, for a cancellation, its reason)."""
    orders = Order.__table__
    values: dict[str, Any] = {"status": bindparam("new_status")}
    if to in _STAMPS:
        values[_STAMPS[to]] = bindparam("at", type_=UTCDateTime())
    if to == S.CANCELLED:
        values["cancel_reason"] = bindparam("reason")
    return update(orders).where(orders.c.id.in_(bindparam("ids", expanding=True))).values(values)


def _record(
    session: Session,
    order_id: int,
    from_status: OrderStatus | None,
    to: OrderStatus,
    *,
    actor: Actor,
    note: str,
    at: dt.datetime,
) -> None:
    # A plain INSERT: the event is never read back in the same unit of work, so it needs no ORM object.
    session.execute(
        _INSERT_EVENT,
        {"order_id": order_id, "from_status": from_status, "to_status": to, "actor_id": actor.user_id,
         "actor_role": actor.role, "note": note[:200], "at": at},
    )  # fmt: skip


def created_write(order_ids: Sequence[int], buyer: User, at: dt.datetime) -> Rows:
    """The first event of new orders, placed by their buyer: one insert for all of a checkout's orders."""
    actor = Actor.of("buyer", buyer)
    return Rows(
        OrderEvent.__table__,
        [{"order_id": order_id, "from_status": None, "to_status": S.PENDING_PAYMENT, "actor_id": actor.user_id,
          "actor_role": actor.role, "note": "", "at": at} for order_id in order_ids]
    )  # fmt: skip


# `inline()`: no RETURNING of the new ids (a single-row Core INSERT fetches its key otherwise); nobody reads them.
_INSERT_EVENT = insert(OrderEvent.__table__).inline()


def lock_order(session: Session, order_id: int) -> Order:
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("order")
    return order


def lock_checkout_orders(session: Session, checkout_id: int) -> list[Order]:
    """Every order of a checkout with its lines, locked in id order (the fixed lock order of every money path)."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.checkout_id == checkout_id)
            .options(joinedload(Order.lines))
            .order_by(Order.id)
            .with_for_update(of=Order)
            .execution_options(populate_existing=True)
        ).unique()
    )


def release_reservation(session: Session, order: Order) -> None:
    """Give an unpaid order's stock and coupon use back. Only ever called on the way out of pending_payment."""
    from commerce.catalog.models import Sku
    from commerce.marketing import bargains, coupons, flash_sales, group_buys

    held_by_sale = flash_sales.release_for_order(session, order.id)  # back to their flash sale, not the SKU
    bargains.release_for_order(session, order.id)  # the bargain runs again for the rest of its window
    group_buys.release_for_order(session, order.id)  # a 拼团 seat can check out again
    for line in sorted(order.lines, key=lambda ln: ln.sku_id):
        if line.sku_id in held_by_sale:
            continue
        session.execute(
            update(Sku)
            .where(Sku.id == line.sku_id)
            .values(stock=Sku.stock + line.quantity)
            .execution_options(synchronize_session=False)
        )
    coupons.give_back(session, order.id, only_valid=False)  # never paid: every coupon back, in its window or not


def cancel_unpaid(session: Session, order: Order, actor: Actor, reason: str) -> bool:
    if order.status != S.PENDING_PAYMENT:
        return False
    transition(session, order, S.CANCELLED, actor, reason)
    release_reservation(session, order)
    return True


def _buyer_order(session: Session, user: User | None, order_id: int) -> tuple[User, Order]:
    user = require_user(user)
    order = lock_order(session, order_id)
    if order.buyer_id != user.id and not user.is_admin:
        raise NotFound("order")
    return user, order


def _brand_order(session: Session, user: User | None, order_id: int) -> tuple[User, Order]:
    user = require_user(user)
    order = lock_order(session, order_id)
    require_brand_member(session, user, order.brand_id)
    return user, order


def ship(session: Session, user: User | None, order_id: int, *, carrier: str, tracking_no: str) -> Order:
    from commerce.marketing import group_buys

    user, order = _brand_order(session, user, order_id)
    group_buys.refuse_while_waiting(session, order.id)  # a 拼团 order ships once its group has filled
    transition(session, order, S.SHIPPED, Actor.of("brand", user), f"{carrier} {tracking_no}")
    order.carrier, order.tracking_no = carrier.strip()[:40], tracking_no.strip()[:64]
    session.commit()
    return order


def _deliver(session: Session, order: Order, actor: Actor, return_window: dt.timedelta, note: str) -> None:
    transition(session, order, S.DELIVERED, actor, note)
    assert order.delivered_at is not None
    order.return_window_ends_at = order.delivered_at + return_window
    # The commissions and the brand's proceeds become due when the return window closes.
    session.execute(
        update(Earning)
        .where(Earning.order_id == order.id, Earning.status.in_([EarningStatus.PENDING, EarningStatus.HELD]))
        .values(settle_after=order.return_window_ends_at)
        .execution_options(synchronize_session=False)
    )


def confirm_delivery(session: Session, user: User | None, order_id: int, *, return_window: dt.timedelta) -> Order:
    user, order = _buyer_order(session, user, order_id)
    _deliver(session, order, Actor.of("buyer", user), return_window, "confirmed by buyer")
    session.commit()
    return order


def auto_confirm_due(
    session: Session, *, auto_confirm: dt.timedelta, return_window: dt.timedelta, limit: int = 200
) -> int:
    """Shipped orders the buyer never confirmed are confirmed `auto_confirm` after shipping. Commits."""
    stmt = (
        select(Order)
        .where(Order.status == S.SHIPPED, Order.shipped_at <= clock.now() - auto_confirm)
        .order_by(Order.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    orders = list(session.scalars(stmt))
    for order in orders:
        _deliver(session, order, SYSTEM, return_window, "auto-confirmed")
    session.commit()
    return len(orders)


def refund_window_open(order: Order) -> bool:
    """The buyer may still ask for a refund: paid, on its way, or delivered with the return window running."""
    if order.status not in (S.PAID, S.SHIPPED, S.DELIVERED):
        return False
    ends = order.return_window_ends_at
    return not (order.status == S.DELIVERED and ends is not None and clock.now() >= ends)


def get_order(session: Session, user: User | None, order_id: int) -> Order:
    """The buyer, a member of the selling brand, or an admin may read an order."""
    user = require_user(user)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order")
    if order.buyer_id != user.id and not user.is_admin and order.brand_id not in user.brand_ids():
        raise NotFound("order")
    return order


def get_checkout(session: Session, user: User | None, checkout_id: int) -> Checkout:
    user = require_user(user)
    checkout = session.get(Checkout, checkout_id)
    if checkout is None or (checkout.buyer_id != user.id and not user.is_admin):
        raise NotFound("checkout")
    return checkout


def events(session: Session, order_id: int) -> list[OrderEvent]:
    return list(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))


def require_seller_or_buyer(user: User, order: Order) -> str:
    """The caller's part in the order; to anyone else the order does not exist (as `get_order` says)."""
    if order.buyer_id == user.id:
        return "buyer"
    if order.brand_id in user.brand_ids():
        return "brand"
    if user.is_admin:
        return "admin"
    raise NotFound("order")


def list_orders(
    session: Session,
    user: User | None,
    *,
    brand_id: int | None = None,
    status: OrderStatus | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Order], str | None]:
    """The caller's purchases, or (with `brand_id`) the brand's sales for its members; newest first."""
    user = require_user(user)
    stmt = select(Order)
    if brand_id is None:
        stmt = stmt.where(Order.buyer_id == user.id)
    else:
        require_brand_member(session, user, brand_id)
        stmt = stmt.where(Order.brand_id == brand_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    return keyset_page(session, stmt, [(Order.id, True)], lambda o: [o.id], cursor=cursor, limit=limit)
