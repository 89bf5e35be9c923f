"""`make run`'s promise, in Chromium: the demo seed's feed plays (its videos transcoded by a real worker) and a
demo product is bought end to end through the sandbox pay page."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser import LiveServer, screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADDRESS = {"收货人": "路人甲", "手机号": "13800000000", "省份": "上海市", "城市": "上海市", "区县": "浦东新区",
           "详细地址": "世纪大道 100 号"}  # fmt: skip


def seed_demo(site: LiveServer) -> list[int]:
    """The demo seed, as `make run` loads it; returns its videos once the worker has processed them all."""
    from media.models import Video, VideoStatus, Visibility
    from web.demo import seed

    db = site.app.extensions["db"]
    with site.app.test_request_context(), db.session() as s:
        seed(s)
    public = select(Video.id, Video.status).where(Video.visibility == Visibility.PUBLIC)
    deadline = time.monotonic() + 240
    while True:
        with db.session() as s:
            statuses = dict(s.execute(public).all())
        if statuses and all(st == VideoStatus.READY for st in statuses.values()):
            return sorted(statuses)
        assert VideoStatus.FAILED not in statuses.values(), statuses
        assert time.monotonic() < deadline, f"demo videos not processed: {statuses}"
        time.sleep(0.5)


def test_the_demo_feed_plays_and_a_demo_product_is_bought(page: Any, worker_site: LiveServer) -> None:
    from web.demo import DEMO_PASSWORD

    videos = seed_demo(worker_site)
    page.goto(f"{worker_site.url}/")
    first = page.locator(".slide").first
    assert int(first.get_attribute("data-video-id")) in videos
    page.wait_for_function(
        "() => { const v = document.querySelector('.slide video'); return v && v.currentTime > 1; }", timeout=60_000
    )
    card = first.locator(".pcard:not([hidden])").first
    card.wait_for(timeout=60_000)  # the demo's cards show within their windows
    page.screenshot(path=screenshot_path("demo-feed"))
    card.click()
    sheet = page.get_by_role("dialog")
    sheet.locator("[data-price]").wait_for()
    sheet.get_by_role("button", name="立即购买").click()
    page.wait_for_url(re.compile(r"/login\?"))
    page.get_by_label("邮箱").fill("viewer@xinglian.local")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/checkout?*")
    for label, value in ADDRESS.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="提交订单并支付").click()
    page.wait_for_url("**/sandbox/pay/*")
    page.get_by_test_id("pay").click()
    page.get_by_test_id("payment-status").filter(has_text="支付成功").wait_for()
    page.get_by_role("link", name="查看订单").click()
    page.wait_for_url("**/orders/*")
    assert page.locator(".shop-status").first.inner_text() == "已支付"
    page.screenshot(path=screenshot_path("demo-order-paid"), full_page=True)
