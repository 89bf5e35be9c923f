"""Logging for every process (web, workers, beat): text for a terminal, JSON lines for a log pipeline.

Each record carries the id of the request that caused it (`request_id`): the
web app sets it per request, Celery carries it in the headers of every task
that request enqueued, so one id ties a request to the tasks it started.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from core.settings import Settings

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# An id from outside is taken only when it is short and plain: it ends up in every log line.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

# Tasks that run every few seconds (and after every commit): their lines are noise at INFO.
CHATTY_TASKS = ("outbox.relay", "engagement.aggregate", "payments.deliver_sandbox_notifications")
_CHATTY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _ACCEPTABLE_ID.match(incoming):
        return incoming
    return secrets.token_hex(8)


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _ChattyTasksToDebug(logging.Filter):
    """Celery logs every receipt and success of a task at INFO; for the periodic chatty ones that is a line a
    second. They are demoted to DEBUG (and dropped unless DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith(_CHATTY_LOGGERS):
            return True
        text = record.getMessage()
        if not any(name in text for name in CHATTY_TASKS):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def configure(settings: Settings, *, force: bool = False, stream: IO[str] | None = None) -> None:
    """Install the root handler (on stderr) once per process, or again with `force`."""
    root = logging.getLogger()
    if root.handlers and not force:
        return
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RequestId())
    handler.addFilter(_ChattyTasksToDebug())
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
