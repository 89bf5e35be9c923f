"""Reports in Chromium at a phone viewport: a viewer reports a video from its slide and a product from its page
(reasons and a note, in a dialog; a second report is refused in words); an admin finds them in the console,
reads what reporters said and takes the product off sale; the reporter is told the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, live_server, screenshot_path
from tests.conftest import free_port, make_settings, migrate

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    from web import create_app

    var: Path = tmp_path_factory.mktemp("report-site")
    port, url = free_port(), f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    app = create_app(make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}",
                                   review_report_threshold=1))  # fmt: skip
    with app.extensions["db"].session() as s:
        owner = factories.user(s, email="brand-owner@example.com")
        brand = factories.brand(s, owner=owner, name="奇效茶业")
        product = factories.product(s, brand=brand, name="三天瘦十斤茶", category="food.tea")
        artist = factories.user(s, email="artist@example.com", artist=True, display_name="茶小星")
        video = factories.video(s, uploader=artist, title="喝了就瘦")
        factories.user(s, email="fan@example.com", display_name="热心观众")
        factories.user(s, email="admin@example.com", admin=True)
        s.commit()
        ids = {"product": product.id, "video": video.id}
    with live_server(app, port) as server:
        yield server, ids
    app.extensions["db"].dispose()


def _sign_in(page: Any, site: LiveServer, email: str, next_path: str) -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}{next_path}")


def _report(page: Any, opener: Any, reason: str, note: str) -> Any:
    opener.click()
    dialog = page.get_by_role("dialog", name="举报")
    dialog.get_by_label(reason).check()
    dialog.get_by_label("补充说明（可选）").fill(note)
    dialog.get_by_role("button", name="提交举报").click()
    return dialog


def test_a_viewer_reports_and_hears_what_came_of_it(report_site: tuple[LiveServer, dict[str, int]], page: Any) -> None:
    site, ids = report_site
    _sign_in(page, site, "fan@example.com", f"/v/{ids['video']}")
    slide = page.locator(f"article.slide[data-video-id='{ids['video']}']")
    dialog = _report(page, slide.get_by_role("button", name="举报这个视频"), "虚假宣传或假货", "宣称喝茶减肥")
    dialog.get_by_text("已收到你的举报，处理结果会通知你。").wait_for()
    page.screenshot(path=screenshot_path("report-dialog-sent"))
    dialog.get_by_role("button", name="关闭").click()
    again = _report(page, slide.get_by_role("button", name="举报这个视频"), "垃圾广告", "")
    again.get_by_text("你已经举报过它了，我们会尽快处理").wait_for()
    again.get_by_role("button", name="取消").click()

    page.goto(f"{site.url}/p/{ids['product']}")
    sent = _report(page, page.get_by_role("button", name="举报商品"), "虚假宣传或假货", "三天瘦十斤不可能")
    sent.get_by_text("已收到你的举报，处理结果会通知你。").wait_for()

    admin = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    console = admin.new_page()
    _sign_in(console, site, "admin@example.com", "/admin/reviews")
    row = console.locator("[data-queue] li", has_text="三天瘦十斤茶")
    assert "多位用户举报" in row.inner_text()
    assert "商品" in row.inner_text()
    assert console.locator("[data-queue] li", has_text="喝了就瘦").count() == 1
    with console.expect_navigation():  # to the page's load: its script binds the buttons
        row.get_by_role("link").click()
    assert "虚假宣传或假货 — 三天瘦十斤不可能" in console.locator("[data-reports]").inner_text()
    console.get_by_role("button", name="下架商品").click()
    console.get_by_text("驳回或要求修改时请写明原因").wait_for()
    console.get_by_label("原因（驳回或要求修改时必填，创作者会看到）").fill("宣称疗效，违反广告法")
    console.get_by_role("button", name="下架商品").click()
    console.get_by_text("商品已下架").wait_for()
    console.screenshot(path=screenshot_path("admin-report-decided"), full_page=True)
    console.goto(f"{site.url}/admin/reviews?lang=en")
    assert "Reported by several users" in console.locator("[data-queue]").inner_text()
    admin.close()

    # The reporter: the product is off sale, and the notification says why in a sentence.
    mine = page.evaluate("async () => (await (await fetch('/api/v1/me/reports')).json()).items")
    assert {(r["subject_type"], r["outcome"]) for r in mine} == {("product", "upheld"), ("video", None)}
    page.goto(f"{site.url}/notifications")
    page.get_by_text("你举报的「三天瘦十斤茶」经审核确有问题，已处理。感谢你的举报").wait_for()
    page.goto(f"{site.url}/p/{ids['product']}")
    assert page.get_by_role("button", name="选择规格并购买").count() == 0
