"""Search: engine interface, backends, documents, indexing and feed ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from search.engine import open_engine

    app.extensions["search"] = open_engine(app.config["SETTINGS"])
