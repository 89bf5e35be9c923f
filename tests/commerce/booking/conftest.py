"""A small booking market: a brand with an owner and a member, products on sale, artists, a viewer and an admin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from commerce.artists import profiles
from commerce.artists.models import LengthTier
from commerce.booking import campaigns
from commerce.booking.campaigns import CampaignSpec
from commerce.booking.models import Campaign
from commerce.booking.policy import BookingPolicy
from commerce.catalog.models import Product
from core import clock
from core.accounts.models import Brand, User
from core.clock import FrozenClock, use_clock
from tests import factories

POLICY = BookingPolicy()


@pytest.fixture(autouse=True)
def frozen() -> Iterator[FrozenClock]:
    """Booking tests run on a clock that moves only when told to (reply windows, live checks)."""
    with use_clock(FrozenClock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))) as c:
        yield c  # type: ignore[misc]


@pytest.fixture(autouse=True)
def booking_purpose() -> None:
    """What `commerce.init_app` does for the app: payments for bookings fund their escrow."""
    from commerce.booking.payments import PURPOSE, BookingPayments
    from commerce.payments.service import register_purpose

    register_purpose(PURPOSE, BookingPayments(POLICY))


@dataclass
class Market:
    owner: User
    member: User
    outsider: User  # a member of another brand
    artist: User
    artist2: User
    viewer: User
    admin: User
    brand: Brand
    other_brand: Brand
    products: list[Product]


@pytest.fixture
def market(db_session: Session) -> Market:
    owner, member, outsider, viewer = (factories.user(db_session) for _ in range(4))
    artist = factories.user(db_session, artist=True, display_name="小鹿")
    artist2 = factories.user(db_session, artist=True, display_name="阿宁")
    admin = factories.user(db_session, admin=True)
    brand = factories.brand(db_session, owner=owner, members=[member], name="花西子")
    other = factories.brand(db_session, owner=outsider, name="别家")
    items = [
        factories.product(db_session, brand=brand, name="空气蜜粉", category="beauty.makeup", prices=(15900,)),
        factories.product(db_session, brand=brand, name="雕花口红", category="beauty.makeup", prices=(21900,)),
    ]
    db_session.commit()
    for a, price in ((artist, 200_000), (artist2, 350_000)):
        profiles.update_profile(
            db_session, a, {"categories": ["beauty.makeup"], "rates": {LengthTier.UP_TO_60S: price}}
        )
    return Market(owner, member, outsider, artist, artist2, viewer, admin, brand, other, items)


def spec(market: Market, **overrides: object) -> CampaignSpec:
    values: dict[str, object] = {
        "title": "秋冬底妆种草",
        "category": "beauty.makeup",
        "budget_min_fen": 100_000,
        "budget_max_fen": 500_000,
        "deadline": clock.now() + dt.timedelta(days=14),
        "product_ids": [p.id for p in market.products],
        "must_hashtags": ["花西子", "#秋冬底妆"],
        "status": "open",
    }
    values.update(overrides)
    return CampaignSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def campaign(db_session: Session, market: Market) -> Campaign:
    return campaigns.create(db_session, market.owner, market.brand.id, spec(market), policy=POLICY)
