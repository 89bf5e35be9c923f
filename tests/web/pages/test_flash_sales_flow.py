"""秒杀 in Chromium at a phone viewport: a buyer watching a video whose product has a sale about to open sees the
countdown card in the feed; the sale opens, the buyer grabs the only unit and pays it in the sandbox; a second buyer
then sees it sold out. The brand finds the sale's figures and charts on its dashboard and schedules another sale
from the form, whose errors are shown next to the fields, in Chinese and in English."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commerce.marketing import flash_sales
from core import clock
from core.accounts.models import User
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, PRICE, open_shop, sign_in

pytestmark = pytest.mark.browser

SALE_PRICE = 9_900
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
# A local wall-clock time `seconds` from now, as a datetime-local input takes it.
LOCAL = ("(s) => { const d = new Date(Date.now() + s * 1000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
         " return d.toISOString().slice(0, 19); }")  # fmt: skip


def test_the_feed_card_counts_down_opens_sells_out_and_the_brand_sees_it(
    browser: Any, page: Any, site: LiveServer
) -> None:
    shop = open_shop(site, slug="miaosha", prefix="抢购")
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        sale = flash_sales.schedule(
            s, owner, shop.brand_id, sku_id=shop.sku_id, price_fen=SALE_PRICE, quantity=1,
            starts_at=clock.now() + dt.timedelta(seconds=6), ends_at=clock.now() + dt.timedelta(hours=2),
        )  # fmt: skip
        late = factories.user(s, email="miaosha-late@example.com", created_at=clock.now() - dt.timedelta(days=30))
        s.commit()
        sale_id, late_email = sale.id, late.email

    # The buyer watches the video: the card counts down to the start, then opens with the units left.
    buyer = browser.new_context(**PHONE)
    shopper = buyer.new_page()
    sign_in(shopper, site, shop.buyer_email, f"/v/{shop.video_id}")
    card = shopper.locator(f'.slide[data-video-id="{shop.video_id}"] [data-flash-sale="{sale_id}"]')
    expect(card.locator("[data-flash-countdown]")).to_contain_text("距开始 00:00:0")
    expect(card).to_contain_text("¥99.00")
    expect(card.get_by_role("button", name="即将开始")).to_be_disabled()
    shopper.screenshot(path=screenshot_path("flash-feed-countdown"))
    grab = card.get_by_role("button", name="立即抢购")
    expect(grab).to_be_enabled(timeout=20_000)
    expect(card.locator("[data-flash-left]")).to_have_text("剩 1 件")
    expect(card.locator("[data-flash-countdown]")).to_contain_text("距结束 01:5")
    shopper.screenshot(path=screenshot_path("flash-feed-live"))
    grab.click()

    # Admitted: the checkout is at the sale price, and the sandbox asks for that.
    shopper.wait_for_url(lambda url: "/checkout?" in url and f"sku={shop.sku_id}" in url and "video=" in url)
    expect(shopper.locator("[data-total]")).to_have_text("¥99.00")
    labels = {"name": "收货人", "phone": "手机号", "province": "省份", "city": "城市", "district": "区县",
              "detail": "详细地址"}  # fmt: skip
    for field, label in labels.items():
        shopper.get_by_label(label, exact=True).fill(ADDRESS[field])
    shopper.get_by_role("button", name="提交订单并支付").click()
    expect(shopper.locator("h1")).to_have_text("¥99.00")
    shopper.get_by_test_id("pay").click()
    shopper.wait_for_url(f"{site.url}/pay/return/**")
    buyer.close()

    # The next buyer finds it sold out, on the video and in the product sheet.
    other = browser.new_context(**PHONE)
    second = other.new_page()
    sign_in(second, site, late_email, f"/v/{shop.video_id}")
    card = second.locator(f'.slide[data-video-id="{shop.video_id}"] [data-flash-sale="{sale_id}"]')
    expect(card.get_by_role("button", name="已抢光")).to_be_disabled()
    expect(card).to_have_class("flash-card flash-sold-out")
    expect(card.locator("[data-flash-left]")).to_have_text("剩 0 件")
    second.screenshot(path=screenshot_path("flash-feed-sold-out"))
    second.locator(f'.slide[data-video-id="{shop.video_id}"] .pcard[data-product-id="{shop.product_id}"]').click()
    sheet_card = second.get_by_role("dialog").locator(f'[data-flash-sale="{sale_id}"]')
    expect(sheet_card.get_by_role("button", name="已抢光")).to_be_disabled()
    second.goto(f"{site.url}/v/{shop.video_id}?lang=en")  # the same card, in English
    card = second.locator(f'.slide[data-video-id="{shop.video_id}"] [data-flash-sale="{sale_id}"]')
    expect(card.get_by_role("button", name="Sold out")).to_be_disabled()
    expect(card.locator("[data-flash-left]")).to_have_text("0 left")
    expect(card.locator("[data-flash-countdown]")).to_contain_text("Ends in 01:5")
    other.close()

    # The brand's dashboard: admitted, paid, units left, GMV and cost (list price minus sale price), charted.
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}")
    page.get_by_role("link", name="秒杀").click()
    page.wait_for_url(f"**/brand/{shop.brand_id}/flash-sales")
    row = page.locator(f'[data-flash-sales] tr[data-flash-sale="{sale_id}"]')
    expect(row).to_contain_text("抢购精华液 30ml")
    expect(row.locator("[data-phase]")).to_have_text("已抢光")
    expect(row.locator("[data-admitted]")).to_have_text("1")
    expect(row.locator("[data-paid]")).to_have_text("1")
    expect(row.locator("[data-left]")).to_have_text("0/1")
    expect(row.locator("[data-gmv]")).to_have_text("¥99.00")
    expect(row.locator("[data-cost]")).to_have_text(f"¥{(PRICE - SALE_PRICE) / 100:.2f}")
    page.locator("[data-campaign-charts][data-drawn='true']").wait_for()
    assert page.evaluate("Chart.getChart('chart-campaign-money').data.datasets[0].data") == [SALE_PRICE / 100]
    assert page.evaluate("Chart.getChart('chart-campaign-people').data.datasets.map((d) => d.data)") == [[1], [1]]
    assert page.locator("#chart-campaign-money").bounding_box()["height"] > 100  # type: ignore[index]
    page.screenshot(path=screenshot_path("flash-dashboard"), full_page=True)

    # Scheduling another: a price above the SKU's is refused next to the field, then the sale is made.
    form = page.locator("#flash-sale-form")
    form.get_by_label("商品规格").select_option(str(shop.sku_id))
    form.get_by_label("秒杀价（元）").fill("200")
    form.get_by_label("秒杀数量").fill("5")
    form.get_by_label("开始时间").fill(page.evaluate(LOCAL, 3600))
    form.get_by_label("结束时间").fill(page.evaluate(LOCAL, 7200))
    form.get_by_label("每人限购").fill("2")
    form.get_by_role("button", name="创建秒杀").click()
    price = form.get_by_label("秒杀价（元）")
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-field-error]")).to_have_text("秒杀价须低于商品原价")
    price.fill("59.9")
    form.get_by_role("button", name="创建秒杀").click()
    expect(page.locator("[data-flash-sales] tbody tr")).to_have_count(2)
    newest = page.locator("[data-flash-sales] tbody tr").first
    expect(newest.locator("[data-phase]")).to_have_text("未开始")
    expect(newest).to_contain_text("¥59.90")
    expect(newest).to_contain_text("每人限购 2 件")
    expect(newest.locator("[data-left]")).to_have_text("5/5")
    expect(newest.locator("[data-admitted]")).to_have_text("0")
    expect(page.locator("[data-campaign-table] tbody tr")).to_have_count(2)

    # In English: the page and the sentences next to the fields.
    page.goto(f"{site.url}/brand/{shop.brand_id}/flash-sales?lang=en")
    expect(page.get_by_role("heading", name="How flash sales do")).to_be_visible()
    form = page.locator("#flash-sale-form")
    form.get_by_label("Sale price (yuan)").fill("1")
    form.get_by_label("Quantity").fill("1")
    form.get_by_label("Starts").fill(page.evaluate(LOCAL, 7200))
    form.get_by_label("Ends").fill(page.evaluate(LOCAL, 3600))
    form.get_by_role("button", name="Create the sale").click()
    ends = form.get_by_label("Ends")
    expect(ends).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-field-error]").first).to_contain_text("The end time")
    page.screenshot(path=screenshot_path("flash-dashboard-en-error"), full_page=True)


def test_the_coupons_page_charts_claimed_used_gmv_and_cost(page: Any, site: LiveServer) -> None:
    from commerce.marketing import coupons
    from commerce.orders.models import CouponKind

    shop = open_shop(site, slug="coupon-chart", prefix="券图")
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        buyer = s.scalar(select(User).where(User.email == shop.buyer_email))
        first = coupons.create_coupon(s, owner, shop.brand_id, kind=CouponKind.AMOUNT, value=500, name="五元券")
        coupons.create_coupon(s, owner, shop.brand_id, kind=CouponKind.AMOUNT, value=800, name="八元券")
        coupons.claim(s, buyer, first.id)
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}/coupons")
    page.locator("[data-campaign-charts][data-drawn='true']").wait_for()
    assert page.evaluate("Chart.getChart('chart-campaign-people').data.labels") == ["五元券", "八元券"]
    assert page.evaluate("Chart.getChart('chart-campaign-people').data.datasets.map((d) => d.data)") == [
        [1, 0],
        [0, 0],
    ]
    expect(page.locator(f'[data-coupons] tr[data-coupon="{first.id}"] [data-claimed]')).to_have_text("1")
    page.screenshot(path=screenshot_path("coupon-charts"), full_page=True)
