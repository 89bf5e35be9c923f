"""Commissions on "me", its full list, the studio and the receipt page, and the same over the API, in both
languages; nobody reads someone else's."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient

from commerce.orders import settlement
from commerce.orders.models import Order
from core.clock import FrozenClock
from tests.commerce.money import Market, orders_of, pay, place, share_click, ship_and_deliver
from tests.web.test_aftersale import bearer


def bought(m: Market, clock: FrozenClock, *, wait: dt.timedelta) -> Order:
    click = share_click(m, m.sharer, viewer=m.buyer)
    clock.advance(seconds=wait.total_seconds())
    checkout = place(m, click_ids=[click.click_id])
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    return order


def test_me_and_the_studio_list_each_commission_with_where_it_stands(m: Market, client: FlaskClient, clock) -> None:  # type: ignore[no-untyped-def]
    held = bought(m, clock, wait=dt.timedelta(seconds=2))
    settled = bought(m, clock, wait=dt.timedelta(minutes=5))
    ship_and_deliver(m, settled)
    clock.advance(days=8)
    settlement.settle_due(m.session)
    pending = bought(m, clock, wait=dt.timedelta(minutes=5))
    ship_and_deliver(m, pending)
    m.session.refresh(pending)
    h = bearer(m.session, m.sharer)
    me = client.get("/me", headers=h).get_data(as_text=True)
    for order_id, status in ((held.id, "held"), (settled.id, "settled"), (pending.id, "pending")):
        row = re.search(rf'data-commission-order="{order_id}".*?</li>', me, re.S)
        assert row is not None, order_id
        assert f'data-commission-status="{status}"' in row.group(0)
        assert f'href="/me/commissions/{order_id}"' in row.group(0)
    assert "点击后下单过快" in me  # why it is held
    settle_on = pending.return_window_ends_at.astimezone(dt.timezone(dt.timedelta(hours=8)))  # type: ignore[union-attr]
    assert settle_on.strftime("%Y-%m-%d %H:%M") in me  # and when the pending one settles
    assert "¥100.00 × 10% = ¥10.00" in me
    studio = client.get("/studio/earnings?lang=en", headers=h).get_data(as_text=True)
    assert studio.count("data-commission-order=") == 3
    assert "Held for review" in studio
    assert "bought too fast after the click" in studio
    assert "settles when the return window closes" in studio
    full = client.get("/me/commissions", headers=h).get_data(as_text=True)
    assert full.count("data-commission-order=") == 3
    # The buyer earned nothing: an empty list that says how to earn.
    assert "还没有佣金" in client.get("/me", headers=bearer(m.session, m.buyer)).get_data(as_text=True)


def test_the_receipt_page_and_api_add_up_and_are_private(m: Market, client: FlaskClient, clock) -> None:  # type: ignore[no-untyped-def]
    order = bought(m, clock, wait=dt.timedelta(minutes=5))
    ship_and_deliver(m, order)
    clock.advance(days=8)
    settlement.settle_due(m.session)
    h = bearer(m.session, m.sharer)
    page = client.get(f"/me/commissions/{order.id}", headers=h).get_data(as_text=True)
    for step in ('data-step="click"', 'data-step="rule"', 'data-step="split"'):
        assert step in page
    assert "你分享的视频链接" in page
    assert "归因期 7 天内最后一次匹配的点击" in page
    amounts = [int(a) for a in re.findall(r'data-amount="(-?\d+)"', page)]
    assert amounts == [1000, -1000, 1000]
    assert f'data-posted="{sum(amounts)}"' in page
    english = client.get(f"/me/commissions/{order.id}?lang=en", headers=h).get_data(as_text=True)
    assert "the last matching click within the 7-day attribution window" in english
    api = client.get(f"/api/v1/me/commissions/{order.id}", headers=h).get_json()
    assert api["lines"][0]["rule"] == "last_click"
    assert api["lines"][0]["click"]["click_id"] == order.lines[0].click_id
    assert sum(p["amount"] for p in api["postings"]) == api["kept"] == 1000
    listed = client.get("/api/v1/me/commissions", headers=h).get_json()
    assert [(o["order_id"], o["commissions"][0]["status"]) for o in listed["items"]] == [(order.id, "settled")]
    artist = client.get(f"/api/v1/me/commissions/{order.id}", headers=bearer(m.session, m.artist)).get_json()
    assert (artist["lines"][0]["rule"], artist["kept"]) == ("video_card", 2000)
    for stranger in (m.buyer, m.owner, m.upstream):
        assert client.get(f"/me/commissions/{order.id}", headers=bearer(m.session, stranger)).status_code == 404
        assert client.get(f"/api/v1/me/commissions/{order.id}", headers=bearer(m.session, stranger)).status_code == 404
