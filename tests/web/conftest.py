"""The money-path market the JSON API tests buy in (tests.commerce.money), on a clock frozen at START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.policy import MoneyPolicy
from core.clock import FrozenClock, use_clock
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import Market, make_market


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with use_clock(FrozenClock(START)) as c:
        assert isinstance(c, FrozenClock)
        yield c


@pytest.fixture
def m(db_session: Session, clock: FrozenClock, client: FlaskClient) -> Market:
    use_policy(MoneyPolicy())
    return make_market(db_session)
