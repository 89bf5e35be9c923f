"""WeChat sign-in over HTTP (the redirect to WeChat, the callback, binding) and the JS-SDK config API, against the
WeChat simulator."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import WeChatIdentity
from core.settings import Settings
from tests import factories
from tests.core.accounts.wechat_simulator import WeChatServer, WeChatSim, WeChatUser

APP, APP_SECRET = "wx3333333333333333", "w" * 32
IN_WECHAT = {
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
    "Accept": "text/html",
}


@pytest.fixture
def sim(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeChatServer]:
    with WeChatServer(WeChatSim({APP: APP_SECRET})) as server:
        values = {"wechat_app_id": APP, "wechat_app_secret": APP_SECRET}
        values.update(wechat_oauth_base_url=server.url, wechat_api_base_url=server.url)
        for name, value in values.items():
            monkeypatch.setattr(settings, name, value)
        yield server


def follow_wechat(sim: WeChatServer, location: str) -> str:
    """What WeChat's browser does at the authorize URL: the simulator answers with the redirect back to us."""
    parts = urlsplit(location)
    status, headers, _ = sim.sim.handle(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
    assert status == 302
    return headers["Location"]


def start(client: FlaskClient, query: str = "") -> str:
    r = client.get(f"/auth/wechat{query}", headers=IN_WECHAT)
    assert r.status_code == 302
    return r.headers["Location"]


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def password_login(client: FlaskClient, email: str | None) -> None:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": factories.PASSWORD})
    assert r.status_code == 200


def me(client: FlaskClient) -> dict[str, object] | None:
    r = client.get("/api/v1/me")
    return r.get_json() if r.status_code == 200 else None


def test_the_login_page_offers_wechat_only_inside_wechat(client: FlaskClient, sim: WeChatServer) -> None:
    inside = client.get("/login?next=/p/3", headers=IN_WECHAT).get_data(as_text=True)
    assert "微信登录" in inside
    assert 'href="/auth/wechat?next=/p/3"' in inside
    assert "Sign in with WeChat" in client.get("/login?lang=en", headers=IN_WECHAT).get_data(as_text=True)
    assert "微信登录" not in client.get("/login", headers={"User-Agent": "Mozilla/5.0 Chrome/126"}).get_data(True)


def test_the_login_page_hides_wechat_when_the_app_is_not_configured(client: FlaskClient) -> None:
    assert "微信登录" not in client.get("/login", headers=IN_WECHAT).get_data(as_text=True)
    r = client.get("/auth/wechat", headers=IN_WECHAT)
    assert r.status_code == 400
    assert "暂未开通微信登录" in r.get_data(as_text=True)


def test_sign_in_redirects_to_wechat_and_back_signed_in(client: FlaskClient, sim: WeChatServer,
                                                        db_session: Session) -> None:  # fmt: skip
    sim.sim.next_user = WeChatUser(unionid="union-web-1", nickname="小红")
    location = start(client, "?next=/p/9")
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sim.url}/connect/oauth2/authorize"
    assert query["appid"] == [APP]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/wechat/callback"]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["snsapi_userinfo"]
    assert parts.fragment == "wechat_redirect"
    assert me(client) is None

    back = follow_wechat(sim, location)
    r = client.get(local(back), headers=IN_WECHAT)
    assert r.status_code == 302
    assert r.headers["Location"] == "/p/9"
    who = me(client)
    assert who is not None
    assert who["display_name"] == "小红"
    ident = db_session.scalar(select(WeChatIdentity).where(WeChatIdentity.unionid == "union-web-1"))
    assert ident is not None
    assert ident.user_id == who["id"]


def test_an_unsafe_next_is_replaced_by_me(client: FlaskClient, sim: WeChatServer) -> None:
    back = follow_wechat(sim, start(client, "?next=//evil.example/x"))
    assert client.get(local(back), headers=IN_WECHAT).headers["Location"] == "/me"


def test_the_callback_refuses_a_state_from_another_browser(client: FlaskClient, sim: WeChatServer,
                                                           app_ctx: object) -> None:  # fmt: skip
    # Someone else's browser started the sign-in; its callback URL opened here must not sign this browser in.
    other = client.application.test_client()
    back = follow_wechat(sim, start(other))
    r = client.get(local(back), headers=IN_WECHAT)
    assert r.status_code == 400
    assert "微信登录链接无效或已过期" in r.get_data(as_text=True)
    assert me(client) is None
    assert sim.sim.calls["/sns/oauth2/access_token"] == 0


def test_a_replayed_callback_is_refused(client: FlaskClient, sim: WeChatServer) -> None:
    location = start(client)
    back = follow_wechat(sim, location)
    assert client.get(local(back), headers=IN_WECHAT).status_code == 302
    # The same state again (with a fresh code, and even put back in the session): spent.
    with client.session_transaction() as s:
        s["wx_state"] = parse_qs(urlsplit(location).query)["state"][0]
    again = follow_wechat(sim, location)
    r = client.get(local(again) + "&lang=en", headers=IN_WECHAT)
    assert r.status_code == 400
    assert "This WeChat sign-in link was already used" in r.get_data(as_text=True)


def test_a_signed_in_user_binds_wechat_and_then_signs_in_with_it(client: FlaskClient, sim: WeChatServer,
                                                                 db_session: Session) -> None:  # fmt: skip
    owner = factories.user(db_session, email="bind-web@example.com")
    password_login(client, owner.email)
    page = client.get("/me", headers=IN_WECHAT).get_data(as_text=True)
    assert 'href="/auth/wechat?bind=1&amp;next=/me"' in page
    assert "data-wechat-bound" not in page
    person = sim.sim.next_user = WeChatUser(unionid="union-web-2")
    back = follow_wechat(sim, start(client, "?bind=1&next=/me"))
    r = client.get(local(back), headers=IN_WECHAT)
    assert r.headers["Location"] == "/me"
    assert me(client)["id"] == owner.id  # type: ignore[index]
    ident = db_session.scalar(select(WeChatIdentity).where(WeChatIdentity.openid == person.openid(APP)))
    assert ident is not None
    assert ident.user_id == owner.id
    assert "已绑定微信" in client.get("/me", headers=IN_WECHAT).get_data(as_text=True)

    with client.session_transaction() as s:  # signed out
        s.clear()
    back = follow_wechat(sim, start(client))
    client.get(local(back), headers=IN_WECHAT)
    assert me(client)["id"] == owner.id  # type: ignore[index]


def test_bind_while_signed_out_goes_to_sign_in_first(client: FlaskClient, sim: WeChatServer) -> None:
    r = client.get("/auth/wechat?bind=1", headers=IN_WECHAT)
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=/auth/wechat%3Fbind%3D1"


def test_binding_a_wechat_of_another_account_is_refused_with_a_sentence(client: FlaskClient, sim: WeChatServer,
                                                                         db_session: Session) -> None:  # fmt: skip
    sim.sim.next_user = WeChatUser(unionid="union-web-3")
    client.get(local(follow_wechat(sim, start(client))), headers=IN_WECHAT)
    theirs = me(client)
    assert theirs is not None
    with client.session_transaction() as s:
        s.clear()
    mine = factories.user(db_session, email="bind-clash@example.com")
    password_login(client, mine.email)
    r = client.get(local(follow_wechat(sim, start(client, "?bind=1"))), headers=IN_WECHAT)
    assert r.status_code == 409
    assert "这个微信已绑定其他星炼账号" in r.get_data(as_text=True)
    assert me(client)["id"] == mine.id  # type: ignore[index]
    owners = set(db_session.scalars(select(WeChatIdentity.user_id).where(WeChatIdentity.unionid == "union-web-3")))
    assert owners == {theirs["id"]}


def test_a_denied_authorisation_is_a_clear_page(client: FlaskClient, sim: WeChatServer) -> None:
    sim.sim.deny = True
    r = client.get(local(follow_wechat(sim, start(client, "?lang=en"))), headers=IN_WECHAT)
    assert r.status_code == 400
    assert "You did not allow WeChat to sign you in" in r.get_data(as_text=True)


def test_an_unreachable_wechat_is_a_503_page_with_retry_after(client: FlaskClient, sim: WeChatServer,
                                                              settings: Settings,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    back = follow_wechat(sim, start(client))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setattr(settings, "wechat_api_base_url", f"http://127.0.0.1:{s.getsockname()[1]}")
        r = client.get(local(back), headers=IN_WECHAT)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "30"
    assert "暂时连不上微信" in r.get_data(as_text=True)


# -- JS-SDK ------------------------------------------------------------------------------------------------------


def documented_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    fields = {"noncestr": noncestr, "jsapi_ticket": ticket, "timestamp": str(timestamp), "url": url}
    return hashlib.sha1("&".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()).hexdigest()


MANIFEST = {"prefix": "public/videos/v1", "hls": "hls/master.m3u8", "mp4": {"path": "v.mp4"},
            "poster": {"path": "poster.jpg"}, "storyboard": {"vtt": "sb.vtt", "image": "sb.jpg"},
            "preview": {"path": "preview.mp4"}}  # fmt: skip


def test_js_config_signs_a_product_page_with_its_share_card(client: FlaskClient, sim: WeChatServer,
                                                            db_session: Session) -> None:  # fmt: skip
    brand = factories.brand(db_session, name="山间")
    product = factories.product(db_session, brand=brand, name="桂花乌龙", description="清香  回甘")
    page = f"http://localhost/p/{product.id}?from=singlemessage#top"
    r = client.get("/api/v1/wechat/js-config", query_string={"url": page})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"appId", "timestamp", "nonceStr", "signature", "share"}
    assert body["appId"] == APP
    signed = page.split("#", maxsplit=1)[0]
    assert body["signature"] == documented_signature(sim.sim.tickets[APP], body["nonceStr"], body["timestamp"], signed)
    assert body["share"] == {"title": "桂花乌龙", "desc": "清香 回甘", "link": signed, "imgUrl": None}
    client.get("/api/v1/wechat/js-config", query_string={"url": page})
    assert sim.sim.calls["/cgi-bin/ticket/getticket"] == 1


def test_js_config_gives_a_signed_in_viewer_their_share_link_and_the_poster(client: FlaskClient, sim: WeChatServer,
                                                                            db_session: Session) -> None:  # fmt: skip
    creator = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=creator, title="晨跑十公里", description="跟我一起", manifest=MANIFEST)
    viewer = factories.user(db_session, email="sharer@example.com")
    password_login(client, viewer.email)
    body = client.get("/api/v1/wechat/js-config", query_string={"url": f"http://localhost/v/{video.id}"}).get_json()
    share = body["share"]
    assert share["title"] == "晨跑十公里"
    assert share["desc"] == "跟我一起"
    assert share["link"].startswith("http://127.0.0.1:8000/s/")
    assert share["imgUrl"].endswith("public/videos/v1/poster.jpg")
    assert share["imgUrl"].startswith("http")


def test_js_config_refuses_another_sites_url(client: FlaskClient, sim: WeChatServer) -> None:
    r = client.get("/api/v1/wechat/js-config", query_string={"url": "https://evil.example/p/1"},
                   headers={"Accept-Language": "en"})  # fmt: skip
    assert r.status_code == 422
    problem = r.get_json()
    assert problem["errors"][0]["message"] == "WeChat share settings are only made for this site's own pages"
    assert sim.sim.calls["/cgi-bin/token"] == 0


def test_js_config_for_a_hidden_product_is_404(client: FlaskClient, sim: WeChatServer, db_session: Session) -> None:
    product = factories.product(db_session, brand=factories.brand(db_session), status="draft")
    r = client.get("/api/v1/wechat/js-config", query_string={"url": f"http://localhost/p/{product.id}"})
    assert r.status_code == 404


def test_only_video_and_product_pages_may_load_the_wechat_sdk(client: FlaskClient, db_session: Session) -> None:
    product = factories.product(db_session, brand=factories.brand(db_session))
    page = client.get(f"/p/{product.id}")
    assert page.status_code == 200
    assert "wechat-share.js" in page.get_data(as_text=True)
    script_src = next(d for d in page.headers["Content-Security-Policy"].split("; ") if d.startswith("script-src"))
    assert script_src == "script-src 'self' https://res.wx.qq.com"
    for path in ("/login", "/"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "res.wx.qq.com" not in policy
        assert "script-src 'self';" in policy
