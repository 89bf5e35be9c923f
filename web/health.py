"""/healthz: is each external system reachable? Names the one that is down."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app

from core import extensions
from web.api.endpoint import json_response

bp = Blueprint("health", __name__)


def _check_broker() -> str:
    celery = current_app.extensions["celery"]
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        return str(conn.transport_cls)


def _checks() -> dict[str, Callable[[], str]]:
    s = extensions.settings()

    def database() -> str:
        extensions.database().ping()
        return extensions.database().dialect

    def storage() -> str:
        extensions.storage().ping()
        return s.storage_url.split(":", 1)[0]

    def search() -> str:
        engine = current_app.extensions["search"]
        engine.ping()
        return str(engine.name)

    return {"database": database, "storage": storage, "search": search, "broker": _check_broker}


@bp.get("/healthz")
def healthz() -> Response:
    results: dict[str, dict[str, object]] = {}
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            backend = check()
            results[name] = {"ok": True, "backend": backend}
        except Exception as exc:  # any failure means "down"; the message says why
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    down = [name for name, r in results.items() if not r["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": results}
    return json_response(body, 200 if not down else 503)
