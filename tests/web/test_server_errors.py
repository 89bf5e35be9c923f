"""What gunicorn refuses before Flask sees the request (too-large headers, too-long URLs, garbage) is a problem too.

The web process is started the way `make run` starts it: the Procfile's `web` line.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from honcho.environ import parse_procfile

from tests.conftest import PROJECT_ROOT, TEST_SECRET, free_port, migrate


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    var = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    url = f"sqlite:///{var / 'db.sqlite3'}"
    migrate(url)
    command = parse_procfile((PROJECT_ROOT / "Procfile").read_text()).processes["web"]
    command = command.replace("${PORT}", str(port)).removeprefix("exec ")
    env = {**os.environ, "ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": url,
           "STORAGE_URL": f"file://{var / 'storage'}", "SEARCH_URL": str(var / "search"),
           "CELERY_BROKER_URL": "memory://", "MEDIA_WORK_DIR": str(var / "work")}  # fmt: skip
    proc = subprocess.Popen(shlex.split(command), cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _raw(port, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]) if lines[0] else 0, headers, body


def _problem(port: int, request: bytes) -> tuple[int, dict[str, object]]:
    status, headers, body = _raw(port, request)
    assert headers["Content-Type"] == "application/problem+json"
    doc = json.loads(body)
    assert doc["status"] == status
    return status, doc


def test_a_10000_character_idempotency_key_gets_a_431_problem_in_words(server: int) -> None:
    request = (b"POST /api/v1/checkouts HTTP/1.1\r\nHost: x\r\nIdempotency-Key: " + b"k" * 10_000
               + b"\r\nContent-Length: 2\r\n\r\n{}")  # fmt: skip
    status, doc = _problem(server, request)
    assert status == 431
    assert doc["code"] == "header_too_large"
    assert doc["title"] == "请求头过大"
    assert doc["detail"] == "A request header is too large"
    assert "kkkk" not in json.dumps(doc)  # the input is not echoed back


def test_a_too_long_url_gets_a_414_problem(server: int) -> None:
    status, doc = _problem(server, b"GET /api/v1/videos?q=" + b"x" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    assert doc["code"] == "uri_too_long"


def test_a_garbage_request_gets_a_400_problem(server: int) -> None:
    status, doc = _problem(server, b"\x00\x01 nonsense\r\n\r\n")
    assert status == 400
    assert doc["code"] == "bad_request"


def test_a_request_within_the_limits_still_reaches_the_app(server: int) -> None:
    status, headers, body = _raw(
        server, b"GET /api/v1/nope HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    assert (status, headers["Content-Type"]) == (404, "application/problem+json")
    assert json.loads(body)["code"] == "path_not_found"


def test_static_files_that_do_not_exist_are_problems_even_for_curl(server: int) -> None:
    status, doc = _problem(
        server, b"GET /static/nope.js HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    assert status == 404
    assert doc["code"] == "path_not_found"
    assert "/static/nope.js" in str(doc["title"])
