"""What a checkout's payment does to the ledger, and how a refund undoes it.

On payment: the buyer's money goes into each order's escrow (capture), then
each order's escrow is split per line into pending accounts of the brand,
artist, sharer(s) and platform, with one `Earning` row per share (the rows the
settlement job settles). Keys derive from the payment and the order, so a
success applied twice (webhook and status query, or a replay) posts once.

A refund reverses shares in proportion to what is left of each: from pending
while the return window runs; once a share was settled (a dispute, a late
refund), as a clawback: from the holder's available balance first, the rest as
a debt that their next settlements and payouts repay — the platform's own
settled fee comes straight out of revenue.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, select, update
from sqlalchemy.orm import Session

from commerce.attribution.service import SharerCredit, extend_binding
from commerce.distribution import binding as distribution
from commerce.ledger import AccountKind, AccountRef, Entry, Leg, drop_zero_legs, lock_balances, post, post_many
from commerce.ledger.models import OwnerKind
from commerce.marketing import group_buys
from commerce.orders import lifecycle, notices
from commerce.orders.lifecycle import PROVIDER
from commerce.orders.models import (
    Earning,
    EarningRole,
    EarningStatus,
    Order,
    OrderLine,
    OrderRefund,
    OrderRefundLine,
    OrderStatus,
    RefundState,
    ReviewStatus,
)
from commerce.orders.split import LineSplit, split_line
from commerce.owners import Owner
from commerce.payments.models import Payment, PaymentRefund, PaymentStatus
from commerce.payments.provider import Notification
from commerce.payments.service import capture_legs
from commerce.policy import MoneyPolicy
from core import clock
from core.db import Rows, Statement, expire_loaded
from core.errors import Conflict, register_messages
from core.money import largest_remainder
from core.tasks import enqueue_after_commit
from search import engagement

register_messages({"refund_exceeds_line": ("超过该商品可退的数量或金额", "More than is left to refund on this line")})

SUBMIT_REFUND_TASK = "orders.submit_refund"
COMMISSION_ROLES = frozenset({EarningRole.ARTIST, EarningRole.SHARER, EarningRole.SHARER_L2, EarningRole.AGENT})


def line_split(line: OrderLine | Row[Any]) -> LineSplit:
    return split_line(
        line.paid_amount,
        artist_bp=line.artist_rate_bp,
        sharer_bp=line.sharer_rate_bp,
        platform_bp=line.platform_fee_bp,
        level2_share_bp=line.level2_share_bp,
        agent_bp=line.agent_fee_bp,
    )


@dataclass(frozen=True)
class _Payable:
    """A checkout's order as applying its payment needs it: locked, its lines read as plain rows."""

    id: int
    buyer_id: int
    brand_id: int
    total: int
    status: OrderStatus
    lines: list[Row[Any]]
    seated: bool  # it holds a 拼团 seat its payment counts


_orders, _lines = Order.__table__, OrderLine.__table__


def _payable(checkout: ColumnElement[Any]) -> Select[Any]:
    """Every order of the checkout with its lines, the orders locked in id order (the fixed lock order of every
    money path): a bind parameter's checkout, or, in the webhook's statement, its payment's (`succeeded_read`)."""
    return (
        select(
            _orders.c.buyer_id, _orders.c.brand_id, _orders.c.total, _orders.c.status, _lines.c.id, _lines.c.order_id,
            _lines.c.product_id, _lines.c.paid_amount, _lines.c.platform_discount, _lines.c.platform_fee_bp,
            _lines.c.artist_rate_bp, _lines.c.sharer_rate_bp, _lines.c.level2_share_bp, _lines.c.source_video_id,
            _lines.c.artist_id, _lines.c.sharer_id, _lines.c.sharer_via, _lines.c.click_id, _lines.c.sharer_blocked,
            _lines.c.parent_sharer_id, _lines.c.review_status, _lines.c.agent_id, _lines.c.agent_fee_bp,
            group_buys.seat_ordered(_orders.c.id).label("seated"),
        )
        .join_from(_orders, _lines, _lines.c.order_id == _orders.c.id)
        .where(
            _orders.c.checkout_id == checkout,
            # Said twice: the lines by their orders' ids, so that a planner without statistics on a table still growing
            # (a new database, autovacuum not yet run) reads them by index instead of scanning every line.
            _lines.c.order_id.in_(select(_orders.c.id).where(_orders.c.checkout_id == checkout)),
        )
        .order_by(_orders.c.id, _lines.c.id)
        .with_for_update(of=_orders)
    )  # fmt: skip


_LOCK_PAYABLE = _payable(bindparam("checkout"))


def _lock_payable(session: Session, checkout_id: int, read: Sequence[Row[Any]] | None = None) -> list[_Payable]:
    """Every order of a checkout with its lines, locked in id order (the fixed lock order of every money path);
    `read`: the rows of `_payable` read already, with the payment's success."""
    if read is None:
        rows: Sequence[Row[Any]] = session.execute(_LOCK_PAYABLE, {"checkout": checkout_id}).all()
    else:  # a subquery's ORDER BY orders its locks, not the rows of the statement around it
        rows = sorted(read, key=lambda r: (r.order_id, r.id))
    return [
        _Payable(
            order_id, lines[0].buyer_id, lines[0].brand_id, lines[0].total, lines[0].status, lines, lines[0].seated
        )
        for order_id, group in itertools.groupby(rows, key=lambda r: r.order_id)
        for lines in [list(group)]
    ]


def _shares(order: Order | _Payable, line: Any) -> Iterable[tuple[EarningRole, Owner, int]]:
    split = line_split(line)
    yield EarningRole.BRAND, Owner.brand(order.brand_id), split.brand
    if split.artist:
        assert line.artist_id is not None
        yield EarningRole.ARTIST, Owner.user(line.artist_id), split.artist
    if split.sharer:
        assert line.sharer_id is not None
        yield EarningRole.SHARER, Owner.user(line.sharer_id), split.sharer
    if split.sharer_l2:
        assert line.parent_sharer_id is not None
        yield EarningRole.SHARER_L2, Owner.user(line.parent_sharer_id), split.sharer_l2
    if split.agent:
        assert line.agent_id is not None
        yield EarningRole.AGENT, Owner.user(line.agent_id), split.agent
    yield EarningRole.PLATFORM, Owner.platform(), split.platform
    if line.platform_discount:
        yield EarningRole.SUBSIDY, Owner.brand(order.brand_id), line.platform_discount


def _split(order: _Payable) -> tuple[Entry, list[dict[str, object]]]:
    """Escrow -> pending shares, and one Earning row per non-zero share (commissions held while under review).

    A platform-funded coupon's part of a line comes out of the platform's marketing account into the brand's
    pending balance (its `brand_subsidy` earning): the brand is paid as if the buyer had paid it, while the
    commissions and the platform fee are on what the buyer paid."""
    subsidy = sum(line.platform_discount for line in order.lines)
    legs = [Leg(AccountRef.escrow(order.id), -order.total)]
    if subsidy:
        legs.append(Leg(AccountRef.platform(AccountKind.MARKETING), -subsidy))
    earnings: list[dict[str, object]] = []
    for line in order.lines:
        for role, owner, amount in _shares(order, line):
            if not amount:
                continue
            held = line.review_status == ReviewStatus.HELD and role in COMMISSION_ROLES
            legs.append(Leg(owner.account(AccountKind.PENDING), amount))
            earnings.append(
                {"order_id": order.id, "order_line_id": line.id, "role": role, "owner_kind": owner.kind,
                 "owner_id": owner.id, "amount": amount,
                 "status": EarningStatus.HELD if held else EarningStatus.PENDING}
            )  # fmt: skip
    return Entry(key=f"order:{order.id}:split", kind="split", legs=legs, order_id=order.id), earnings


def _extend_bindings(session: Session, order: _Payable, paid_at: dt.datetime, policy: MoneyPolicy) -> None:
    credits: dict[int, SharerCredit] = {}
    distribution.renew_on_payment(session, order.brand_id, order.buyer_id, order.lines, paid_at)
    for line in order.lines:
        # A distributor's customer stays bound by the programme's own binding (commerce.distribution), not here.
        if line.sharer_id is not None and line.sharer_blocked is None and line.sharer_via != "distribution":
            credits.setdefault(
                line.sharer_id,
                SharerCredit(line.sharer_id, line.parent_sharer_id, line.click_id, None, line.sharer_via or ""),
            )
    for credit in credits.values():  # once per sharer, however many of the order's lines credit them
        extend_binding(session, order.buyer_id, credit, until=paid_at + policy.binding_after_order)


def _purchases(orders: list[_Payable]) -> list[Rows]:
    """Paid lines bought from a video's product card count as that video's purchases (feed ranking, reports)."""
    bought = [
        engagement.Purchase(line.source_video_id, order.buyer_id, f"order-line:{line.id}", line.product_id)
        for order in orders
        for line in order.lines
        if line.source_video_id is not None
    ]
    return [engagement.purchase_rows(bought)] if bought else []


class CheckoutPayments:
    """The payment handler of the "checkout" purpose."""

    def __init__(self, policy: MoneyPolicy) -> None:
        self.policy = policy

    def succeeded_read(self, reference_id: ColumnElement[int]) -> Select[Any]:
        return _payable(reference_id)

    def on_succeeded(self, session: Session, payment: Payment, read: Sequence[Row[Any]] | None = None) -> None:
        orders = _lock_payable(session, payment.reference_id, read)
        to_split = [o for o in orders if o.status == OrderStatus.PENDING_PAYMENT]
        splits = [_split(o) for o in to_split]
        paid: list[Rows | Statement] = []
        if to_split:
            paid_at = clock.now()
            for order in to_split:
                _extend_bindings(session, order, paid_at, self.policy)
            # A 拼团 seat paid; the N-th completes. Most orders hold none: then nothing is asked.
            seated = [o.id for o in to_split if o.seated]
            if seated:
                group_buys.on_paid(session, seated, paid_at)
            # The earnings, the orders' status and events, and the videos' purchase counts: written with the ledger's
            # posting below, in its round trip.
            earnings = [row for _, rows in splits for row in rows]
            paid = [
                *([Rows(Earning.__table__, earnings)] if earnings else []),
                *lifecycle.transition_writes(
                    {o.id: o.status for o in to_split}, OrderStatus.PAID, PROVIDER, f"payment {payment.id}", paid_at
                ),
                *_purchases(to_split),
            ]  # fmt: skip
        # The ledger last: its accounts (the platform's above all) are what every payment locks, so they are held
        # only from here to the commit. One batch, one lock pass: the capture into every order's escrow, then each
        # pending order's split. The payment row lock and its status change (once), and the order row locks and
        # their status (pending -> paid, once), make these the only capture and splits; their keys could not post
        # twice anyway. A refused batch (it cannot be: the capture funds the splits) fails the whole notification.
        session.flush()
        capture = Entry(
            key=f"payment:{payment.id}:captured",
            kind="capture",
            legs=[*capture_legs(payment), *(Leg(AccountRef.escrow(o.id), o.total) for o in orders)],
            memo=f"checkout {payment.reference_id}",
        )
        post_many(session, [capture, *(entry for entry, _ in splits)], with_writes=paid)
        expire_loaded(session, Order, [o.id for o in to_split])
        for late in orders:
            if late not in to_split:
                # Paid after it expired or was cancelled: its stock is gone, so the buyer gets the money back.
                refund_late_payment(session, lifecycle.lock_order(session, late.id))

    def on_failed(self, session: Session, payment: Payment) -> None:
        reason = "payment_expired" if payment.status == PaymentStatus.CLOSED else "payment_failed"
        for order in lifecycle.lock_checkout_orders(session, payment.reference_id):
            lifecycle.cancel_unpaid(session, order, PROVIDER, reason)

    def on_refund_succeeded(self, session: Session, refund: PaymentRefund) -> None:
        order_refund = session.get(OrderRefund, refund.reference_id, with_for_update=True)
        assert order_refund is not None
        order_refund.status = RefundState.REFUNDED
        order_refund.finished_at = clock.now()
        order = session.get(Order, order_refund.order_id)
        assert order is not None
        notices.refund_paid(session, order, order_refund)

    def on_refund_failed(self, session: Session, refund: PaymentRefund) -> None:
        order_refund = session.get(OrderRefund, refund.reference_id, with_for_update=True)
        assert order_refund is not None
        order_refund.status = RefundState.FAILED
        order_refund.decision_note = f"provider: {refund.failure_reason}"

    def on_dispute(self, session: Session, payment: Payment, note: Notification) -> str:
        # Imported here: disputes build on refunds, which build on this module.
        from commerce.orders import disputes

        return disputes.on_provider_event(session, payment, note)


class _Clawback:
    """Where the settled part of a reversal comes from: the holder's available balance first (their rows locked
    up front, in the ledger's lock order), then a debt in `clawback` that later settlements and payouts repay.
    A withdrawal in flight already left `available`, so it is honoured and never spent twice."""

    def __init__(self, session: Session, earnings: Iterable[Earning]) -> None:
        holders = {
            Owner(e.owner_kind, e.owner_id)
            for e in earnings
            if e.status == EarningStatus.SETTLED and e.owner_kind != OwnerKind.PLATFORM
        }
        self.available = lock_balances(session, [h.account(AccountKind.AVAILABLE) for h in holders])

    def legs(self, earning: Earning, part: int) -> list[Leg]:
        owner = Owner(earning.owner_kind, earning.owner_id)
        if earning.status != EarningStatus.SETTLED:
            return [Leg(owner.account(AccountKind.PENDING), -part)]
        earning.clawed_back += part
        if owner.kind == OwnerKind.PLATFORM:
            return [Leg(owner.account(AccountKind.REVENUE), -part)]  # its own settled fee, straight back
        available = owner.account(AccountKind.AVAILABLE)
        taken = min(part, self.available[available])
        self.available[available] -= taken
        return drop_zero_legs([Leg(available, -taken), Leg(owner.account(AccountKind.CLAWBACK), taken - part)])


def _lock_earnings(session: Session, line_ids: Iterable[int]) -> dict[int, list[Earning]]:
    out: dict[int, list[Earning]] = {line_id: [] for line_id in line_ids}
    rows = session.scalars(
        select(Earning).where(Earning.order_line_id.in_(list(out))).order_by(Earning.id).with_for_update()
    )
    for earning in rows:
        out[earning.order_line_id].append(earning)
    return out


def reversal_legs(earnings: list[Earning], amount: int, clawback: _Clawback) -> list[Leg]:
    """Take `amount` back from a line's shares, in proportion to what is left of each (largest remainder).

    Each share gives at most what is left of it, and refunding all that is left
    of a line returns every share exactly, so a full refund nets everyone to zero.
    """
    parts = largest_remainder(amount, [e.remaining for e in earnings])
    legs = []
    for earning, part in zip(earnings, parts, strict=True):
        if part:
            legs.extend(clawback.legs(earning, part))
            earning.reversed_amount += part
    return legs


def _subsidy_back(earnings: list[Earning], line: OrderLine, amount: int, clawback: _Clawback) -> list[Leg]:
    """The platform takes back the subsidy of the refunded part of a line: after refunding `amount` more, the brand
    keeps `subsidy * what is left unrefunded / paid` (rounded down), so a full refund takes all of it back."""
    subsidy = next((e for e in earnings if e.role == EarningRole.SUBSIDY), None)
    if subsidy is None:
        return []
    left = line.paid_amount - line.refunded_amount - amount
    keep = subsidy.amount * left // line.paid_amount
    part = subsidy.remaining - keep
    if part <= 0:
        return []
    subsidy.reversed_amount += part
    return [*clawback.legs(subsidy, part), Leg(AccountRef.platform(AccountKind.MARKETING), part)]


def approve_refund_money(session: Session, order: Order, refund: OrderRefund) -> None:
    """Reverse the refunded lines' shares into the refunds account (the provider refund is submitted next)."""
    lines = {line.id: line for line in order.lines}
    for item in refund.lines:
        line = lines[item.order_line_id]
        if (
            item.amount > line.paid_amount - line.refunded_amount
            or item.quantity > line.quantity - line.refunded_quantity
        ):
            raise Conflict("refund_exceeds_line")  # refunded otherwise since it was asked for
    earnings = _lock_earnings(session, [item.order_line_id for item in refund.lines])
    clawback = _Clawback(session, itertools.chain.from_iterable(earnings.values()))
    legs: list[Leg] = []
    for item in refund.lines:
        line = lines[item.order_line_id]
        shares = [e for e in earnings[line.id] if e.role != EarningRole.SUBSIDY]
        if shares:
            legs.extend(reversal_legs(shares, item.amount, clawback))
        legs.extend(_subsidy_back(earnings[line.id], line, item.amount, clawback))
        line.refunded_amount += item.amount
        line.refunded_quantity += item.quantity
    if not legs:  # paid but never split (a late payment): the money still sits in the order's escrow
        legs = [Leg(AccountRef.escrow(order.id), -refund.amount)]
    legs.append(Leg(AccountRef.platform(AccountKind.REFUNDS), refund.amount))
    post(session, key=f"order-refund:{refund.id}:approved", kind="refund", legs=legs, order_id=order.id)
    order.refunded_amount += refund.amount
    refund.status = RefundState.APPROVED
    refund.decided_at = refund.decided_at or clock.now()
    if order.status == OrderStatus.PAID:
        restock(session, order, refund)


def restock(session: Session, order: Order, refund: OrderRefund) -> None:
    """Units refunded before the order shipped never left the warehouse: they are for sale again."""
    from commerce.catalog.models import Sku

    lines = {line.id: line for line in order.lines}
    for item in sorted(refund.lines, key=lambda i: lines[i.order_line_id].sku_id):
        if item.quantity:
            session.execute(
                update(Sku)
                .where(Sku.id == lines[item.order_line_id].sku_id)
                .values(stock=Sku.stock + item.quantity)
                .execution_options(synchronize_session=False)
            )
    refund.restocked = True


def refund_late_payment(session: Session, order: Order) -> OrderRefund:
    refund = OrderRefund(
        order_id=order.id, requested_by=order.buyer_id, reason="late_payment", amount=order.total,
        decision_note="paid after the order was cancelled",
    )  # fmt: skip
    session.add(refund)
    session.flush()
    for line in order.lines:
        session.add(
            OrderRefundLine(refund_id=refund.id, order_line_id=line.id, quantity=line.quantity, amount=line.paid_amount)
        )
    session.flush()
    session.refresh(refund, ["lines"])
    approve_refund_money(session, order, refund)
    # The payment handler has no provider at hand: a task asks the provider once this commits.
    enqueue_after_commit(session, SUBMIT_REFUND_TASK, refund.id)
    return refund
