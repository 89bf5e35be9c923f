"""Search queue: reconcile the index with the database. Default queue: aggregate engagement counters."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.extensions import database, extension
from search import engagement, maintenance
from search.documents import ENTITIES
from workers.base import AppTask


@shared_task(bind=True, base=AppTask, name="search.reconcile", time_limit=3600, soft_time_limit=3500, max_retries=3)
def reconcile(self: AppTask) -> dict[str, Any]:
    """Find documents missing, different or superfluous and emit outbox events to repair them."""
    reports = [maintenance.reconcile(database(), extension("search"), entity) for entity in ENTITIES.values()]
    return {r.alias: {"checked": r.checked, "repaired": r.repaired} for r in reports}


@shared_task(bind=True, base=AppTask, name="engagement.aggregate", time_limit=300, soft_time_limit=280, max_retries=3)
def aggregate_engagement(self: AppTask) -> int:
    """Count pending engagement events into video counters. Safe to run twice: one aggregator holds the lock."""
    with self.session() as session:
        return engagement.drain(session)
