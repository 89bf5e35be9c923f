"""Probes. /livez: the process answers (restart it if not). /readyz: it can serve, every external system it
needs answers (take it out of the load balancer if not). /healthz: the same checks in detail, for people."""

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


def _run_checks() -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            backend = check()
            results[name] = {"ok": True, "backend": backend}
        except Exception as exc:  # any failure means "down"; the message says why
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


@bp.get("/livez")
def livez() -> Response:
    # Nothing external: a database outage must not make the orchestrator restart every web process.
    return json_response({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz() -> Response:
    down = [name for name, r in _run_checks().items() if not r["ok"]]
    return json_response({"status": "ready" if not down else "not_ready", "down": down}, 200 if not down else 503)


@bp.get("/healthz")
def healthz() -> Response:
    results = _run_checks()
    down = [name for name, r in results.items() if not r["ok"]]
    body = {"status": "ok" if not down else "down", "down": down, "checks": results}
    return json_response(body, 200 if not down else 503)
