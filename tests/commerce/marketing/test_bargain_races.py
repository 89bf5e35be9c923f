"""Helps racing each other, with real threads and committed data on PostgreSQL (and the embedded SQLite file):
30 friends at a bargain of 10 helps get exactly 10 helps in, the price lands exactly on the floor; one friend
pressing twice at once helps once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commerce.marketing import bargains
from commerce.marketing.models import Bargain, BargainHelp
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.accounts.models import User
from core.clock import FrozenClock
from core.db import Database
from core.errors import Conflict
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import make_market
from tests.commerce.test_races import race
from tests.conftest import migrate

HELPS, FRIENDS = 10, 30
PRICE, FLOOR = 10_000, 3_333


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    migrate(url)
    db = Database(url)
    yield db
    db.dispose()


def started(db: Database, friends: int) -> tuple[int, list[int]]:
    passwords.configure(memory_kib=1024, time_cost=1)
    use_policy(MoneyPolicy())
    with db.session() as s:
        m = make_market(s, price=PRICE)
        helpers = [m.user().id for _ in range(friends)]
        offer = bargains.create_offer(
            s, m.owner, m.brand.id, sku_id=m.sku.id, floor_fen=FLOOR, max_helpers=HELPS, window_hours=24,
            starts_at=START, ends_at=START + dt.timedelta(days=1),
        )  # fmt: skip
        return bargains.start(s, m.buyer, offer.id).id, helpers


def helping(db: Database, bargain_id: int, helper_id: int) -> int:
    with db.session() as s:
        user = s.get(User, helper_id)
        assert user is not None
        return bargains.help_bargain(s, user, bargain_id).seq


def thirty_at_ten(db: Database) -> None:
    bargain_id, helpers = started(db, FRIENDS)
    results, errors = race(FRIENDS, lambda i: helping(db, bargain_id, helpers[i]))
    assert sorted(results) == list(range(1, HELPS + 1))  # each seq of the schedule once
    assert len(errors) == FRIENDS - HELPS
    assert all(isinstance(e, Conflict) and e.code == "bargain_complete" for e in errors), errors[:3]
    with db.session() as s:
        bargain = s.get(Bargain, bargain_id)
        assert bargain is not None
        assert bargain.helps_count == HELPS
        cuts = s.scalars(select(BargainHelp.cut_fen).where(BargainHelp.bargain_id == bargain_id)
                         .order_by(BargainHelp.seq)).all()  # fmt: skip
        assert list(cuts) == bargains.schedule(PRICE, FLOOR, HELPS)
        assert PRICE - sum(cuts) == FLOOR  # exactly the floor, not a fen above
        assert bargains.view(s, bargain_id).price_now == FLOOR


def one_friend_twice(db: Database) -> None:
    bargain_id, (friend,) = started(db, 1)
    results, errors = race(4, lambda _: helping(db, bargain_id, friend))
    assert results == [1]
    assert len(errors) == 3
    assert {e.code for e in errors if isinstance(e, Conflict)} == {"bargain_already_helped"}
    with db.session() as s:
        bargain = s.get(Bargain, bargain_id)
        assert bargain is not None
        assert bargain.helps_count == 1  # the losers' increments went back with their transactions
        assert s.scalar(select(func.count()).where(BargainHelp.bargain_id == bargain_id)) == 1


@pytest.mark.postgres
def test_thirty_friends_at_ten_helps_on_postgresql(committed_db: Database, frozen: FrozenClock) -> None:
    assert committed_db.dialect == "postgresql"
    thirty_at_ten(committed_db)


@pytest.mark.postgres
def test_one_friend_racing_twice_helps_once_on_postgresql(committed_db: Database, frozen: FrozenClock) -> None:
    assert committed_db.dialect == "postgresql"
    one_friend_twice(committed_db)


def test_thirty_friends_at_ten_helps_on_sqlite(sqlite_db: Database, frozen: FrozenClock) -> None:
    thirty_at_ten(sqlite_db)


def test_one_friend_racing_twice_helps_once_on_sqlite(sqlite_db: Database, frozen: FrozenClock) -> None:
    one_friend_twice(sqlite_db)


@pytest.mark.postgres
def test_a_buyer_starting_twice_at_once_gets_one_bargain(committed_db: Database, frozen: FrozenClock) -> None:
    bargain_id, _ = started(committed_db, 0)
    with committed_db.session() as s:
        first = s.get(Bargain, bargain_id)
        assert first is not None
        offer_id, buyer_id = first.offer_id, first.user_id
        s.delete(first)
        s.commit()

    def start(_: int) -> int:
        with committed_db.session() as s:
            return bargains.start(s, s.get(User, buyer_id), offer_id).id

    results, errors = race(6, start)
    assert not errors, errors
    assert len(set(results)) == 1  # the racers all got the one bargain the limit allows
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).where(Bargain.offer_id == offer_id)) == 1
