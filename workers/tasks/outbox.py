from __future__ import annotations

from celery import shared_task

from core.extensions import outbox_relay, settings
from workers.base import AppTask


@shared_task(bind=True, base=AppTask, name="outbox.relay", time_limit=300, soft_time_limit=280, max_retries=None)
def relay(self: AppTask) -> int:
    """Drain the outbox. Safe to run twice: consumers apply events idempotently."""
    with self.session() as session:
        return outbox_relay().drain(session, batch_size=settings().outbox_batch_size)
