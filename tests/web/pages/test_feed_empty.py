"""The feed's empty state in Chromium, on a site with no search worker: it appears only while nothing public is in
the index, and says which is true, in zh-CN and English."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer

pytestmark = [pytest.mark.browser]


def empty_text(browser: Any, site: LiveServer, locale: str) -> str:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale=locale)
    page = context.new_page()
    page.goto(f"{site.url}/{'?lang=en' if locale == 'en' else ''}")
    empty = page.locator("[data-empty]")
    text = empty.inner_text() if empty.count() else ""
    slides = page.locator(".slide").count()
    context.close()
    assert slides == 0
    return str(text)


def test_the_empty_feed_tells_the_truth(browser: Any, site: LiveServer) -> None:
    assert "还没有公开的视频" in empty_text(browser, site, "zh-CN")
    assert "There are no public videos yet" in empty_text(browser, site, "en")
    with site.app.extensions["db"].session() as s:  # published, but no worker carries it to the index here
        factories.video(s, uploader=factories.user(s, artist=True), title="刚发布")
        s.commit()
    assert "新视频正在上架" in empty_text(browser, site, "zh-CN")
    assert "New videos are on their way" in empty_text(browser, site, "en")
