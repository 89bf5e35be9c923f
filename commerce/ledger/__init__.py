"""The double-entry ledger: every fen the platform touches, in balanced, append-only transactions."""

from commerce.ledger.models import AccountKind, LedgerAccount, LedgerPosting, LedgerTransaction, OwnerKind
from commerce.ledger.service import (
    AccountRef,
    Balance,
    Entry,
    InsufficientFunds,
    LedgerCheck,
    Leg,
    Posted,
    UnbalancedTransaction,
    balance,
    balances,
    drop_zero_legs,
    lock_balances,
    post,
    post_many,
    verify,
)

__all__ = [
    "AccountKind",
    "AccountRef",
    "Balance",
    "Entry",
    "InsufficientFunds",
    "LedgerAccount",
    "LedgerCheck",
    "LedgerPosting",
    "LedgerTransaction",
    "Leg",
    "OwnerKind",
    "Posted",
    "UnbalancedTransaction",
    "balance",
    "balances",
    "drop_zero_legs",
    "lock_balances",
    "post",
    "post_many",
    "verify",
]
