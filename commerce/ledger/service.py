"""Posting balanced transactions exactly once, and reading balances back.

`post()` is the only writer of the ledger. It checks the legs in code (whole
fen, none zero, summing to zero), then within a SAVEPOINT locks the touched
accounts in account-id order (a fixed lock order, so concurrent postings cannot
deadlock), updates their balances and versions, and writes the transaction row
and its legs, which the database only accepts when they balance. A posting
whose idempotency key was used before adds nothing and returns the first one,
also when two callers race with the same key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, column, func, insert, select, tuple_, update, values
from sqlalchemy.dialects import postgresql, sqlite
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
from core.db import is_postgres
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


def _dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if is_postgres(session) else sqlite.insert


def account_ids(session: Session, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """Ids of the accounts, creating those that do not exist yet (race-safe)."""
    wanted = set(refs)
    if not wanted:
        return {}
    key = tuple_(LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind)
    columns = (LedgerAccount.owner_kind, LedgerAccount.owner_id, LedgerAccount.kind, LedgerAccount.id)

    def lookup(refs_: set[AccountRef]) -> dict[AccountRef, int]:
        rows = session.execute(select(*columns).where(key.in_([(r.owner_kind, r.owner_id, r.kind) for r in refs_])))
        return {AccountRef(OwnerKind(ok), oid, AccountKind(k)): aid for ok, oid, k, aid in rows}

    found = lookup(wanted)
    missing = wanted - found.keys()
    if missing:
        now = clock.now()
        created = session.execute(
            _dialect_insert(session)(LedgerAccount)
            .on_conflict_do_nothing(index_elements=["owner_kind", "owner_id", "kind"])
            .returning(*columns),
            [
                {"owner_kind": r.owner_kind, "owner_id": r.owner_id, "kind": r.kind, "balance": 0, "version": 0,
                 "created_at": now}
                for r in sorted(missing)
            ],
        )  # fmt: skip
        found.update({AccountRef(OwnerKind(ok), oid, AccountKind(k)): aid for ok, oid, k, aid in created})
        raced = missing - found.keys()  # created by a concurrent transaction in the meantime
        if raced:
            found.update(lookup(raced))
    return found


class LockedAccounts(dict[AccountRef, int]):
    """Account ids whose rows this transaction already holds, locked in id order."""


def lock_accounts(session: Session, refs: Iterable[AccountRef]) -> LockedAccounts:
    """Lock every account a unit of work will post to, up front and in id order.

    A unit of work that posts several transactions calls this first and hands
    the result to each `post()`: its locks are then taken in one global order,
    so two such units never deadlock, and the postings skip their own lookups.
    (SQLite serialises writers on its own.)
    """
    ids = LockedAccounts(account_ids(session, refs))
    if ids and is_postgres(session):
        session.execute(
            select(LedgerAccount.id)
            .where(LedgerAccount.id.in_(sorted(set(ids.values()))))
            .order_by(LedgerAccount.id)
            .with_for_update()
        )
    return ids


def find(session: Session, key: str) -> int | None:
    return session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key))


def _apply_deltas(session: Session, deltas: dict[int, int], *, locked: bool) -> None:
    changed = sorted((aid, d) for aid, d in deltas.items() if d)
    if not is_postgres(session):
        for account_id, delta in changed:
            session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == account_id)
                .values(balance=LedgerAccount.balance + delta, version=LedgerAccount.version + 1)
                .execution_options(synchronize_session=False)
            )
        return
    if not locked:  # take the row locks in id order first: one UPDATE over several rows locks in any order
        session.execute(
            select(LedgerAccount.id)
            .where(LedgerAccount.id.in_([aid for aid, _ in changed]))
            .order_by(LedgerAccount.id)
            .with_for_update()
        )
    v = values(column("aid", BigInteger), column("delta", BigInteger), name="v").data(changed)
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == v.c.aid)
        .values(balance=LedgerAccount.balance + v.c.delta, version=LedgerAccount.version + 1)
        .execution_options(synchronize_session=False)
    )


def _write(session: Session, legs: Sequence[Leg], ids: dict[AccountRef, int], *, key: str, kind: str,
           order_id: int | None, memo: str) -> int:  # fmt: skip
    now = clock.now()
    header = {"idempotency_key": key, "kind": kind, "order_id": order_id, "memo": memo[:200], "created_at": now}
    if is_postgres(session):
        # The balance check is a deferred constraint trigger: the header may come first.
        txn_id = int(session.scalar(insert(LedgerTransaction).values(**header).returning(LedgerTransaction.id)))
    else:
        # SQLite seals legs with their header row, so the legs go first under an id taken now (writers are
        # serialised by BEGIN IMMEDIATE, so MAX + 1 is ours).
        txn_id = int(session.scalar(select(func.coalesce(func.max(LedgerTransaction.id), 0) + 1)))
    session.execute(
        insert(LedgerPosting),
        [
            {"transaction_id": txn_id, "account_id": ids[leg.account], "amount": leg.amount,
             "idempotency_key": f"{key}#{n}", "created_at": now}
            for n, leg in enumerate(legs)
        ],
    )  # fmt: skip
    if not is_postgres(session):
        session.execute(insert(LedgerTransaction).values(id=txn_id, **header))
    return txn_id


def post(
    session: Session,
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    order_id: int | None = None,
    memo: str = "",
    accounts: LockedAccounts | None = None,
    exclusive: bool = False,
) -> Posted:
    """Write one balanced transaction, once per `key`. Does not commit: the caller's transaction owns it.

    `accounts` (from `lock_accounts`) says the rows are already locked by this transaction. `exclusive` says
    the caller's own row locks already rule out an earlier or concurrent posting of this key and the legs only
    credit: no SAVEPOINT is needed to recover, and any violation fails the caller's transaction as it should.
    """
    check_legs(legs)
    locked = accounts is not None and all(leg.account in accounts for leg in legs)
    ids: dict[AccountRef, int] = (
        accounts if locked and accounts is not None else account_ids(session, (leg.account for leg in legs))
    )
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[ids[leg.account]] += leg.amount
    if exclusive:
        _apply_deltas(session, deltas, locked=locked)
        return Posted(_write(session, legs, ids, key=key, kind=kind, order_id=order_id, memo=memo), replayed=False)
    try:
        with session.begin_nested():
            _apply_deltas(session, deltas, locked=locked)
            txn_id = _write(session, legs, ids, key=key, kind=kind, order_id=order_id, memo=memo)
    except IntegrityError as exc:
        if "non_negative" in str(exc.orig):
            raise InsufficientFunds() from exc
        existing = find(session, key)
        if existing is not None:  # posted before (a replay), or by a concurrent caller just now
            return Posted(existing, replayed=True)
        raise
    return Posted(txn_id, replayed=False)


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
