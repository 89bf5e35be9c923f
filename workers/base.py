from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from celery import Task
from sqlalchemy.orm import Session


class AppTask(Task):  # type: ignore[misc]
    """Runs inside the Flask app context and hands out a session per unit of work.

    Defaults follow the project's task rules: acknowledged late, redelivered
    when the worker dies, retried only when a task asks for it, time-limited.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 5
    default_retry_delay = 10

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        from core.extensions import database

        with database().session() as session:
            yield session

    def backoff(self) -> int:
        """Exponential backoff for retries of transient failures, capped at 10 minutes."""
        return int(min(600, self.default_retry_delay * 2**self.request.retries))
