"""The creator studio: uploads, processing, product links and earnings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("studio", __name__, template_folder="../templates")
