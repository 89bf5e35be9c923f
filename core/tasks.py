"""Enqueue background tasks only after the surrounding transaction commits.

A task enqueued inside a transaction that later rolls back would run against
rows that never existed (or run before they are visible). So services call
`enqueue_after_commit(session, name, ...)`; the message is sent from the
session's `after_commit` hook and dropped on rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction


class TaskSender(Protocol):
    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None: ...


@dataclass
class RecordingSender:
    """Keeps sent tasks in memory: for tests and for processes without a broker."""

    sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.sent.append((name, args, kwargs))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.sent]


_PENDING = "xl_pending_tasks"
SENDER = "xl_task_sender"


def enqueue_after_commit(session: Session, name: str, *args: Any, **kwargs: Any) -> None:
    pending: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = session.info.setdefault(_PENDING, [])
    item = (name, args, kwargs)
    if item not in pending:  # the same relay asked for ten times in a transaction runs once
        pending.append(item)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    sender: TaskSender | None = session.info.get(SENDER)
    if sender is None:
        return
    for name, args, kwargs in pending:
        sender.send(name, args, kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)
