"""Probes, Prometheus metrics, request ids and structured logs."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import signals
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from core import logs, metrics
from core.settings import Settings
from tests.conftest import make_settings
from workers import observability as worker_observability


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name]  # fmt: skip


def test_livez_answers_while_readyz_names_what_is_down(tmp_path: Path) -> None:
    from web import create_app

    app = create_app(make_settings(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                                   celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"))  # fmt: skip
    client = app.test_client()
    assert client.get("/livez").status_code == 200  # a database outage is no reason to restart the process
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "not_ready", "down": ["database"]}
    app.extensions["db"].dispose()


def test_readyz_is_ready_on_the_embedded_defaults(tmp_path: Path) -> None:
    from web import create_app

    app = create_app(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}",
                                   celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"))  # fmt: skip
    r = app.test_client().get("/readyz")
    assert (r.status_code, r.get_json()) == (200, {"status": "ready", "down": []})
    app.extensions["db"].dispose()


def test_metrics_count_requests_by_route_not_by_path_and_outcomes_by_code(client: FlaskClient) -> None:
    def missing_video_requests(text: str) -> list[float]:
        return [n for labels, n in _samples(text, "xinglian_http_request_duration_seconds_count")
                if labels["endpoint"] == "api_v1.get_video" and labels["status"] == "404"]  # fmt: skip

    before = sum(missing_video_requests(metrics_text()))
    for video_id in (900001, 900002, 900003):
        assert client.get(f"/api/v1/videos/{video_id}").status_code == 404
    client.post("/api/v1/payments/webhooks/sandbox", data=b"{}", headers={"Content-Type": "application/json"})
    client.post("/api/v1/payments/webhooks/%3Cscript%3E", data=b"{}")
    text = client.get("/metrics").get_data(as_text=True)
    counts = _samples(text, "xinglian_http_request_duration_seconds_count")
    series = missing_video_requests(text)
    assert len(series) == 1  # three ids, one series
    assert series[0] == before + 3
    assert not any("900001" in value for labels, _ in counts for value in labels.values())
    webhooks = {(lb["provider"], lb["outcome"]) for lb, n in _samples(text, "xinglian_payment_webhooks_total") if n}
    assert ("sandbox", "webhook_bad_signature") in webhooks
    assert not any("script" in provider for provider, _ in webhooks)  # the path never becomes a label
    assert _samples(text, "xinglian_outbox_lag_seconds")


def test_metrics_can_require_a_token(tmp_path: Path, settings: Settings) -> None:
    from web import create_app

    app = create_app(settings.model_copy(update={"metrics_token": "s3cret-scrape-token"}))
    client = app.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert ok.status_code == 200
    assert "xinglian_http_request_duration_seconds" in ok.get_data(as_text=True)
    app.extensions["db"].dispose()


def test_every_response_carries_a_request_id_and_only_a_plain_one_is_taken_from_outside(client: FlaskClient) -> None:
    made = client.get("/livez").headers["X-Request-ID"]
    assert len(made) == 16
    assert client.get("/livez", headers={"X-Request-ID": "edge-4f2a9c11"}).headers["X-Request-ID"] == "edge-4f2a9c11"
    for bad in ("x" * 500, "a b c d e f g h", "short"):
        assert client.get("/livez", headers={"X-Request-ID": bad}).headers["X-Request-ID"] != bad


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    logs.configure(make_settings(tmp_path, log_format="json"), force=True, stream=out)
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_json_logs_carry_the_request_id_and_chatty_task_lines_drop_to_debug(json_logs: io.StringIO) -> None:
    token = logs.request_id.set("req-0123456789")
    try:
        logging.getLogger("xinglian.test").info("订单已支付")
        trace = logging.getLogger("celery.app.trace")
        trace.info("Task %s[%s] succeeded in %ss: %r", "outbox.relay", "id-1", 0.01, 3)
        trace.info("Task %s[%s] succeeded in %ss: %r", "media.process_video", "id-2", 42.0, None)
    finally:
        logs.request_id.reset(token)
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert lines[0]["message"] == "订单已支付"
    assert (lines[0]["level"], lines[0]["logger"], lines[0]["request_id"]) == ("INFO", "xinglian.test",
                                                                               "req-0123456789")  # fmt: skip
    assert [line["message"] for line in lines[1:]] == ["Task media.process_video[id-2] succeeded in 42.0s: None"]


def test_task_durations_and_failures_are_recorded_per_task_and_queue(app: Flask) -> None:
    celery = app.extensions["celery"]
    before = _samples(metrics_text(), "xinglian_task_duration_seconds_count")
    result = celery.tasks["maintenance.prune_idempotency"].apply()
    assert result.successful(), result.traceback
    after = _samples(metrics_text(), "xinglian_task_duration_seconds_count")
    ran = [n for labels, n in after if labels["task"] == "maintenance.prune_idempotency"]
    assert {lb["queue"] for lb, _ in after if lb["task"] == "maintenance.prune_idempotency"} == {"default"}
    assert ran
    assert ran[0] == 1 + sum(n for lb, n in before if lb["task"] == "maintenance.prune_idempotency")
    failures = celery.tasks["media.process_video"].apply(args=["not-an-id"])
    assert failures.failed()
    failed = _samples(metrics_text(), "xinglian_task_failures_total")
    assert any(lb["task"] == "media.process_video" and n >= 1 for lb, n in failed)


def test_a_worker_serves_its_metrics_on_its_port_once_ready() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker_observability.serve_metrics(port)
    signals.worker_ready.send(sender=None)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "xinglian_task_duration_seconds" in body


def metrics_text() -> str:
    return metrics.exposition()[0].decode()
