"""Server-rendered H5 pages, one blueprint per audience.

- `feed`: the viewer's watch-and-buy feed, video and product pages, checkout and orders, "me".
- `discover`: search with suggestions and facets, hashtag pages.
- `studio`: the creator's uploads, processing, product links and earnings.
- `brand`: the brand dashboard (catalog, affiliate settings, orders, refunds, attributed sales).
- `booking`: campaigns, matching, bookings and artist profiles.
- `admin`: the admin console (review queue, reviews, moderation audit log).

Pages read through the same services as the API; their scripts call the API for every change.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, send_from_directory

from core import extensions
from core.accounts.delivery import SandboxOutbox
from core.accounts.models import User
from web.auth import safe_next_path, signed_in_page
from web.device import device_for_browser, set_device_cookie
from web.wechat import wechat_sign_in_offered

bp = Blueprint("pages", __name__, template_folder="../templates")


def _account_page(template: str, **context: object) -> str:
    """The sign-in family of pages: each links to the others carrying a safe `next` (and the language) along."""
    nxt = safe_next_path(request.args.get("next"), "")
    carry = "&".join(p for p in (f"next={quote(nxt)}" if nxt else "", "lang=en" if request.args.get("lang") == "en"
                                 else "") if p)  # fmt: skip
    return render_template(template, carry=f"?{carry}" if carry else "", **context)


@bp.get("/login")
def login() -> Response:
    """The sign-in page gives a browser seen for the first time its device id, so its first sign-in already makes
    the device a known source for the sign-in throttle (core.accounts.service.LoginPolicy)."""
    raw_device, _, new_device = device_for_browser()
    response = Response(_account_page("login.html", wechat=wechat_sign_in_offered()), mimetype="text/html")
    if new_device:
        set_device_cookie(response, raw_device)
    return response


@bp.get("/login/phone")
def login_phone() -> str:
    """Phone number + SMS code; the first verified code creates the account."""
    return _account_page("login_phone.html", bind=False)


@bp.get("/me/phone")
@signed_in_page
def bind_phone(user: User) -> str:
    """A signed-in account adds the phone number it will sign in with, proven by a code."""
    return _account_page("login_phone.html", bind=True)


@bp.get("/signup")
def signup() -> str:
    return _account_page("signup.html")


@bp.get("/forgot-password")
def forgot_password() -> str:
    return _account_page("forgot_password.html")


@bp.get("/reset-password")
def reset_password() -> str:
    """The e-mailed link lands here; the page's script sends the token from the URL with the new password."""
    return _account_page("reset_password.html")


@bp.get("/sandbox/<any(sms, mail):channel>")
def sandbox_messages(channel: str) -> str:
    """The sandbox SMS provider's and mailer's deliveries, newest first: the phone and inbox of development.
    Never in production, where codes and links reach only their owners."""
    if extensions.settings().env == "production":
        abort(404)
    messages = SandboxOutbox(extensions.session()).latest("sms" if channel == "sms" else "email", 20)
    return render_template("sandbox_messages.html", channel=channel, messages=messages)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it at the root whatever the page links, so it is served here rather than a 404."""
    assert current_app.static_folder is not None
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=7 * 86400)


def init_app(app: Flask) -> None:
    from web.pages import admin, booking, brand, discover, distribution, feed, studio, support

    app.register_blueprint(bp)
    for module in (feed, discover, studio, brand, booking, admin, distribution, support):
        app.register_blueprint(module.bp)
