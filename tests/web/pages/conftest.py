from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LiveServer, chromium_path, launch_chromium, live_server
from tests.conftest import free_port, make_settings, migrate


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if chromium_path() is None:
        pytest.fail("Chromium is not installed; `make test` installs Debian's chromium package")
    with launch_chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context sized like a phone, per test."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The whole web app on a real port, with its own migrated SQLite database and storage."""
    from web import create_app

    var: Path = tmp_path_factory.mktemp("site")
    port = free_port()
    url = f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    app = create_app(make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}"))
    with live_server(app, port) as server:
        yield server
    app.extensions["db"].dispose()


@pytest.fixture(scope="module")
def worker_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The site as `make run` serves it: embedded defaults (SQLite, local storage, embedded search, Celery over a
    SQLite broker) with a real Celery worker process behind it, so uploads transcode, the outbox reaches the search
    index and payments settle exactly as in production, not by the test calling services itself."""
    with running_worker_site(tmp_path_factory) as server:
        yield server


@contextlib.contextmanager
def running_worker_site(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Iterator[LiveServer]:
    from tests.celery_worker import celery_worker
    from web import create_app

    var: Path = tmp_path_factory.mktemp("worker-site")
    port = free_port()
    url = f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    settings = make_settings(
        var,
        database_url=url,
        public_base_url=f"http://127.0.0.1:{port}",
        celery_broker_url=f"sqla+sqlite:///{var / 'broker.sqlite3'}",
        media_ladder="540:1600,360:700",  # two renditions keep each transcode a few seconds on a 2-core machine
        **overrides,
    )
    app = create_app(settings)
    with celery_worker(settings, queues="default,search,media", name="site"), live_server(app, port) as server:
        yield server
    app.extensions["db"].dispose()
