"""The brand dashboard: catalog, affiliate settings, orders to ship, refunds, attributed sales."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("brand", __name__, template_folder="../templates")
