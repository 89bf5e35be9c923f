"""Pruning data that grows forever (beat, hourly). Each is one idempotent delete; running twice removes nothing more."""

from __future__ import annotations

from celery import shared_task

from core import idempotency, outbox, retention
from core.accounts import service as accounts
from core.extensions import settings
from search import engagement
from workers.base import AppTask

_LIMITS = {"bind": True, "base": AppTask, "time_limit": 900, "soft_time_limit": 880, "max_retries": 3}


@shared_task(name="maintenance.prune_idempotency", **_LIMITS)
def prune_idempotency(self: AppTask) -> int:
    with self.session() as session:
        return idempotency.prune(session, older_than=retention.cutoff(hours=settings().idempotency_retention_hours))


@shared_task(name="maintenance.prune_outbox", **_LIMITS)
def prune_outbox(self: AppTask) -> int:
    with self.session() as session:
        return outbox.prune_delivered(session, older_than=retention.cutoff(days=settings().outbox_retention_days))


@shared_task(name="maintenance.prune_views", **_LIMITS)
def prune_views(self: AppTask) -> int:
    with self.session() as session:
        return engagement.prune_views(session, older_than=retention.cutoff(days=settings().view_events_retention_days))


@shared_task(name="maintenance.prune_login_attempts", **_LIMITS)
def prune_login_attempts(self: AppTask) -> int:
    s = settings()
    with self.session() as session:
        return accounts.prune_login_attempts(
            session,
            older_than=retention.cutoff(days=s.login_attempts_retention_days),
            successes_older_than=retention.cutoff(days=s.login_known_source_days),
        )


@shared_task(name="maintenance.prune_sign_in_codes", **_LIMITS)
def prune_sign_in_codes(self: AppTask) -> int:
    days = settings().login_attempts_retention_days
    with self.session() as session:
        return accounts.prune_sign_in_codes(session, older_than=retention.cutoff(days=days))
