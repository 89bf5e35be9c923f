"""Stored first responses of POSTs that carry an Idempotency-Key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import clock
from core.db import Base
from core.retention import delete_in_batches


class IdempotencyRecord(Base):
    """First response to a POST carrying an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))  # caller identity: user id or "anon:<ip hash>"
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


def prune(session: Session, *, older_than: dt.datetime) -> int:
    """Forget first responses older than the retention: a retry later than that is a new request. Commits."""
    return delete_in_batches(session, IdempotencyRecord, IdempotencyRecord.created_at < older_than)
