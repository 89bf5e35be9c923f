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

from flask import Blueprint, Flask, Response, current_app, render_template, send_from_directory

from web.device import device_for_browser, set_device_cookie

bp = Blueprint("pages", __name__, template_folder="../templates")


@bp.get("/login")
def login() -> Response:
    """The sign-in page gives a browser seen for the first time its device id, so its first sign-in already makes
    the device a known source for the sign-in throttle (core.accounts.service.LoginPolicy)."""
    raw_device, _, new_device = device_for_browser()
    response = Response(render_template("login.html"), mimetype="text/html")
    if new_device:
        set_device_cookie(response, raw_device)
    return response


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it at the root whatever the page links, so it is served here rather than a 404."""
    assert current_app.static_folder is not None
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=7 * 86400)


def init_app(app: Flask) -> None:
    from web.pages import admin, booking, brand, discover, feed, studio

    app.register_blueprint(bp)
    for module in (feed, discover, studio, brand, booking, admin):
        app.register_blueprint(module.bp)
