"""Booking and matching jobs: the booking timers and the artists' measured metrics."""

from __future__ import annotations

from celery import shared_task

from commerce.artists import metrics
from commerce.booking import timers
from commerce.booking.bookings import Deps
from core.extensions import settings
from workers.base import AppTask


@shared_task(bind=True, base=AppTask, name="booking.sweep", time_limit=600, soft_time_limit=540, max_retries=0)
def sweep(self: AppTask) -> dict[str, int]:
    """Expire unanswered bookings, finish live checks, pay artists. Safe to run twice: each step is guarded."""
    s = settings()
    with self.session() as session:
        return dict(timers.sweep(session, deps=Deps.from_settings(s, session)))


@shared_task(bind=True, base=AppTask, name="booking.refresh_metrics", time_limit=1800, soft_time_limit=1700,
             max_retries=0)  # fmt: skip
def refresh_metrics(self: AppTask) -> int:
    """Recompute every artist's measured metrics (matching reads only these). Idempotent."""
    with self.session() as session:
        return metrics.refresh(session)
