"""WeChat sign-in pages: `/auth/wechat` sends WeChat's browser to the authorize page, `/auth/wechat/callback`
signs in (or creates the account, or binds WeChat to the signed-in one) and returns to the safe `next`.

The signed state (core.accounts.wechat) is also kept in this browser's session cookie, and the callback must bring
back that same state: a state minted in someone else's browser cannot sign this one in to their account.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, redirect, request, session

from core import extensions
from core.accounts import wechat
from core.settings import Settings
from web.auth import current_user, safe_next_path, sign_in

bp = Blueprint("wechat", __name__)

CALLBACK_PATH = "/auth/wechat/callback"
_SESSION_KEY = "wx_state"


def wechat_config(settings: Settings | None = None) -> wechat.WeChatConfig:
    s = settings or extensions.settings()
    return wechat.WeChatConfig(
        app_id=s.wechat_app_id,
        app_secret=s.wechat_app_secret,
        oauth_base_url=s.wechat_oauth_base_url,
        api_base_url=s.wechat_api_base_url,
        scope=s.wechat_oauth_scope,
        state_ttl_seconds=s.wechat_state_ttl_seconds,
        timeout_seconds=s.wechat_timeout_seconds,
    )


def in_wechat() -> bool:
    """WeChat's built-in browser names itself in the user agent."""
    return "MicroMessenger" in (request.headers.get("User-Agent") or "")


def wechat_sign_in_offered() -> bool:
    return in_wechat() and wechat_config().enabled


@bp.get("/auth/wechat")
def start() -> Response:
    """To WeChat's authorize page; `?bind=1` (signed in) binds the WeChat to this account instead of signing in."""
    settings = extensions.settings()
    config = wechat_config(settings)
    if not config.enabled:
        raise wechat.BadRequest("wechat_not_configured")
    bind = request.args.get("bind") == "1"
    user = current_user()
    lang = "&lang=en" if request.args.get("lang") == "en" else ""
    if bind and user is None:
        return redirect(f"/login?next={quote(request.full_path.rstrip('?'))}{lang}")  # type: ignore[return-value]
    nxt = safe_next_path(request.args.get("next"), "/me")
    if lang and "lang=" not in nxt:
        nxt += ("&" if "?" in nxt else "?") + "lang=en"
    state = wechat.make_state(settings.secret_key, next_path=nxt, bind_user_id=user.id if bind and user else None)
    session[_SESSION_KEY] = state
    # The callback answers in the same language (its errors are pages); WeChat keeps the redirect's own query.
    redirect_uri = settings.public_base_url.rstrip("/") + CALLBACK_PATH + ("?lang=en" if lang else "")
    return redirect(wechat.authorize_url(config, redirect_uri=redirect_uri, state=state))  # type: ignore[return-value]


@bp.get(CALLBACK_PATH)
def callback() -> Response:
    """WeChat sends the browser back here with `code` (absent when the user said no) and our `state`."""
    state = request.args.get("state", "")
    expected = session.pop(_SESSION_KEY, None)
    if not state or not isinstance(expected, str) or expected != state:
        raise wechat.BadRequest("wechat_state_invalid")
    settings = extensions.settings()
    result = wechat.complete_sign_in(extensions.session(), wechat_config(settings), secret_key=settings.secret_key,
                                     code=request.args.get("code", ""), state=state,
                                     current_user=current_user())  # fmt: skip
    if not result.bound:
        sign_in(result.user)
    return redirect(safe_next_path(result.next_path, "/me"))  # type: ignore[return-value]
