"""Double-entry ledger tables: accounts with running balances, transactions, and their postings (legs).

Sign convention: a posting's amount is what it adds to its account's balance,
and every account's balance reads as "what the platform owes this holder".
Owed money is positive (pending and available earnings, escrow, revenue);
what the platform has or is owed is negative (cash at the payment provider in
`clearing`, fees paid in `provider_fees`, a clawback a user still owes).
Every transaction's postings sum to zero, so all balances sum to zero too.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, str_enum


class OwnerKind(enum.StrEnum):
    PLATFORM = "platform"
    USER = "user"
    BRAND = "brand"
    ORDER = "order"  # an order's escrow
    BOOKING = "booking"  # a booking's escrow (commerce.booking.escrow)


class AccountKind(enum.StrEnum):
    CLEARING = "clearing"  # platform: money at the payment provider (negative: the provider holds it for us)
    ESCROW = "escrow"  # order: the buyer's payment before it is split
    PENDING = "pending"  # user / brand / platform: earned, inside the return window
    AVAILABLE = "available"  # user / brand: settled, withdrawable
    REVENUE = "revenue"  # platform: settled platform fees
    CLAWBACK = "clawback"  # user / brand: clawback receivable (negative: they owe it; the next payout deducts it)
    PROVIDER_FEES = "provider_fees"  # platform: what payment providers charged (negative: an expense)
    REFUNDS = "refunds"  # platform: refunds approved and not yet confirmed by the provider
    PAYOUTS = "payouts"  # platform: withdrawals handed to the provider and not yet confirmed
    MARKETING = "marketing"  # platform: platform-funded coupon discounts paid to brands (negative: an expense)


# Accounts whose balance can never go below zero; the database enforces it too.
NON_NEGATIVE = (AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.ESCROW)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "kind"),
        CheckConstraint(
            "kind NOT IN ('pending', 'available', 'escrow') OR balance >= 0",
            name="non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind, 16))
    owner_id: Mapped[int] = mapped_column(default=0)  # 0 for the platform
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, 16))
    balance: Mapped[int] = mapped_column(default=0)
    # Bumped with every balance change, in the same transaction as the postings.
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class LedgerTransaction(Base):
    """One balanced journal entry. Its idempotency key makes posting it twice impossible."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_order", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)  # allocated before the legs are written, see service
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(default=None)
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class LedgerPosting(Base):
    """A leg of a transaction. Legs are written before their transaction row, which seals them:
    the foreign key is checked at commit, and the database refuses a transaction whose legs do not sum to zero."""

    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.id", deferrable=True, initially="DEFERRED"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int]
    idempotency_key: Mapped[str] = mapped_column(String(170), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
