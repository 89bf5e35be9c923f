"""Server-rendered H5 pages."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__, template_folder="../templates")


@bp.get("/")
def index() -> str:
    return render_template("index.html")


@bp.get("/login")
def login() -> str:
    return render_template("login.html")
