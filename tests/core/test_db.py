from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from core.accounts.models import User
from core.db import Database, adopt_row


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


def test_adopt_row_hands_back_the_row_as_loaded_and_reuses_an_object_the_session_holds(db_session: Session) -> None:
    """A row written by a Core statement becomes the session's object without a query: no pending change, columns
    not given load when read; an object of that row the session already holds takes the given values instead."""
    user_id = db_session.execute(insert(User).values(display_name="Ada", locale="en").returning(User.id)).scalar_one()
    adopted = adopt_row(db_session, User, {"id": user_id, "display_name": "Ada"})
    assert adopted in db_session
    assert not db_session.dirty
    assert not db_session.new
    assert db_session.get(User, user_id) is adopted
    assert adopted.locale == "en"  # not given: read from the row
    db_session.execute(update(User).where(User.id == user_id).values(display_name="Bea"))
    adopted.display_name = "pending change"
    again = adopt_row(db_session, User, {"id": user_id, "display_name": "Bea"})
    assert again is adopted
    assert adopted.display_name == "Bea"
    assert not db_session.dirty
