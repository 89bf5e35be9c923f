"""A small marketplace: two brands with members, an artist, a viewer and an admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from core.accounts.models import Brand, User
from tests import factories


@dataclass
class Shop:
    owner_a: User
    member_a: User
    owner_b: User
    artist: User
    viewer: User
    admin: User
    brand_a: Brand
    brand_b: Brand


@pytest.fixture
def shop(db_session: Session) -> Shop:
    owner_a, member_a, owner_b, viewer = (factories.user(db_session) for _ in range(4))
    artist = factories.user(db_session, artist=True)
    admin = factories.user(db_session, admin=True)
    brand_a = factories.brand(db_session, owner=owner_a, members=[member_a], name="品牌A")
    brand_b = factories.brand(db_session, owner=owner_b, name="品牌B")
    # Commit (a SAVEPOINT release): a service that rolls back after an error must not erase the fixtures.
    db_session.commit()
    return Shop(owner_a, member_a, owner_b, artist, viewer, admin, brand_a, brand_b)
