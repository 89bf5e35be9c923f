"""The Alembic history builds the models' schema on SQLite and PostgreSQL, and unwinds cleanly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, text

from core.db import Base, make_engine
from core.settings import PROJECT_ROOT
from tests.conftest import create_pg_database, drop_pg_database, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    url, admin = create_pg_database("xl_migr")
    yield url
    drop_pg_database(url, admin)


def test_upgrade_matches_models_and_downgrade_unwinds(empty_db: str) -> None:
    migrate(empty_db)  # also imports every model module (migrations/env.py)
    engine = make_engine(empty_db)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["url"] = empty_db
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert "users" in inspect(engine).get_table_names()
    engine.dispose()


def test_downgrading_0031_gives_each_checkout_back_its_latest_payment(empty_db: str) -> None:
    from commerce.orders.models import Checkout
    from commerce.payments.models import Payment
    from core.accounts.models import User

    migrate(empty_db)
    engine = make_engine(empty_db)
    with engine.begin() as conn:
        buyer = conn.execute(insert(User.__table__).values(display_name="buyer")).inserted_primary_key[0]
        paid, unpaid = (
            conn.execute(insert(Checkout.__table__).values(buyer_id=buyer, total=100)).inserted_primary_key[0]
            for _ in range(2)
        )
        payments = [("checkout", paid), ("checkout", paid), ("booking", paid), ("booking", unpaid)]
        common = {"payer_id": buyer, "provider": "sandbox", "amount": 100}
        ids = [
            conn.execute(
                insert(Payment.__table__).values(purpose=p, reference_id=ref, merchant_ref=f"m{n}", **common)
            ).inserted_primary_key[0]
            for n, (p, ref) in enumerate(payments)
        ]
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["url"] = empty_db
    command.downgrade(cfg, "0030_support")
    with engine.connect() as conn:
        rows = {r.id: r.payment_id for r in conn.execute(text("SELECT id, payment_id FROM checkouts"))}
    assert rows == {paid: ids[1], unpaid: None}
    command.upgrade(cfg, "head")
    assert "payment_id" not in {c["name"] for c in inspect(engine).get_columns("checkouts")}
    engine.dispose()
