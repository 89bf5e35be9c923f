"""Thin account tasks: the password reset mail, sent after the request that asked for it has committed."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from core.accounts import reset as resets
from core.accounts.delivery import DeliveryFailed, open_mailer
from core.extensions import settings
from workers.base import AppTask


@shared_task(bind=True, base=AppTask, name="accounts.send_password_reset", time_limit=120, soft_time_limit=100)
def send_password_reset(self: AppTask, user_id: int, locale: str = "zh-CN") -> bool:
    """Make and mail a reset link. Running twice mails a second link, which retires the first."""
    s = settings()
    with self.session() as session:
        try:
            ttl = dt.timedelta(minutes=s.password_reset_ttl_minutes)
            mailer = open_mailer(s, session)
            return resets.send_reset_link(
                session, mailer, user_id=user_id, base_url=s.public_base_url, ttl=ttl, locale=locale
            )
        except DeliveryFailed as exc:  # the relay is down or refused for now: the person is still waiting
            raise self.retry(exc=exc, countdown=self.backoff()) from exc
