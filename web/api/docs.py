"""The OpenAPI document and an interactive docs page (Swagger UI 5, which reads OpenAPI 3.1, served from the
flask-swagger-ui wheel's copy of its dist: no CDN, no inline script)."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Response, current_app, send_from_directory

from web.api.blueprint import bp
from web.api.endpoint import json_response
from web.api.openapi import build_openapi

_SWAGGER_DIR = Path(flask_swagger_ui.__file__).parent / "dist"

_DOCS_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>星炼 xinglian API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script src="docs/static/swagger-ui-standalone-preset.js"></script>
<script src="docs/init.js"></script>
</body></html>"""

# validatorUrl null: no badge fetched from validator.swagger.io (the page's policy allows our own origin only).
_INIT_JS = """window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});"""


@bp.get("/openapi.json")
def openapi_document() -> Response:
    cache = current_app.extensions.setdefault("openapi_cache", {})
    if "doc" not in cache:
        cache["doc"] = build_openapi(current_app)
    return json_response(cache["doc"])


@bp.get("/docs")
def docs_page() -> Response:
    return Response(_DOCS_HTML, mimetype="text/html")


@bp.get("/docs/init.js")
def docs_init() -> Response:
    return Response(_INIT_JS, mimetype="text/javascript")


@bp.get("/docs/static/<path:filename>")
def docs_static(filename: str) -> Response:
    return send_from_directory(_SWAGGER_DIR, filename, max_age=86400)
