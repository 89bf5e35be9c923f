"""The viewer's pages: the watch-and-buy feed, a video, a product, checkout, orders."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("feed", __name__, template_folder="../templates")


@bp.get("/")
def index() -> str:
    return render_template("index.html")
