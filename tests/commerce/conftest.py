"""Fixtures of the money-path tests: a frozen clock and a small market."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from commerce.orders.checkout import PURPOSE
from commerce.orders.money import CheckoutPayments
from commerce.payments.service import register_purpose
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.clock import FrozenClock, use_clock
from tests.commerce.money import Market, make_market

START = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(START)) as c:
        assert isinstance(c, FrozenClock)
        yield c


def use_policy(policy: MoneyPolicy) -> None:
    """What `commerce.init_app` does for the app: the checkout purpose applies payments under this policy."""
    register_purpose(PURPOSE, CheckoutPayments(policy))


@pytest.fixture
def market(db_session: Session, frozen: FrozenClock) -> Market:
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    return make_market(db_session)
