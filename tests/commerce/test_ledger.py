"""The ledger: balanced in code and in the database, append-only, exactly once per key, never overdrawn.

The unit tests run twice: on the test database (PostgreSQL, where one call of
the server-side `ledger_post` function does the posting) and on a migrated
SQLite file (where Python does the same steps).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from commerce.ledger import (
    AccountKind,
    AccountRef,
    Balance,
    Entry,
    InsufficientFunds,
    LedgerPosting,
    LedgerTransaction,
    Leg,
    OwnerKind,
    UnbalancedTransaction,
    balance,
    balances,
    post,
    post_many,
    verify,
)
from core.db import Database, make_engine
from tests.conftest import migrate, rolled_back_session

CLEARING = AccountRef.platform(AccountKind.CLEARING)
FEES = AccountRef.platform(AccountKind.PROVIDER_FEES)


def pending(user_id: int) -> AccountRef:
    return AccountRef(OwnerKind.USER, user_id, AccountKind.PENDING)


def available(user_id: int) -> AccountRef:
    return AccountRef(OwnerKind.USER, user_id, AccountKind.AVAILABLE)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["database", "sqlite"])
def db_session(request: pytest.FixtureRequest, db_session: Session) -> Iterator[Session]:
    """The test database's session, then the same on SQLite (one rolled-back transaction per test)."""
    if request.param == "database":
        yield db_session
        return
    with rolled_back_session(request.getfixturevalue("sqlite_engine")) as session:
        yield session


def test_a_posting_moves_balances_and_versions_together(db_session: Session) -> None:
    posted = post(db_session, key="t:1", kind="test", legs=[Leg(CLEARING, -1000), Leg(pending(7), 990), Leg(FEES, 10)])
    assert not posted.replayed
    assert balance(db_session, pending(7)).balance == 990
    assert balance(db_session, pending(7)).version == 1
    assert balance(db_session, CLEARING).balance == -1000
    post(db_session, key="t:2", kind="test", legs=[Leg(pending(7), -990), Leg(available(7), 990)])
    assert balances(db_session, OwnerKind.USER, 7)[AccountKind.PENDING] == 0
    assert balance(db_session, pending(7)).version == 2
    assert balances(db_session, OwnerKind.USER, 7)[AccountKind.AVAILABLE] == 990
    assert verify(db_session).ok


def test_the_same_key_posts_once(db_session: Session) -> None:
    legs = [Leg(CLEARING, -500), Leg(pending(8), 500)]
    first = post(db_session, key="once", kind="test", legs=legs)
    again = post(db_session, key="once", kind="test", legs=legs)
    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert balance(db_session, pending(8)).balance == 500
    assert (
        len(db_session.scalars(select(LedgerPosting).where(LedgerPosting.transaction_id == first.transaction_id)).all())
        == 2
    )


@pytest.mark.parametrize(
    "legs",
    [
        [Leg(CLEARING, -500), Leg(pending(9), 499)],  # does not sum to zero
        [Leg(CLEARING, 0), Leg(pending(9), 0)],  # zero legs
        [Leg(CLEARING, -5)],  # a single leg
        [Leg(CLEARING, -5.0), Leg(pending(9), 5.0)],  # floats are not money  # type: ignore[arg-type]
    ],
)
def test_code_refuses_legs_that_do_not_balance(db_session: Session, legs: list[Leg]) -> None:
    with pytest.raises(UnbalancedTransaction):
        post(db_session, key="bad", kind="test", legs=legs)
    assert balance(db_session, pending(9)).balance == 0


def test_no_earning_account_goes_below_zero(db_session: Session) -> None:
    post(db_session, key="in", kind="test", legs=[Leg(CLEARING, -100), Leg(pending(10), 100)])
    with pytest.raises(InsufficientFunds):
        post(db_session, key="out", kind="test", legs=[Leg(pending(10), -101), Leg(available(10), 101)])
    # The failed posting left nothing behind, and its key is still free.
    assert balance(db_session, pending(10)).balance == 100
    assert balance(db_session, available(10)).balance == 0
    assert not post(db_session, key="out", kind="test", legs=[Leg(pending(10), -100), Leg(available(10), 100)]).replayed


def test_a_batch_applies_in_order_and_bumps_versions_per_transaction(db_session: Session) -> None:
    earn = Entry("b:earn", "test", [Leg(CLEARING, -300), Leg(pending(20), 300)], order_id=5, memo="earned")
    settle = Entry("b:settle", "test", [Leg(pending(20), -300), Leg(available(20), 300)])
    first, second = post_many(db_session, [earn, settle])
    assert not first.replayed
    assert not second.replayed
    assert first.transaction_id != second.transaction_id
    assert balance(db_session, pending(20)) == Balance(0, 2)
    assert balance(db_session, available(20)).balance == 300
    assert balance(db_session, available(20)).version == 1
    rows = db_session.execute(
        select(LedgerTransaction.idempotency_key, LedgerTransaction.order_id, LedgerTransaction.memo).order_by(
            LedgerTransaction.id
        )
    ).all()
    assert [tuple(r) for r in rows] == [("b:earn", 5, "earned"), ("b:settle", None, "")]
    keys = db_session.scalars(select(LedgerPosting.idempotency_key).order_by(LedgerPosting.id)).all()
    assert keys == ["b:earn#0", "b:earn#1", "b:settle#0", "b:settle#1"]
    assert verify(db_session).ok


def test_a_batch_replays_what_was_posted_and_posts_the_rest(db_session: Session) -> None:
    seen = post(db_session, key="r:1", kind="test", legs=[Leg(CLEARING, -40), Leg(pending(21), 40)])
    again, fresh = post_many(
        db_session,
        [Entry("r:1", "test", [Leg(CLEARING, -40), Leg(pending(21), 40)]),
         Entry("r:2", "test", [Leg(CLEARING, -2), Leg(pending(21), 2)])],
    )  # fmt: skip
    assert again.replayed
    assert again.transaction_id == seen.transaction_id
    assert not fresh.replayed
    assert balance(db_session, pending(21)) == Balance(42, 2)


def test_a_batch_is_all_or_nothing(db_session: Session) -> None:
    post(db_session, key="a:seed", kind="test", legs=[Leg(CLEARING, -100), Leg(pending(22), 100)])
    fine = Entry("a:fine", "test", [Leg(CLEARING, -5), Leg(pending(23), 5)])
    overdraw = Entry("a:over", "test", [Leg(pending(22), -101), Leg(available(22), 101)])
    with pytest.raises(InsufficientFunds):
        post_many(db_session, [fine, overdraw])
    # Nothing of the batch stayed, its keys are free, and the caller's transaction goes on.
    assert balance(db_session, pending(23)).balance == 0
    assert balance(db_session, pending(22)) == Balance(100, 1)
    assert db_session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == "a:fine")) is None
    assert [p.replayed for p in post_many(db_session, [fine])] == [False]
    assert verify(db_session).ok


def test_each_transaction_of_a_batch_must_stand_on_what_came_before_it(db_session: Session) -> None:
    spend = Entry("o:spend", "test", [Leg(pending(24), -60), Leg(available(24), 60)])
    earn = Entry("o:earn", "test", [Leg(CLEARING, -60), Leg(pending(24), 60)])
    with pytest.raises(InsufficientFunds):
        post_many(db_session, [spend, earn])  # spends before it earns: the first transaction overdraws
    post_many(db_session, [earn, spend])
    assert balance(db_session, available(24)).balance == 60
    assert balance(db_session, pending(24)).balance == 0


def test_a_batch_names_each_key_once(db_session: Session) -> None:
    legs = [Leg(CLEARING, -1), Leg(pending(25), 1)]
    with pytest.raises(ValueError, match="once"):
        post_many(db_session, [Entry("d", "test", legs), Entry("d", "test", legs)])
    with pytest.raises(UnbalancedTransaction):
        post_many(db_session, [Entry("e", "test", legs), Entry("f", "test", [Leg(CLEARING, -1)])])
    assert balance(db_session, pending(25)).balance == 0


def _raw_unbalanced(session: Session) -> None:
    """Write legs that do not balance straight into the tables, the way a buggy script would."""
    post(session, key="seed", kind="test", legs=[Leg(CLEARING, -1), Leg(pending(11), 1)])
    account_id = session.scalar(text("SELECT id FROM ledger_accounts WHERE owner_kind = 'user' AND owner_id = 11"))
    session.execute(
        text(
            "INSERT INTO ledger_postings (transaction_id, account_id, amount, idempotency_key, created_at) "
            "VALUES (424242, :a, 700, 'raw#0', CURRENT_TIMESTAMP), (424242, :a, -1, 'raw#1', CURRENT_TIMESTAMP)"
        ),
        {"a": account_id},
    )
    session.execute(
        text(
            "INSERT INTO ledger_transactions (id, idempotency_key, kind, memo, created_at) "
            "VALUES (424242, 'raw', 'test', '', CURRENT_TIMESTAMP)"
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # what COMMIT would run


def test_the_database_refuses_an_unbalanced_transaction(db_session: Session) -> None:
    with pytest.raises(DBAPIError, match="unbalanced"), db_session.begin_nested():
        _raw_unbalanced(db_session)


def test_the_database_keeps_the_ledger_append_only(db_session: Session) -> None:
    post(db_session, key="keep", kind="test", legs=[Leg(CLEARING, -3), Leg(pending(12), 3)])
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("UPDATE ledger_postings SET amount = amount * 2"))
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("UPDATE ledger_transactions SET kind = 'forged'"))


@pytest.mark.postgres
def test_an_unbalanced_transaction_never_commits(committed_db: Database) -> None:
    with committed_db.session() as s:
        post(s, key="seed", kind="test", legs=[Leg(CLEARING, -1), Leg(pending(13), 1)])
        s.commit()
    with committed_db.session() as s:
        s.execute(
            text(
                "INSERT INTO ledger_transactions (id, idempotency_key, kind, memo, created_at) "
                "VALUES (900, 'lonely', 'test', '', now())"
            )
        )
        with pytest.raises(DBAPIError, match="unbalanced"):
            s.commit()  # the deferred trigger runs at commit
    with committed_db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM ledger_transactions WHERE id = 900")) == 0
        assert verify(s).ok


@pytest.mark.postgres
def test_racing_postings_with_one_key_post_once_and_never_deadlock(committed_db: Database) -> None:
    """Eight threads post the same key, eight more post distinct keys over the same accounts in opposite orders."""
    barrier = threading.Barrier(16)
    results: list[bool] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with committed_db.session() as s:
                barrier.wait()
                if n < 8:
                    legs = [Leg(CLEARING, -100), Leg(pending(14), 100)]
                    results.append(post(s, key="race", kind="test", legs=legs).replayed)
                else:
                    a, b = (pending(15), available(15)) if n % 2 else (available(15), pending(15))
                    post(s, key=f"race-seed-{n}", kind="test", legs=[Leg(CLEARING, -10), Leg(a, 5), Leg(b, 5)])
                s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] + [True] * 7
    with committed_db.session() as s:
        assert balance(s, pending(14)).balance == 100
        assert balance(s, pending(15)).balance == 40
        assert balance(s, available(15)).balance == 40
        assert verify(s).ok
