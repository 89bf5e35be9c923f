"""The double-entry ledger: every fen the platform touches, in balanced, append-only transactions."""

from commerce.ledger.models import AccountKind, LedgerAccount, LedgerPosting, LedgerTransaction, OwnerKind
from commerce.ledger.service import (
    AccountRef,
    Balance,
    InsufficientFunds,
    LedgerCheck,
    Leg,
    LockedAccounts,
    Posted,
    UnbalancedTransaction,
    balance,
    balances,
    drop_zero_legs,
    lock_accounts,
    post,
    verify,
)

__all__ = [
    "AccountKind",
    "AccountRef",
    "Balance",
    "InsufficientFunds",
    "LedgerAccount",
    "LedgerCheck",
    "LedgerPosting",
    "LedgerTransaction",
    "Leg",
    "LockedAccounts",
    "OwnerKind",
    "Posted",
    "UnbalancedTransaction",
    "balance",
    "balances",
    "drop_zero_legs",
    "lock_accounts",
    "post",
    "verify",
]
