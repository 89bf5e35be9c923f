"""Settlement: when an order's return window has closed, its shares move from pending to available.

A beat job scans `earnings` rows (never countdown tasks). On PostgreSQL each
batch is claimed with `FOR UPDATE SKIP LOCKED`, so any number of workers run
side by side and never touch the same row; on SQLite the write transaction
(BEGIN IMMEDIATE) already makes one worker run at a time. Either way the row's
status changes in the same transaction as its ledger posting, whose key
(`earning:<id>:settled`) could not be posted twice anyway.

Lines with a refund request the brand has not decided yet wait, and so do
orders with an undecided dispute: settling them would turn an ordinary refund
into a clawback. Held commissions wait for review. A holder who owes a
clawback repays it from what settles first; only the rest becomes available.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, AccountRef, Entry, Leg, drop_zero_legs, lock_balances, post_many
from commerce.ledger.models import OwnerKind
from commerce.orders import lifecycle
from commerce.orders.lifecycle import SYSTEM
from commerce.orders.models import (
    OPEN_DISPUTE_STATES,
    Dispute,
    Earning,
    EarningStatus,
    Order,
    OrderRefund,
    OrderRefundLine,
    OrderStatus,
    RefundState,
)
from commerce.owners import Owner
from core import clock
from core.db import is_postgres


@dataclass(frozen=True)
class SettlementRun:
    settled: int  # earnings rows settled
    amount: int  # fen moved to available
    completed_orders: int


def _open_refund_on_line() -> exists:  # type: ignore[type-arg]
    return exists(
        select(OrderRefundLine.order_line_id)
        .join(OrderRefund, OrderRefund.id == OrderRefundLine.refund_id)
        .where(OrderRefundLine.order_line_id == Earning.order_line_id, OrderRefund.status == RefundState.REQUESTED)
    )


def _open_dispute_on_order() -> exists:  # type: ignore[type-arg]
    return exists(
        select(Dispute.id).where(Dispute.order_id == Earning.order_id, Dispute.state.in_(OPEN_DISPUTE_STATES))
    )


def _settlement_legs(owner: Owner, amount: int, owed: dict[AccountRef, int]) -> list[Leg]:
    debt = owner.account(AccountKind.CLAWBACK)
    repay = min(amount, max(0, -owed.get(debt, 0)))
    if repay:
        owed[debt] += repay
    return drop_zero_legs(
        [
            Leg(owner.account(AccountKind.PENDING), -amount),
            Leg(debt, repay),
            Leg(owner.account(owner.available_kind), amount - repay),
        ]
    )


def settle_batch(session: Session, *, batch_size: int = 200) -> SettlementRun:
    """Settle up to `batch_size` due earnings and complete the orders that are done. Commits."""
    now = clock.now()
    stmt = (
        select(Earning)
        .where(
            Earning.status == EarningStatus.PENDING,
            Earning.settle_after <= now,
            ~_open_refund_on_line(),
            ~_open_dispute_on_order(),
        )
        .order_by(Earning.id)
        .limit(batch_size)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=Earning)
    earnings = list(session.scalars(stmt))
    owners = {Owner(e.owner_kind, e.owner_id) for e in earnings if e.remaining}
    owed = lock_balances(session, [o.account(AccountKind.CLAWBACK) for o in owners if o.kind != OwnerKind.PLATFORM])
    entries = []
    for e in earnings:
        if e.remaining:
            # The earning row is claimed (locked, still pending) by this worker alone.
            legs = _settlement_legs(Owner(e.owner_kind, e.owner_id), e.remaining, owed)
            entries.append(Entry(key=f"earning:{e.id}:settled", kind="settlement", legs=legs, order_id=e.order_id))
        e.status = EarningStatus.SETTLED
        e.settled_at = now
    post_many(session, entries)
    moved = sum(-e.legs[0].amount for e in entries)
    session.commit()
    return SettlementRun(settled=len(earnings), amount=moved, completed_orders=0)


def complete_orders(session: Session, *, limit: int = 500) -> int:
    """Delivered orders whose window closed, with nothing left to settle or decide, become completed. Commits."""
    now = clock.now()
    unsettled = exists(
        select(Earning.id).where(
            Earning.order_id == Order.id, Earning.status.in_([EarningStatus.PENDING, EarningStatus.HELD])
        )
    )
    open_refund = exists(
        select(OrderRefund.id).where(OrderRefund.order_id == Order.id, OrderRefund.status == RefundState.REQUESTED)
    )
    open_dispute = exists(
        select(Dispute.id).where(Dispute.order_id == Order.id, Dispute.state.in_(OPEN_DISPUTE_STATES))
    )
    stmt = (
        select(Order)
        .where(Order.status == OrderStatus.DELIVERED, Order.return_window_ends_at <= now)
        .where(~unsettled, ~open_refund, ~open_dispute)
        .order_by(Order.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=Order)  # never wait on an order someone is refunding
    orders = list(session.scalars(stmt))
    for order in orders:
        lifecycle.transition(session, order, OrderStatus.COMPLETED, SYSTEM, "return window closed, settled")
    session.commit()
    return len(orders)


def settle_due(session: Session, *, batch_size: int = 200, max_batches: int = 100) -> SettlementRun:
    """Run batches until nothing is due (the beat job)."""
    settled = amount = 0
    for _ in range(max_batches):
        run = settle_batch(session, batch_size=batch_size)
        settled, amount = settled + run.settled, amount + run.amount
        if run.settled < batch_size:
            break
    return SettlementRun(settled, amount, complete_orders(session))
