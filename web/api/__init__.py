"""JSON API under /api/v1, documented at /api/v1/openapi.json and /api/v1/docs."""

from __future__ import annotations

from flask import Flask

from web.api.blueprint import bp


def init_app(app: Flask) -> None:
    # Route modules register on `bp` when imported.
    import web.api.affiliate
    import web.api.artists
    import web.api.bargains
    import web.api.bookings
    import web.api.campaigns
    import web.api.catalog
    import web.api.comments
    import web.api.commissions
    import web.api.coupons
    import web.api.distribution
    import web.api.flash_sales
    import web.api.group_buys
    import web.api.links
    import web.api.marketing
    import web.api.moderation
    import web.api.notifications
    import web.api.support  # noqa: F401
    from web.api import accounts, discovery, disputes, docs, orders, payments, reports, shares, videos, wallet, wechat  # noqa: F401

    app.register_blueprint(bp)
