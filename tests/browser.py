"""Playwright driving Debian's Chromium (installed by `make test`; nothing is downloaded at test time)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from core.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# As the machine's own probe runs it: headless, no sandbox (root), and no background
# networking, which this closed network would refuse many times over.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """A headless Playwright browser on Debian's Chromium (the `browser` fixtures wrap this)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium is not installed; `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LiveServer:
    app: Flask
    server: BaseWSGIServer
    url: str


@contextmanager
def live_server(app: Flask, port: int) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, server, f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


FEED_HAS = "async (id) => (await (await fetch('/api/v1/feed?limit=10')).json()).items.some((v) => v.id === id)"


def until(condition: Callable[[], object], seconds: float = 30) -> None:
    """Poll from the test until `condition()` is truthy. (Playwright's wait_for_function does not await an async
    predicate: the promise it returns is truthy at once, so such a wait never waits.)"""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.3)


def in_feed(page: Any, video_id: int) -> bool:
    """The first page of the feed, as the page's own session sees it, has the video."""
    return bool(page.evaluate(FEED_HAS, video_id))
