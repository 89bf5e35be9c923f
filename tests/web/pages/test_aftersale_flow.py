"""After-sale in Chromium at a phone's size, in Chinese and in English, walking the pages only: the buyer cancels an
unpaid order; a declined payment is retried and paid; the brand ships on its dashboard and the buyer confirms
receipt; a refund request with a reason and a photo waits on the order page with its amount; the brand declines it,
the buyer is told and asks again; the brand approves, the provider pays it back and the buyer sees it refunded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import LiveServer, screenshot_path
from tests.web.pages.aftersale import (
    WORDS,
    checkout_from_product,
    pay_and_open_order,
    phone,
    photo,
    provider_delivers,
    ship_on_dashboard,
    sign_in_at,
)
from tests.web.pages.shops import PRICE, open_shop, order_status

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def stock_of(site: LiveServer, sku_id: int) -> int:
    from commerce.catalog.models import Sku

    with site.app.extensions["db"].session() as s:
        sku = s.get(Sku, sku_id)
        assert sku is not None
        return sku.stock


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_buyer_cancels_retries_confirms_and_is_refunded(
    browser: Any, site: LiveServer, tmp_path: Path, locale: str
) -> None:
    w = WORDS[locale]
    slug = f"after-{locale.lower()}"
    shop = open_shop(site, slug=slug, prefix="售后" if locale == "zh-CN" else "AS")
    shots = f"aftersale-{locale}-"
    buyer = phone(browser, site, locale)
    dialogs: list[str] = []
    buyer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # 1. An order left unpaid on the hosted page is cancelled from "my orders"; its units are back on sale.
    checkout_from_product(buyer, site, shop, w, qty=3)
    assert stock_of(site, shop.sku_id) == 17
    buyer.goto(f"{site.url}/me/orders")
    buyer.locator("[data-orders] li a").first.click()
    buyer.wait_for_url("**/orders/*")
    first = int(buyer.url.split("/orders/")[1].split("?")[0])
    buyer.get_by_test_id("pay-again").wait_for()  # still payable from here, until it is cancelled
    buyer.get_by_role("button", name=w["cancel"]).click()
    buyer.locator('h1 .shop-status[data-status="cancelled"]').wait_for()
    assert order_status(site, first) == "cancelled"
    assert stock_of(site, shop.sku_id) == 20
    buyer.screenshot(path=screenshot_path(shots + "cancelled"), full_page=True)

    # 2. The card is declined: the order stays open, the buyer tries again and pays.
    checkout_from_product(buyer, site, shop, w, qty=2)
    buyer.get_by_test_id("decline").click()
    buyer.wait_for_url("**/pay/return/*")
    buyer.get_by_test_id("payment-status").filter(has_text=w["not_through"]).wait_for()
    assert w["declined"] in buyer.locator("[data-payment-failure]").inner_text()
    buyer.screenshot(path=screenshot_path(shots + "declined"), full_page=True)
    provider_delivers(site)  # the provider's payment.failed arrives: nothing is cancelled
    buyer.get_by_role("link", name=w["try_again"]).click()
    buyer.wait_for_url("**/sandbox/pay/*")
    buyer.get_by_test_id("last-failure").filter(has_text=w["last_declined"]).wait_for()
    order_id = pay_and_open_order(buyer, w)
    assert order_status(site, order_id) == "paid"
    assert stock_of(site, shop.sku_id) == 18

    # 3. The brand ships it on its dashboard; the buyer confirms receipt on the order page.
    brand = phone(browser, site, locale)
    sign_in_at(brand, site, shop.owner_email, "/brand", w)
    ship_on_dashboard(brand, site, shop, order_id, w)
    buyer.reload()
    buyer.get_by_role("button", name=w["confirm"]).click()
    buyer.locator('h1 .shop-status[data-status="delivered"]').wait_for()
    assert order_status(site, order_id) == "delivered"

    # 4. A refund of one unit, with a reason and a photo: a file that is not a picture is refused in words first.
    form = buyer.locator("#refund-form")
    form.get_by_label(w["units"]).fill("1")
    form.get_by_label(w["reason"]).select_option(w["damaged"])
    form.get_by_label(w["details"]).fill("瓶盖裂了" if locale == "zh-CN" else "The cap is cracked")
    fake = tmp_path / "receipt.jpg"
    fake.write_bytes(b"%PDF-1.7 a scanned receipt, not a photo")
    form.locator("input[name=photos]").set_input_files(str(fake))
    form.get_by_role("button", name=w["send_refund"]).click()
    form.locator("[data-errors]").filter(has_text=w["not_image"]).wait_for()
    assert "file:" not in form.locator("[data-errors]").inner_text()  # a sentence about the photo, no field path
    form.locator("input[name=photos]").set_input_files(str(photo(tmp_path / "cap.jpg")))
    form.get_by_role("button", name=w["send_refund"]).click()
    asked = buyer.locator('#refunds li:has([data-refund-status="requested"])')
    asked.wait_for()
    assert asked.locator("[data-refund-amount]").inner_text() == yuan(PRICE)
    asked.locator("img[data-refund-photo]").wait_for()
    buyer.wait_for_function("() => document.querySelector('img[data-refund-photo]').naturalWidth > 0")
    buyer.screenshot(path=screenshot_path(shots + "refund-requested"), full_page=True)

    # 5. The brand sees the photo and declines with a note; the buyer is told and reads it on the order page.
    brand.goto(f"{site.url}/brand/{shop.brand_id}")
    card = brand.locator("#refunds [data-refund-id]").first
    card.locator("img[data-refund-photo]").wait_for()
    brand.wait_for_function("() => document.querySelector('#refunds img[data-refund-photo]').naturalWidth > 0")
    assert yuan(PRICE) in card.inner_text()
    card.get_by_label(w["note"]).fill("请提供外箱照片" if locale == "zh-CN" else "Please show the outer box")
    card.get_by_role("button", name=w["reject"]).click()
    brand.locator("#refunds").get_by_text(w["no_refunds"]).wait_for()
    buyer.goto(f"{site.url}/me")
    buyer.get_by_role("link", name=f"{w['notifications']} (1)").click()
    told = buyer.locator("li a").filter(has_text=w["rejected_text"]).first
    told.wait_for()
    told.click()
    buyer.wait_for_url(f"**/orders/{order_id}*")
    buyer.locator('[data-refund-status="rejected"]').wait_for()
    assert ("外箱" if locale == "zh-CN" else "outer box") in buyer.locator("[data-decision-note]").inner_text()

    # 6. Asked again, approved; the provider pays it back and the order page shows the refund done.
    form = buyer.locator("#refund-form")
    form.get_by_label(w["units"]).fill("1")
    form.get_by_label(w["reason"]).select_option(w["damaged"])
    form.get_by_role("button", name=w["send_refund"]).click()
    buyer.locator('[data-refund-status="requested"]').wait_for()
    brand.goto(f"{site.url}/brand/{shop.brand_id}")
    brand.locator("#refunds [data-refund-id]").first.get_by_role("button", name=w["approve"]).click()
    brand.locator("#refunds").get_by_text(w["no_refunds"]).wait_for()
    provider_delivers(site)
    buyer.goto(f"{site.url}/notifications")
    buyer.locator("li a").filter(has_text=w["paid_back"]).wait_for()
    assert buyer.locator("li a").filter(has_text=w["approved_text"]).count() == 1
    buyer.goto(f"{site.url}/orders/{order_id}")
    done = buyer.locator('#refunds li:has([data-refund-status="refunded"])')
    assert done.locator("[data-refund-amount]").inner_text() == yuan(PRICE)
    assert buyer.locator("[data-refunded-total]").inner_text() == "-" + yuan(PRICE)
    buyer.screenshot(path=screenshot_path(shots + "refunded"), full_page=True)
    assert dialogs == []
    brand.context.close()
    buyer.context.close()
