"""The browser tests' live site with a real worker behind it is healthy, and its worker really runs tasks."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.browser import LiveServer
from tests.celery_worker import wait_until

pytestmark = pytest.mark.browser


def test_live_site_is_healthy_and_its_worker_drains_the_outbox(worker_site: LiveServer) -> None:
    from core import outbox

    with urllib.request.urlopen(f"{worker_site.url}/healthz") as r:
        body = json.load(r)
    assert body["status"] == "ok", body
    with worker_site.app.extensions["db"].session() as s:
        outbox.emit(s, "harness.ping", "1", payload={"hello": "worker"})
        s.commit()

    def drained() -> bool:
        with worker_site.app.extensions["db"].session() as s:
            return outbox.pending_count(s) == 0

    wait_until(drained, timeout=60, message="the worker's relay delivering every outbox message")
