"""Thousands at one SKU, in small: real threads, committed data, each gate on a real backend.

200 attempts by 150 buyers (50 of them try twice) at 20 units: exactly 20 distinct buyers get in, nobody twice,
everyone else hears sold_out or already_admitted; two expiry jobs at once return each unit exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commerce.catalog.models import Sku
from commerce.marketing import flash_sales
from commerce.marketing.gates import SqlStockGate, StockGate
from commerce.marketing.models import AdmissionStatus, FlashAdmission, FlashSale
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.accounts.models import User
from core.clock import FrozenClock
from core.db import Database
from core.errors import Conflict
from tests.commerce.conftest import START, use_policy
from tests.commerce.marketing.conftest import redis_gate
from tests.commerce.money import make_market
from tests.commerce.test_races import race
from tests.conftest import migrate

UNITS, BUYERS, ATTEMPTS = 20, 150, 200


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """The embedded default: a migrated SQLite file, whatever database the rest of the suite runs on."""
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    migrate(url)
    db = Database(url)
    yield db
    db.dispose()


def stampede(db: Database, gate: StockGate, clock: FrozenClock) -> None:
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with db.session() as s:
        m = make_market(s, stock=UNITS + 5)
        buyers = [m.user().id for _ in range(BUYERS)]
        sale = flash_sales.schedule(
            s, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=990, quantity=UNITS, starts_at=START,
            ends_at=START + dt.timedelta(hours=1),
        )  # fmt: skip
        sale_id, sku_id = sale.id, m.sku.id

    def admit(i: int) -> tuple[int, int]:
        with db.session() as s:
            user = s.get(User, buyers[i % BUYERS])
            assert user is not None
            admission = flash_sales.admit(s, gate, user, sale_id)
            return admission.user_id, admission.id

    results, errors = race(ATTEMPTS, admit)
    assert len(results) == UNITS
    assert len({user_id for user_id, _ in results}) == UNITS  # 20 distinct buyers
    assert len(errors) == ATTEMPTS - UNITS
    codes = {e.code for e in errors if isinstance(e, Conflict)}
    assert all(isinstance(e, Conflict) for e in errors), errors[:3]
    assert codes <= {"sold_out", "already_admitted"}
    with db.session() as s:
        rows = s.execute(select(FlashAdmission.user_id).where(FlashAdmission.sale_id == sale_id)).scalars().all()
        assert sorted(rows) == sorted(u for u, _ in results)  # the database agrees with the gate, nobody twice
        sale = s.get(FlashSale, sale_id)
        assert sale is not None
        assert gate.remaining(s, sale) == 0
        sku = s.get(Sku, sku_id)
        assert sku is not None
        assert sku.stock == 5  # only the sale's units were ever set aside

    # Nobody pays: two expiry jobs at once give every unit back exactly once.
    clock.advance(minutes=6)

    def expire(_: int) -> int:
        with db.session() as s:
            return flash_sales.expire_admissions(s, gate)

    returned, failures = race(2, expire)
    assert not failures, failures
    assert sum(returned) == UNITS
    with db.session() as s:
        sale = s.get(FlashSale, sale_id)
        assert sale is not None
        assert gate.remaining(s, sale) == UNITS
        statuses = s.execute(
            select(FlashAdmission.status, func.count()).where(FlashAdmission.sale_id == sale_id)
            .group_by(FlashAdmission.status)
        ).all()  # fmt: skip
        assert dict(statuses) == {AdmissionStatus.RETURNED: UNITS}


@pytest.mark.postgres
def test_sql_gate_on_postgresql(committed_db: Database, frozen: FrozenClock) -> None:
    assert committed_db.dialect == "postgresql"
    stampede(committed_db, SqlStockGate(), frozen)


def test_sql_gate_on_sqlite(sqlite_db: Database, frozen: FrozenClock) -> None:
    stampede(sqlite_db, SqlStockGate(), frozen)


@pytest.mark.redis
def test_redis_gate(committed_db: Database, frozen: FrozenClock) -> None:
    for gate in redis_gate():
        stampede(committed_db, gate, frozen)
