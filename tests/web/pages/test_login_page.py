"""The browser harness itself: Chromium signs in through the login page and the cookie session works."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import LiveServer, screenshot_path

pytestmark = pytest.mark.browser


def test_sign_in_through_the_login_page(page: Any, site: LiveServer) -> None:
    from core.accounts import service as accounts

    with site.app.extensions["db"].session() as s:
        accounts.register(s, email="browser@example.com", password="browser-pass-1", display_name="浏览器用户")
    page.goto(f"{site.url}/login?next=/me")
    page.get_by_label("邮箱").fill("browser@example.com")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("alert").filter(has_text="邮箱或密码错误").wait_for()
    page.get_by_label("密码").fill("browser-pass-1")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}/me")  # the "me" tab shows who is signed in
    page.get_by_text("浏览器用户").wait_for()
    page.screenshot(path=screenshot_path("login-signed-in"))
    me = page.request.get(f"{site.url}/api/v1/me")
    assert me.status == 200
    assert me.json()["email"] == "browser@example.com"


@pytest.mark.parametrize(
    "target",
    ["javascript:document.title='owned'", "https://other.example/", "//other.example/", "/\\other.example/"],
)
def test_sign_in_never_follows_a_next_that_leaves_the_site(page: Any, site: LiveServer, target: str) -> None:
    from urllib.parse import quote

    from core.accounts import service as accounts

    email = f"next-{abs(hash(target))}@example.com"
    with site.app.extensions["db"].session() as s:
        accounts.register(s, email=email, password="browser-pass-1", display_name="跳转")
    page.goto(f"{site.url}/login?next={quote(target)}")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill("browser-pass-1")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}/")
    assert page.title() != "owned"
