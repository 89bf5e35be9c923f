"""The dashboard's campaign figures through the real services and both gates: a flash sale's admitted, paid, units
left, GMV and cost as buyers pay, walk away and let orders lapse; coupons in the same shape; one call for a brand's
campaigns of every registered kind, members only."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce.marketing import campaign_stats, coupons, flash_sales
from commerce.marketing.campaign_stats import CampaignStats
from commerce.marketing.gates import StockGate
from commerce.marketing.models import FlashSale
from commerce.orders import expiry
from commerce.orders.models import CouponKind
from core.clock import FrozenClock, now
from core.errors import PermissionDenied
from tests.commerce.money import Market, pay, place


def sale(m: Market, *, quantity: int = 3, price: int = 6_000) -> FlashSale:
    return flash_sales.schedule(
        m.session, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=price, quantity=quantity, starts_at=now(),
        ends_at=now() + dt.timedelta(hours=1),
    )  # fmt: skip


def row_of(m: Market, kind: str, campaign_id: int) -> CampaignStats:
    rows = campaign_stats.for_brand(m.session, m.owner, m.brand.id, [kind])
    (row,) = [r for r in rows if r.campaign_id == campaign_id]
    return row


def test_a_flash_sale_counts_admitted_paid_units_left_gmv_and_cost(
    market: Market, gate: StockGate, frozen: FrozenClock
) -> None:
    m = market
    s = sale(m)  # 3 units at ¥60 of a ¥100 SKU
    name = " ".join([m.product.name, *m.sku.attributes.values()])
    assert row_of(m, "flash_sale", s.id) == CampaignStats("flash_sale", s.id, (name, name), 0, 0, 3, 0, 0)

    flash_sales.admit(m.session, gate, m.buyer, s.id)
    paid = place(m)
    flash_sales.admit(m.session, gate, m.sharer, s.id)
    place(m, buyer=m.sharer)  # checks out and never pays
    flash_sales.admit(m.session, gate, m.artist, s.id)  # never checks out
    row = row_of(m, "flash_sale", s.id)
    assert (row.taken, row.paid, row.units_left, row.gmv, row.cost) == (3, 0, 0, 0, 0)  # nothing paid yet

    pay(m, paid)
    row = row_of(m, "flash_sale", s.id)
    assert (row.taken, row.paid, row.units_left, row.gmv, row.cost) == (3, 1, 0, 6_000, 4_000)

    # The two places nobody paid for lapse and their units go back to the sale; the admitted count stays.
    frozen.advance(minutes=6)
    expiry.expire_unpaid(m.session, m.provider)
    assert flash_sales.expire_admissions(m.session, gate) == 2
    row = row_of(m, "flash_sale", s.id)
    assert (row.taken, row.paid, row.units_left, row.gmv, row.cost) == (3, 1, 2, 6_000, 4_000)
    assert row.units_left == gate.remaining(m.session, m.session.get(FlashSale, s.id))  # type: ignore[arg-type]

    # Once closed, the units left went back to the SKU's stock: the sale has none left to sell.
    frozen.advance(hours=3)
    assert flash_sales.close_ended(m.session, gate) == 1
    assert row_of(m, "flash_sale", s.id).units_left == 0


def test_coupons_come_in_the_same_shape(market: Market) -> None:
    m = market
    coupon = coupons.create_coupon(m.session, m.owner, m.brand.id, kind=CouponKind.AMOUNT, value=1_500, max_uses=5)
    coupons.claim(m.session, m.sharer, coupon.id)
    checkout = place(m, coupon_ids=[coupons.claim(m.session, m.buyer, coupon.id).id])
    pay(m, checkout)
    row = row_of(m, "coupon", coupon.id)
    assert row.name == coupons.describe(coupon)  # unnamed: what it gives
    assert (row.taken, row.paid, row.units_left, row.gmv, row.cost) == (2, 1, 3, 8_500, 1_500)
    assert coupons.stats(m.session, [coupon.id])[coupon.id] == coupons.CouponStats(2, 1, 8_500, 1_500)


def test_one_call_answers_for_every_registered_kind_members_only(
    market: Market, gate: StockGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = market
    s = sale(m, quantity=2)
    coupon = coupons.create_coupon(m.session, m.owner, m.brand.id, kind=CouponKind.AMOUNT, value=500, name="新客券")
    # A later kind of campaign (a lucky draw, say) registers its own source and its rows come along.
    group = CampaignStats("lucky_draw", 7, ("抽奖", "Lucky draw"), 4, 3, None, 27_000, 3_000)
    monkeypatch.setattr(campaign_stats, "_SOURCES", dict(campaign_stats._SOURCES))
    campaign_stats.register("lucky_draw", lambda session, brand_id: [group] if brand_id == m.brand.id else [])
    with pytest.raises(ValueError, match="registered twice"):
        campaign_stats.register("lucky_draw", lambda session, brand_id: [])

    rows = campaign_stats.for_brand(m.session, m.owner, m.brand.id)
    assert [(r.kind, r.campaign_id) for r in rows] == [("coupon", coupon.id), ("flash_sale", s.id), ("lucky_draw", 7)]
    assert rows[0].name == ("新客券", "新客券")
    assert campaign_stats.totals(rows) == campaign_stats.Totals(4, 3, 27_000, 3_000)
    assert [r.kind for r in campaign_stats.for_brand(m.session, m.owner, m.brand.id, ["flash_sale", "nope"])] == [
        "flash_sale"
    ]
    with pytest.raises(PermissionDenied):
        campaign_stats.for_brand(m.session, m.buyer, m.brand.id)
    other = m.user(email="other-brand@example.com")
    from tests import factories

    elsewhere = factories.brand(m.session, owner=other)
    assert campaign_stats.for_brand(m.session, other, elsewhere.id, ["coupon", "flash_sale"]) == []


def test_kinds_come_in_the_modules_order_whichever_was_imported_first(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = campaign_stats.registered()
    # As if the campaign modules had registered in reverse (a module imported by another before its turn).
    monkeypatch.setattr(campaign_stats, "_SOURCES", {k: campaign_stats._SOURCES[k] for k in reversed(kinds)})
    assert campaign_stats.registered() == kinds == ["coupon", "flash_sale", "bargain", "group_buy"]
