"""gunicorn's settings for the web process (`gunicorn -c python:web.gunicorn_conf 'web:create_app()'`).

A request gunicorn itself refuses (a header or request line over its limits, a malformed request) never
reaches Flask, so gunicorn would answer with its own HTML page. Each worker answers those as the API does:
an RFC 9457 problem, in Chinese with the English beside it (the request's Accept-Language is unreadable).
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

from core.errors import Problem, register_messages, translate
from core.settings import Settings

# The limits gunicorn enforces before the app (its defaults), stated here so the problem codes match them.
limit_request_line = 4094  # the request line (method, URL, version): longer is 414
limit_request_field_size = 8190  # one header: longer is 431
limit_request_fields = 100
# Worker processes: the chat's real-time fan-out (web.realtime) must reach every socket, so several workers need
# REALTIME_BACKEND=redis (the default whenever the Celery broker is Redis). The embedded default's in-process memory
# hub reaches only the sockets of its own process, so that deployment serves from one worker.
# Threads: each open chat WebSocket or SSE stream holds one for as long as it lasts (mostly asleep on its socket), so
# a worker keeps 16 of them; requests doing work still contend for the interpreter lock, and each thread takes a
# database connection only inside a transaction (the pool allows 30 per process).
workers = 2  # unless the memory hub is chosen: `on_starting`
threads = 16
# Connections waiting for a worker (gunicorn's default, stated): a 秒杀 stampede of 2,000 buyers arriving at once
# waits in the kernel's queue instead of being refused or retried a second later.
backlog = 2048
timeout = 120
accesslog = "-"

register_messages(
    {
        "header_too_large": ("请求头过大", "A request header is too large"),
        "uri_too_long": ("请求地址过长", "The request URL is too long"),
        "not_implemented": ("不支持该请求的传输方式", "The request's transfer coding is not supported"),
    }
)
_CODES = {400: "bad_request", 403: "permission_denied", 414: "uri_too_long", 417: "bad_request",
          431: "header_too_large", 500: "internal_error", 501: "not_implemented"}  # fmt: skip


def problem_bytes(status: int, reason: str) -> bytes:
    """The whole HTTP response gunicorn sends for a request it refused."""
    code = _CODES.get(status, "bad_request")
    doc = Problem(status=status, code=code, title=translate(code, "zh-CN"), detail=translate(code, "en")).to_dict()
    body = json.dumps(doc, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
        f"Content-Language: zh-CN\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_problem(sock: Any, status_int: int, reason: str, _mesg: str) -> None:
    # gunicorn's message quotes the offending input back: left out, as the API never echoes raw input.
    util.write_nonblock(sock, problem_bytes(status_int, reason))


def on_starting(server: Any) -> None:
    """One worker when the chat fans out in memory (the embedded default), read when gunicorn starts, not at import."""
    if Settings().realtime[0] == "memory":
        server.num_workers = 1


def post_worker_init(_worker: Any) -> None:
    # gunicorn has no setting for its error pages; its workers call util.write_error for each of them.
    util.write_error = _write_problem
