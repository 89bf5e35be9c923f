"""JSON API under /api/v1, documented at /api/v1/openapi.json and /api/v1/docs."""

from __future__ import annotations

from flask import Flask

from web.api.blueprint import bp


def init_app(app: Flask) -> None:
    # Route modules register on `bp` when imported.
    from web.api import (  # noqa: F401
        accounts,
        docs,
        videos,
    )

    app.register_blueprint(bp)
