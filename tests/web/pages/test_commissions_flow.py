"""A sharer's commissions in Chromium at a phone's size, in Chinese and English: the sharer shares a product from
its page; buyers open the link and buy through the pages; the brand ships on its dashboard and buyers confirm
receipt. On "me" and in the studio the sharer then finds every commission per order where it stands (held for
review and why, pending until a date, settled, clawed back) and opens a receipt: click → rule → split → ledger
postings whose fen add up to what the sharer keeps. Time passes by the app's clock; the settlement job and an
admin's dispute refund (no page of theirs here) run as the beat worker and the admin would."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest

from core import clock
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.aftersale import (
    WORDS,
    checkout_from_product,
    pay_and_open_order,
    phone,
    provider_delivers,
    ship_on_dashboard,
    sign_in_at,
    sign_in_here,
)
from tests.web.pages.shops import PRICE, open_shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATUS = {
    "zh-CN": {
        "held": "审核中",
        "pending": "待结算",
        "settled": "已结算",
        "clawed_back": "已追回",
        "new_account": "新注册账号",
        "binding": "客户绑定：买家此前通过你的链接下单",
    },
    "en": {
        "held": "Held for review",
        "pending": "Pending",
        "settled": "Settled",
        "clawed_back": "Clawed back",
        "new_account": "brand-new buyer account",
        "binding": "customer binding: the buyer first bought through your link",
    },
}


class ShiftedClock:
    """The real time plus an offset the test moves: the live site's "now" (return windows, click-to-buy)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def shifted() -> Iterator[ShiftedClock]:
    c = ShiftedClock()
    with clock.use_clock(c):
        yield c


def settle(site: LiveServer) -> None:
    """The beat job that settles what the return window has released."""
    from commerce.orders import settlement

    with site.app.extensions["db"].session() as s:
        settlement.settle_due(s)


def dispute_refund(site: LiveServer, order_id: int, amount: int) -> None:
    """An admin refunds part of a settled order (a dispute): the shares already settled are clawed back."""
    from commerce.orders import refunds
    from commerce.orders.models import Order
    from commerce.payments import notify_url, open_provider

    settings = site.app.config["SETTINGS"]
    with site.app.extensions["db"].session() as s:
        admin = factories.user(s, admin=True)
        s.commit()
        order = s.get(Order, order_id)
        assert order is not None
        refunds.force_refund(s, admin, order_id, items=[refunds.RefundItem(order.lines[0].id, amount=amount)],
                             reason="dispute", provider=open_provider(settings, s),
                             notify_url=notify_url(settings, "sandbox"))  # fmt: skip
    provider_delivers(site)


def return_window_ends(site: LiveServer, order_id: int) -> str:
    from commerce.orders.models import Order
    from web.i18n import when

    with site.app.extensions["db"].session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return when(order.return_window_ends_at)


def fen(text: str) -> int:
    m = re.search(r"(-?)¥?(\d+)\.(\d\d)", text)
    assert m is not None, text
    return (-1 if m.group(1) else 1) * (int(m.group(2)) * 100 + int(m.group(3)))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_sharer_sees_each_commission_and_its_receipt(
    browser: Any, site: LiveServer, shifted: ShiftedClock, locale: str
) -> None:
    w, names = WORDS[locale], STATUS[locale]
    slug = f"earn-{locale.lower()}"
    shop = open_shop(site, slug=slug, prefix="佣金" if locale == "zh-CN" else "CM")
    with site.app.extensions["db"].session() as s:
        old = clock.now() - dt.timedelta(days=365)
        factories.user(s, email=f"{slug}-sharer@example.com", display_name="分享达人", created_at=old)
        factories.user(s, email=f"{slug}-newbie@example.com", display_name="新买家")  # signed up just now
        s.commit()

    # The sharer shares the product from its page.
    sharer = phone(browser, site, locale)
    sharer.goto(f"{site.url}/login?next=/p/{shop.product_id}")
    sign_in_here(sharer, f"{slug}-sharer@example.com", w)
    sharer.get_by_role("button", name=w["share"]).click()
    link = sharer.locator("[data-share-url]")
    link.wait_for()
    share_url = link.input_value()
    assert "/s/" in share_url

    # A brand-new account buys through the link: its commission is held for review.
    newbie = phone(browser, site, locale)
    checkout_from_product(newbie, site, shop, w, url=share_url, email=f"{slug}-newbie@example.com")
    held = pay_and_open_order(newbie, w)
    newbie.context.close()

    # An established buyer opens the link, takes their time, and buys twice (the link binds them to the sharer).
    buyer = phone(browser, site, locale)
    buyer.goto(share_url)
    buyer.wait_for_url("**/p/*click=*")
    shifted.advance(minutes=2)
    checkout_from_product(buyer, site, shop, w, url=buyer.url)
    settled = pay_and_open_order(buyer, w)
    checkout_from_product(buyer, site, shop, w)
    clawed = pay_and_open_order(buyer, w)
    brand = phone(browser, site, locale)
    sign_in_at(brand, site, shop.owner_email, "/brand", w)
    for order_id in (settled, clawed):
        ship_on_dashboard(brand, site, shop, order_id, w)
        buyer.goto(f"{site.url}/orders/{order_id}")
        buyer.get_by_role("button", name=w["confirm"]).click()
        buyer.locator('h1 .shop-status[data-status="delivered"]').wait_for()

    # The return windows close and settle; then a dispute refunds part of one order after it settled.
    shifted.advance(days=8)
    settle(site)
    dispute_refund(site, clawed, 5_000)

    # One more purchase, shipped and confirmed: pending until its window closes.
    checkout_from_product(buyer, site, shop, w)
    pending = pay_and_open_order(buyer, w)
    ship_on_dashboard(brand, site, shop, pending, w)
    buyer.goto(f"{site.url}/orders/{pending}")
    buyer.get_by_role("button", name=w["confirm"]).click()
    buyer.locator('h1 .shop-status[data-status="delivered"]').wait_for()

    expected = {held: "held", pending: "pending", settled: "settled", clawed: "clawed_back"}
    for path in ("/me", "/studio/earnings"):
        sharer.goto(f"{site.url}{path}")
        rows = sharer.locator("[data-commission-order]")
        assert rows.count() == 4, path
        for order_id, status in expected.items():
            row = sharer.locator(f'[data-commission-order="{order_id}"]')
            badge = row.locator("[data-commission-status]")
            assert badge.get_attribute("data-commission-status") == status, (path, order_id)
            assert badge.inner_text() == names[status]
        assert names["new_account"] in sharer.locator(f'[data-commission-order="{held}"]').inner_text()
        until = sharer.locator(f'[data-commission-order="{pending}"] [data-settle-after]').inner_text()
        assert until == return_window_ends(site, pending)
        sharer.screenshot(path=screenshot_path(f"commissions-{locale}{path.replace('/', '-')}"), full_page=True)

    # The clawed-back order's receipt: the click, the rule, the split, and postings that add up.
    row = sharer.locator(f'[data-commission-order="{clawed}"]')
    kept = fen(row.locator("[data-kept]").inner_text())
    row.locator("[data-receipt-link]").click()
    sharer.wait_for_url(f"**/me/commissions/{clawed}*")
    line = sharer.locator("[data-receipt-line]")
    assert line.locator('[data-step="click"]').is_visible()
    assert names["binding"] in line.locator('[data-step="rule"]').inner_text()  # bought again, bound by the link
    split = line.locator('[data-step="split"]').inner_text()
    commission = fen(line.locator("[data-commission-amount]").inner_text())
    assert f"¥{PRICE // 100}.{PRICE % 100:02d}" in split
    assert commission == PRICE * 5 // 100 or commission == -(-PRICE * 5 // 100)  # 5 % of the line, to the fen
    amounts = [int(a) for a in sharer.locator("[data-posting] [data-amount]").evaluate_all(
        "els => els.map((e) => e.dataset.amount)")]  # fmt: skip
    posted = int(sharer.locator("[data-posted]").get_attribute("data-posted") or "")
    assert amounts[0] == commission  # the split put the commission in pending
    assert sum(amounts) == posted == kept  # the postings add up to what the list says the sharer keeps
    assert 0 < kept < commission  # part of it was clawed back
    shown = [fen(t) for t in sharer.locator("[data-posting] [data-amount]").all_inner_texts()]
    assert shown == amounts  # what the page shows is what the ledger holds
    sharer.screenshot(path=screenshot_path(f"commission-receipt-{locale}"), full_page=True)
    for page in (sharer, buyer, brand):
        page.context.close()
