"""Posting balanced transactions exactly once, and reading balances back.

`post_many()` (and `post()`, for one) is the only writer of the ledger. It
checks the legs in code (whole fen, none zero, summing to zero); then, on
PostgreSQL in one call of the server-side function `ledger_post` (migration
0006d), on SQLite in the same steps from Python: lock the touched accounts in
account-id order (a fixed lock order, so concurrent postings cannot
deadlock), skip keys posted before, refuse an overdraft, update balances and
versions, and write the transaction rows and their legs, which the database
only accepts when they balance. A posting whose idempotency key was used
before adds nothing and returns the first one, also when two callers race
with the same key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, Row, String, bindparam, cast, column, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.ledger.models import (
    NON_NEGATIVE,
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    OwnerKind,
)
from core import clock
from core.db import Rows, Statement, UTCDateTime, is_postgres, write_together
from core.errors import Conflict, register_messages

register_messages(
    {
        "insufficient_funds": ("余额不足", "The balance is too low for this"),
    }
)


class UnbalancedTransaction(ValueError):
    """A programming error: legs that do not sum to zero never reach the database."""


class InsufficientFunds(Conflict):
    default_code = "insufficient_funds"


@dataclass(frozen=True, order=True)
class AccountRef:
    owner_kind: OwnerKind
    owner_id: int
    kind: AccountKind

    @classmethod
    def platform(cls, kind: AccountKind) -> AccountRef:
        return cls(OwnerKind.PLATFORM, 0, kind)

    @classmethod
    def escrow(cls, order_id: int) -> AccountRef:
        return cls(OwnerKind.ORDER, order_id, AccountKind.ESCROW)

    def __str__(self) -> str:
        return f"{self.owner_kind}:{self.owner_id}:{self.kind}"


@dataclass(frozen=True)
class Leg:
    account: AccountRef
    amount: int


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool


def check_legs(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransaction("a transaction needs at least two legs")
    for leg in legs:
        if type(leg.amount) is not int:
            raise UnbalancedTransaction(f"amounts are whole fen, not {leg.amount!r}")
        if leg.amount == 0:
            raise UnbalancedTransaction(f"zero leg on {leg.account}")
    total = sum(leg.amount for leg in legs)
    if total != 0:
        raise UnbalancedTransaction(f"legs sum to {total}, not 0")


def drop_zero_legs(legs: Iterable[Leg]) -> list[Leg]:
    """Splits can leave a participant with 0 fen; such legs are simply not written."""
    return [leg for leg in legs if leg.amount != 0]


def account_ids(session: Session, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """Ids of the accounts, creating those that do not exist yet (SQLite: the writer is alone)."""
    wanted = set(refs)
    key = tuple_(LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind)
    columns = (LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind, LedgerAccount.id)
    rows = session.execute(select(*columns).where(key.in_([(r.owner_kind, r.owner_id, r.kind) for r in wanted])))
    found = {AccountRef(OwnerKind(ok), oid, AccountKind(k)): aid for ok, oid, k, aid in rows}
    missing = wanted - found.keys()
    if missing:
        now = clock.now()
        created = session.execute(
            insert(LedgerAccount).returning(*columns),
            [
                {"owner_kind": r.owner_kind, "owner_id": r.owner_id, "kind": r.kind, "balance": 0, "version": 0,
                 "created_at": now}
                for r in sorted(missing)
            ],
        )  # fmt: skip
        found.update({AccountRef(OwnerKind(ok), oid, AccountKind(k)): aid for ok, oid, k, aid in created})
    return found


@dataclass(frozen=True)
class Entry:
    """One balanced transaction to post: its idempotency key, what it is, and its legs."""

    key: str
    kind: str
    legs: Sequence[Leg]
    order_id: int | None = None
    memo: str = ""


def find(session: Session, key: str) -> int | None:
    return session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key))


def _apply_deltas(session: Session, deltas: dict[int, int]) -> None:
    for account_id, delta in sorted(deltas.items()):
        if delta:
            session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == account_id)
                .values(balance=LedgerAccount.balance + delta, version=LedgerAccount.version + 1)
                .execution_options(synchronize_session=False)
            )


def _write(session: Session, entry: Entry, ids: dict[AccountRef, int], now: dt.datetime) -> int:
    # SQLite seals legs with their header row, so the legs go first under an id taken now (writers are
    # serialised by BEGIN IMMEDIATE, so MAX + 1 is ours).
    txn_id = int(session.scalar(select(func.coalesce(func.max(LedgerTransaction.id), 0) + 1)))
    session.execute(
        insert(LedgerPosting),
        [
            {"transaction_id": txn_id, "account_id": ids[leg.account], "amount": leg.amount,
             "idempotency_key": f"{entry.key}#{n}", "created_at": now}
            for n, leg in enumerate(entry.legs)
        ],
    )  # fmt: skip
    session.execute(
        insert(LedgerTransaction).values(
            id=txn_id, idempotency_key=entry.key, kind=entry.kind, order_id=entry.order_id, memo=entry.memo[:200],
            created_at=now,
        )
    )  # fmt: skip
    return txn_id


def _post_sqlite(session: Session, entries: Sequence[Entry], now: dt.datetime) -> list[Posted]:
    """The steps of `ledger_post()` in Python: SQLite serialises writers, so nobody races us between them."""
    ids = account_ids(session, (leg.account for e in entries for leg in e.legs))
    out = []
    with session.begin_nested():  # all or nothing, and a refused batch leaves the caller's transaction usable
        for entry in entries:
            existing = find(session, entry.key)
            if existing is not None:
                out.append(Posted(existing, replayed=True))
                continue
            deltas: dict[int, int] = defaultdict(int)
            for leg in entry.legs:
                deltas[ids[leg.account]] += leg.amount
            _apply_deltas(session, deltas)  # the non-negative CHECK refuses an overdraft
            out.append(Posted(_write(session, entry, ids, now), replayed=False))
    return out


# One call of the server-side function (migration 0006d_ledger_post) posts a whole batch, given as two JSON arrays:
# one JSON string each costs the driver far less to send than ten arrays.
# Migration 0032 pins the function's plans to generic ones (planning was a third of each call).
_posting = func.ledger_post(
    cast(bindparam("txns", type_=String()), JSONB()),
    cast(bindparam("legs", type_=String()), JSONB()),
    bindparam("at", type_=UTCDateTime()),
).table_valued(column("n", Integer()), column("txn_id", BigInteger()), column("outcome", String()))
_LEDGER_POST = select(_posting.c.n, _posting.c.txn_id, _posting.c.outcome)


def _ledger_call(entries: Sequence[Entry], now: dt.datetime) -> Statement:
    txns = [[e.key, e.kind, e.order_id, e.memo[:200]] for e in entries]
    legs = [
        [n, leg.account.owner_kind.value, leg.account.owner_id, leg.account.kind.value, leg.amount]
        for n, entry in enumerate(entries, start=1)
        for leg in entry.legs
    ]
    return Statement(_LEDGER_POST, {"txns": json.dumps(txns), "legs": json.dumps(legs), "at": now})


def _posted(rows: Sequence[Row[Any]]) -> list[Posted]:
    if rows[0].outcome == "insufficient":
        raise InsufficientFunds()
    return [Posted(int(r.txn_id), replayed=r.outcome == "replayed") for r in rows]


def post_many(
    session: Session, entries: Sequence[Entry], *, with_writes: Sequence[Rows | Statement] = ()
) -> list[Posted]:
    """Write balanced transactions, each once per key, all or nothing. Does not commit: the caller's
    transaction owns them.

    Every touched account is locked in account-id order before anything is written (so concurrent postings
    cannot deadlock), a key posted before (or by a concurrent caller just now) adds nothing and returns the
    first transaction, and a batch that would take an account that may never go negative below zero raises
    `InsufficientFunds` having written nothing, leaving the caller's transaction usable. Transactions apply
    in the given order.

    `with_writes` are other writes of the caller's step, on tables other than the ledger's (`write_together`):
    on PostgreSQL they go with the posting in one round trip, on SQLite just before it. They are written even
    when the batch is refused: a caller that gives them rolls back on `InsufficientFunds`.
    """
    for entry in entries:
        check_legs(entry.legs)
    if len({e.key for e in entries}) != len(entries):
        raise ValueError("a batch posts each key once")
    now = clock.now()
    if entries and is_postgres(session):
        return _posted(write_together(session, with_writes, query=_ledger_call(entries, now)))
    write_together(session, with_writes)
    if not entries:
        return []
    try:
        return _post_sqlite(session, entries, now)
    except IntegrityError as exc:
        if "non_negative" in str(exc.orig):
            raise InsufficientFunds() from exc
        raise


def post(
    session: Session, *, key: str, kind: str, legs: Sequence[Leg], order_id: int | None = None, memo: str = ""
) -> Posted:
    """Write one balanced transaction, once per `key` (see `post_many`). Does not commit."""
    return post_many(session, [Entry(key, kind, legs, order_id, memo)])[0]


@dataclass(frozen=True)
class Balance:
    balance: int
    version: int


def balance(session: Session, ref: AccountRef) -> Balance:
    row = session.execute(
        select(LedgerAccount.balance, LedgerAccount.version).where(
            LedgerAccount.owner_kind == ref.owner_kind,
            LedgerAccount.owner_id == ref.owner_id,
            LedgerAccount.kind == ref.kind,
        )
    ).first()
    return Balance(0, 0) if row is None else Balance(int(row[0]), int(row[1]))


def lock_balances(session: Session, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """Balances of the accounts, their rows locked until the commit (in account order, the ledger's lock order);
    0 for accounts never used. For decisions that depend on a balance: a payout, a clawback's source."""
    wanted = sorted(set(refs))
    out = dict.fromkeys(wanted, 0)
    if not wanted:
        return out
    key = tuple_(LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind)
    rows = session.execute(
        select(LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind, LedgerAccount.balance)
        .where(key.in_([(r.owner_kind, r.owner_id, r.kind) for r in wanted]))
        .order_by(LedgerAccount.id)
        .with_for_update()
    )
    out.update({AccountRef(OwnerKind(ok), oid, AccountKind(k)): int(b) for ok, oid, k, b in rows})
    return out


def balances(session: Session, owner_kind: OwnerKind, owner_id: int) -> dict[AccountKind, int]:
    """Every account balance of one holder, zero for accounts never used."""
    rows = session.execute(
        select(LedgerAccount.kind, LedgerAccount.balance).where(
            LedgerAccount.owner_kind == owner_kind, LedgerAccount.owner_id == owner_id
        )
    )
    out = dict.fromkeys(AccountKind, 0)
    out.update({AccountKind(k): int(b) for k, b in rows})
    return out


@dataclass(frozen=True)
class LedgerCheck:
    """What `verify()` found; `ok` only when every rule holds."""

    total: int  # sum of every balance: must be 0
    unbalanced_transactions: list[int]
    drifted_accounts: list[int]  # balance differs from the sum of its postings
    negative_accounts: list[int]  # accounts that may never go negative, below zero

    @property
    def ok(self) -> bool:
        return (
            self.total == 0
            and not self.unbalanced_transactions
            and not self.drifted_accounts
            and not (self.negative_accounts)
        )


def verify(session: Session) -> LedgerCheck:
    """Recompute the ledger's invariants from the postings (for tests, the benchmark and an admin check)."""
    total = session.scalar(select(func.coalesce(func.sum(LedgerAccount.balance), 0))) or 0
    unbalanced = list(
        session.scalars(
            select(LedgerPosting.transaction_id)
            .group_by(LedgerPosting.transaction_id)
            .having(func.sum(LedgerPosting.amount) != 0)
        )
    )
    sums = (
        select(LedgerPosting.account_id, func.sum(LedgerPosting.amount).label("s"))
        .group_by(LedgerPosting.account_id)
        .subquery()
    )
    drifted = list(
        session.scalars(
            select(LedgerAccount.id)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(func.coalesce(sums.c.s, 0) != LedgerAccount.balance)
        )
    )
    negative = list(
        session.scalars(select(LedgerAccount.id).where(LedgerAccount.kind.in_(NON_NEGATIVE), LedgerAccount.balance < 0))
    )
    return LedgerCheck(int(total), unbalanced, drifted, negative)
