"""Content review in Chromium at a phone viewport, with a real worker: a new creator's upload waits unseen; an
admin reviews it in the console (HLS player, storyboard, uploader record), asks for changes with a reason; the
creator reads it and resubmits; the admin approves and the video reaches the feed. In zh-CN and English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, in_feed, screenshot_path, until
from tests.web.pages.conftest import running_worker_site
from tests.web.pages.test_studio import PROCESSING_TIMEOUT_MS, api_get, upload, vertical_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def review_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_worker_site(tmp_path_factory, review_mode="new_accounts") as server:
        with server.app.extensions["db"].session() as s:
            factories.user(s, email="reviewer@example.com", admin=True, display_name="审核员")
            factories.user(s, email="newbie@example.com", artist=True, display_name="新人")
            factories.user(s, email="viewer@example.com")
            s.commit()
        yield server


def _sign_in(page: Any, site: LiveServer, email: str, next_path: str) -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}{next_path}")


def test_a_new_creators_video_waits_for_review_then_goes_public(
    review_site: LiveServer, browser: Any, tmp_path: Path
) -> None:
    site = review_site

    def phone(locale: str = "zh-CN") -> Any:
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale)  # fmt: skip
        return ctx.new_page()

    creator = phone()
    _sign_in(creator, site, "newbie@example.com", "/studio")
    upload(creator, vertical_clip(tmp_path), "第一次发视频")
    panel = creator.locator("[data-upload-processing] [data-processing]")
    panel.wait_for()
    video_id = int(panel.get_attribute("data-video-id"))
    creator.locator("[data-upload-processing] [data-processing][data-status=ready]").wait_for(
        timeout=PROCESSING_TIMEOUT_MS
    )
    # Ready, but held: the studio says so, the public does not see it.
    until(lambda: api_get(creator, f"/api/v1/videos/{video_id}")["review_state"] == "held")
    creator.goto(f"{site.url}/studio/videos/{video_id}")
    assert creator.locator("[data-review-badge]").inner_text() == "审核中，暂未公开"
    assert "平台审核通过后视频才会公开" in creator.locator("[data-review-note]").inner_text()
    assert not in_feed(creator, video_id)

    # A viewer who is not an admin is turned away from the console.
    viewer = phone()
    _sign_in(viewer, site, "viewer@example.com", "/me")
    refused = viewer.goto(f"{site.url}/admin/reviews")
    assert refused.status == 403
    assert "没有权限" in viewer.locator("body").inner_text()

    admin = phone()
    _sign_in(admin, site, "reviewer@example.com", "/admin/reviews")
    row = admin.locator("[data-queue] li", has_text="第一次发视频")
    assert "新账号的视频，公开前先审核" in row.inner_text()
    assert "未公开" in row.inner_text()
    admin.screenshot(path=screenshot_path("admin-review-queue"), full_page=True)
    row.get_by_role("link").click()
    admin.wait_for_url("**/admin/reviews/*")
    player = admin.locator("video[data-player]")
    assert player.get_attribute("data-engine") == "hls.js"
    board = admin.locator("[data-board]")
    admin.wait_for_function("() => Number(document.querySelector('[data-board]').dataset.ready) > 1")
    tile = board.get_by_role("button").nth(1)
    start = float(tile.get_attribute("data-start"))
    tile.click()
    admin.wait_for_function("(s) => Math.abs(document.querySelector('video[data-player]').currentTime - s) < 0.5",
                            arg=start)  # fmt: skip
    assert "视频 1 个 · 通过 0 · 驳回 0 · 要求修改 0" in admin.locator("[data-history]").inner_text()
    assert admin.locator("[data-title]").inner_text() == "第一次发视频"
    # A reason is needed to send it back; the page says so in a sentence.
    admin.get_by_role("button", name="要求修改").click()
    admin.get_by_text("驳回或要求修改时请写明原因").wait_for()
    admin.get_by_label("原因（驳回或要求修改时必填，创作者会看到）").fill("标题太笼统，请写明视频内容")
    admin.get_by_role("button", name="要求修改").click()
    admin.get_by_text("已要求修改，创作者会看到原因").wait_for()
    admin.screenshot(path=screenshot_path("admin-review-decided"), full_page=True)

    # The creator reads the reason, and resubmits.
    creator.reload()
    assert creator.locator("[data-review-reason]").inner_text() == "标题太笼统，请写明视频内容"
    assert creator.locator("[data-review-badge]").inner_text() == "需要修改"
    creator.screenshot(path=screenshot_path("studio-review-changes"), full_page=True)
    creator.get_by_role("button", name="重新提交审核").click()
    creator.locator("[data-review-badge]", has_text="审核中，暂未公开").wait_for()

    # Back in the queue (in English this time), marked as resubmitted; approved, it reaches the feed.
    admin.goto(f"{site.url}/admin/reviews?lang=en")
    row = admin.locator("[data-queue] li", has_text="第一次发视频")
    assert "The creator made the changes asked for" in row.inner_text()
    with admin.expect_navigation():  # to the page's load: its script binds the buttons
        row.get_by_role("link").click()
    admin.get_by_role("button", name="Approve").click()
    admin.get_by_text("Approved: the video is public").wait_for()
    until(lambda: in_feed(creator, video_id), seconds=60)

    # Every step is in the audit log, the policy's first.
    admin.goto(f"{site.url}/admin/audit")
    log = admin.locator("[data-audit]").inner_text()
    for line in ("按规则暂不公开，进入审核", "要求修改", "修改后重新提交", "通过"):
        assert line in log
    admin.screenshot(path=screenshot_path("admin-audit-log"), full_page=True)
    for pg in (creator, viewer, admin):
        pg.context.close()


def test_the_console_is_for_admins_only(review_site: LiveServer, page: Any) -> None:
    _sign_in(page, review_site, "viewer@example.com", "/me")
    for path in ("/admin", "/admin/reviews", "/admin/holds", "/admin/disputes", "/admin/users", "/admin/audit"):
        assert page.goto(f"{review_site.url}{path}").status == 403, path
