"""Core: settings, database, storage, outbox, money, clock, errors, accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from core import extensions
    from core.accounts import passwords
    from core.db import Database
    from core.outbox import Relay
    from core.storage import open_storage

    settings = app.config["SETTINGS"]
    passwords.configure(memory_kib=settings.password_hash_memory_kib, time_cost=settings.password_hash_time_cost)
    app.extensions["db"] = Database(settings.database_url, echo=settings.database_echo)
    app.extensions["storage"] = open_storage(settings)
    app.extensions["outbox"] = Relay()
    app.teardown_appcontext(extensions.close_session)
