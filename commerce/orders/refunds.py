"""Refunds and cancellations: the buyer asks, the brand decides, the provider pays back.

- Unpaid: cancelling closes the payment at the provider first (it may have
  just been paid), then releases the reservation.
- Paid, not shipped: the buyer or the brand cancels; the whole order is
  refunded without a request.
- Shipped or delivered (inside the return window): the buyer requests a
  refund of some units or an amount per line; the brand (or an admin)
  approves or rejects. Approval reverses the shares in the ledger at once and
  submits the provider refund; the provider's notification completes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog.images import delete_objects
from commerce.orders import lifecycle, notices, refund_photos
from commerce.orders.lifecycle import Actor
from commerce.orders.models import (
    OPEN_DISPUTE_STATES,
    PAYMENT_PURPOSE,
    Dispute,
    Order,
    OrderLine,
    OrderRefund,
    OrderRefundLine,
    OrderStatus,
    RefundState,
)
from commerce.orders.money import approve_refund_money
from commerce.orders.refund_photos import DEFAULT_PHOTO_LIMITS, PhotoLimits
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentRefund, RefundStatus
from commerce.payments.provider import PaymentProvider
from core import clock
from core.accounts.models import User
from core.accounts.permissions import require_admin, require_brand_member, require_user
from core.errors import Conflict, FieldError, NotFound, ValidationFailed, register_messages
from core.pagination import keyset_page
from core.storage import ObjectStorage

register_messages(
    {
        "return_window_closed": (
            "已超过退货期限，如有问题可以发起售后争议",
            "The return window has closed; if something is wrong, open a dispute instead",
        ),
        "refund_empty": ("请选择要退款的商品", "Choose what to refund"),
        "refund_not_open": ("该退款申请已处理", "This refund request was already decided"),
        "dispute_already_open": ("这笔订单已有一个处理中的争议", "This order already has a dispute in progress"),
        "refund_reason_missing": ("请选择或写明退款原因", "Tell the brand why you want a refund"),
    }
)

S = OrderStatus


@dataclass(frozen=True)
class RefundItem:
    order_line_id: int
    quantity: int = 0  # units sent back
    amount: int | None = None  # an explicit amount (e.g. compensation without a return); default: the units' share


def _open_requests(session: Session, order_id: int) -> dict[int, tuple[int, int]]:
    """Per line, (quantity, amount) already asked for in requests the brand has not decided yet."""
    rows = session.execute(
        select(OrderRefundLine.order_line_id, func.sum(OrderRefundLine.quantity), func.sum(OrderRefundLine.amount))
        .join(OrderRefund, OrderRefund.id == OrderRefundLine.refund_id)
        .where(OrderRefund.order_id == order_id, OrderRefund.status == RefundState.REQUESTED)
        .group_by(OrderRefundLine.order_line_id)
    )
    return {line_id: (int(q), int(a)) for line_id, q, a in rows}


@dataclass(frozen=True)
class Refundable:
    quantity: int
    amount: int


def refundable(session: Session, order: Order, *, exclude_open: bool = True) -> dict[int, Refundable]:
    """Per line, what is left to refund: not refunded yet nor (`exclude_open`) in a request waiting for the brand."""
    pending = _open_requests(session, order.id) if exclude_open else {}
    out = {}
    for line in order.lines:
        asked_q, asked_a = pending.get(line.id, (0, 0))
        out[line.id] = Refundable(line.quantity - line.refunded_quantity - asked_q,
                                  line.paid_amount - line.refunded_amount - asked_a)  # fmt: skip
    return out


def _amount_for_units(line: OrderLine, quantity: int, left_qty: int, left_amount: int) -> int:
    if quantity == left_qty:
        return left_amount  # the last units take whatever rounding left
    return min(left_amount, (line.paid_amount * quantity + line.quantity // 2) // line.quantity)


def _refund_lines(
    session: Session, order: Order, items: Sequence[RefundItem], *, exclude_open: bool = True
) -> list[OrderRefundLine]:
    lines = {line.id: line for line in order.lines}
    left = refundable(session, order, exclude_open=exclude_open)
    errors: list[FieldError] = []
    out: list[OrderRefundLine] = []
    for i, item in enumerate(items):
        line = lines.get(item.order_line_id)
        if line is None:
            errors.append(FieldError(f"lines.{i}.order_line_id", "not_found", params={"what": "order line"}))
            continue
        left_qty, left_amount = left[line.id].quantity, left[line.id].amount
        if item.quantity < 0 or item.quantity > left_qty:
            errors.append(FieldError(f"lines.{i}.quantity", "refund_exceeds_line"))
            continue
        amount = (
            item.amount if item.amount is not None else _amount_for_units(line, item.quantity, left_qty, left_amount)
        )
        if amount <= 0 or amount > left_amount:
            errors.append(FieldError(f"lines.{i}.amount", "refund_exceeds_line"))
            continue
        out.append(OrderRefundLine(order_line_id=line.id, quantity=item.quantity, amount=amount))
    if errors:
        raise ValidationFailed(fields=errors)
    if not out:
        raise ValidationFailed.one("lines", "refund_empty")
    return out


def request_refund(
    session: Session,
    user: User | None,
    order_id: int,
    *,
    items: Sequence[RefundItem],
    reason: str,
    photo_ids: Sequence[int] = (),
    storage: ObjectStorage | None = None,
    photo_limits: PhotoLimits = DEFAULT_PHOTO_LIMITS,
) -> OrderRefund:
    """The buyer asks; `photo_ids` name photos uploaded to the order for it (`refund_photos.add_photo`). Commits.

    With `storage`, the photos uploaded to the order and not named here are deleted."""
    user = require_user(user)
    order = lifecycle.lock_order(session, order_id)
    if order.buyer_id != user.id:
        raise NotFound("order")
    if order.status == S.COMPLETED:
        raise Conflict("return_window_closed")
    if order.status not in (S.PAID, S.SHIPPED, S.DELIVERED):
        raise Conflict("order_state", status=order.status.value)
    if not lifecycle.refund_window_open(order):
        raise Conflict("return_window_closed")
    if not reason.strip():
        raise ValidationFailed.one("reason", "refund_reason_missing")
    _refuse_while_disputed(session, order)
    try:
        refund = _new_refund(session, order, user.id, _refund_lines(session, order, items), reason)
        abandoned = refund_photos.attach(session, refund, photo_ids, limits=photo_limits)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    if storage is not None:
        delete_objects(storage, abandoned)
    return refund


def _refuse_while_disputed(session: Session, order: Order) -> None:
    """An undecided dispute (a chargeback above all) decides the order's money; a refund beside it could pay the
    buyer twice."""
    undecided = select(Dispute.id).where(Dispute.order_id == order.id, Dispute.state.in_(OPEN_DISPUTE_STATES))
    if session.scalar(undecided.limit(1)) is not None:
        raise Conflict("dispute_already_open")


def _new_refund(
    session: Session,
    order: Order,
    requested_by: int,
    lines: list[OrderRefundLine],
    reason: str,
    *,
    decided_by: int | None = None,
) -> OrderRefund:
    decided = decided_by is not None
    refund = OrderRefund(
        order_id=order.id, requested_by=requested_by, reason=reason.strip()[:200] or "-",
        amount=sum(r.amount for r in lines), decided_by=decided_by, decided_at=clock.now() if decided else None,
    )  # fmt: skip
    session.add(refund)
    session.flush()
    for r in lines:
        r.refund_id = refund.id
        session.add(r)
    session.flush()
    session.refresh(refund, ["lines"])
    return refund


def payment_of(session: Session, order: Order) -> Payment:
    """The payment of the order's checkout (one payment for all of a checkout's orders)."""
    payment = payments.payment_for(session, PAYMENT_PURPOSE, order.checkout_id)
    assert payment is not None
    return payment


def submit_refund(session: Session, provider: PaymentProvider, refund_id: int, *, notify_url: str) -> OrderRefund:
    """Ask the provider to pay an approved refund back. Safe to repeat; flushes, does not commit."""
    refund = session.get(OrderRefund, refund_id, with_for_update=True)
    if refund is None:
        raise NotFound("refund")
    if refund.status != RefundState.APPROVED:
        return refund
    if refund.payment_refund_id is not None:
        current = session.get(PaymentRefund, refund.payment_refund_id)
        if current is not None and current.status != RefundStatus.FAILED:
            return refund  # already with the provider
    order = session.get(Order, refund.order_id)
    assert order is not None
    payment = payments.lock_payment(session, payment_of(session, order).id)
    provider_refund = payments.request_refund(
        session, provider, payment, amount=refund.amount, reference_id=refund.id,
        reason=refund.reason, notify_url=notify_url,
    )  # fmt: skip
    refund.payment_refund_id = provider_refund.id
    session.flush()
    return refund


def _after_approval(session: Session, order: Order, actor: Actor) -> None:
    if all(line.refunded_amount == line.paid_amount for line in order.lines):
        from commerce.marketing import coupons, group_buys

        coupons.give_back(session, order.id, only_valid=True)  # a whole order refunded: its coupons, if still valid
        if order.status == S.PAID:
            group_buys.leave_for_order(session, order.id)  # a 拼团 member's seat, while the group is open
            lifecycle.transition(session, order, S.CANCELLED, actor, "refunded before shipping")
        elif order.status in (S.SHIPPED, S.DELIVERED, S.COMPLETED):
            lifecycle.transition(session, order, S.REFUNDED, actor, "every line refunded")


def decide_refund(
    session: Session,
    user: User | None,
    refund_id: int,
    *,
    approve: bool,
    note: str = "",
    provider: PaymentProvider,
    notify_url: str,
) -> OrderRefund:
    """The brand (or an admin) approves or rejects a refund request. Commits."""
    user = require_user(user)
    refund = session.get(OrderRefund, refund_id)
    if refund is None:
        raise NotFound("refund")
    order = session.get(Order, refund.order_id)
    assert order is not None
    require_brand_member(session, user, order.brand_id)
    payments.lock_payment(session, payment_of(session, order).id)  # lock order: payment, order, refund
    order = lifecycle.lock_order(session, refund.order_id)
    refund = session.get(OrderRefund, refund_id, with_for_update=True, populate_existing=True)
    assert refund is not None
    if refund.status != RefundState.REQUESTED:
        raise Conflict("refund_not_open")
    if approve:
        _refuse_while_disputed(session, order)
    refund.decided_by, refund.decided_at, refund.decision_note = user.id, clock.now(), note.strip()[:200] or None
    if not approve:
        refund.status = RefundState.REJECTED
        notices.refund_decided(session, order, refund)
        session.commit()
        return refund
    actor = Actor.of("brand", user)
    approve_refund_money(session, order, refund)
    _after_approval(session, order, actor)
    submit_refund(session, provider, refund.id, notify_url=notify_url)
    notices.refund_decided(session, order, refund)
    session.commit()
    return refund


def cancel_order(
    session: Session, user: User | None, order_id: int, *, provider: PaymentProvider, notify_url: str, reason: str = ""
) -> Order:
    """Cancel before shipping. Unpaid: the whole checkout is closed. Paid: the order is refunded in full. Commits."""
    user = require_user(user)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order")
    role = lifecycle.require_seller_or_buyer(user, order)
    actor = Actor.of(role, user)
    if order.status == S.PENDING_PAYMENT:
        if role == "brand":
            raise Conflict("order_state", status=order.status.value)
        payment = payments.lock_payment(session, payment_of(session, order).id)
        for o in lifecycle.lock_checkout_orders(session, order.checkout_id):
            lifecycle.cancel_unpaid(session, o, actor, reason or "cancelled")
        # Close it at the provider; if the buyer paid in the meantime the late payment is refunded automatically.
        payments.close_payment(session, provider, payment)
        session.commit()
        session.refresh(order)
        return order
    payments.lock_payment(session, payment_of(session, order).id)
    order = lifecycle.lock_order(session, order_id)
    if order.status != S.PAID:
        raise Conflict("order_state", status=order.status.value)
    _refuse_while_disputed(session, order)
    items = [
        RefundItem(line.id, quantity=line.quantity - line.refunded_quantity)
        for line in order.lines
        if line.paid_amount > line.refunded_amount
    ]
    approved_refund(session, order, requested_by=user.id, decided_by=user.id, actor=actor, items=items,
                    reason=reason or "cancelled before shipping", provider=provider, notify_url=notify_url)  # fmt: skip
    session.commit()
    return order


def force_refund(
    session: Session,
    user: User | None,
    order_id: int,
    *,
    items: Sequence[RefundItem],
    reason: str,
    provider: PaymentProvider,
    notify_url: str,
) -> OrderRefund:
    """An admin refunds at any time after payment (a dispute, a chargeback), without a brand decision.
    Shares already settled are clawed back. Commits."""
    user = require_admin(user)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order")
    payments.lock_payment(session, payment_of(session, order).id)
    order = lifecycle.lock_order(session, order_id)
    if order.status not in (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED):
        raise Conflict("order_state", status=order.status.value)
    _refuse_while_disputed(session, order)
    refund = approved_refund(session, order, requested_by=user.id, decided_by=user.id, actor=Actor.of("admin", user),
                             items=items, reason=reason, provider=provider, notify_url=notify_url)  # fmt: skip
    session.commit()
    return refund


def approved_refund(
    session: Session,
    order: Order,
    *,
    requested_by: int,
    decided_by: int | None,
    actor: Actor,
    items: Sequence[RefundItem],
    reason: str,
    provider: PaymentProvider | None,
    notify_url: str,
) -> OrderRefund:
    """A refund decided now (a cancellation, a dispute), on a locked order: shares reversed (clawed back once
    settled) and, given a provider, the money asked back from it; without one the caller accounts for how the
    buyer is paid (a chargeback the provider already keeps). Flushes, does not commit."""
    # Requests the buyer had open are superseded: the decision is being made here.
    for open_refund in session.scalars(
        select(OrderRefund).where(OrderRefund.order_id == order.id, OrderRefund.status == RefundState.REQUESTED)
    ):
        open_refund.status = RefundState.REJECTED
        open_refund.decision_note = f"superseded: {reason.strip()[:180]}"
    session.flush()
    refund_lines = _refund_lines(session, order, items, exclude_open=False)
    refund = _new_refund(session, order, requested_by, refund_lines, reason, decided_by=decided_by)
    approve_refund_money(session, order, refund)
    _after_approval(session, order, actor)
    if provider is not None:
        submit_refund(session, provider, refund.id, notify_url=notify_url)
    return refund


def retry_refund(
    session: Session, user: User | None, refund_id: int, *, provider: PaymentProvider, notify_url: str
) -> OrderRefund:
    """An admin resubmits a refund the provider refused (the money is still held in the refunds account)."""
    require_admin(user)
    refund = session.get(OrderRefund, refund_id, with_for_update=True)
    if refund is None:
        raise NotFound("refund")
    if refund.status != RefundState.FAILED:
        raise Conflict("refund_not_open")
    refund.status = RefundState.APPROVED
    submit_refund(session, provider, refund.id, notify_url=notify_url)
    session.commit()
    return refund


def list_refunds(session: Session, order_id: int) -> list[OrderRefund]:
    return list(session.scalars(select(OrderRefund).where(OrderRefund.order_id == order_id).order_by(OrderRefund.id)))


def list_brand_refunds(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    status: RefundState | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[OrderRefund], str | None]:
    """Refunds of the brand's orders, for its members (the queue of requests to decide); newest first."""
    require_brand_member(session, user, brand_id)
    stmt = select(OrderRefund).join(Order, Order.id == OrderRefund.order_id).where(Order.brand_id == brand_id)
    if status is not None:
        stmt = stmt.where(OrderRefund.status == status)
    return keyset_page(session, stmt, [(OrderRefund.id, True)], lambda r: [r.id], cursor=cursor, limit=limit)


def unsubmitted(session: Session, *, limit: int = 100) -> list[int]:
    """Approved refunds the provider has not been asked for yet (a lost task, a provider outage)."""
    return list(
        session.scalars(
            select(OrderRefund.id)
            .where(OrderRefund.status == RefundState.APPROVED, OrderRefund.payment_refund_id.is_(None))
            .order_by(OrderRefund.id)
            .limit(limit)
        )
    )
