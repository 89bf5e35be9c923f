"""Who is calling: bearer tokens for the API, signed cookie sessions (with CSRF) for pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, g, redirect, request, session

from core import extensions
from core.accounts import service as accounts
from core.accounts.models import User
from core.accounts.permissions import require_user
from core.errors import DomainError, NotAuthenticated, register_messages
from core.ids import sha256_hex
from core.urls import origin_of

register_messages(
    {
        "invalid_token": ("访问令牌无效或已过期", "The access token is invalid or expired"),
        "cross_origin": (
            "这个请求来自其他网站，已被拒绝。请回到本站页面重试",
            "This request came from another website and was refused; please retry from our own page",
        ),
    }
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


class CsrfFailed(DomainError):
    status = 403
    default_code = "csrf_failed"


class CrossOrigin(DomainError):
    status = 403
    default_code = "cross_origin"


def signed_request(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a view that its caller authenticates by a signature of its own (payment webhooks, presigned storage
    URLs), never by the browser's cookie: the Origin check does not apply, the signature does."""
    view.signed_request = True  # type: ignore[attr-defined]
    return view


def current_user() -> User | None:
    if "current_user" not in g:
        g.current_user = _load_user()
    user: User | None = g.current_user
    return user


def require_current_user() -> User:
    return require_user(current_user())


def _load_user() -> User | None:
    header = request.headers.get("Authorization")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise NotAuthenticated("invalid_token")
        user = accounts.user_for_token(extensions.session(), credentials.strip())
        if user is None:
            raise NotAuthenticated("invalid_token")
        g.auth_via = "token"
        return user
    uid, version = session.get("uid"), session.get("av")
    if isinstance(uid, int) and isinstance(version, int):
        user = accounts.user_for_session(extensions.session(), uid, version)
        if user is None:
            session.clear()
            return None
        g.auth_via = "cookie"
        return user
    return None


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def sign_in(user: User) -> str:
    """Start a cookie session for `user`; returns its CSRF token."""
    session.clear()
    session["uid"] = user.id
    session["av"] = user.auth_version
    session.permanent = True
    g.current_user = user
    return csrf_token()


def sign_out() -> None:
    session.clear()
    g.current_user = None


def safe_next_path(raw: object, default: str = "/") -> str:
    """Where a `next`/return parameter may send the user: a path on this origin, else `default`.

    Browsers read `//host`, `/\\host` and `/<TAB>/host` as another site and `javascript:` as script, so only
    "/" followed by anything but a slash or backslash, with no backslash or control character anywhere, is kept.
    """
    if not isinstance(raw, str) or not raw.startswith("/") or len(raw) > 2000:
        return default
    if raw[1:2] == "/" or "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return default
    return raw


def client_ip_hash() -> str:
    ip = request.remote_addr or "unknown"
    return sha256_hex(f"{extensions.settings().secret_key}:{ip}")


def allowed_origins() -> set[str]:
    """PUBLIC_BASE_URL's origin and the origin this request was addressed to."""
    return {o for o in (origin_of(extensions.settings().public_base_url), origin_of(request.host_url)) if o}


def _check_origin() -> None:
    # A browser names the page a request comes from in Origin (or, failing that, Referer); a page on another site
    # may not change state here even with a CSRF token it obtained somehow. Bearer tokens are never sent by
    # browsers on their own, and signed requests (webhooks, presigned storage) carry their own proof. Signed-out
    # requests are checked too: a foreign page must not sign the visitor in to an account of its choosing.
    if request.method in SAFE_METHODS or request.headers.get("Authorization"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "signed_request", False):
        return
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if sent is None:
        return  # not a browser (curl, SDKs): nothing to compare; cookie sessions still need the CSRF token
    if origin_of(sent) not in allowed_origins():
        raise CrossOrigin()


def _check_csrf() -> None:
    # Only cookie sessions are exposed to cross-site requests; bearer tokens are not sent by browsers on their own.
    if request.method in SAFE_METHODS or request.headers.get("Authorization"):
        return
    if "uid" not in session:
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


def init_app(app: Flask) -> None:
    app.before_request(_check_origin)
    app.before_request(_check_csrf)

    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"current_user": current_user, "csrf_token": csrf_token}


def signed_in_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """For pages: signed-out visitors go to sign-in and come back here; the view gets the signed-in user first."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            lang = "&lang=en" if request.args.get("lang") == "en" else ""  # the sign-in page in the page's language
            return redirect(f"/login?next={quote(request.full_path.rstrip('?'))}{lang}")
        return view(user, *args, **kwargs)

    return wrapper
