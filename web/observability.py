"""Request ids, request metrics and /metrics for the web app."""

from __future__ import annotations

import functools
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from core import clock, extensions, logs, metrics
from core.errors import DomainError, PermissionDenied
from core.outbox import OutboxEvent

log = logging.getLogger(__name__)
bp = Blueprint("observability", __name__)
F = TypeVar("F", bound=Callable[..., Any])
REQUEST_ID_HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    app.register_blueprint(bp)


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id_token = logs.request_id.set(logs.new_request_id(request.headers.get(REQUEST_ID_HEADER)))


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = logs.request_id.get()
    started = g.get("request_started")
    if started is not None:
        # The endpoint name, not the path: one series per route, however many ids the paths carry.
        endpoint = request.endpoint or ("static" if request.path.startswith("/static/") else "unmatched")
        metrics.REQUEST_SECONDS.labels(request.method, endpoint, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def _forget(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)


def count_outcome(counter_of: Callable[..., Any]) -> Callable[[F], F]:
    """Count a view's outcome: "ok", or the code of the domain error it refused with.
    `counter_of(**view_kwargs)` picks the labelled child (e.g. by provider)."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def counted(*args: Any, **kwargs: Any) -> Any:
            counter = counter_of(**kwargs)
            try:
                result = view(*args, **kwargs)
            except DomainError as exc:
                counter(exc.code).inc()
                raise
            counter(_outcome_of(result)).inc()
            return result

        return counted  # type: ignore[return-value]

    return wrap


def _outcome_of(result: Any) -> str:
    body = result[0] if isinstance(result, tuple) else result
    return str(getattr(body, "outcome", "ok"))


def _update_outbox_gauges() -> None:
    session = extensions.session()
    oldest, pending = session.execute(
        select(func.min(OutboxEvent.created_at), func.count()).where(OutboxEvent.delivered_at.is_(None))
    ).one()
    metrics.OUTBOX_PENDING.set(int(pending or 0))
    metrics.OUTBOX_LAG.set(max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0)


@bp.get("/metrics")
def metrics_view() -> Response:
    settings = extensions.settings()
    if settings.metrics_token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), settings.metrics_token.encode()):
            raise PermissionDenied()
    try:
        _update_outbox_gauges()
    except SQLAlchemyError as exc:  # the scrape still answers; /readyz is where a down database shows
        log.warning("metrics: outbox gauges not updated: %s", exc)
        extensions.session().rollback()
    body, content_type = metrics.exposition(settings.prometheus_multiproc_dir)
    return Response(body, content_type=content_type)
