"""What the buyer hears about their refunds: the brand's decision, and the money arriving back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from commerce.notifications.service import notify, register_templates
from commerce.orders.models import Order, OrderRefund, RefundState
from core.money import format_yuan

register_templates(
    {
        "refund.approved": (
            "订单 #{order_id} 的退款 ¥{amount} 已同意，款项将原路退回",
            "Your refund of ¥{amount} on order #{order_id} was approved; the money is on its way back",
        ),
        "refund.rejected": (
            "订单 #{order_id} 的退款申请（¥{amount}）被商家拒绝：{note}",
            "The brand declined your refund request of ¥{amount} on order #{order_id}: {note}",
        ),
        "refund.rejected_silently": (
            "订单 #{order_id} 的退款申请（¥{amount}）被商家拒绝",
            "The brand declined your refund request of ¥{amount} on order #{order_id}",
        ),
        "refund.paid": (
            "订单 #{order_id} 的 ¥{amount} 已退回你的支付账户",
            "¥{amount} from order #{order_id} is back in your payment account",
        ),
    }
)


def refund_decided(session: Session, order: Order, refund: OrderRefund) -> None:
    """Tell the buyer what the brand decided (in the decision's transaction)."""
    if refund.status == RefundState.REJECTED:
        kind = "refund.rejected" if refund.decision_note else "refund.rejected_silently"
    else:
        kind = "refund.approved"
    _tell(session, order, refund, kind)


def refund_paid(session: Session, order: Order, refund: OrderRefund) -> None:
    _tell(session, order, refund, "refund.paid")


def _tell(session: Session, order: Order, refund: OrderRefund, kind: str) -> None:
    params = {"order_id": order.id, "refund_id": refund.id, "amount": format_yuan(refund.amount),
              "note": refund.decision_note or ""}  # fmt: skip
    notify(session, [order.buyer_id], kind, params, link=f"/orders/{order.id}#refunds")
