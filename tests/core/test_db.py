from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import bindparam, create_engine, func, insert, select, text, update
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from core import clock
from core.accounts.models import ApiToken, User
from core.db import (
    Database,
    Lookup,
    Rows,
    Statement,
    adopt_row,
    complete_rows,
    insert_from_json,
    is_postgres,
    rows_json,
    write_together,
)  # fmt: skip
from tests import factories
from tests.statements import recorded


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


@pytest.mark.postgres
def test_a_rollback_undoes_the_transaction_and_keeps_the_connections_prepared_statements(
    committed_db: Database,
) -> None:
    """psycopg itself forgets and deallocates every prepared statement at each ROLLBACK; a session that only read,
    or lost a race, must not cost the next ones their prepared plans."""
    if committed_db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    prepared = text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT users.id%'")
    with committed_db.session() as s:
        pid = s.scalar(text("SELECT pg_backend_pid()"))
        user = factories.user(s)
        s.commit()
        for _ in range(6):  # psycopg prepares a statement on its 5th execution
            assert s.scalar(select(User.id).where(User.id == user.id)) == user.id
        assert s.scalar(prepared) == 1
        s.execute(update(User).where(User.id == user.id).values(display_name="rolled back"))
        s.rollback()  # a transaction that wrote: undone
        assert s.scalar(select(User.display_name).where(User.id == user.id)) != "rolled back"
        s.rollback()  # one that only read
        with pytest.raises(DataError):
            s.execute(text("SELECT 1/0"))
        s.rollback()  # one that failed
        assert s.scalar(text("SELECT pg_backend_pid()")) == pid  # the same connection all along
        assert s.scalar(prepared) == 1  # still prepared on the server ...
        before = s.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
        assert s.scalar(select(User.id).where(User.id == user.id)) == user.id
        assert s.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == before  # ... and used, not redone
        s.rollback()


def test_a_rollback_on_a_lost_connection_raises_as_psycopg_does(committed_db: Database) -> None:
    if committed_db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    admin = create_engine(committed_db.url, poolclass=NullPool)
    with committed_db.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError):
            conn.rollback()
        assert conn.invalidated  # the pool will not hand that connection out again
    admin.dispose()


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


def test_writes_together_apply_every_row_with_its_defaults_in_one_round_trip_on_postgresql(
    db_session: Session,
) -> None:
    users = User.__table__
    renamed = factories.user(db_session, display_name="旧名字")
    rename = update(users).where(users.c.id == bindparam("uid")).values(display_name=bindparam("new_name"))
    with recorded(db_session) as seen:
        write_together(db_session, [
            Rows(users, [{"email": "w1@example.com", "display_name": "甲"},
                         {"email": "w2@example.com", "display_name": "乙", "locale": "en"}]),
            Statement(rename, {"uid": renamed.id, "new_name": "新名字"}),
            Rows(users, []),  # nothing to insert: no statement
        ])  # fmt: skip
    writes = [s for s in seen if s.upper().startswith(("WITH", "INSERT", "UPDATE"))]
    assert len(writes) == (1 if is_postgres(db_session) else 2)
    rows = db_session.execute(
        select(users.c.email, users.c.display_name, users.c.locale, users.c.is_active, users.c.auth_version,
               users.c.created_at)
        .where(users.c.email.in_(["w1@example.com", "w2@example.com"]))
        .order_by(users.c.email)
    ).all()  # fmt: skip
    assert [r[:5] for r in rows] == [
        ("w1@example.com", "甲", "zh-CN", True, 1),
        ("w2@example.com", "乙", "en", True, 1),
    ]
    assert all(r.created_at.tzinfo is not None and abs(r.created_at - clock.now()) < dt.timedelta(minutes=5)
               for r in rows)  # fmt: skip
    db_session.expire(renamed)
    assert renamed.display_name == "新名字"


def test_writes_together_with_a_query_return_its_rows_from_the_same_round_trip(db_session: Session) -> None:
    users = User.__table__
    renamed = factories.user(db_session, display_name="旧名字")
    rename = update(users).where(users.c.id == bindparam("uid")).values(display_name=bindparam("new_name"))
    # A query reading none of what the writes change (they complete after it on PostgreSQL).
    count = select(func.count().label("n")).select_from(users).where(users.c.id == bindparam("counted"))
    with recorded(db_session) as seen:
        rows = write_together(
            db_session, [Statement(rename, {"uid": renamed.id, "new_name": "新名字"})],
            query=Statement(count, {"counted": renamed.id}),
        )  # fmt: skip
    assert [r.n for r in rows] == [1]
    assert len(seen) == (1 if is_postgres(db_session) else 2)
    db_session.expire(renamed)
    assert renamed.display_name == "新名字"
    with recorded(db_session) as seen:  # no writes: the query alone
        assert [r.n for r in write_together(db_session, [], query=Statement(count, {"counted": -1}))] == [0]
    assert len(seen) == 1
    assert write_together(db_session, [Statement(rename, {"uid": renamed.id, "new_name": "再改"})]) == []


def test_rows_inserted_from_json_take_a_key_from_the_row_of_another_with_clause_their_stand_in_matches(
    db_session: Session,
) -> None:
    """API tokens of users the same statement creates: each names its user by e-mail (the id is not known yet) and is
    written with that user's id, the tokens' own ids in the order of the rows given."""
    if not is_postgres(db_session):
        pytest.skip("PostgreSQL only (no writable WITH on SQLite)")
    users, tokens = User.__table__, ApiToken.__table__
    emails = ["l1@example.com", "l2@example.com"]
    new_users = complete_rows(users, [{"email": e, "display_name": e[:2]} for e in emails])
    expires = clock.now() + dt.timedelta(days=1)
    # More rows than users, each user's apart, so the tokens' order tells whether it was kept.
    given = [(emails[1], "b1"), (emails[0], "a1"), (emails[1], "b2"), (emails[0], "a2")]
    new_tokens = complete_rows(tokens, [{"user_id": e, "token_hash": h, "expires_at": expires} for e, h in given])
    created = insert_from_json(users, tuple(new_users[0]), "users").returning(users.c.id, users.c.email).cte("u")
    keyed = insert_from_json(tokens, tuple(new_tokens[0]), "tokens", lookup=Lookup("user_id", created, "email"))
    statement = select(created.c.id, created.c.email).add_cte(keyed.cte("t"))
    with recorded(db_session) as seen:
        ids = {r.email: r.id for r in db_session.execute(
            statement, {"users": rows_json(new_users), "tokens": rows_json(new_tokens)}
        )}  # fmt: skip
    assert len(seen) == 1
    assert sorted(ids) == emails
    written = db_session.execute(
        select(tokens.c.user_id, tokens.c.token_hash, tokens.c.name)
        .where(tokens.c.user_id.in_(ids.values()))
        .order_by(tokens.c.id)
    ).all()
    assert [tuple(r) for r in written] == [(ids[e], h, "api") for e, h in given]  # "api": the default, completed
