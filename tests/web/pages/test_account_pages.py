"""Signing up and in as people do, in Chromium at a phone's size, starting from /login: sign up by e-mail, sign in
with a phone number and the SMS code read off the sandbox page, reset a forgotten password through the e-mailed
link, and become a creator from the studio."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from core.accounts import service as accounts
from core.clock import FrozenClock, use_clock
from tests.browser import LiveServer, screenshot_path

pytestmark = pytest.mark.browser

EN = {
    "signup_link": "New here? Create an account",
    "name": "Display name",
    "email": "E-mail",
    "password": "Password",
    "signup": "Sign up",
    "creator": "create videos and sell as a creator",
    "phone_link": "Sign in with a phone number",
    "phone": "Phone number",
    "send": "Send code",
    "code": "Code",
    "verify": "Verify and sign in",
    "forgot_link": "Forgot password?",
    "send_link": "Send reset link",
    "new": "New password",
    "again": "Once more",
    "save": "Save new password",
    "reset_done": "Your new password is set",
    "sign_in": "Sign in",
    "sent": "Code sent to",
    "wrong": "That code is not right; 4 more tries",
    "too_short": "The password is too short",
    "if_exists": "If this address has a xinglian account",
}
ZH = {
    "signup_link": "没有账号？注册", "name": "昵称", "email": "邮箱", "password": "密码", "signup": "注册",
    "creator": "做创作者，发视频带货", "phone_link": "手机号验证码登录", "phone": "手机号", "send": "获取验证码",
    "code": "验证码", "verify": "验证并登录", "forgot_link": "忘记密码？", "send_link": "发送重置链接",
    "new": "新密码", "again": "再输一次", "save": "保存新密码", "reset_done": "新密码已设置", "sign_in": "登录",
    "sent": "验证码已发送至", "wrong": "验证码不正确，还可以再试 4 次", "too_short": "密码太短",
    "if_exists": "如果这个邮箱注册过星炼",
}  # fmt: skip
LANGS = [pytest.param(ZH, "", id="zh-CN"), pytest.param(EN, "&lang=en", id="en")]


@pytest.fixture(autouse=True)
def no_csp_violations(page: Any) -> Iterator[None]:
    """Every page here runs its script from static files only: Chromium reports no Content-Security-Policy refusal."""
    refused: list[str] = []
    page.context.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield
    assert refused == []


def unique_phone() -> str:
    return "137" + f"{uuid.uuid4().int % 10**8:08d}"


def read_sandbox(page: Any, site: LiveServer, channel: str, recipient: str, *, tries: int = 1) -> str:
    """The newest message to `recipient`, read in another tab the way a developer reads the sandbox page (reloaded
    up to `tries` times when a worker is still sending it)."""
    tab = page.context.new_page()
    item = tab.locator(f'li[data-recipient="{recipient}"] [data-body]').first
    for attempt in range(tries):
        tab.goto(f"{site.url}/sandbox/{channel}")
        if item.count() or attempt == tries - 1:
            break
        tab.wait_for_timeout(500)
    body = item.inner_text()
    tab.close()
    return str(body)


@pytest.mark.parametrize(("t", "lang"), LANGS)
def test_sign_up_from_the_login_page(page: Any, site: LiveServer, t: dict[str, str], lang: str) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{site.url}/login?next=/studio{lang}")
    page.get_by_role("link", name=t["signup_link"]).click()
    page.wait_for_url(re.compile(r"/signup\?next=/studio"))
    page.get_by_label(t["name"]).fill("新朋友")
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"]).fill("short")
    page.get_by_label(t["creator"]).check()
    page.get_by_role("button", name=t["signup"], exact=True).click()
    alert = page.get_by_role("alert")
    alert.filter(has_text=t["too_short"]).wait_for()
    assert "body" not in alert.inner_text()  # a sentence with the field's label, never the request's field path
    page.screenshot(path=screenshot_path(f"signup-error-{'en' if lang else 'zh'}"))
    page.get_by_label(t["password"]).fill("a good long password")
    page.get_by_role("button", name=t["signup"], exact=True).click()
    page.wait_for_url(f"{site.url}/studio")
    page.locator("form[data-studio-upload]").wait_for()  # signed up as a creator: the upload form is there
    page.screenshot(path=screenshot_path(f"signup-done-{'en' if lang else 'zh'}"))
    me = page.request.get(f"{site.url}/api/v1/me").json()
    assert me["email"] == email
    assert "artist" in me["roles"]
    page.goto(f"{site.url}/signup?next=/me{lang}")  # and the way back to sign-in keeps where to go
    page.get_by_role("link", name=re.compile("Sign in$|登录$")).first.click()
    page.wait_for_url(re.compile(r"/login\?next=/me"))


@pytest.mark.parametrize(("t", "lang"), LANGS)
def test_sign_in_with_a_phone_and_the_sandbox_code(page: Any, site: LiveServer, t: dict[str, str], lang: str) -> None:
    number = unique_phone()
    page.goto(f"{site.url}/login?next=/me{lang}")
    page.get_by_role("link", name=t["phone_link"]).click()
    page.wait_for_url(re.compile(r"/login/phone\?next=/me"))
    page.get_by_label(t["phone"]).fill(f"{number[:3]} {number[3:7]} {number[7:]}")
    page.get_by_role("button", name=t["send"]).click()
    page.get_by_role("status").filter(has_text=t["sent"]).wait_for()
    assert f"{number[:3]}****{number[-4:]}" in page.get_by_role("status").inner_text()
    page.screenshot(path=screenshot_path(f"phone-code-sent-{'en' if lang else 'zh'}"))
    text = read_sandbox(page, site, "sms", f"+86{number}")
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None, text
    code = found.group(1)
    page.get_by_label(t["code"], exact=True).fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name=t["verify"]).click()
    page.get_by_role("alert").filter(has_text=t["wrong"]).wait_for()
    page.get_by_label(t["code"], exact=True).fill(code)
    page.get_by_label(re.compile(t["name"])).fill("手机用户")
    page.get_by_role("button", name=t["verify"]).click()
    page.wait_for_url(f"{site.url}/me")
    page.get_by_text("手机用户").first.wait_for()
    page.screenshot(path=screenshot_path(f"phone-signed-in-{'en' if lang else 'zh'}"))
    me = page.request.get(f"{site.url}/api/v1/me").json()
    assert me["phone"] == f"+86{number}"


@pytest.mark.parametrize(("t", "lang"), LANGS)
def test_forgot_password_reset_link_then_sign_in(
    page: Any, worker_site: LiveServer, t: dict[str, str], lang: str
) -> None:
    """The reset mail goes out from a task, so this runs on the site with a real Celery worker behind it."""
    site = worker_site
    email = f"forgot-{uuid.uuid4().hex[:8]}@example.com"
    with site.app.extensions["db"].session() as s:
        accounts.register(s, email=email, password="the old password", display_name="健忘")
    page.goto(f"{site.url}/login?next=/me{lang}")
    page.get_by_role("link", name=t["forgot_link"]).click()
    # the login page has an email field too: fill the new page's, once its script is there to send it
    page.wait_for_url(re.compile("^" + re.escape(site.url) + r"/forgot-password"))
    page.get_by_label(t["email"]).fill(email)
    page.get_by_role("button", name=t["send_link"]).click()
    page.get_by_role("status").filter(has_text=t["if_exists"]).wait_for()
    mail = read_sandbox(page, site, "mail", email, tries=120)
    found = re.search(r"(http://\S+/reset-password\?token=\S+)", mail)
    assert found is not None, mail
    page.goto(found.group(1))
    page.get_by_label(t["new"]).fill("the new password")
    page.get_by_label(t["again"]).fill("the new password")
    page.get_by_role("button", name=t["save"]).click()
    page.wait_for_url(re.compile(r"/login\?reset=1"))
    page.get_by_role("status").filter(has_text=t["reset_done"]).wait_for()
    page.screenshot(path=screenshot_path(f"reset-done-{'en' if lang else 'zh'}"))
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"]).fill("the new password")
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    page.wait_for_url(f"{site.url}/", wait_until="commit")  # the feed itself need not finish loading
    assert page.request.get(f"{site.url}/api/v1/me").json()["email"] == email
    page.goto(found.group(1))  # the link worked once
    page.get_by_label(t["new"]).fill("yet another password")
    page.get_by_label(t["again"]).fill("yet another password")
    page.get_by_role("button", name=t["save"]).click()
    page.get_by_role("alert").filter(has_text=re.compile("已用过|already used")).wait_for()


@pytest.mark.parametrize(("t", "lang"), LANGS)
def test_a_viewer_becomes_a_creator_from_the_studio(page: Any, site: LiveServer, t: dict[str, str], lang: str) -> None:
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    with site.app.extensions["db"].session() as s:
        accounts.register(s, email=email, password="viewer password", display_name="观众")
    page.goto(f"{site.url}/studio{'?lang=en' if lang else ''}")
    page.wait_for_url(re.compile(r"/login\?next=/studio"))
    page.get_by_label(t["email"]).fill(email)
    page.get_by_label(t["password"]).fill("viewer password")
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    # anchored: unanchored, "/studio$" also matched the /login?next=/studio just left, and the button was then
    # clicked as the studio was parsed, before become.js had bound it
    page.wait_for_url(re.compile("^" + re.escape(site.url) + r"/studio(\?lang=en)?$"))
    assert page.locator("form[data-studio-upload]").count() == 0
    page.get_by_role("button", name=re.compile("^(成为创作者|Become a creator)$")).click()
    page.locator("form[data-studio-upload]").wait_for()
    page.screenshot(path=screenshot_path(f"became-creator-{'en' if lang else 'zh'}"))
    assert "artist" in page.request.get(f"{site.url}/api/v1/me").json()["roles"]


def test_a_signed_in_user_adds_a_phone_then_signs_in_with_it(page: Any, site: LiveServer) -> None:
    """The number is the account's from then on. The site runs on a frozen clock here: a number's second code
    needs a minute to have passed, and the test moves time rather than waits."""
    with use_clock(FrozenClock(dt.datetime.now(dt.UTC))) as clock:
        assert isinstance(clock, FrozenClock)
        email = f"bind-{uuid.uuid4().hex[:8]}@example.com"
        number = unique_phone()
        with site.app.extensions["db"].session() as s:
            accounts.register(s, email=email, password="bind password", display_name="绑定者")
        page.goto(f"{site.url}/me")
        page.get_by_label("邮箱").fill(email)
        page.get_by_label("密码").fill("bind password")
        page.get_by_role("button", name="登录", exact=True).click()
        page.wait_for_url(f"{site.url}/me")
        page.get_by_role("link", name="绑定手机号，以后用验证码登录").click()
        page.wait_for_url(f"{site.url}/me/phone")
        page.get_by_label("手机号").fill(number)
        page.get_by_role("button", name="获取验证码").click()
        page.get_by_role("status").filter(has_text="验证码已发送至").wait_for()
        found = re.search(r"\b(\d{6})\b", read_sandbox(page, site, "sms", f"+86{number}"))
        assert found is not None
        page.get_by_label("验证码", exact=True).fill(found.group(1))
        page.get_by_role("button", name="验证并绑定").click()
        page.wait_for_url(f"{site.url}/me")
        page.get_by_text(f"{number[:3]}****{number[-4:]}").wait_for()
        page.context.clear_cookies()  # signed out; the number now signs in to the same account
        clock.advance(seconds=61)
        page.goto(f"{site.url}/login/phone")
        page.get_by_label("手机号").fill(number)
        page.get_by_role("button", name="获取验证码").click()
        page.get_by_role("status").filter(has_text="验证码已发送至").wait_for()
        text = read_sandbox(page, site, "sms", f"+86{number}")
        code = re.search(r"\b(\d{6})\b", text)
        assert code is not None
        page.get_by_label("验证码", exact=True).fill(code.group(1))
        page.get_by_role("button", name="验证并登录").click()
        page.wait_for_url(f"{site.url}/", wait_until="commit")  # the feed itself need not finish loading
        assert page.request.get(f"{site.url}/api/v1/me").json()["email"] == email


@pytest.mark.parametrize("target", ["//other.example/", "javascript:document.title='owned'"])
def test_sign_up_never_follows_a_next_that_leaves_the_site(page: Any, site: LiveServer, target: str) -> None:
    from urllib.parse import quote

    page.goto(f"{site.url}/signup?next={quote(target)}")
    assert page.get_by_role("link", name="已有账号？登录").get_attribute("href") == "/login"  # not carried along
    page.get_by_label("昵称").fill("跳转")
    page.get_by_label("邮箱").fill(f"next-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("密码").fill("a good long password")
    page.get_by_role("button", name="注册", exact=True).click()
    page.wait_for_url(f"{site.url}/", wait_until="commit")
    assert page.title() != "owned"
