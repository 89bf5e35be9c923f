"""Typed access to the clients `init_app` attached to the current Flask app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from flask import current_app, g
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from core.db import Database
    from core.outbox import Relay
    from core.settings import Settings
    from core.storage import ObjectStorage


def settings() -> Settings:
    return cast("Settings", current_app.config["SETTINGS"])


def database() -> Database:
    return cast("Database", current_app.extensions["db"])


def storage() -> ObjectStorage:
    return cast("ObjectStorage", current_app.extensions["storage"])


def outbox_relay() -> Relay:
    return cast("Relay", current_app.extensions["outbox"])


def extension(name: str) -> Any:
    return current_app.extensions[name]


def session() -> Session:
    """The session of the current app context (one per request or task), opened lazily."""
    if "db_session" not in g:
        g.db_session = database().new_session()
    return cast(Session, g.db_session)


def close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("db_session", None)
    if s is not None and database().owns_sessions:
        s.close()
