"""End to end through a real broker and a real worker process: commit -> enqueue -> worker -> database."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from core import logs
from core.db import Database
from core.outbox import OutboxEvent, emit
from core.settings import Settings
from tests.celery_worker import celery_worker, wait_until
from tests.conftest import AMQP_URL, REDIS_URL, make_settings, migrate


def _relay_round_trip(settings: Settings) -> None:
    from web import create_app

    # DEBUG: the relay's own lines are demoted below INFO (it runs after every commit).
    settings = settings.model_copy(update={"log_level": "DEBUG"})
    app = create_app(settings)
    db: Database = app.extensions["db"]
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    with celery_worker(settings, loglevel="DEBUG") as worker:
        with db.session() as s:
            event = emit(s, "diagnostic", "e2e", payload={"run": uuid.uuid4().hex})
            token = logs.request_id.set(request_id)  # as if a web request had made the change
            try:
                s.commit()  # the relay task is published only now, after the commit
            finally:
                logs.request_id.reset(token)
            event_id = event.id

        def delivered() -> bool:
            with db.session() as s:
                return s.scalar(select(OutboxEvent.delivered_at).where(OutboxEvent.id == event_id)) is not None

        wait_until(delivered, timeout=60, message=f"event delivered; worker said:\n{worker.output()[-3000:]}")
        # The request's id travelled with the task into the worker's log lines.
        wait_until(lambda: any("outbox.relay" in line and request_id in line for line in worker.lines), timeout=30,
                   message=f"relay logged with {request_id}; worker said:\n{worker.output()[-3000:]}")  # fmt: skip
    db.dispose()


@pytest.mark.redis
@pytest.mark.postgres
def test_task_runs_on_a_real_worker_over_redis(committed_db: Database, settings: Settings) -> None:
    _relay_round_trip(
        settings.model_copy(
            update={"celery_broker_url": REDIS_URL, "celery_key_prefix": f"xltest-{uuid.uuid4().hex[:8]}:"}
        )
    )


def test_task_runs_on_a_real_worker_over_the_sqlite_broker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    migrate(url)
    _relay_round_trip(
        make_settings(tmp_path, database_url=url, celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}")
    )


@pytest.fixture
def amqp_vhost_url() -> Iterator[str]:
    """A RabbitMQ virtual host of this test's own, so no other run's messages reach its worker (or the reverse)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:  # a remote broker: share its default vhost
        yield AMQP_URL
        return
    vhost = f"xltest-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True, timeout=60
    )
    try:
        yield urlunsplit(urlsplit(AMQP_URL)._replace(path="/" + vhost))
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], check=False, capture_output=True, timeout=60)


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_task_runs_on_a_real_worker_over_rabbitmq(
    committed_db: Database, settings: Settings, amqp_vhost_url: str
) -> None:
    _relay_round_trip(settings.model_copy(update={"celery_broker_url": amqp_vhost_url}))
