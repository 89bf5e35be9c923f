"""The console's other queues in Chromium at a phone viewport, on the demo's data: the commission the review rules
held (a brand-new buyer) is released with a reason; an account is banned and unbanned from the users page; each
decision is in the audit log; the disputes page says when nothing waits. zh-CN, then English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import LiveServer, live_server, screenshot_path
from tests.conftest import free_port, make_settings, migrate

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from web import create_app
    from web.demo import seed

    var: Path = tmp_path_factory.mktemp("cases-site")
    port, url = free_port(), f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    app = create_app(make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}"))
    with app.app_context(), app.extensions["db"].session() as s:
        seed(s)
    with live_server(app, port) as server:
        yield server
    app.extensions["db"].dispose()


def _sign_in(page: Any, site: LiveServer, email: str, next_path: str) -> None:
    from web.demo import DEMO_PASSWORD

    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}{next_path}")


def test_an_admin_releases_a_held_commission_and_bans_an_account(demo_site: LiveServer, page: Any) -> None:
    site = demo_site
    _sign_in(page, site, "admin@xinglian.local", "/admin/holds")
    card = page.locator("[data-hold]").first
    assert "买家是新注册账号" in card.inner_text()
    card.get_by_role("button", name="放行").click()
    card.get_by_text("请填写原因").first.wait_for()  # a decision on money needs a reason
    card.get_by_label("处理说明（必填）").fill("买家已实名，订单正常")
    card.get_by_role("button", name="放行").click()
    card.get_by_text("已放行，佣金照常结算").wait_for()
    page.screenshot(path=screenshot_path("admin-holds-released"), full_page=True)
    page.reload()
    page.locator("[data-no-holds]").wait_for()

    page.goto(f"{site.url}/admin/disputes")
    page.locator("[data-no-order-disputes]").wait_for()

    page.goto(f"{site.url}/admin/users?q=viewer@xinglian.local")
    user = page.locator("[data-user]")
    user.get_by_label("原因（必填，记入日志）").fill("恶意刷单")
    user.get_by_role("button", name="封禁账号").click()
    user.get_by_text("已封禁，该账号已在所有设备上退出").wait_for()
    page.goto(f"{site.url}/admin/users?q=viewer@xinglian.local&lang=en")
    user = page.locator("[data-user]")
    assert user.get_attribute("data-active") == "false"
    user.get_by_label("Reason (needed, kept in the log)").fill("Appeal accepted")
    user.get_by_role("button", name="Lift the ban").click()
    user.get_by_text("The ban is lifted").wait_for()
    page.goto(f"{site.url}/admin/users?q=nobody@example.com")
    page.locator("[data-not-found]").wait_for()

    page.goto(f"{site.url}/admin/audit")
    log = page.locator("[data-audit]").inner_text()
    for reason in ("买家已实名，订单正常", "恶意刷单", "Appeal accepted"):
        assert reason in log
    page.screenshot(path=screenshot_path("admin-audit-cases"), full_page=True)
