from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery
from flask import Flask
from kombu import Queue

from core.settings import Settings
from workers.base import AppTask
from workers.beat import beat_schedule

QUEUES = ("media", "search", "default")
# Task names start with their queue's job: "media.*" on media, "search.*" and the
# outbox relay on search (they write the index), everything else on default.
ROUTES = {
    "media.*": {"queue": "media"},
    "search.*": {"queue": "search"},
    "outbox.*": {"queue": "search"},
}


def queue_of(task_name: str) -> str:
    """The queue ROUTES send a task to (the label of its metrics when the broker did not say)."""
    for pattern, route in ROUTES.items():
        if task_name.startswith(pattern.removesuffix("*")):
            return str(route["queue"])
    return "default"


class CelerySender:
    """core.tasks.TaskSender that publishes through Celery."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def send(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.celery.send_task(name, args=args, kwargs=kwargs)


def celery_config(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "task_ignore_result": settings.celery_result_backend is None,
        "task_queues": [Queue(q, routing_key=q) for q in QUEUES],
        "task_default_queue": "default",
        "task_routes": ROUTES,
        # A task is acknowledged after it ran, so a killed worker's task is redelivered.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A hard limit for every task; soft limits are per task, since a global one would
        # exceed the hard limit of any short task that sets only its own.
        "task_time_limit": 600,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule(),
        "beat_schedule_filename": settings.celery_beat_schedule,
        "worker_hijack_root_logger": False,
    }
    # Beat opens its schedule file with shelve, which creates the file but not its directory.
    Path(settings.celery_beat_schedule).parent.mkdir(parents=True, exist_ok=True)
    if settings.celery_broker_url.startswith("redis"):
        # Redelivery of unacked messages after a worker dies; must exceed the longest task.
        conf["broker_transport_options"] = {"visibility_timeout": settings.celery_visibility_timeout}
        if settings.celery_visibility_timeout < 600:
            # A short timeout (tests, development) is only useful if abandoned messages are swept as often.
            conf["broker_transport_options"].update(unacked_restore_interval=1, unacked_restore_throttle=1)
        if settings.celery_key_prefix:
            conf["broker_transport_options"]["global_keyprefix"] = settings.celery_key_prefix
    return conf


def make_celery(app: Flask) -> Celery:
    settings: Settings = app.config["SETTINGS"]
    celery = Celery(app.import_name, task_cls=AppTask)
    celery.conf.update(celery_config(settings))
    celery.flask_app = app  # type: ignore[attr-defined]
    celery.set_default()
    import workers.tasks  # noqa: F401  registers the shared tasks with this app
    from workers import observability

    observability.serve_metrics(settings.worker_metrics_port)

    app.extensions["celery"] = celery
    app.extensions["db"].task_sender = CelerySender(celery)
    return celery
