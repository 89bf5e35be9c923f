"""Withdrawals: from available balance to the holder's payout account, one at a time, never overdrawn.

Requesting a payout moves the amount out of `available` at once (in the same
transaction that records the payout), so no second request can spend it; the
balance row is locked first and the database refuses a negative balance and a
second payout in flight anyway. Clawbacks the holder owes are deducted from
the payout. The transfer itself runs afterwards (a task); a refused transfer
puts everything back.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, AccountRef, InsufficientFunds, Leg, drop_zero_legs, lock_balances, post
from commerce.owners import Owner, require_owner
from commerce.payments.provider import PaymentProvider, ProviderStatus, TransferRequest
from commerce.payouts.models import Payout, PayoutAccount, PayoutMethod, PayoutStatus
from commerce.policy import MoneyPolicy
from core import clock
from core.accounts.models import User
from core.errors import Conflict, NotFound, ValidationFailed, register_messages
from core.ids import sha256_hex
from core.money import CURRENCY
from core.tasks import enqueue_after_commit

register_messages(
    {
        "payout_in_flight": ("已有一笔提现正在处理中", "A withdrawal is already in progress"),
        "payout_below_minimum": ("提现金额低于最低限额 {minimum} 分", "Withdrawals start at {minimum} fen"),
        "no_payout_account": ("请先设置收款账户", "Set up a payout account first"),
        "invalid_account_no": ("收款账号格式不正确", "The account number is not valid"),
    }
)

EXECUTE_TASK = "payouts.execute"
_ACCOUNT_NO = re.compile(r"^[A-Za-z0-9@._+-]{4,64}$")


def account_hash(method: PayoutMethod, account_no: str) -> str:
    return sha256_hex(f"{method.value}:{account_no.strip().lower()}")


def set_payout_account(
    session: Session, actor: User | None, owner: Owner, *, method: PayoutMethod, account_no: str, account_name: str
) -> PayoutAccount:
    require_owner(session, actor, owner, manage=True)
    account_no = account_no.strip()
    if not _ACCOUNT_NO.match(account_no):
        raise ValidationFailed.one("account_no", "invalid_account_no")
    if not account_name.strip():
        raise ValidationFailed.one("account_name", "missing")
    row = session.scalar(
        select(PayoutAccount).where(PayoutAccount.owner_kind == owner.kind, PayoutAccount.owner_id == owner.id)
    )
    if row is None:
        row = PayoutAccount(owner_kind=owner.kind, owner_id=owner.id)
        session.add(row)
    row.method = method
    row.account_no = account_no
    row.account_name = account_name.strip()[:64]
    row.account_hash = account_hash(method, account_no)
    session.commit()
    return row


def payout_account(session: Session, owner: Owner) -> PayoutAccount | None:
    return session.scalar(
        select(PayoutAccount).where(PayoutAccount.owner_kind == owner.kind, PayoutAccount.owner_id == owner.id)
    )


def request_payout(session: Session, actor: User | None, owner: Owner, *, amount: int, policy: MoneyPolicy) -> Payout:
    """Withdraw `amount` fen of available balance. Commits; the transfer task is sent after the commit."""
    actor = require_owner(session, actor, owner, manage=True)
    if amount < policy.payout_min_fen:
        raise ValidationFailed.one("amount", "payout_below_minimum", minimum=policy.payout_min_fen)
    account = payout_account(session, owner)
    if account is None:
        raise Conflict("no_payout_account")
    in_flight = session.scalar(
        select(Payout.id).where(
            Payout.owner_kind == owner.kind, Payout.owner_id == owner.id, Payout.status == PayoutStatus.REQUESTED
        )
    )
    if in_flight is not None:
        raise Conflict("payout_in_flight")
    # Lock order: the balance rows first, then the payout row; every payout path takes them so.
    locked = lock_balances(session, [owner.account(AccountKind.AVAILABLE), owner.account(AccountKind.CLAWBACK)])
    if amount > locked[owner.account(AccountKind.AVAILABLE)]:
        session.rollback()
        raise InsufficientFunds()
    owed = max(0, -locked[owner.account(AccountKind.CLAWBACK)])
    deducted = min(owed, amount)
    payout = Payout(
        owner_kind=owner.kind,
        owner_id=owner.id,
        requested_by=actor.id,
        amount=amount,
        clawback_deducted=deducted,
        net_amount=amount - deducted,
        method=account.method,
        account_masked=account.masked,
    )
    try:
        with session.begin_nested():
            session.add(payout)
    except IntegrityError as exc:  # a concurrent request got its payout in first
        session.rollback()
        raise Conflict("payout_in_flight") from exc
    post(
        session,
        key=f"payout:{payout.id}:requested",
        kind="payout",
        legs=drop_zero_legs(
            [
                Leg(owner.account(AccountKind.AVAILABLE), -amount),
                Leg(owner.account(AccountKind.CLAWBACK), deducted),
                Leg(AccountRef.platform(AccountKind.PAYOUTS), payout.net_amount),
            ]
        ),
    )
    if payout.net_amount == 0:  # it all repaid clawbacks: nothing to transfer
        payout.status = PayoutStatus.PAID
        payout.finished_at = clock.now()
    else:
        enqueue_after_commit(session, EXECUTE_TASK, payout.id)
    session.commit()
    return payout


def execute_payout(session: Session, provider: PaymentProvider, payout_id: int) -> Payout:
    """Transfer a requested payout (idempotent: the provider pays a transfer reference once). Commits."""
    payout = session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if payout is None:
        raise NotFound("payout")
    if payout.status != PayoutStatus.REQUESTED:
        session.commit()
        return payout
    owner = Owner(payout.owner_kind, payout.owner_id)
    account = payout_account(session, owner)
    if account is None:
        result_status, reason, transfer_id = ProviderStatus.FAILED, "no_payout_account", None
    else:
        result = provider.transfer(
            TransferRequest(
                transfer_ref=f"xlpo{payout.id}",
                amount=payout.net_amount,
                currency=CURRENCY,
                method=account.method.value,
                account_no=account.account_no,
                account_name=account.account_name,
            )
        )
        result_status, reason, transfer_id = result.status, result.failure_reason, result.provider_transfer_id
    payout.provider_transfer_id = transfer_id
    if result_status == ProviderStatus.SUCCEEDED:
        post(
            session,
            key=f"payout:{payout.id}:paid",
            kind="payout_paid",
            legs=[
                Leg(AccountRef.platform(AccountKind.PAYOUTS), -payout.net_amount),
                Leg(AccountRef.platform(AccountKind.CLEARING), payout.net_amount),
            ],
        )
        payout.status = PayoutStatus.PAID
        payout.finished_at = clock.now()
    elif result_status == ProviderStatus.FAILED:
        post(
            session,
            key=f"payout:{payout.id}:returned",
            kind="payout_failed",
            legs=drop_zero_legs(
                [
                    Leg(AccountRef.platform(AccountKind.PAYOUTS), -payout.net_amount),
                    Leg(owner.account(AccountKind.CLAWBACK), -payout.clawback_deducted),
                    Leg(owner.account(AccountKind.AVAILABLE), payout.amount),
                ]
            ),
        )
        payout.status = PayoutStatus.FAILED
        payout.failure_reason = (reason or "transfer_failed")[:64]
        payout.finished_at = clock.now()
    session.commit()
    return payout


def list_payouts(session: Session, actor: User | None, owner: Owner, *, limit: int = 50) -> list[Payout]:
    require_owner(session, actor, owner)
    return list(
        session.scalars(
            select(Payout)
            .where(Payout.owner_kind == owner.kind, Payout.owner_id == owner.id)
            .order_by(Payout.id.desc())
            .limit(limit)
        )
    )
