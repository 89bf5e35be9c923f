"""Payouts: minimum, payout account, one in flight, never overdrawn, refused transfers put the money back."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, AccountRef, InsufficientFunds, Leg, balance, post
from commerce.owners import Owner
from commerce.payouts import service as payouts
from commerce.payouts.models import PayoutMethod, PayoutStatus
from commerce.policy import MoneyPolicy
from core.errors import Conflict, PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.money import assert_books_balanced, fund, sandbox

POLICY = MoneyPolicy(payout_min_fen=1000)


def test_a_payout_moves_available_money_to_the_payout_account(db_session: Session) -> None:
    user = factories.user(db_session)
    me = Owner.user(user.id)
    fund(db_session, me, 5000)
    with pytest.raises(Conflict) as err:
        payouts.request_payout(db_session, user, me, amount=2000, policy=POLICY)
    assert err.value.code == "no_payout_account"
    payouts.set_payout_account(db_session, user, me, method=PayoutMethod.ALIPAY, account_no="user@example.com",
                               account_name="张三")  # fmt: skip
    with pytest.raises(ValidationFailed):
        payouts.request_payout(db_session, user, me, amount=999, policy=POLICY)
    with pytest.raises(InsufficientFunds):
        payouts.request_payout(db_session, user, me, amount=5001, policy=POLICY)
    payout = payouts.request_payout(db_session, user, me, amount=3000, policy=POLICY)
    assert payout.status == PayoutStatus.REQUESTED
    assert payout.account_masked == "alipay:****.com"
    assert balance(db_session, me.account(AccountKind.AVAILABLE)).balance == 2000
    with pytest.raises(Conflict) as err:
        payouts.request_payout(db_session, user, me, amount=1000, policy=POLICY)
    assert err.value.code == "payout_in_flight"
    payouts.execute_payout(db_session, sandbox(db_session), payout.id)
    assert payout.status == PayoutStatus.PAID
    payouts.execute_payout(db_session, sandbox(db_session), payout.id)  # a redelivered task pays once
    assert balance(db_session, AccountRef.platform(AccountKind.CLEARING)).balance == -5000 + 3000
    assert balance(db_session, AccountRef.platform(AccountKind.PAYOUTS)).balance == 0
    second = payouts.request_payout(db_session, user, me, amount=2000, policy=POLICY)  # the next one may go now
    assert second.status == PayoutStatus.REQUESTED
    assert_books_balanced(db_session)


def test_a_refused_transfer_puts_the_money_back(db_session: Session) -> None:
    user = factories.user(db_session)
    me = Owner.user(user.id)
    fund(db_session, me, 5000)
    post(db_session, key="claw", kind="test", legs=[Leg(me.account(AccountKind.CLAWBACK), -700),
                                                    Leg(AccountRef.platform(AccountKind.REFUNDS), 700)])  # fmt: skip
    payouts.set_payout_account(db_session, user, me, method=PayoutMethod.BANK, account_no="fail-6222000011112222",
                               account_name="张三")  # fmt: skip
    payout = payouts.request_payout(db_session, user, me, amount=5000, policy=POLICY)
    assert (payout.clawback_deducted, payout.net_amount) == (700, 4300)
    payouts.execute_payout(db_session, sandbox(db_session), payout.id)
    assert payout.status == PayoutStatus.FAILED
    assert payout.failure_reason == "account_rejected"
    assert balance(db_session, me.account(AccountKind.AVAILABLE)).balance == 5000
    assert balance(db_session, me.account(AccountKind.CLAWBACK)).balance == -700
    assert_books_balanced(db_session)


def test_a_payout_that_only_repays_a_clawback_needs_no_transfer(db_session: Session) -> None:
    user = factories.user(db_session)
    me = Owner.user(user.id)
    fund(db_session, me, 1500)
    post(db_session, key="claw", kind="test", legs=[Leg(me.account(AccountKind.CLAWBACK), -2000),
                                                    Leg(AccountRef.platform(AccountKind.REFUNDS), 2000)])  # fmt: skip
    payouts.set_payout_account(db_session, user, me, method=PayoutMethod.SANDBOX, account_no="acct-0001",
                               account_name="张三")  # fmt: skip
    payout = payouts.request_payout(db_session, user, me, amount=1500, policy=POLICY)
    assert (payout.status, payout.net_amount, payout.clawback_deducted) == (PayoutStatus.PAID, 0, 1500)
    assert balance(db_session, me.account(AccountKind.CLAWBACK)).balance == -500
    assert_books_balanced(db_session)


def test_only_the_holder_moves_their_money(db_session: Session) -> None:
    owner, member, stranger = factories.user(db_session), factories.user(db_session), factories.user(db_session)
    brand = factories.brand(db_session, owner=owner, members=[member])
    db_session.commit()
    shop = Owner.brand(brand.id)
    with pytest.raises(PermissionDenied):
        payouts.set_payout_account(db_session, member, shop, method=PayoutMethod.BANK, account_no="62220000",
                                   account_name="店")  # fmt: skip
    payouts.set_payout_account(db_session, owner, shop, method=PayoutMethod.BANK, account_no="62220000",
                               account_name="店")  # fmt: skip
    fund(db_session, shop, 5000)
    for who in (member, stranger):
        with pytest.raises(PermissionDenied):
            payouts.request_payout(db_session, who, shop, amount=2000, policy=POLICY)
    with pytest.raises(PermissionDenied):
        payouts.request_payout(db_session, stranger, Owner.user(owner.id), amount=2000, policy=POLICY)
    assert payouts.request_payout(db_session, owner, shop, amount=2000, policy=POLICY).amount == 2000
    with pytest.raises(ValidationFailed):
        payouts.set_payout_account(db_session, owner, Owner.user(owner.id), method=PayoutMethod.BANK,
                                   account_no="x; DROP", account_name="a")  # fmt: skip
