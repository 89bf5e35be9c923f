"""A checkout's own rows: the checkout, its orders (one per brand), their lines and first events in one statement on
PostgreSQL; the same rows, one table after the other, on SQLite."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from sqlalchemy import func, select

from commerce.catalog.models import AffiliateOffer, Sku
from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, OrderEvent, OrderLine, OrderStatus, ReviewStatus
from core import clock
from core.clock import FrozenClock
from core.db import is_postgres
from core.money import CURRENCY
from tests import factories
from tests.commerce.money import ADDRESS, LINKS, Market, orders_of, share_click
from tests.statements import recorded

# Every statement `place_order` sends on PostgreSQL for the checkouts below, by their number of brands: one fewer
# (11 and 14) than when the orders' lines and first events were written by a statement of their own.
POSTGRES_STATEMENTS = {1: 10, 2: 13}


def _buy(m: Market, items: list[checkout_service.CheckoutItem], click_id: str) -> tuple[Checkout, list[str]]:
    with recorded(m.session) as seen:
        placed = checkout_service.place_order(
            m.session, m.buyer, items=items, address=ADDRESS, provider=m.provider, policy=m.policy, links=LINKS,
            click_ids=[click_id], device_hash="buyer-device",
        )  # fmt: skip
    return placed, seen


@pytest.mark.parametrize("brands", [1, 2])
def test_the_checkout_its_orders_lines_and_events_are_one_statement_on_postgresql_and_the_same_rows_on_sqlite(
    market: Market, frozen: FrozenClock, brands: int
) -> None:
    m = market
    skus = {m.brand.id: [(m.sku, 2)]}  # brand: [(SKU bought, quantity)], in the order bought
    if brands == 2:  # the second brand's order has two lines, the later SKU first
        other = factories.brand(m.session, owner=m.user())
        first, second = (factories.product(m.session, brand=other, prices=(p,)).skus[0] for p in (3_300, 1_200))
        skus[other.id] = [(second, 1), (first, 3)]
        m.session.commit()
    # The first brand's line comes from the artist's video, shared by the sharer: its line credits both; the other
    # brand's product is on no video and has no affiliate offer, so its line credits nobody.
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    now = clock.now()
    items = [
        checkout_service.CheckoutItem(sku.id, qty, source_video_id=m.video.id if brand == m.brand.id else None)
        for brand, bought in skus.items()
        for sku, qty in bought
    ]

    placed, seen = _buy(m, items, click.click_id)

    writes = [s for s in seen if s.startswith(("INSERT", "WITH"))]
    if is_postgres(m.session):
        assert len(seen) == POSTGRES_STATEMENTS[brands], seen
        checkout_writes = [s for s in writes if "INSERT INTO checkouts" in s]
        assert len(checkout_writes) == 1, writes
        assert checkout_writes[0].startswith("WITH c AS (INSERT INTO checkouts")
        for table in ("orders ", "order_lines ", "order_events "):
            assert f"INSERT INTO {table}" in checkout_writes[0]
            assert sum(f"INSERT INTO {table}" in s for s in writes) == 1, (table, writes)
    else:  # no writable WITH: the checkout first, then its orders, then their lines and events
        assert [s.split(" (")[0] for s in writes][:4] == [
            "INSERT INTO checkouts", "INSERT INTO orders", "INSERT INTO order_lines", "INSERT INTO order_events",
        ]  # fmt: skip
    orders = orders_of(m, placed)
    rows = {
        o.brand_id: (o.checkout_id, o.buyer_id, o.subtotal, o.discount, o.total, o.coupon_id, o.status, o.currency,
                     o.refunded_amount, o.address, o.address_hash, o.device_hash, o.reserved_until, o.created_at,
                     o.paid_at, o.cancelled_at)
        for o in orders
    }  # fmt: skip
    assert rows == {
        brand: (placed.id, m.buyer.id, _paid(bought), 0, _paid(bought), None, OrderStatus.PENDING_PAYMENT, CURRENCY,
                0, asdict(ADDRESS), ADDRESS.fingerprint(), "buyer-device", now + m.policy.reservation, now, None, None)
        for brand, bought in skus.items()
    }  # fmt: skip
    assert (
        placed.total
        == sum(o.total for o in orders)
        == m.session.scalar(select(Checkout.total).where(Checkout.id == placed.id))
    )
    offer_id = m.session.scalar(select(AffiliateOffer.id).where(AffiliateOffer.product_id == m.product.id))
    # Each order's id went to its own brand's lines and event (found by brand, not by position), the lines' ids in the
    # order they were bought (what `Order.lines` lists them by).
    for o in orders:
        credited = o.brand_id == m.brand.id
        lines = m.session.scalars(select(OrderLine).where(OrderLine.order_id == o.id).order_by(OrderLine.id)).all()
        assert [
            (line.product_id, line.sku_id, line.product_name, line.sku_attributes, line.quantity, line.unit_price,
             line.list_price, line.discount, line.platform_discount, line.paid_amount, line.offer_id,
             line.platform_fee_bp, line.artist_rate_bp, line.sharer_rate_bp, line.level2_share_bp, line.source_kind,
             line.source_video_id, line.artist_id, line.artist_blocked, line.sharer_id, line.sharer_via,
             line.click_id, line.sharer_blocked, line.parent_sharer_id, line.parent_blocked, line.review_status,
             line.agent_id, line.agent_fee_bp, line.hold_reasons, line.refunded_quantity, line.refunded_amount)
            for line in lines
        ] == [
            (sku.product_id, sku.id, sku.product.name, dict(sku.attributes or {}), qty, sku.price_fen,
             sku.list_price_fen, 0, 0, sku.price_fen * qty, offer_id if credited else None, m.policy.platform_fee_bp,
             2000 if credited else 0, 1000 if credited else 0, 0, "video" if credited else None,
             m.video.id if credited else None, m.artist.id if credited else None, None,
             m.sharer.id if credited else None, "click" if credited else None, click.click_id if credited else None,
             None, None, None, ReviewStatus.NONE, None, 0, [], 0, 0)
            for sku, qty in skus[o.brand_id]
        ]  # fmt: skip
        events = m.session.scalars(select(OrderEvent).where(OrderEvent.order_id == o.id)).all()
        assert [(e.from_status, e.to_status, e.actor_id, e.actor_role, e.note, e.at) for e in events] == [
            (None, OrderStatus.PENDING_PAYMENT, m.buyer.id, "buyer", "", now)
        ]
    assert m.session.scalar(select(func.count()).select_from(OrderLine)) == len(items)  # none left out or doubled


def _paid(bought: list[tuple[Sku, int]]) -> int:
    return sum(sku.price_fen * qty for sku, qty in bought)
