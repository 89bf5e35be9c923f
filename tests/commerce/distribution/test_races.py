"""Customer binding under concurrency on PostgreSQL: first touch wins exactly once, and nobody binds themselves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commerce.catalog.limits import CatalogLimits
from commerce.distribution import service
from commerce.distribution.models import Binding, DistributorStatus
from core.accounts.models import User
from core.db import Database
from tests import factories
from tests.commerce.catalog.test_races import run_together
from tests.commerce.money import LINK_KEYS

pytestmark = pytest.mark.postgres


def _programme(db: Database, distributors: int) -> tuple[int, list[tuple[int, int]], int]:
    """A brand with an open programme and approved distributors; (brand id, [(distributor id, user id)], customer)."""
    with db.session() as s:
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner)
        people = [factories.user(s) for _ in range(distributors)]
        customer = factories.user(s)
        s.commit()
        service.set_terms(s, owner, brand.id, binding_days=15, default_rate_bp=1000, limits=CatalogLimits())
        link = service.create_invite(s, owner, brand.id, keys=LINK_KEYS, base_url="http://x")
        found = []
        for u in people:
            d = service.accept_invite(s, u, link.token, keys=LINK_KEYS)
            service.decide(s, owner, brand.id, d.id, status=DistributorStatus.APPROVED)
            found.append((d.id, u.id))
        return brand.id, found, customer.id


def _visit(user_id: int, distributor_id: int) -> Callable[[Session], object]:
    def call(session: Session) -> object:
        return service.visit_shop(session, session.get(User, user_id), distributor_id)

    return call


def _bindings(db: Database, brand_id: int) -> list[tuple[int, int]]:
    with db.session() as s:
        return [
            (b.customer_id, b.distributor_id) for b in s.scalars(select(Binding).where(Binding.brand_id == brand_id))
        ]


def test_two_links_followed_at_the_same_instant_bind_once(committed_db: Database) -> None:
    brand_id, people, customer = _programme(committed_db, 4)
    results = run_together(committed_db, [_visit(customer, d) for d, _ in people])
    assert sorted(results, key=str) == [False, False, False, True]  # exactly one visit bound them
    (bound,) = _bindings(committed_db, brand_id)
    winner = people[results.index(True)][0]
    assert bound == (customer, winner)  # and the binding is that visit's distributor: the first touch


def test_no_binding_to_self_or_to_another_distributor_under_a_race(committed_db: Database) -> None:
    brand_id, people, _customer = _programme(committed_db, 3)
    (a, a_user), (b, b_user), (c, _c_user) = people
    # Each distributor opens their own shop and another's at the same instant.
    calls = [_visit(a_user, a), _visit(a_user, b), _visit(b_user, b), _visit(b_user, c), _visit(a_user, c)]
    assert run_together(committed_db, calls) == [False] * len(calls)
    assert _bindings(committed_db, brand_id) == []
    with committed_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Binding)) == 0
