"""Flash sales through the real services and both gates: admission, the sale price at checkout, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from commerce.catalog.models import Sku
from commerce.marketing import flash_sales
from commerce.marketing.gates import StockGate
from commerce.marketing.models import AdmissionStatus, FlashAdmission, FlashSale
from commerce.orders import expiry, refunds
from commerce.orders.models import OrderStatus
from core.clock import FrozenClock, now
from core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.commerce.money import NOTIFY_URL, Market, deliver, orders_of, pay, place, status


def schedule(m: Market, *, quantity: int = 3, price: int = 5_000, starts_in: dt.timedelta = dt.timedelta(0),
             limit: int = 1) -> FlashSale:  # fmt: skip
    return flash_sales.schedule(
        m.session, m.owner, m.brand.id, sku_id=m.sku.id, price_fen=price, quantity=quantity,
        starts_at=now() + starts_in, ends_at=now() + starts_in + dt.timedelta(hours=1), per_user_limit=limit,
    )  # fmt: skip


def stock(m: Market) -> int:
    sku = m.session.get(Sku, m.sku.id)
    assert sku is not None
    m.session.refresh(sku)
    return sku.stock


def test_scheduling_sets_the_units_aside_from_the_skus_stock(market: Market) -> None:
    sale = schedule(market, quantity=4)
    assert stock(market) == 6
    assert sale.remaining == 4
    with pytest.raises(Conflict) as exc:
        schedule(market, quantity=7)
    assert exc.value.code == "out_of_stock"
    assert stock(market) == 6


def test_only_brand_members_schedule_and_the_price_is_below_the_skus(market: Market) -> None:
    with pytest.raises(PermissionDenied):
        flash_sales.schedule(
            market.session, market.buyer, market.brand.id, sku_id=market.sku.id, price_fen=1, quantity=1,
            starts_at=now(), ends_at=now() + dt.timedelta(hours=1),
        )  # fmt: skip
    with pytest.raises(ValidationFailed) as exc:
        schedule(market, price=10_000)
    assert [f.code for f in exc.value.fields] == ["flash_price_too_high"]
    assert stock(market) == 10


def test_admitted_buyer_pays_the_sale_price(market: Market, gate: StockGate, frozen: FrozenClock) -> None:
    m = market
    sale = schedule(m)
    admission = flash_sales.admit(m.session, gate, m.buyer, sale.id)
    assert admission.status == AdmissionStatus.ADMITTED
    assert admission.pay_deadline == now() + dt.timedelta(minutes=5)
    assert gate.remaining(m.session, sale) == 2

    checkout = place(m)
    (order,) = orders_of(m, checkout)
    (line,) = order.lines
    assert (line.unit_price, line.list_price, line.paid_amount, order.total) == (5_000, 10_000, 5_000, 5_000)
    assert order.reserved_until == admission.pay_deadline  # the short pay window, not the usual 15 minutes
    assert stock(m) == 7  # the sale's units, not the SKU's: nothing more left the stock
    m.session.refresh(admission)
    assert (admission.status, admission.order_id) == (AdmissionStatus.ORDERED, order.id)

    assert pay(m, checkout) == ["applied"]
    assert status(m, order) == OrderStatus.PAID
    frozen.advance(minutes=10)
    assert flash_sales.expire_admissions(m.session, gate) == 0  # paid: the unit is sold
    assert gate.remaining(m.session, sale) == 2

    # The admission was used: the next checkout of the SKU is at the ordinary price, from the SKU's stock.
    (second,) = orders_of(m, place(m))
    assert second.lines[0].unit_price == 10_000
    assert stock(m) == 6


def test_refusals(market: Market, gate: StockGate, frozen: FrozenClock) -> None:
    m = market
    later = schedule(m, starts_in=dt.timedelta(minutes=30))
    with pytest.raises(Conflict) as exc:
        flash_sales.admit(m.session, gate, m.buyer, later.id)
    assert exc.value.code == "not_started"

    sale = schedule(m, quantity=2, limit=2)
    with pytest.raises(ValidationFailed) as limit:
        flash_sales.admit(m.session, gate, m.buyer, sale.id, quantity=3)
    assert limit.value.fields[0].code == "flash_sale_limit"
    flash_sales.admit(m.session, gate, m.buyer, sale.id)
    with pytest.raises(Conflict) as again:
        flash_sales.admit(m.session, gate, m.buyer, sale.id)
    assert again.value.code == "already_admitted"
    flash_sales.admit(m.session, gate, m.artist, sale.id)
    with pytest.raises(Conflict) as gone:
        flash_sales.admit(m.session, gate, m.sharer, sale.id)
    assert gone.value.code == "sold_out"
    assert gate.remaining(m.session, sale) == 0
    count = m.session.scalars(select(FlashAdmission.user_id).where(FlashAdmission.sale_id == sale.id)).all()
    assert sorted(count) == sorted([m.buyer.id, m.artist.id])

    frozen.advance(hours=2)
    with pytest.raises(Conflict) as ended:
        flash_sales.admit(m.session, gate, m.upstream, sale.id)
    assert ended.value.code == "sale_ended"


def test_a_buyer_checks_out_the_quantity_admitted(market: Market, gate: StockGate) -> None:
    m = market
    sale = schedule(m, quantity=3, limit=2)
    flash_sales.admit(m.session, gate, m.buyer, sale.id, quantity=2)
    with pytest.raises(ValidationFailed) as exc:
        place(m, qty=1)
    assert exc.value.fields[0].code == "flash_sale_quantity"
    (order,) = orders_of(m, place(m, qty=2))
    assert order.total == 10_000


def test_an_unused_admission_expires_and_returns_its_units_once(
    market: Market, gate: StockGate, frozen: FrozenClock
) -> None:
    m = market
    sale = schedule(m, quantity=1)
    admission = flash_sales.admit(m.session, gate, m.buyer, sale.id)
    with pytest.raises(Conflict):
        flash_sales.admit(m.session, gate, m.artist, sale.id)
    frozen.advance(minutes=4)
    assert flash_sales.expire_admissions(m.session, gate) == 0  # still inside the pay window
    frozen.advance(minutes=2)
    assert flash_sales.expire_admissions(m.session, gate) == 1
    assert flash_sales.expire_admissions(m.session, gate) == 0  # exactly once
    assert gate.remaining(m.session, sale) == 1
    m.session.refresh(admission)
    assert admission.status == AdmissionStatus.RETURNED

    # Too late for the sale price: the checkout is an ordinary one.
    (order,) = orders_of(m, place(m))
    assert order.lines[0].unit_price == 10_000
    # The buyer had their turn; the unit goes to someone else.
    with pytest.raises(Conflict) as exc:
        flash_sales.admit(m.session, gate, m.buyer, sale.id)
    assert exc.value.code == "already_admitted"
    flash_sales.admit(m.session, gate, m.artist, sale.id)
    assert gate.remaining(m.session, sale) == 0


def test_an_unpaid_order_gives_its_unit_back_to_the_sale_not_the_sku(
    market: Market, gate: StockGate, frozen: FrozenClock
) -> None:
    m = market
    sale = schedule(m, quantity=1)
    admission = flash_sales.admit(m.session, gate, m.buyer, sale.id)
    (order,) = orders_of(m, place(m))
    frozen.advance(minutes=6)
    assert expiry.expire_unpaid(m.session, m.provider) == 1
    assert status(m, order) == OrderStatus.CANCELLED
    assert stock(m) == 9  # unchanged: the unit belongs to the sale
    m.session.refresh(admission)
    assert admission.status == AdmissionStatus.RELEASED
    assert gate.remaining(m.session, sale) == 0
    assert flash_sales.expire_admissions(m.session, gate) == 1
    assert flash_sales.expire_admissions(m.session, gate) == 0
    assert gate.remaining(m.session, sale) == 1
    flash_sales.admit(m.session, gate, m.artist, sale.id)


def test_a_refund_does_not_return_a_unit_to_the_sale(market: Market, gate: StockGate, frozen: FrozenClock) -> None:
    m = market
    sale = schedule(m, quantity=2)
    admission = flash_sales.admit(m.session, gate, m.buyer, sale.id)
    checkout = place(m)
    (order,) = orders_of(m, checkout)
    pay(m, checkout)
    refunds.cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)
    deliver(m)
    assert status(m, order) == OrderStatus.CANCELLED
    frozen.advance(minutes=10)
    assert flash_sales.expire_admissions(m.session, gate) == 0
    assert gate.remaining(m.session, sale) == 1
    m.session.refresh(admission)
    assert admission.status == AdmissionStatus.ORDERED


def test_units_nobody_took_go_back_to_the_sku_when_the_sale_closes(
    market: Market, gate: StockGate, frozen: FrozenClock
) -> None:
    m = market
    sale = schedule(m, quantity=3)
    flash_sales.admit(m.session, gate, m.buyer, sale.id)
    assert stock(m) == 7
    frozen.advance(minutes=30)
    assert flash_sales.close_ended(m.session, gate) == 0  # still running
    frozen.advance(hours=1, minutes=31)
    assert flash_sales.close_ended(m.session, gate) == 1
    assert flash_sales.close_ended(m.session, gate) == 0  # once
    assert stock(m) == 9  # the two units nobody took
    assert gate.remaining(m.session, sale) == 0
    # The buyer never paid: their unit comes back after the close, to the SKU too.
    assert flash_sales.expire_admissions(m.session, gate) == 1
    assert stock(m) == 10
    assert gate.remaining(m.session, sale) == 0
