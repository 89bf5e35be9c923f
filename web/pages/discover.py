"""Search with suggestions and facets; hashtag pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("discover", __name__, template_folder="../templates")
