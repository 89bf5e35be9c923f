"""Where earnings go: each holder's payout account, and withdrawals from their available balance."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from commerce.ledger.models import OwnerKind
from core import clock
from core.db import Base, str_enum


class PayoutMethod(enum.StrEnum):
    SANDBOX = "sandbox"
    ALIPAY = "alipay"
    BANK = "bank"


class PayoutAccount(Base):
    __tablename__ = "payout_accounts"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id"), Index("ix_payout_accounts_hash", "account_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind, 16))
    owner_id: Mapped[int]
    method: Mapped[PayoutMethod] = mapped_column(str_enum(PayoutMethod, 16))
    account_no: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str] = mapped_column(String(64))
    # method + normalised number, hashed: two users paid into one account is a self-referral signal.
    account_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def masked(self) -> str:
        return f"{self.method}:****{self.account_no[-4:]}"


class PayoutStatus(enum.StrEnum):
    REQUESTED = "requested"  # money moved out of available; the transfer is in flight
    PAID = "paid"
    FAILED = "failed"  # the transfer was refused; the money went back to available


IN_FLIGHT = "status = 'requested'"


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (
        # One withdrawal in flight per holder, enforced by the database.
        Index(
            "uq_payouts_one_in_flight",
            "owner_kind",
            "owner_id",
            unique=True,
            postgresql_where=text(IN_FLIGHT),
            sqlite_where=text(IN_FLIGHT),
        ),
        Index("ix_payouts_owner_created", "owner_kind", "owner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind, 16))
    owner_id: Mapped[int]
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int]  # taken from available
    clawback_deducted: Mapped[int] = mapped_column(default=0)  # of which repays clawbacks
    net_amount: Mapped[int]  # transferred
    status: Mapped[PayoutStatus] = mapped_column(str_enum(PayoutStatus, 16), default=PayoutStatus.REQUESTED)
    method: Mapped[PayoutMethod] = mapped_column(str_enum(PayoutMethod, 16))
    account_masked: Mapped[str] = mapped_column(String(40))
    provider_transfer_id: Mapped[str | None] = mapped_column(String(80), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
