"""A checkout's payment is the one naming it (purpose "checkout", reference_id): the checkout row stores no copy."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SAWarning

from commerce.orders.models import PAYMENT_PURPOSE, Checkout
from commerce.orders.refunds import payment_of
from commerce.payments import service as payments
from commerce.payments.models import Payment
from tests.commerce.money import Market, orders_of, place
from tests.statements import recorded


def test_a_purchase_does_not_update_its_checkout_and_hands_back_the_payment(market: Market) -> None:
    with recorded(market.session) as seen:
        placed = place(market)
    assert any("INSERT INTO checkouts" in s for s in seen)  # on PostgreSQL, a WITH clause of the orders' insert
    assert [s for s in seen if s.startswith("UPDATE checkouts")] == []
    with recorded(market.session) as seen:  # the caller shows its pay URL next, as written, without a query
        payment = placed.payment
    assert seen == []
    assert payment is not None
    assert (payment.purpose, payment.reference_id, payment.id) == (PAYMENT_PURPOSE, placed.id, placed.payment_id)
    assert payment.pay_url


def test_the_checkout_payment_is_found_from_the_payment_row(market: Market) -> None:
    m = market
    placed, other = place(m), place(m)
    payment_id = placed.payment_id
    m.session.expunge_all()
    checkout = m.session.get(Checkout, placed.id)
    assert checkout is not None
    assert checkout.payment is not None
    assert checkout.payment_id == payment_id != other.payment_id
    assert payments.payment_for(m.session, PAYMENT_PURPOSE, placed.id) is checkout.payment
    (order,) = orders_of(m, checkout)
    assert payment_of(m.session, order) is checkout.payment


def test_the_latest_payment_naming_the_checkout_is_its_payment(market: Market) -> None:
    # place_order makes one payment per checkout; were a second ever made for it, the column this replaced would
    # have pointed at the newer one. A payment of another purpose with the same reference is not the checkout's.
    m = market
    placed = place(m)
    first = placed.payment
    assert first is not None

    def another(purpose: str) -> Payment:
        payment = Payment(
            purpose=purpose, reference_id=placed.id, payer_id=first.payer_id, provider=first.provider,
            merchant_ref=f"xlp_{purpose}_again", amount=first.amount,
        )  # fmt: skip
        m.session.add(payment)
        m.session.flush()
        return payment

    again = another(PAYMENT_PURPOSE)
    another("booking")
    m.session.commit()
    m.session.expunge_all()
    checkout = m.session.get(Checkout, placed.id)
    assert checkout is not None
    with pytest.warns(SAWarning, match="Multiple rows"):  # never expected: said, and the newest taken
        assert checkout.payment_id == again.id > first.id
    assert payments.payment_for(m.session, PAYMENT_PURPOSE, placed.id, lock=True) is checkout.payment
    assert m.session.scalar(select(Payment.purpose).where(Payment.id == checkout.payment_id)) == PAYMENT_PURPOSE
