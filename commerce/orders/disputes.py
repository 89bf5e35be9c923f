"""Disputes: money claimed back after the usual refund path has closed, and chargebacks.

Two ways in:
- the buyer opens one on a paid order once a refund request is no longer possible
  or was rejected (goods not as described, never arrived): the brand decides; if
  the brand says no, the buyer may ask the platform, and an admin decides;
- the payment provider reports a chargeback (拒付): one dispute per order the
  payment paid for, its amount split by what is left of each. The brand (an admin
  when the payment paid for several brands' orders) concedes or contests it; the
  provider has the last word (`dispute.won` / `dispute.lost`).

An approved dispute is a refund with clawback (`commerce.orders.money`): every
share is reversed in proportion, from pending if it has not settled, otherwise
from the holder's available balance first and then as a debt their next
settlements and payouts repay. A buyer's dispute is paid back through the
provider like any refund; a chargeback's money has already gone, so its refund
is recorded as taken when the provider confirms the loss. While a dispute is
undecided the order's pending shares do not settle.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.notifications.service import notify, register_templates
from commerce.orders import lifecycle
from commerce.orders.lifecycle import PROVIDER, Actor
from commerce.orders.models import (
    OPEN_DISPUTE_STATES,
    Dispute,
    DisputeSource,
    DisputeState,
    Earning,
    EarningRole,
    Order,
    OrderRefund,
    OrderStatus,
    RefundState,
)
from commerce.orders.refunds import RefundItem, approved_refund, payment_of
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentRefund
from commerce.payments.provider import EventType, Notification, PaymentProvider
from core import clock
from core.accounts.models import BrandMember, User
from core.accounts.permissions import require_admin, require_brand_member, require_user
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, register_messages
from core.money import largest_remainder
from core.pagination import keyset_page

register_messages(
    {
        "dispute_use_refund": (
            "退货期内请直接申请退款；商家拒绝后或退货期结束后才能发起争议",
            "While the return window is open, ask for a refund; a dispute is for after a refusal or the window",
        ),
        "dispute_amount": (
            "争议金额须在 0.01 元到 {left} 分之间",
            "The amount in dispute must be between 1 fen and {left} fen",
        ),
        "dispute_not_open": ("该争议已处理", "This dispute was already decided"),
        "dispute_not_escalable": (
            "只有被商家驳回的争议才能申请平台介入",
            "Only a dispute the brand turned down can be taken to the platform",
        ),
        "dispute_with_provider": (
            "这笔拒付已提出申诉，由支付机构裁决",
            "This chargeback is being contested; the payment provider decides",
        ),
        "dispute_several_brands": (
            "这笔拒付涉及多个商家的订单，由平台处理",
            "This chargeback covers several brands' orders; the platform decides it",
        ),
    }
)

register_templates(
    {
        "dispute_opened": ("订单 {order_id} 有一个新的争议：{reason}", "Order {order_id} has a new dispute: {reason}"),
        "dispute_approved": (
            "你对订单 {order_id} 的争议已通过，{amount} 分将退回",
            "Your dispute on order {order_id} was accepted: {amount} fen is on its way back",
        ),
        "dispute_rejected": (
            "你对订单 {order_id} 的争议未通过：{note}",
            "Your dispute on order {order_id} was turned down: {note}",
        ),
        "commission_clawed_back": (
            "订单 {order_id} 发生售后退款，已结算的佣金中收回 {amount} 分",
            "Order {order_id} was refunded after settlement: {amount} fen of your settled commission was taken back",
        ),
    }
)

S = OrderStatus
_DISPUTABLE = (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED)


def _left_to_refund(session: Session, order: Order) -> int:
    asked = sum(
        r.amount
        for r in session.scalars(
            select(OrderRefund).where(OrderRefund.order_id == order.id, OrderRefund.status == RefundState.REQUESTED)
        )
    )
    return order.total - order.refunded_amount - asked


def _refund_path_closed(session: Session, order: Order) -> bool:
    """A dispute is for when a refund request can no longer help: the window closed, or the brand said no."""
    if order.status == S.COMPLETED:
        return True
    if order.status == S.DELIVERED and order.return_window_ends_at and clock.now() >= order.return_window_ends_at:
        return True
    rejected = select(OrderRefund.id).where(
        OrderRefund.order_id == order.id, OrderRefund.status == RefundState.REJECTED
    )
    return session.scalar(rejected.limit(1)) is not None


def _insert(session: Session, dispute: Dispute) -> Dispute:
    try:
        with session.begin_nested():
            session.add(dispute)
    except IntegrityError as exc:  # the partial unique index: one undecided dispute per order
        raise Conflict("dispute_already_open") from exc
    return dispute


def _tell_brand(session: Session, order: Order, reason: str) -> None:
    members = session.scalars(select(BrandMember.user_id).where(BrandMember.brand_id == order.brand_id))
    notify(session, list(members), "dispute_opened", {"order_id": order.id, "reason": reason},
           link=f"/brand?order={order.id}")  # fmt: skip


def open_dispute(
    session: Session, user: User | None, order_id: int, *, reason: str, amount: int | None = None
) -> Dispute:
    """The buyer claims `amount` fen (default: all that is left) back. Commits."""
    user = require_user(user)
    order = lifecycle.lock_order(session, order_id)
    if order.buyer_id != user.id:
        raise NotFound("order")
    if order.status not in _DISPUTABLE:
        raise Conflict("order_state", status=order.status.value)
    if not _refund_path_closed(session, order):
        raise Conflict("dispute_use_refund")
    left = _left_to_refund(session, order)
    amount = left if amount is None else amount
    if not 0 < amount <= left:
        raise ValidationFailed.one("amount", "dispute_amount", left=max(left, 0))
    reason = reason.strip()[:200]
    if not reason:
        raise ValidationFailed.one("reason", "missing")
    dispute = _insert(
        session,
        Dispute(order_id=order.id, brand_id=order.brand_id, source=DisputeSource.BUYER, amount=amount, reason=reason,
                opened_by=user.id),
    )  # fmt: skip
    _tell_brand(session, order, reason)
    session.commit()
    return dispute


def escalate(session: Session, user: User | None, dispute_id: int) -> Dispute:
    """The buyer asks the platform to decide a dispute the brand turned down. Commits."""
    user = require_user(user)
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None or dispute.opened_by != user.id:
        raise NotFound("dispute")
    decided_by = session.get(User, dispute.decided_by) if dispute.decided_by else None
    if dispute.state != DisputeState.REJECTED or decided_by is None or decided_by.is_admin:
        raise Conflict("dispute_not_escalable")
    dispute.state = DisputeState.ESCALATED
    try:
        session.flush()
    except IntegrityError as exc:  # the buyer opened another one meanwhile
        session.rollback()
        raise Conflict("dispute_already_open") from exc
    session.commit()
    return dispute


def _items_for(order: Order, amount: int) -> list[RefundItem]:
    """`amount` spread over the order's lines by what is left of each (no goods come back)."""
    left = [line.paid_amount - line.refunded_amount for line in order.lines]
    parts = largest_remainder(amount, left)
    return [RefundItem(line.id, amount=part) for line, part in zip(order.lines, parts, strict=True) if part]


def _notify_clawbacks(session: Session, order: Order, before: dict[int, int]) -> None:
    """Artists and sharers hear of what a refund took back from a commission that had already settled."""
    taken: dict[int, int] = {}
    for e in session.scalars(select(Earning).where(Earning.order_id == order.id)):
        delta = e.clawed_back - before.get(e.id, 0)
        if delta and e.role in (EarningRole.ARTIST, EarningRole.SHARER, EarningRole.SHARER_L2):
            taken[e.owner_id] = taken.get(e.owner_id, 0) + delta
    for user_id, amount in taken.items():
        notify(session, [user_id], "commission_clawed_back", {"order_id": order.id, "amount": amount},
               link="/me#earnings")  # fmt: skip


def _refund(
    session: Session, dispute: Dispute, order: Order, actor: Actor, user: User | None, *,
    provider: PaymentProvider | None, notify_url: str,
) -> OrderRefund:  # fmt: skip
    """Approve the dispute's money: the refund with clawback, paid back by the provider (a buyer's dispute) or
    recorded as a chargeback the provider keeps."""
    before = dict(session.execute(select(Earning.id, Earning.clawed_back).where(Earning.order_id == order.id)).all())
    amount = min(dispute.amount, order.total - order.refunded_amount)
    refund = approved_refund(
        session, order, requested_by=dispute.opened_by or order.buyer_id, decided_by=user.id if user else None,
        actor=actor, items=_items_for(order, amount), reason=f"dispute {dispute.id}: {dispute.reason}"[:200],
        provider=provider, notify_url=notify_url,
    )  # fmt: skip
    if provider is None:  # a chargeback: the provider keeps the money; record it so it is never refunded twice
        payment = payments.lock_payment(session, payment_of(session, order).id)
        claim = payments.record_chargeback(session, payment, amount=refund.amount, reference_id=refund.id,
                                           case=dispute.provider_dispute_id or str(dispute.id))  # fmt: skip
        refund.payment_refund_id = claim.id
    dispute.refund_id = refund.id
    dispute.state = DisputeState.APPROVED
    _notify_clawbacks(session, order, before)
    return refund


def _require_decider(session: Session, user: User, dispute: Dispute) -> str:
    if dispute.state == DisputeState.ESCALATED:
        require_admin(user)
        return "admin"
    if dispute.state == DisputeState.CONTESTED:
        raise Conflict("dispute_with_provider")
    if dispute.state != DisputeState.OPEN:
        raise Conflict("dispute_not_open")
    if dispute.source == DisputeSource.PROVIDER and not user.is_admin:
        siblings = session.scalar(
            select(Dispute.id).where(
                Dispute.provider_dispute_id == dispute.provider_dispute_id, Dispute.brand_id != dispute.brand_id
            )
        )
        if siblings is not None:
            raise PermissionDenied("dispute_several_brands")
    require_brand_member(session, user, dispute.brand_id)
    return "admin" if user.is_admin else "brand"


def decide(
    session: Session,
    user: User | None,
    dispute_id: int,
    *,
    approve: bool,
    note: str = "",
    provider: PaymentProvider,
    notify_url: str,
) -> Dispute:
    """The brand (or an admin; only an admin once escalated) decides. For a chargeback, approving concedes it
    and rejecting contests it with the provider. Commits."""
    user = require_user(user)
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound("dispute")
    order = session.get(Order, dispute.order_id)
    assert order is not None
    if order.buyer_id == user.id and not user.is_admin:
        raise PermissionDenied()
    role = _require_decider(session, user, dispute)
    # The money paths' lock order: payment, order, then the dispute.
    payments.lock_payment(session, payment_of(session, order).id)
    order = lifecycle.lock_order(session, dispute.order_id)
    dispute = session.get(Dispute, dispute_id, with_for_update=True, populate_existing=True)
    assert dispute is not None
    _require_decider(session, user, dispute)  # decided meanwhile?
    dispute.decided_by, dispute.decided_at = user.id, clock.now()
    dispute.decision_note = note.strip()[:200] or None
    chargeback = dispute.source == DisputeSource.PROVIDER
    if approve:
        _refund(session, dispute, order, Actor.of(role, user), user,
                provider=None if chargeback else provider, notify_url=notify_url)  # fmt: skip
        if chargeback:
            assert dispute.provider_dispute_id is not None
            provider.accept_dispute(dispute.provider_dispute_id)
        else:
            notify(session, [order.buyer_id], "dispute_approved", {"order_id": order.id, "amount": dispute.amount},
                   link=f"/orders/{order.id}")  # fmt: skip
    elif chargeback:
        dispute.state = DisputeState.CONTESTED
    else:
        dispute.state = DisputeState.REJECTED
        notify(session, [order.buyer_id], "dispute_rejected", {"order_id": order.id, "note": dispute.decision_note
               or "-"}, link=f"/orders/{order.id}")  # fmt: skip
    session.commit()
    return dispute


# -- chargebacks from the provider ---------------------------------------------------------------------------


def on_provider_event(session: Session, payment: Payment, note: Notification) -> str:
    """Apply a chargeback notification for a checkout's payment (in the webhook's transaction)."""
    assert note.dispute_id is not None
    orders = lifecycle.lock_checkout_orders(session, payment.reference_id)
    if note.type == EventType.DISPUTE_OPENED:
        return _open_chargeback(session, payment, orders, note)
    disputes = list(
        session.scalars(
            select(Dispute)
            .where(Dispute.provider == payment.provider, Dispute.provider_dispute_id == note.dispute_id)
            .order_by(Dispute.order_id)
            .with_for_update()
        )
    )
    if not disputes:
        return "ignored"
    lost = note.type == EventType.DISPUTE_LOST
    by_id = {o.id: o for o in orders}
    outcome = "already_applied"  # the same decision told again changes nothing
    for dispute in disputes:
        if dispute.state in OPEN_DISPUTE_STATES:
            outcome = "applied"
            dispute.decided_at = clock.now()
            dispute.decision_note = "lost at the provider" if lost else "won at the provider"
            if lost:
                _refund(session, dispute, by_id[dispute.order_id], PROVIDER, None, provider=None, notify_url="")
            else:
                dispute.state = DisputeState.REJECTED
        if lost and dispute.refund_id is not None and _taken(session, payment, dispute) == "applied":
            outcome = "applied"
    return outcome


def _taken(session: Session, payment: Payment, dispute: Dispute) -> str:
    refund = session.get(OrderRefund, dispute.refund_id)
    assert refund is not None
    assert refund.payment_refund_id is not None
    claim = session.get(PaymentRefund, refund.payment_refund_id, with_for_update=True)
    assert claim is not None
    return payments.chargeback_taken(session, payment, claim, case=dispute.provider_dispute_id or "")


def _open_chargeback(session: Session, payment: Payment, orders: list[Order], note: Notification) -> str:
    known = select(Dispute.id).where(
        Dispute.provider == payment.provider, Dispute.provider_dispute_id == note.dispute_id
    )
    if session.scalar(known.limit(1)) is not None:
        return "already_applied"  # the same case told again under a new event id
    open_orders = [o for o in orders if o.status in (*_DISPUTABLE, S.REFUNDED)]
    left = [max(0, o.total - o.refunded_amount) for o in open_orders]
    if note.amount <= 0 or note.amount > sum(left):
        return "rejected"  # more than is left unrefunded: a human looks (the event is stored)
    for order, part in zip(open_orders, largest_remainder(note.amount, left), strict=True):
        if not part:
            continue
        # The buyer's own undecided dispute is superseded: the provider decides this money now.
        for mine in session.scalars(
            select(Dispute).where(
                Dispute.order_id == order.id,
                Dispute.source == DisputeSource.BUYER,
                Dispute.state.in_(OPEN_DISPUTE_STATES),
            )
        ):
            mine.state, mine.decision_note = DisputeState.REJECTED, f"superseded by chargeback {note.dispute_id}"
        session.flush()
        session.add(
            Dispute(order_id=order.id, brand_id=order.brand_id, source=DisputeSource.PROVIDER, amount=part,
                    reason=(note.reason or "chargeback")[:200], provider=payment.provider,
                    provider_dispute_id=note.dispute_id)
        )  # fmt: skip
        _tell_brand(session, order, note.reason or "chargeback")
    session.flush()
    return "applied"


# -- reading -------------------------------------------------------------------------------------------------


def list_for_order(session: Session, user: User | None, order_id: int) -> list[Dispute]:
    order = lifecycle.get_order(session, user, order_id)
    return list(session.scalars(select(Dispute).where(Dispute.order_id == order.id).order_by(Dispute.id)))


def list_for_brand(
    session: Session,
    user: User | None,
    brand_id: int,
    *,
    state: DisputeState | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[Dispute], str | None]:
    require_brand_member(session, user, brand_id)
    stmt = select(Dispute).where(Dispute.brand_id == brand_id)
    if state is not None:
        stmt = stmt.where(Dispute.state == state)
    return keyset_page(session, stmt, [(Dispute.id, True)], lambda d: [d.id], cursor=cursor, limit=limit)


def list_escalated(session: Session, user: User | None, *, limit: int = 100) -> list[Dispute]:
    """The platform's queue: disputes buyers escalated."""
    require_admin(user)
    return list(
        session.scalars(
            select(Dispute).where(Dispute.state == DisputeState.ESCALATED).order_by(Dispute.id).limit(limit)
        )
    )
