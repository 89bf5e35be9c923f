"""Deleting rows that are only needed for a while, in small batches that never hold a long lock.

Each owner of such data defines what may go (`core.idempotency.prune`,
`core.outbox.prune_delivered`, `core.accounts.service.prune_login_attempts`,
`search.engagement.prune_views`); the beat's `maintenance.*` jobs run them
with the retention in settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from core import clock

BATCH = 5000


def cutoff(*, days: float = 0, hours: float = 0) -> dt.datetime:
    return clock.now() - dt.timedelta(days=days, hours=hours)


def delete_in_batches(
    session: Session, model: Any, *conditions: ColumnElement[bool], batch_size: int = BATCH, max_batches: int = 1000
) -> int:
    """Delete the rows of `model` matching `conditions`, `batch_size` at a time, committing each batch."""
    removed = 0
    for _ in range(max_batches):
        ids = list(session.scalars(select(model.id).where(*conditions).order_by(model.id).limit(batch_size)))
        if not ids:
            break
        session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
        session.commit()
        removed += len(ids)
        if len(ids) < batch_size:
            break
    return removed
