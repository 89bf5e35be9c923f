"""Inside WeChat's browser, in Chromium at a phone's size with WeChat's user agent: sign in from /login with 微信登录
(the simulator's authorize page sends the browser straight back with a code, as WeChat does once the user agrees),
and a product page sets its share card through the JS-SDK (WeChat's script is served by a stand-in from
res.wx.qq.com, which the page's Content-Security-Policy must allow)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, live_server, screenshot_path
from tests.conftest import free_port, make_settings, migrate
from tests.core.accounts.wechat_simulator import WeChatServer, WeChatSim, WeChatUser

pytestmark = pytest.mark.browser

APP, APP_SECRET = "wx4444444444444444", "p" * 32
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/126.0.6478.71 Mobile Safari/537.36 XWEB/1260117 MMWEBSDK/20240501 MicroMessenger/8.0.50.2701(0x28003237) "
    "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
# Records what the page asks of the JS-SDK, and answers as WeChat does once the signature is accepted.
FAKE_JWEIXIN = """
window.__wx = {calls: []};
window.wx = {
  config: function (c) { window.__wx.config = c; },
  ready: function (f) { setTimeout(f, 0); },
  error: function () {},
  updateAppMessageShareData: function (d) { window.__wx.calls.push(["friend", d]); if (d.success) d.success(); },
  updateTimelineShareData: function (d) { window.__wx.calls.push(["moments", d]); }
};
"""


@pytest.fixture(scope="module")
def wechat_sim() -> Iterator[WeChatServer]:
    with WeChatServer(WeChatSim({APP: APP_SECRET})) as server:
        yield server


@pytest.fixture(scope="module")
def wechat_site(tmp_path_factory: pytest.TempPathFactory, wechat_sim: WeChatServer) -> Iterator[LiveServer]:
    from web import create_app

    var: Path = tmp_path_factory.mktemp("wechat-site")
    port = free_port()
    url = f"sqlite:///{var / 'site.sqlite3'}"
    migrate(url)
    settings = make_settings(var, database_url=url, public_base_url=f"http://127.0.0.1:{port}", wechat_app_id=APP,
                             wechat_app_secret=APP_SECRET, wechat_oauth_base_url=wechat_sim.url,
                             wechat_api_base_url=wechat_sim.url)  # fmt: skip
    app = create_app(settings)
    with live_server(app, port) as server:
        yield server
    app.extensions["db"].dispose()


@pytest.fixture
def in_wechat(browser: Any) -> Iterator[Any]:
    """A phone-sized page whose browser says it is WeChat's; it fails the test on any CSP refusal."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN", user_agent=WECHAT_UA)  # fmt: skip
    refused: list[str] = []
    context.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    pg = context.new_page()
    yield pg
    context.close()
    assert refused == []


LANGS = [
    pytest.param(("", "微信登录", "微信小星"), id="zh-CN"),
    pytest.param(("&lang=en", "Sign in with WeChat", "Star"), id="en"),
]


@pytest.mark.parametrize("case", LANGS)
def test_sign_in_with_wechat_from_the_login_page(in_wechat: Any, wechat_site: LiveServer, wechat_sim: WeChatServer,
                                                 case: tuple[str, str, str]) -> None:  # fmt: skip
    page = in_wechat
    lang, button, nickname = case
    wechat_sim.sim.next_user = WeChatUser(unionid=f"union-browser-{nickname}", nickname=nickname)
    page.goto(f"{wechat_site.url}/login?next=/me{lang}")
    page.get_by_role("link", name=button).click()
    # Browsers keep the authorize URL's fragment (#wechat_redirect) through redirects that name none.
    page.wait_for_url(re.compile(re.escape(wechat_site.url) + r"/me(\?lang=en)?(#wechat_redirect)?$"))
    assert page.locator("[data-user-name]").inner_text() == nickname
    assert page.locator("[data-wechat-bound]").inner_text() == ("WeChat is bound: you can sign in with it" if lang
                                                                else "已绑定微信，可用微信登录")  # fmt: skip
    assert page.title().startswith("Me" if lang else "我的")
    page.screenshot(path=screenshot_path(f"wechat-signed-in-{'en' if lang else 'zh'}"))
    me = page.request.get(f"{wechat_site.url}/api/v1/me").json()
    assert me["display_name"] == nickname
    assert me["email"] is None


def test_the_login_page_elsewhere_has_no_wechat_button(page: Any, wechat_site: LiveServer) -> None:
    page.goto(f"{wechat_site.url}/login")
    page.get_by_role("link", name="手机号验证码登录").wait_for()
    assert page.get_by_role("link", name="微信登录").count() == 0


def test_a_product_page_sets_its_wechat_share_card(in_wechat: Any, wechat_site: LiveServer,
                                                   wechat_sim: WeChatServer) -> None:  # fmt: skip
    with wechat_site.app.extensions["db"].session() as s:
        product = factories.product(s, brand=factories.brand(s, name="茶山"), name="明前龙井", description="一芽一叶")
        s.commit()
        product_id = product.id
    page = in_wechat
    script = {"status": 200, "content_type": "application/javascript", "body": FAKE_JWEIXIN}
    page.route("https://res.wx.qq.com/**", lambda route: route.fulfill(**script))
    page.goto(f"{wechat_site.url}/p/{product_id}#reviews")
    page.locator("html[data-wechat-share=ready]").wait_for()
    config = page.evaluate("window.__wx.config")
    calls = page.evaluate("window.__wx.calls")
    assert config["appId"] == APP
    assert set(config["jsApiList"]) == {"updateAppMessageShareData", "updateTimelineShareData"}
    signed = f"jsapi_ticket={wechat_sim.sim.tickets[APP]}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}"
    signed += f"&url={wechat_site.url}/p/{product_id}"
    assert config["signature"] == hashlib.sha1(signed.encode()).hexdigest()
    friend = dict(calls)["friend"]
    assert (friend["title"], friend["desc"]) == ("明前龙井", "一芽一叶")
    assert friend["link"] == f"{wechat_site.url}/p/{product_id}"  # signed out: the page itself
