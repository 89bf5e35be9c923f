"""WeChat sign-in and the JS-SDK signature, against the WeChat simulator over HTTP."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import wechat
from core.accounts.models import User, WeChatIdentity
from core.clock import FrozenClock
from core.errors import BadRequest, Conflict, DomainError, NotAuthenticated, ValidationFailed
from tests import factories
from tests.core.accounts.wechat_simulator import WeChatServer, WeChatSim, WeChatUser

SECRET_KEY = "test-secret-key-0123456789abcdef"
APP, APP_SECRET = "wx1111111111111111", "s" * 32
OTHER_APP, OTHER_SECRET = "wx2222222222222222", "t" * 32
SITE = "http://127.0.0.1:8000"


@pytest.fixture
def sim() -> Iterator[WeChatServer]:
    with WeChatServer(WeChatSim({APP: APP_SECRET, OTHER_APP: OTHER_SECRET})) as server:
        yield server


def config(server: WeChatServer, app: str = APP, secret: str = APP_SECRET, **kw: object) -> wechat.WeChatConfig:
    return wechat.WeChatConfig(app_id=app, app_secret=secret, oauth_base_url=server.url, api_base_url=server.url,
                               **kw)  # type: ignore[arg-type]  # fmt: skip


def sign_in(db: Session, server: WeChatServer, person: WeChatUser, *, app: str = APP, secret: str = APP_SECRET,
            scope: str = "snsapi_userinfo", user: User | None = None, bind: bool = False,
            next_path: str = "/me") -> wechat.SignInResult:  # fmt: skip
    state = wechat.make_state(SECRET_KEY, next_path=next_path, bind_user_id=user.id if bind and user else None)
    code = server.sim.issue_code(app, person, scope)
    return wechat.complete_sign_in(db, config(server, app, secret), secret_key=SECRET_KEY, code=code, state=state,
                                   current_user=user)  # fmt: skip


def test_authorize_url_is_wechats_documented_form(sim: WeChatServer) -> None:
    state = wechat.make_state(SECRET_KEY, next_path="/p/3")
    url = wechat.authorize_url(config(sim), redirect_uri=f"{SITE}/auth/wechat/callback", state=state,
                               scope="snsapi_base")  # fmt: skip
    assert url.startswith(f"{sim.url}/connect/oauth2/authorize?appid={APP}&redirect_uri=http%3A%2F%2F127.0.0.1")
    assert "&response_type=code&scope=snsapi_base&state=" in url
    assert url.endswith("#wechat_redirect")
    assert wechat.read_state(SECRET_KEY, state, ttl_seconds=600).next_path == "/p/3"


def test_first_sign_in_creates_the_account_from_userinfo(db_session: Session, sim: WeChatServer) -> None:
    person = WeChatUser(unionid="union-a", nickname="星星")
    result = sign_in(db_session, sim, person)
    assert result.created
    assert not result.bound
    assert result.next_path == "/me"
    assert result.user.display_name == "星星"
    assert result.user.email is None
    assert result.user.password_hash == ""
    ident = db_session.scalar(select(WeChatIdentity).where(WeChatIdentity.user_id == result.user.id))
    assert ident is not None
    assert (ident.app_id, ident.openid, ident.unionid) == (APP, person.openid(APP), "union-a")
    assert ident.headimgurl == person.headimgurl
    assert sim.sim.calls["/sns/oauth2/access_token"] == 1
    assert sim.sim.calls["/sns/userinfo"] == 1

    again = sign_in(db_session, sim, person)
    assert again.user.id == result.user.id
    assert not again.created


def test_snsapi_base_signs_in_by_openid_with_a_default_name(db_session: Session, sim: WeChatServer) -> None:
    person = WeChatUser(unionid=None)
    result = sign_in(db_session, sim, person, scope="snsapi_base")
    assert result.created
    assert result.user.display_name == f"微信用户{person.openid(APP)[-4:]}"
    assert sim.sim.calls["/sns/userinfo"] == 0  # snsapi_base may not read the profile
    assert sign_in(db_session, sim, person, scope="snsapi_base").user.id == result.user.id


def test_a_known_unionid_reaches_the_same_account_from_another_app(db_session: Session, sim: WeChatServer) -> None:
    person = WeChatUser(unionid="union-b")
    first = sign_in(db_session, sim, person)
    second = sign_in(db_session, sim, person, app=OTHER_APP, secret=OTHER_SECRET)
    assert person.openid(APP) != person.openid(OTHER_APP)
    assert second.user.id == first.user.id
    assert not second.created
    rows = db_session.scalars(select(WeChatIdentity).where(WeChatIdentity.user_id == first.user.id)).all()
    assert {(r.app_id, r.openid) for r in rows} == {(APP, person.openid(APP)), (OTHER_APP, person.openid(OTHER_APP))}


def test_a_signed_in_account_binds_its_wechat(db_session: Session, sim: WeChatServer) -> None:
    owner = factories.user(db_session, email="owner@example.com")
    person = WeChatUser(unionid="union-c")
    result = sign_in(db_session, sim, person, user=owner, bind=True)
    assert result.bound
    assert result.user.id == owner.id
    assert not result.created
    # Later, WeChat alone signs in to that account, from either app.
    assert sign_in(db_session, sim, person).user.id == owner.id
    assert sign_in(db_session, sim, person, app=OTHER_APP, secret=OTHER_SECRET).user.id == owner.id


def test_binding_a_wechat_that_belongs_to_another_account_is_refused(db_session: Session, sim: WeChatServer) -> None:
    person = WeChatUser(unionid="union-d")
    theirs = sign_in(db_session, sim, person).user
    mine = factories.user(db_session, email="mine@example.com")
    with pytest.raises(Conflict) as refused:
        sign_in(db_session, sim, person, app=OTHER_APP, secret=OTHER_SECRET, user=mine, bind=True)
    assert refused.value.code == "wechat_taken"
    assert "已绑定其他星炼账号" in refused.value.message("zh-CN")
    assert "already bound to another xinglian account" in refused.value.message("en")
    owners = set(db_session.scalars(select(WeChatIdentity.user_id)).all())
    assert owners == {theirs.id}


def test_a_bind_state_needs_the_same_signed_in_account(db_session: Session, sim: WeChatServer) -> None:
    owner = factories.user(db_session, email="binder@example.com")
    state = wechat.make_state(SECRET_KEY, next_path="/me", bind_user_id=owner.id)
    code = sim.sim.issue_code(APP, WeChatUser(unionid="union-e"))
    with pytest.raises(NotAuthenticated) as refused:
        wechat.complete_sign_in(db_session, config(sim), secret_key=SECRET_KEY, code=code, state=state,
                                current_user=None)  # fmt: skip
    assert refused.value.code == "wechat_bind_signed_out"
    assert db_session.scalar(select(WeChatIdentity)) is None


@pytest.mark.parametrize("tamper", ["forged", "other_key", "garbage"])
def test_a_state_not_signed_by_us_is_refused(db_session: Session, sim: WeChatServer, tamper: str) -> None:
    good = wechat.make_state(SECRET_KEY, next_path="/me")
    state = {"forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
             "other_key": wechat.make_state("another-secret-key-0123456789", next_path="/me"),
             "garbage": "not-a-state"}[tamper]  # fmt: skip
    with pytest.raises(BadRequest) as refused:
        wechat.complete_sign_in(db_session, config(sim), secret_key=SECRET_KEY, code="x", state=state,
                                current_user=None)  # fmt: skip
    assert refused.value.code == "wechat_state_invalid"
    assert sim.sim.calls["/sns/oauth2/access_token"] == 0  # refused before WeChat is asked


def test_an_expired_state_is_refused(db_session: Session, sim: WeChatServer, clock: FrozenClock) -> None:
    state = wechat.make_state(SECRET_KEY, next_path="/me")
    clock.advance(seconds=601)
    with pytest.raises(BadRequest) as refused:
        wechat.complete_sign_in(db_session, config(sim), secret_key=SECRET_KEY, code="x", state=state,
                                current_user=None)  # fmt: skip
    assert refused.value.code == "wechat_state_invalid"


def test_a_state_signs_in_once(db_session: Session, sim: WeChatServer, clock: FrozenClock) -> None:
    person = WeChatUser(unionid="union-f")
    state = wechat.make_state(SECRET_KEY, next_path="/me")
    first = wechat.complete_sign_in(db_session, config(sim), secret_key=SECRET_KEY, state=state, current_user=None,
                                    code=sim.sim.issue_code(APP, person))  # fmt: skip
    assert first.created
    with pytest.raises(BadRequest) as refused:
        wechat.complete_sign_in(db_session, config(sim), secret_key=SECRET_KEY, state=state, current_user=None,
                                code=sim.sim.issue_code(APP, person))  # fmt: skip
    assert refused.value.code == "wechat_state_used"


def test_a_used_or_unknown_code_is_a_clear_400(db_session: Session, sim: WeChatServer) -> None:
    person = WeChatUser(unionid="union-g")
    code = sim.sim.issue_code(APP, person)
    cfg = config(sim)
    wechat.complete_sign_in(db_session, cfg, secret_key=SECRET_KEY, code=code, current_user=None,
                            state=wechat.make_state(SECRET_KEY, next_path="/"))  # fmt: skip
    for bad in (code, "never-issued"):
        with pytest.raises(BadRequest) as refused:
            wechat.complete_sign_in(db_session, cfg, secret_key=SECRET_KEY, code=bad, current_user=None,
                                    state=wechat.make_state(SECRET_KEY, next_path="/"))  # fmt: skip
        assert refused.value.status == 400
        assert refused.value.code == "wechat_code_invalid"
        assert "微信授权已失效" in refused.value.message("zh-CN")


def test_a_wrong_app_secret_is_a_502_naming_our_configuration(db_session: Session, sim: WeChatServer) -> None:
    code = sim.sim.issue_code(APP, WeChatUser(unionid="union-h"))
    with pytest.raises(DomainError) as refused:
        wechat.complete_sign_in(db_session, config(sim, secret="wrong" * 6), secret_key=SECRET_KEY, code=code,
                                state=wechat.make_state(SECRET_KEY, next_path="/"), current_user=None)  # fmt: skip
    assert refused.value.status == 502
    assert refused.value.code == "wechat_misconfigured"
    assert "misconfigured on our side" in refused.value.message("en")


@pytest.mark.parametrize(("errcode", "status", "code"), [(-1, 503, "wechat_unavailable"),
                                                         (45009, 503, "wechat_unavailable"),
                                                         (40003, 502, "wechat_refused")])  # fmt: skip
def test_wechat_errcodes_are_mapped(db_session: Session, sim: WeChatServer, errcode: int, status: int,
                                    code: str) -> None:  # fmt: skip
    sim.sim.fail_next = errcode
    with pytest.raises(DomainError) as refused:
        sign_in(db_session, sim, WeChatUser(unionid="union-i"))
    assert (refused.value.status, refused.value.code) == (status, code)
    if status == 503:
        assert refused.value.headers["Retry-After"] == str(wechat.RETRY_AFTER)
    else:
        assert str(errcode) in refused.value.message("zh-CN")


def test_an_unreachable_wechat_is_a_503_with_retry_after(db_session: Session) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connections are refused
        cfg = wechat.WeChatConfig(app_id=APP, app_secret=APP_SECRET, oauth_base_url=dead, api_base_url=dead,
                                  timeout_seconds=2)  # fmt: skip
        with pytest.raises(wechat.WeChatUnavailable) as refused:
            wechat.complete_sign_in(db_session, cfg, secret_key=SECRET_KEY, code="c", current_user=None,
                                    state=wechat.make_state(SECRET_KEY, next_path="/"))  # fmt: skip
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "30"}
    assert "暂时连不上微信" in refused.value.message("zh-CN")


# -- JS-SDK ------------------------------------------------------------------------------------------------------


def documented_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """The algorithm as WeChat's JS-SDK documentation gives it, written out independently of the code under test:
    the four fields sorted by name (ASCII), joined as a URL query without escaping, then SHA-1 in hex."""
    fields = {"noncestr": noncestr, "jsapi_ticket": ticket, "timestamp": str(timestamp), "url": url}
    plain = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def test_js_config_signs_the_page_url_and_caches_the_ticket(db_session: Session, sim: WeChatServer,
                                                            clock: FrozenClock) -> None:  # fmt: skip
    cfg = config(sim)
    page = f"{SITE}/v/12?from=groupmessage&isappinstalled=0#comments"
    got = wechat.js_config(db_session, cfg, url=page, allowed_origins={SITE})
    ticket = sim.sim.tickets[APP]
    assert got.app_id == APP
    assert got.url == f"{SITE}/v/12?from=groupmessage&isappinstalled=0"
    assert got.timestamp == int(clock.now().timestamp())
    assert got.signature == documented_signature(ticket, got.nonce_str, got.timestamp, got.url)
    # The worked example in WeChat's documentation (附录1).
    doc_ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    doc_url = "http://mp.weixin.qq.com?params=value"
    doc_signature = wechat.signature(doc_ticket, noncestr="Wm3WZYTPz0wzccnW", timestamp=1414587457, url=doc_url)
    assert doc_signature == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"

    for _ in range(3):
        wechat.js_config(db_session, cfg, url=f"{SITE}/p/4", allowed_origins={SITE})
    assert sim.sim.calls["/cgi-bin/token"] == 1
    assert sim.sim.calls["/cgi-bin/ticket/getticket"] == 1

    clock.advance(seconds=7200)  # both expired: fetched again, once
    later = wechat.js_config(db_session, cfg, url=f"{SITE}/p/4", allowed_origins={SITE})
    assert sim.sim.calls["/cgi-bin/token"] == 2
    assert sim.sim.calls["/cgi-bin/ticket/getticket"] == 2
    assert later.signature == documented_signature(sim.sim.tickets[APP], later.nonce_str, later.timestamp, later.url)


@pytest.mark.parametrize("url", ["https://evil.example/v/1", "http://127.0.0.1:8001/v/1", "javascript:alert(1)",
                                 "/v/1", "", "http://127.0.0.1:8000.evil.example/v/1",
                                 "http://127.0.0.1:8000@evil.example/v/1", "ftp://127.0.0.1:8000/v/1"])  # fmt: skip
def test_js_config_refuses_other_sites(db_session: Session, sim: WeChatServer, url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        wechat.js_config(db_session, config(sim), url=url, allowed_origins={SITE})
    assert refused.value.fields[0].field == "url"
    sentence = refused.value.fields[0].render("en")["message"]
    assert sentence == "WeChat share settings are only made for this site's own pages"
    assert sim.sim.calls["/cgi-bin/token"] == 0


def test_a_wrong_secret_for_the_ticket_is_a_502(db_session: Session, sim: WeChatServer) -> None:
    with pytest.raises(DomainError) as refused:
        wechat.js_config(db_session, config(sim, secret="nope" * 8), url=f"{SITE}/v/1", allowed_origins={SITE})
    assert (refused.value.status, refused.value.code) == (502, "wechat_misconfigured")
