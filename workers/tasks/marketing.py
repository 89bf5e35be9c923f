"""Thin marketing tasks: the 拼团 group-buy expiry (see workers/beat.py); safe to run twice and concurrently."""

from __future__ import annotations

from celery import shared_task

from commerce.marketing import group_buys
from commerce.payments import notify_url, open_provider
from core.extensions import settings
from workers.base import AppTask


@shared_task(bind=True, base=AppTask, name="marketing.group_buys.expire", time_limit=300, soft_time_limit=280)
def expire_group_buys(self: AppTask) -> int:
    """Groups whose window ended unfilled fail; every paid member is refunded once, unpaid seats are released."""
    s = settings()
    with self.session() as session:
        return group_buys.expire(
            session, provider=open_provider(s, session), notify_url=notify_url(s, s.payment_provider)
        )
