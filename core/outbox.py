"""Transactional outbox.

A change and the event describing it are written in the same transaction, so
an event exists if and only if the change committed. A relay (the
`outbox.relay` task, also run periodically as a safety net) drains undelivered
events in id order to the registered consumers, then marks them delivered.

Delivery is at-least-once: a relay that dies after delivering and before
marking delivers the same events again. Consumers therefore apply events
idempotently — the search index by external version (the event id), database
consumers through `Inbox`, which remembers which event ids they applied.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Index, String, Text, delete, exists, func, select, text, update
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from core import clock
from core.db import Base
from core.retention import delete_in_batches
from core.tasks import enqueue_after_commit

log = logging.getLogger(__name__)

RELAY_TASK = "outbox.relay"


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index(
            "ix_outbox_events_pending",
            "id",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
        # The latest event per entity is the version a rebuilt search document carries.
        Index("ix_outbox_events_topic_entity", "topic", "entity_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(16), default="upsert")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class InboxRecord(Base):
    """Event ids a database consumer has applied; the primary key makes reapplying impossible."""

    __tablename__ = "outbox_inbox"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


@dataclass(frozen=True)
class Message:
    id: int
    topic: str
    entity_id: str
    op: str
    payload: dict[str, Any] | None
    created_at: dt.datetime

    @property
    def version(self) -> int:
        """Monotonic per database: later events for an entity always carry a larger version."""
        return self.id


Consumer = Callable[[Session, Sequence[Message]], None]


def emit(
    session: Session,
    topic: str,
    entity_id: str | int,
    *,
    op: str = "upsert",
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Record that `topic/entity_id` changed, in the caller's transaction."""
    if op not in ("upsert", "delete"):
        raise ValueError(f"unknown outbox op {op!r}")
    event = OutboxEvent(topic=topic, entity_id=str(entity_id), op=op, payload=payload)
    session.add(event)
    enqueue_after_commit(session, RELAY_TASK)
    return event


class Relay:
    """Consumers by topic, and the loop that feeds them.

    A consumer is called as `consumer(session, messages)` with the relay's
    session: it may read through it (to build documents), write effects that
    then commit together with the delivery mark, or commit early to release
    locks before slow external work. The relay marks rows with plain UPDATEs,
    so it does not depend on what a consumer left in the session.
    """

    def __init__(self) -> None:
        self._consumers: dict[str, list[Consumer]] = defaultdict(list)

    def subscribe(self, topic: str, consumer: Consumer) -> None:
        self._consumers[topic].append(consumer)

    def topics(self) -> list[str]:
        return sorted(self._consumers)

    def run_once(self, session: Session, *, batch_size: int = 500) -> int:
        """Deliver one batch; returns how many events were marked delivered."""
        stmt = (
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.entity_id, OutboxEvent.op, OutboxEvent.payload,
                   OutboxEvent.created_at)
            .where(OutboxEvent.delivered_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(batch_size)
            # On PostgreSQL two relays never hold the same rows. SQLite has no row
            # locks; its relays are serialised by the single search worker.
            .with_for_update(skip_locked=True)
        )  # fmt: skip
        messages = [Message(*row) for row in session.execute(stmt)]
        if not messages:
            session.commit()
            return 0
        if session.get_bind().dialect.name == "sqlite":
            # Release the database write lock while consumers talk to other systems.
            session.commit()
        by_topic: dict[str, list[Message]] = defaultdict(list)
        for m in messages:
            by_topic[m.topic].append(m)
        done: list[int] = []
        failed: dict[int, str] = {}
        for topic, batch in by_topic.items():
            try:
                for consumer in self._consumers.get(topic, []):
                    consumer(session, batch)
            except Exception as exc:  # one broken consumer must not block other topics
                log.exception("outbox consumer for %s failed", topic)
                session.rollback()
                failed.update((m.id, f"{type(exc).__name__}: {exc}"[:2000]) for m in batch)
                continue
            done.extend(m.id for m in batch)
        if done:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(done))
                .values(delivered_at=clock.now(), attempts=OutboxEvent.attempts + 1)
            )
        for event_id, error in failed.items():
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(attempts=OutboxEvent.attempts + 1, last_error=error)
            )
        session.commit()
        return len(done)

    def drain(self, session: Session, *, batch_size: int = 500, max_batches: int = 1000) -> int:
        total = 0
        for _ in range(max_batches):
            n = self.run_once(session, batch_size=batch_size)
            total += n
            if n < batch_size:
                break
        return total


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(OutboxEvent.delivered_at.is_(None))) or 0


class Inbox:
    """Exactly-once application of events by a consumer that writes to the database.

    `fresh()` returns the events this consumer has not applied yet and records
    them in the caller's transaction, so the record and the effect commit (or
    vanish) together.
    """

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer

    def fresh(self, session: Session, messages: Iterable[Message]) -> list[Message]:
        messages = list(messages)
        if not messages:
            return []
        seen = set(
            session.scalars(
                select(InboxRecord.event_id).where(
                    InboxRecord.consumer == self.consumer,
                    InboxRecord.event_id.in_([m.id for m in messages]),
                )
            )
        )
        new = [m for m in messages if m.id not in seen]
        session.add_all(InboxRecord(consumer=self.consumer, event_id=m.id) for m in new)
        return new


def prune_delivered(session: Session, *, older_than: dt.datetime) -> int:
    """Delete delivered events older than the retention, except each entity's latest (a rebuilt search
    document takes its version from it), and the consumers' inbox rows as old. Commits."""
    later = aliased(OutboxEvent)
    superseded = exists().where(
        later.topic == OutboxEvent.topic, later.entity_id == OutboxEvent.entity_id, later.id > OutboxEvent.id
    )
    removed = delete_in_batches(
        session, OutboxEvent, OutboxEvent.delivered_at.is_not(None), OutboxEvent.delivered_at < older_than, superseded
    )
    session.execute(delete(InboxRecord).where(InboxRecord.applied_at < older_than))
    session.commit()
    return removed
