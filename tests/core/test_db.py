from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from core.db import Database


@pytest.mark.postgres
def test_a_connection_the_server_closed_is_replaced_at_checkout_without_a_ping(committed_db: Database) -> None:
    """No pre-ping round trip: a pooled connection whose backend was terminated is dropped when checked out, and the
    next transaction runs on a fresh one instead of failing."""
    if committed_db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    with committed_db.engine.connect() as conn:
        first = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(committed_db.url, poolclass=NullPool)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        for _ in range(100):  # gone from the server; its termination notice waits, unread, on the idle socket
            if not conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}):
                break
            time.sleep(0.05)
    admin.dispose()
    with committed_db.session() as s:  # the pooled connection is checked out again: the transaction may not fail
        again = s.scalar(text("SELECT pg_backend_pid()"))
        assert s.scalar(text("SELECT 1")) == 1
    assert again != first
