"""The PostgreSQL pool pings a connection that rested, and trusts one handed back a moment ago."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from core import db
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[int]]:
    engine = db.make_engine(PG_ADMIN_URL)
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        seen.append(1)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    yield engine, seen
    engine.dispose()


def _backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def test_a_connection_back_a_moment_ago_is_used_without_a_ping(
    pings: tuple[Any, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, seen = pings
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first  # the same pooled connection
    assert seen == []


def test_a_rested_connection_the_server_dropped_is_replaced(
    pings: tuple[Any, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, seen = pings
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every connection back in the pool counts as rested
    first = _backend_pid(engine)
    admin = db.make_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}) is True
            gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while conn.scalar(gone, {"pid": first}):  # the backend has gone before the pool is asked again
                time.sleep(0.05)
    finally:
        admin.dispose()
    second = _backend_pid(engine)  # no error: the ping found it dead and the pool connected again
    assert second != first
    assert seen == [1]
