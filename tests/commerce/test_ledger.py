"""The ledger: balanced in code and in the database, append-only, exactly once per key, never overdrawn."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from commerce.ledger import (
    AccountKind,
    AccountRef,
    InsufficientFunds,
    LedgerPosting,
    Leg,
    OwnerKind,
    UnbalancedTransaction,
    balance,
    balances,
    post,
    verify,
)
from core.db import Database

CLEARING = AccountRef.platform(AccountKind.CLEARING)
FEES = AccountRef.platform(AccountKind.PROVIDER_FEES)


def pending(user_id: int) -> AccountRef:
    return AccountRef(OwnerKind.USER, user_id, AccountKind.PENDING)


def available(user_id: int) -> AccountRef:
    return AccountRef(OwnerKind.USER, user_id, AccountKind.AVAILABLE)


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
