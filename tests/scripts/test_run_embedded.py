"""`make run`'s process runner: web, both workers and beat come up on the embedded defaults, serve, and Ctrl-C
stops every one of them cleanly — each exits 0 on its own, none is killed after the grace period."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from core.settings import PROJECT_ROOT
from tests.celery_worker import settings_env
from tests.conftest import free_port, make_settings, migrate

pytestmark = pytest.mark.slow

PROCESSES = ("web", "worker", "search", "beat")


def test_ctrl_c_stops_web_workers_and_beat_cleanly(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    migrate(url)
    settings = make_settings(
        tmp_path, database_url=url, public_base_url=f"http://127.0.0.1:{port}",
        celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
    )  # fmt: skip
    env = {**settings_env(settings), "PORT": str(port)}
    # Its own process group, as a terminal's foreground job: Ctrl-C is SIGINT to that group.
    runner = subprocess.Popen(
        [sys.executable, "scripts/run_embedded.py"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(runner.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ready = sum("celery.apps.worker" in line and line.rstrip().endswith(" ready.") for line in lines)
            try:
                healthy = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok"
            except (requests.RequestException, ValueError):
                healthy = False
            if healthy and ready >= 2:  # both workers connected to the broker
                break
            assert runner.poll() is None, "".join(lines)[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("the site never came up:\n" + "".join(lines)[-3000:])
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        os.killpg(runner.pid, signal.SIGINT)
        runner.wait(timeout=25)  # well inside the 30 s grace: nobody waited for a SIGKILL
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        # Each process runs in its own session: a failed stop must not leave any behind for later tests.
        for pid in re.findall(r"system \| \w+ started \(pid=(\d+)\)", "".join(lines)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)
    out = "".join(lines)
    assert "SIGKILL" not in out, out[-3000:]
    stopped = dict(re.findall(r"system \| (\w+) stopped \(rc=(-?\d+)\)", out))
    assert stopped == dict.fromkeys(PROCESSES, "0"), out[-3000:]
