"""A checkout's own rows: the checkout and its orders (one per brand) in one statement on PostgreSQL."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from sqlalchemy import select

from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, OrderLine, OrderStatus
from core.db import is_postgres
from core.money import CURRENCY
from tests import factories
from tests.commerce.conftest import START
from tests.commerce.money import ADDRESS, LINKS, Market, orders_of
from tests.statements import recorded


def _buy(m: Market, items: list[checkout_service.CheckoutItem]) -> tuple[Checkout, list[str]]:
    with recorded(m.session) as seen:
        placed = checkout_service.place_order(
            m.session, m.buyer, items=items, address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
            device_hash="buyer-device",
        )  # fmt: skip
    return placed, seen


@pytest.mark.parametrize("brands", [1, 2])
def test_the_checkout_and_its_orders_are_one_statement_on_postgresql_and_the_same_rows_on_sqlite(
    market: Market, brands: int
) -> None:
    m = market
    skus = {m.brand.id: (m.sku, 2)}  # brand: (SKU bought, quantity)
    if brands == 2:
        other = factories.brand(m.session, owner=m.user())
        skus[other.id] = (factories.product(m.session, brand=other, prices=(3_300,)).skus[0], 3)
        m.session.commit()
    items = [checkout_service.CheckoutItem(sku.id, qty) for sku, qty in skus.values()]

    placed, seen = _buy(m, items)

    writes = [s for s in seen if "INSERT INTO checkouts" in s or "INSERT INTO orders " in s]
    if is_postgres(m.session):
        assert len(writes) == 1, writes
        assert writes[0].startswith("WITH c AS (INSERT INTO checkouts")
        assert "INSERT INTO orders " in writes[0]
    else:  # no writable WITH: the checkout first, then its orders
        assert [s.split(" (")[0] for s in writes] == ["INSERT INTO checkouts", "INSERT INTO orders"]
    orders = orders_of(m, placed)
    rows = {
        o.brand_id: (o.checkout_id, o.buyer_id, o.subtotal, o.discount, o.total, o.coupon_id, o.status, o.currency,
                     o.refunded_amount, o.address, o.address_hash, o.device_hash, o.reserved_until, o.created_at,
                     o.paid_at, o.cancelled_at)
        for o in orders
    }  # fmt: skip
    assert rows == {
        brand: (placed.id, m.buyer.id, sku.price_fen * qty, 0, sku.price_fen * qty, None, OrderStatus.PENDING_PAYMENT,
                CURRENCY, 0, asdict(ADDRESS), ADDRESS.fingerprint(), "buyer-device", START + m.policy.reservation,
                START, None, None)
        for brand, (sku, qty) in skus.items()
    }  # fmt: skip
    assert (
        placed.total
        == sum(o.total for o in orders)
        == m.session.scalar(select(Checkout.total).where(Checkout.id == placed.id))
    )
    # Each order's id went to its own brand's lines (the ids came back by brand, not by position).
    for o in orders:
        lines = m.session.scalars(select(OrderLine).where(OrderLine.order_id == o.id)).all()
        assert [(line.sku_id, line.quantity) for line in lines] == [(skus[o.brand_id][0].id, skus[o.brand_id][1])]
