"""Thin money-path tasks: settlement, reservation and flash-sale expiry, auto-confirmation, refunds, payouts,
sandbox webhooks.

Periodic ones scan rows (see workers/beat.py); all are safe to run twice and concurrently.
"""

from __future__ import annotations

from celery import shared_task

from commerce.marketing import flash_sales
from commerce.orders import expiry, lifecycle, refunds, settlement
from commerce.payments import notify_url, open_provider
from commerce.payments.provider import ProviderUnavailable
from commerce.payments.sandbox import deliver_due
from commerce.payouts import service as payouts
from core.extensions import extension, settings
from workers.base import AppTask


def _policy():  # type: ignore[no-untyped-def]
    return extension("money_policy")


@shared_task(bind=True, base=AppTask, name="settlement.settle_due", time_limit=600, soft_time_limit=570)
def settle_due(self: AppTask) -> int:
    """Move earnings whose return window closed from pending to available; complete finished orders."""
    with self.session() as session:
        return settlement.settle_due(session, batch_size=_policy().settlement_batch_size).settled


@shared_task(bind=True, base=AppTask, name="orders.expire_unpaid", time_limit=300, soft_time_limit=280)
def expire_unpaid(self: AppTask) -> int:
    """Release the stock of checkouts whose reservation ran out unpaid (after asking the provider)."""
    with self.session() as session:
        return expiry.expire_unpaid(session, open_provider(settings(), session))


@shared_task(bind=True, base=AppTask, name="flash_sales.expire", time_limit=300, soft_time_limit=280)
def expire_flash_admissions(self: AppTask) -> int:
    """Flash-sale admissions past their pay window, or whose order was cancelled unpaid, give their units back;
    sales that are over give the units nobody took back to the SKU."""
    gate = extension("flash_sale_gate")
    with self.session() as session:
        returned = flash_sales.expire_admissions(session, gate)
        flash_sales.close_ended(session, gate)
        return returned


@shared_task(bind=True, base=AppTask, name="orders.auto_confirm", time_limit=300, soft_time_limit=280)
def auto_confirm(self: AppTask) -> int:
    """Confirm delivery of orders shipped long enough ago; their return window starts."""
    policy = _policy()
    with self.session() as session:
        return lifecycle.auto_confirm_due(session, auto_confirm=policy.auto_confirm, return_window=policy.return_window)


@shared_task(bind=True, base=AppTask, name="orders.submit_refund", time_limit=120, soft_time_limit=110)
def submit_refund(self: AppTask, refund_id: int) -> None:
    """Ask the provider to pay an approved refund back (late payments; resubmissions)."""
    s = settings()
    try:
        with self.session() as session:
            refunds.submit_refund(
                session, open_provider(s, session), refund_id, notify_url=notify_url(s, s.payment_provider)
            )
            session.commit()
    except ProviderUnavailable as exc:
        raise self.retry(exc=exc, countdown=self.backoff()) from exc


@shared_task(bind=True, base=AppTask, name="orders.resubmit_refunds", time_limit=300, soft_time_limit=280)
def resubmit_refunds(self: AppTask) -> int:
    """Safety net: approved refunds never handed to the provider get a submission task."""
    with self.session() as session:
        pending = refunds.unsubmitted(session)
    for refund_id in pending:
        submit_refund.delay(refund_id)
    return len(pending)


@shared_task(bind=True, base=AppTask, name="payouts.execute", time_limit=120, soft_time_limit=110)
def execute_payout(self: AppTask, payout_id: int) -> None:
    """Transfer a requested withdrawal; a refused transfer returns the money to available."""
    try:
        with self.session() as session:
            payouts.execute_payout(session, open_provider(settings(), session), payout_id)
    except ProviderUnavailable as exc:
        raise self.retry(exc=exc, countdown=self.backoff()) from exc


@shared_task(bind=True, base=AppTask, name="payments.deliver_sandbox_notifications", time_limit=300,
             soft_time_limit=280)  # fmt: skip
def deliver_sandbox_notifications(self: AppTask) -> int:
    """The sandbox provider's webhook sender: POST due notifications, retry failures with backoff."""
    with self.session() as session:
        return deliver_due(session, settings().sandbox_secrets()[0]).delivered
