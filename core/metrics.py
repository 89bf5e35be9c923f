"""Prometheus metrics of every process, defined once.

The web app serves them at /metrics; a worker serves its own on
`WORKER_METRICS_PORT`. With several processes per host (gunicorn workers, a
prefork Celery pool), set `PROMETHEUS_MULTIPROC_DIR` to an empty directory per
deployment: prometheus_client then aggregates every process's values.
Labels are bounded sets (endpoint names, task names, outcome codes), never paths or ids.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_SECONDS = Histogram(
    "xinglian_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_SECONDS = Histogram(
    "xinglian_task_duration_seconds",
    "Time a Celery task ran, by task and queue",
    ["task", "queue"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900),
)
TASK_FAILURES = Counter("xinglian_task_failures_total", "Tasks that raised, by task and queue", ["task", "queue"])
TASK_RETRIES = Counter("xinglian_task_retries_total", "Tasks that asked to be retried", ["task", "queue"])
TRANSCODE_REALTIME = Histogram(
    "xinglian_transcode_realtime_factor",
    "Seconds of video transcoded per second of wall time (the whole ladder)",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
OUTBOX_LAG = Gauge(
    "xinglian_outbox_lag_seconds", "Age of the oldest undelivered outbox event (0: none)", multiprocess_mode="max"
)
OUTBOX_PENDING = Gauge("xinglian_outbox_pending_events", "Undelivered outbox events", multiprocess_mode="max")
CHECKOUTS = Counter("xinglian_checkouts_total", "Checkout attempts by outcome (placed, or the refusal's code)",
                    ["outcome"])  # fmt: skip
WEBHOOKS = Counter("xinglian_payment_webhooks_total", "Payment notifications by provider and outcome",
                   ["provider", "outcome"])  # fmt: skip


def exposition(multiproc_dir: str = "") -> tuple[bytes, str]:
    """The text exposition of this process's metrics, or of every process's when they share a directory."""
    if multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
