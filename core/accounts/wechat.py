"""WeChat sign-in (OAuth2 web authorization inside WeChat's browser) and the JS-SDK's `wx.config` signature.

Sign-in: the page sends the browser to WeChat's authorize URL with a `state` this module signs (with the app's
secret key, expiring, carrying the safe `next` and, when binding, the signed-in account), WeChat sends it back
with a `code`, and `complete_sign_in` spends the state (once: its nonce is recorded), exchanges the code for the
user's openid (and unionid, and with snsapi_userinfo their nickname) and signs in or creates the account. A known
unionid reaches the same account from any of the platform's apps; a signed-in account may bind its WeChat.

JS-SDK: the app's access_token and jsapi_ticket are fetched server-side and cached in `wechat_credentials` until
shortly before they expire; `js_config` signs a page URL of this site as WeChat documents it (sha1 of
`jsapi_ticket=..&noncestr=..&timestamp=..&url=..`).

WeChat answers errors as HTTP 200 with an `errcode`: they become clear problems (a bad or used code 400, the app's
own configuration 502, WeChat busy or unreachable 503 with Retry-After), never a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.accounts.models import User, WeChatCredential, WeChatIdentity, WeChatOAuthState
from core.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotAuthenticated,
    ValidationFailed,
    register_field_labels,
    register_messages,
)
from core.urls import origin_of

log = logging.getLogger(__name__)

register_messages(
    {
        "wechat_not_configured": ("本站暂未开通微信登录", "Signing in with WeChat is not available on this site"),
        "wechat_state_invalid": (
            "微信登录链接无效或已过期，请返回登录页重新点“微信登录”",
            "This WeChat sign-in link is invalid or has expired; go back to the sign-in page and tap WeChat again",
        ),
        "wechat_state_used": (
            "这个微信登录链接已经用过了，请返回登录页重新点“微信登录”",
            "This WeChat sign-in link was already used; go back to the sign-in page and tap WeChat again",
        ),
        "wechat_code_invalid": (
            "微信授权已失效，请重新点“微信登录”",
            "WeChat's authorisation has expired or was already used; tap WeChat sign-in again",
        ),
        "wechat_denied": ("你没有同意微信授权，未能登录", "You did not allow WeChat to sign you in"),
        "wechat_misconfigured": (
            "微信登录配置有误（公众号 AppID 或密钥不对），请联系客服",
            "WeChat sign-in is misconfigured on our side (the app id or secret); please contact support",
        ),
        "wechat_refused": (
            "微信拒绝了这次请求（错误码 {errcode}），请稍后再试",
            "WeChat refused the request (error {errcode}); please try again later",
        ),
        "wechat_unavailable": (
            "暂时连不上微信，请 {retry_after} 秒后再试",
            "WeChat cannot be reached right now; please try again in {retry_after} s",
        ),
        "wechat_taken": (
            "这个微信已绑定其他星炼账号，请先用微信登录那个账号解绑，或换一个微信",
            "This WeChat is already bound to another xinglian account; unbind it there first or use another WeChat",
        ),
        "wechat_bind_signed_out": (
            "绑定微信前请先登录要绑定的账号",
            "Sign in to the account you want to bind WeChat to first",
        ),
        "wechat_url_foreign": (
            "只能为本站的页面生成微信分享配置",
            "WeChat share settings are only made for this site's own pages",
        ),
    }
)

register_field_labels({"url": ("页面地址", "The page address")})

SCOPES = frozenset({"snsapi_base", "snsapi_userinfo"})
_STATE_SALT = "wechat-oauth-state"
# errcodes that mean the code (or the user's token) is bad or spent: ask the user to start over.
_CODE_ERRORS = frozenset({40029, 40163, 42003, 40030, 41008})
# errcodes that mean the app's own credentials are wrong: nothing the user can do.
_CONFIG_ERRORS = frozenset({40001, 40013, 40125, 40164, 41002, 41004, 48001, 40243})
_BUSY = frozenset({-1, 45009, 45011})
RETRY_AFTER = 30
_MARGIN = dt.timedelta(seconds=300)  # a cached credential is renewed this long before WeChat says it expires


class WeChatUnavailable(DomainError):
    status = 503
    default_code = "wechat_unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__(retry_after=RETRY_AFTER, headers={"Retry-After": str(RETRY_AFTER)})
        self.reason = detail


class WeChatFailed(DomainError):
    """WeChat refused a server call for a reason on our side (configuration) or its own."""

    status = 502
    default_code = "wechat_refused"


@dataclass(frozen=True)
class WeChatConfig:
    app_id: str
    app_secret: str
    oauth_base_url: str = "https://open.weixin.qq.com"
    api_base_url: str = "https://api.weixin.qq.com"
    scope: str = "snsapi_userinfo"
    state_ttl_seconds: int = 600
    timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.app_secret)


@dataclass(frozen=True)
class StateClaim:
    nonce: str
    next_path: str
    bind_user_id: int | None


@dataclass(frozen=True)
class SignInResult:
    user: User
    created: bool  # a new account was made for this WeChat
    bound: bool  # the WeChat was bound to the signed-in account
    next_path: str


# -- state -------------------------------------------------------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """Signs and judges age on core.clock, so the state's lifetime follows the app's clock (tests move it)."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_STATE_SALT, signer=_ClockSigner)


def make_state(secret_key: str, *, next_path: str, bind_user_id: int | None = None) -> str:
    """A signed state for the authorize URL (the caller checks `next_path` is safe; it is carried as given)."""
    nonce = secrets.token_hex(12)
    payload: dict[str, Any] = {"n": nonce, "next": next_path}
    if bind_user_id is not None:
        payload["bind"] = bind_user_id
    token: str = _serializer(secret_key).dumps(payload)
    return token


def read_state(secret_key: str, state: str, *, ttl_seconds: int) -> StateClaim:
    """The state's claim if it is ours and fresh, else BadRequest("wechat_state_invalid"). Not spent here."""
    try:
        payload = _serializer(secret_key).loads(state, max_age=ttl_seconds)  # SignatureExpired is a BadSignature
    except (BadSignature, ValueError, TypeError) as exc:
        raise BadRequest("wechat_state_invalid") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise BadRequest("wechat_state_invalid")
    bind = payload.get("bind")
    nxt = payload.get("next")
    return StateClaim(
        nonce=payload["n"],
        next_path=nxt if isinstance(nxt, str) else "/",
        bind_user_id=bind if isinstance(bind, int) else None,
    )


def _spend_state(session: Session, claim: StateClaim) -> None:
    """Record the nonce (committed at once): a second callback with the same state is refused even mid-race."""
    session.add(WeChatOAuthState(nonce=claim.nonce, used_at=clock.now()))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise BadRequest("wechat_state_used") from exc


# -- WeChat's API -----------------------------------------------------------------------------------------------


def authorize_url(config: WeChatConfig, *, redirect_uri: str, state: str, scope: str | None = None) -> str:
    """WeChat's authorize page for this app; it sends the browser back to `redirect_uri?code=..&state=..`."""
    scope = scope or config.scope
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    query = urlencode(
        {"appid": config.app_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope, "state": state}
    )
    return f"{config.oauth_base_url.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def _call(config: WeChatConfig, path: str, params: dict[str, str]) -> dict[str, Any]:
    """GET a WeChat API and return its JSON; an errcode becomes a DomainError, an outage WeChatUnavailable."""
    url = f"{config.api_base_url.rstrip('/')}{path}?{urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=config.timeout_seconds) as response:  # noqa: S310 - our own base URL
            body = response.read()
    except urllib.error.HTTPError as exc:
        log.warning("wechat: %s answered HTTP %s", path, exc.code)
        raise WeChatUnavailable(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        log.warning("wechat: %s unreachable: %s", path, exc)
        raise WeChatUnavailable(str(exc)) from exc
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise WeChatUnavailable("unreadable answer") from exc
    if not isinstance(doc, dict):
        raise WeChatUnavailable("unreadable answer")
    errcode = doc.get("errcode")
    if isinstance(errcode, int) and errcode != 0:
        log.warning("wechat: %s errcode %s %s", path, errcode, doc.get("errmsg"))
        if errcode in _CODE_ERRORS:
            raise BadRequest("wechat_code_invalid", errcode=errcode)
        if errcode in _BUSY:
            raise WeChatUnavailable(f"errcode {errcode}")
        if errcode in _CONFIG_ERRORS:
            raise WeChatFailed("wechat_misconfigured", errcode=errcode)
        raise WeChatFailed("wechat_refused", errcode=errcode)
    return doc


def _text(doc: dict[str, Any], key: str, limit: int) -> str:
    value = doc.get(key)
    return value[:limit] if isinstance(value, str) else ""


# -- sign-in -----------------------------------------------------------------------------------------------------


def default_display_name(openid: str) -> str:
    return f"微信用户{openid[-4:]}"


def complete_sign_in(
    session: Session, config: WeChatConfig, *, secret_key: str, code: str, state: str, current_user: User | None
) -> SignInResult:
    """The callback: spend the state, exchange the code, then sign in, create, or bind (when the state says so)."""
    if not config.enabled:
        raise BadRequest("wechat_not_configured")
    claim = read_state(secret_key, state, ttl_seconds=config.state_ttl_seconds)
    if claim.bind_user_id is not None and (current_user is None or current_user.id != claim.bind_user_id):
        raise NotAuthenticated("wechat_bind_signed_out")
    _spend_state(session, claim)
    if not code:
        raise BadRequest("wechat_denied")
    token = _call(config, "/sns/oauth2/access_token", {"appid": config.app_id, "secret": config.app_secret,
                                                        "code": code, "grant_type": "authorization_code"})  # fmt: skip
    openid = _text(token, "openid", 64)
    if not openid:
        raise WeChatFailed("wechat_refused", errcode="openid")
    unionid = _text(token, "unionid", 64) or None
    profile: dict[str, Any] = {}
    if "snsapi_userinfo" in str(token.get("scope", "")).split(","):
        user_token = str(token.get("access_token", ""))
        profile = _call(config, "/sns/userinfo", {"access_token": user_token, "openid": openid, "lang": "zh_CN"})
        unionid = _text(profile, "unionid", 64) or unionid
    nickname, avatar = _text(profile, "nickname", 64).strip(), _text(profile, "headimgurl", 500)
    if claim.bind_user_id is not None:
        assert current_user is not None
        user = _bind(session, config.app_id, current_user, openid=openid, unionid=unionid, nickname=nickname,
                     avatar=avatar)  # fmt: skip
        return SignInResult(user=user, created=False, bound=True, next_path=claim.next_path)
    user, created = _sign_in_or_create(session, config.app_id, openid=openid, unionid=unionid, nickname=nickname,
                                       avatar=avatar)  # fmt: skip
    if not user.is_active:
        raise DomainError("account_disabled")
    return SignInResult(user=user, created=created, bound=False, next_path=claim.next_path)


def _known(session: Session, app_id: str, openid: str, unionid: str | None) -> list[WeChatIdentity]:
    """This app's identity for the openid first, then any app's with the same unionid."""
    cond: ColumnElement[bool] = (WeChatIdentity.app_id == app_id) & (WeChatIdentity.openid == openid)
    if unionid:
        cond = or_(cond, WeChatIdentity.unionid == unionid)
    rows = list(session.scalars(select(WeChatIdentity).where(cond).order_by(WeChatIdentity.id)))
    rows.sort(key=lambda r: not (r.app_id == app_id and r.openid == openid))
    return rows


def _remember(session: Session, found: list[WeChatIdentity], app_id: str, user_id: int, *, openid: str,
              unionid: str | None, nickname: str, avatar: str) -> None:  # fmt: skip
    """Keep this app's identity row for the user, refreshed (a unionid learnt later is filled in)."""
    mine = next((r for r in found if r.app_id == app_id and r.openid == openid), None)
    if mine is None:
        session.add(WeChatIdentity(app_id=app_id, openid=openid, unionid=unionid, user_id=user_id,
                                   nickname=nickname, headimgurl=avatar))  # fmt: skip
        return
    mine.unionid = unionid or mine.unionid
    mine.nickname = nickname or mine.nickname
    mine.headimgurl = avatar or mine.headimgurl


def _sign_in_or_create(session: Session, app_id: str, *, openid: str, unionid: str | None, nickname: str,
                       avatar: str) -> tuple[User, bool]:  # fmt: skip
    found = _known(session, app_id, openid, unionid)
    created = not found
    if found:
        user = session.get(User, found[0].user_id)
        assert user is not None
    else:
        user = User(display_name=(nickname or default_display_name(openid))[:64], password_hash="")
        session.add(user)
        session.flush()
    _remember(session, found, app_id, user.id, openid=openid, unionid=unionid, nickname=nickname, avatar=avatar)
    try:
        session.commit()
    except IntegrityError as exc:  # the same WeChat signed in twice at once: the other request made the account
        session.rollback()
        raise Conflict("wechat_taken") from exc
    return user, created


def _bind(session: Session, app_id: str, user: User, *, openid: str, unionid: str | None, nickname: str,
          avatar: str) -> User:  # fmt: skip
    found = _known(session, app_id, openid, unionid)
    if any(r.user_id != user.id for r in found):
        session.rollback()
        raise Conflict("wechat_taken")
    _remember(session, found, app_id, user.id, openid=openid, unionid=unionid, nickname=nickname, avatar=avatar)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("wechat_taken") from exc
    return user


def identities_of(session: Session, user_id: int) -> list[WeChatIdentity]:
    return list(session.scalars(select(WeChatIdentity).where(WeChatIdentity.user_id == user_id)))


# -- JS-SDK ------------------------------------------------------------------------------------------------------


def _cached(session: Session, app_id: str, kind: str) -> str | None:
    row = session.get(WeChatCredential, (app_id, kind))
    if row is not None and row.expires_at > clock.now():
        return row.value
    return None


def _store(session: Session, app_id: str, kind: str, value: str, expires_in: object) -> None:
    seconds = expires_in if isinstance(expires_in, int) and expires_in > 0 else 7200
    expires_at = clock.now() + max(dt.timedelta(seconds=seconds) - _MARGIN, dt.timedelta(seconds=seconds // 2))
    row = session.get(WeChatCredential, (app_id, kind))
    if row is None:
        session.add(WeChatCredential(app_id=app_id, kind=kind, value=value, expires_at=expires_at))
    else:
        row.value, row.expires_at = value, expires_at
    try:
        session.commit()
    except IntegrityError:  # another process cached one at the same moment: theirs is as good
        session.rollback()


def access_token(session: Session, config: WeChatConfig) -> str:
    """The app's server access_token (cgi-bin/token), from the cache while it lasts."""
    cached = _cached(session, config.app_id, "access_token")
    if cached:
        return cached
    doc = _call(config, "/cgi-bin/token",
                {"grant_type": "client_credential", "appid": config.app_id, "secret": config.app_secret})  # fmt: skip
    token = _text(doc, "access_token", 600)
    if not token:
        raise WeChatFailed("wechat_refused", errcode="access_token")
    _store(session, config.app_id, "access_token", token, doc.get("expires_in"))
    return token


def jsapi_ticket(session: Session, config: WeChatConfig) -> str:
    """The JS-SDK ticket (cgi-bin/ticket/getticket), from the cache while it lasts."""
    cached = _cached(session, config.app_id, "jsapi_ticket")
    if cached:
        return cached
    doc = _call(config, "/cgi-bin/ticket/getticket", {"access_token": access_token(session, config), "type": "jsapi"})
    ticket = _text(doc, "ticket", 600)
    if not ticket:
        raise WeChatFailed("wechat_refused", errcode="ticket")
    _store(session, config.app_id, "jsapi_ticket", ticket, doc.get("expires_in"))
    return ticket


def signature(ticket: str, *, noncestr: str, timestamp: int, url: str) -> str:
    """WeChat's JS-SDK signature: sha1 over the four fields in this order, the URL without its fragment."""
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url.split('#', 1)[0]}"
    return hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324 - the algorithm WeChat specifies


@dataclass(frozen=True)
class JsConfig:
    app_id: str
    timestamp: int
    nonce_str: str
    signature: str
    url: str


def page_url(url: str, allowed_origins: set[str]) -> str:
    """The page URL to sign, without its fragment, if it is on one of `allowed_origins` (this site's)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    origin = origin_of(url)
    if origin is None or parts.username is not None or parts.password is not None or origin not in allowed_origins:
        raise ValidationFailed.one("url", "wechat_url_foreign")
    return url.split("#", 1)[0]


def js_config(session: Session, config: WeChatConfig, *, url: str, allowed_origins: set[str]) -> JsConfig:
    """What `wx.config` needs for the page at `url` (this site's only)."""
    if not config.enabled:
        raise BadRequest("wechat_not_configured")
    signed_url = page_url(url, allowed_origins)
    ticket = jsapi_ticket(session, config)
    nonce = secrets.token_hex(8)
    timestamp = int(clock.now().timestamp())
    signed = signature(ticket, noncestr=nonce, timestamp=timestamp, url=signed_url)
    return JsConfig(app_id=config.app_id, timestamp=timestamp, nonce_str=nonce, signature=signed, url=signed_url)
