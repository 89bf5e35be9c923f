"""The web app: `create_app(settings)` assembles every package and blueprint."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core import logs
from core.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=30),
        MAX_CONTENT_LENGTH=settings.upload_chunk_max_bytes + 1024 * 1024,
        TESTING=settings.env == "test",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if settings.proxy_fix_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_fix_hops, x_proto=settings.proxy_fix_hops)  # type: ignore[method-assign]
    logs.configure(settings)

    from web import edge

    edge.init_app(app)  # before any route is added: it replaces the <int:> converter

    import commerce
    import core
    import media
    import moderation
    import search
    import workers

    core.init_app(app)
    search.init_app(app)
    media.init_app(app)
    commerce.init_app(app)
    moderation.init_app(app)
    workers.init_app(app)

    from web import (
        api,
        auth,
        cli,
        headers,
        health,
        i18n,
        money_pages,
        observability,
        pages,
        problems,
        ratelimit,
        realtime,
        storage_views,
        wechat,
    )

    observability.init_app(app)
    headers.init_app(app)
    problems.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    api.init_app(app)
    app.register_blueprint(health.bp)
    pages.init_app(app)
    realtime.init_app(app)
    app.register_blueprint(wechat.bp)
    app.register_blueprint(money_pages.bp)
    if settings.storage_url.startswith("file:"):
        app.register_blueprint(storage_views.bp)
    cli.init_app(app)
    ratelimit.init_app(app)  # last: it wraps the views every blueprint registered
    return app
