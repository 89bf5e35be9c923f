"""Search: engine interface, backends, documents, indexing and feed ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from search.engine import open_engine
    from search.indexing import Indexer

    engine = open_engine(app.config["SETTINGS"])
    app.extensions["search"] = engine
    indexer = Indexer(engine)
    indexer.subscribe(app.extensions["outbox"])
    app.extensions["search_indexer"] = indexer
