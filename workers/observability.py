"""Workers: the request id travels with each task, task durations and failures go to Prometheus."""

from __future__ import annotations

import time
from typing import Any

from celery import signals
from prometheus_client import start_http_server

from core import logs, metrics
from workers.celery_app import queue_of

HEADER = "xl_request_id"
_started: dict[str, tuple[float, Any]] = {}  # task id -> (perf counter, the request-id token to reset)


def _queue(task: Any) -> str:
    info = getattr(task.request, "delivery_info", None) or {}
    return str(info.get("routing_key") or queue_of(task.name))


@signals.before_task_publish.connect
def _carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    current = logs.request_id.get()
    if headers is not None and current != "-":
        headers.setdefault(HEADER, current)


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None or task is None:
        return
    incoming = task.request.get(HEADER) or (task.request.headers or {}).get(HEADER)
    token = logs.request_id.set(logs.new_request_id(incoming))
    _started[task_id] = (time.perf_counter(), token)


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    if started is None or task is None:
        return
    metrics.TASK_SECONDS.labels(task.name, _queue(task)).observe(time.perf_counter() - started[0])
    logs.request_id.reset(started[1])


@signals.task_failure.connect
def _task_failed(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        metrics.TASK_FAILURES.labels(sender.name, _queue(sender)).inc()


@signals.task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        metrics.TASK_RETRIES.labels(sender.name, _queue(sender)).inc()


def serve_metrics(port: int) -> None:
    """Each worker node exports its metrics on `port` once it is ready (0: not at all)."""
    if not port:
        return

    @signals.worker_ready.connect(weak=False)
    def _serve(**_: Any) -> None:
        start_http_server(port)
