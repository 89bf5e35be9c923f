"""Distribution in Chromium at a phone viewport: the brand opens its programme and makes an invite (link + QR); a
store's staff member accepts it and the brand approves them; they pick a product for their shop; a customer buys
from /shop/<id>; the distributor sees the order and the earnings; the brand sees the sales (charted) and the
compliance page, in Chinese and in English."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from commerce.orders.split import split_line
from core import clock
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, PRICE, open_shop, sign_in

pytestmark = pytest.mark.browser


def _phone(browser: Any) -> Any:
    return browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")


def _ready(page: Any) -> None:
    """The page's script has wired its buttons (a click before that would do nothing)."""
    expect(page.locator("html")).to_have_attribute("data-distribution-ready", "true")


def test_invite_approve_pick_sell_and_report(browser: Any, page: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="distrib", prefix="分销")
    with site.app.extensions["db"].session() as s:
        old = clock.now() - dt.timedelta(days=365)
        staff = factories.user(s, email="distrib-staff@example.com", display_name="店员小王", created_at=old)
        customer = factories.user(s, email="distrib-customer@example.com", display_name="顾客", created_at=old)
        s.commit()
        staff_email, customer_email = staff.email, customer.email
    settings = site.app.config["SETTINGS"]

    # The brand opens its programme and makes an invite.
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}/distributors")
    terms = page.locator("#terms-form")
    terms.get_by_label("锁客天数").fill("15")
    terms.get_by_label("默认佣金率（%）").fill("10")
    _ready(page)
    terms.get_by_role("button", name="保存规则").click()
    expect(page.locator("[data-no-distributors]")).to_be_visible()  # the page came back with the programme open
    _ready(page)
    page.get_by_role("button", name="生成邀请链接").click()
    invite_url = page.locator("[data-invite-url]")
    expect(page.get_by_role("img", name="邀请二维码")).to_be_visible()
    url = invite_url.input_value()
    assert "/distribution/join/" in url
    page.screenshot(path=screenshot_path("distribution-invite"))

    # The staff member accepts it.
    them = _phone(browser)
    mine = them.new_page()
    path = urlsplit(url).path
    sign_in(mine, site, staff_email, path)
    expect(mine.locator("#join")).to_contain_text("加入免费")
    _ready(mine)
    mine.get_by_label("门店").fill("西湖店")
    mine.get_by_label("区域").fill("杭州")
    mine.get_by_role("button", name="接受邀请").click()
    mine.wait_for_url(f"{site.url}/me/distribution**")
    expect(mine.locator("[data-status]").first).to_have_text("待审核")

    # The brand approves them.
    page.reload()
    _ready(page)
    row = page.locator("[data-distributors] tbody tr").filter(has_text="店员小王")
    expect(row.locator("[data-status]")).to_have_text("待审核")
    row.get_by_role("button", name="通过").click()
    expect(
        page.locator("[data-distributors] tbody tr").filter(has_text="店员小王").locator("[data-status]")
    ).to_have_text("已通过")

    # They pick the product for their shop.
    mine.reload()
    _ready(mine)
    item = mine.locator(f"[data-product='{shop.product_id}']")
    item.get_by_role("button", name="加入小店").click()
    expect(mine.locator(f"[data-product='{shop.product_id}']").get_by_role("button", name="移出小店")).to_be_visible()
    shop_path = urlsplit(mine.locator("[data-shop-link]").get_attribute("href") or "").path

    # A customer buys from the shop.
    buyer = _phone(browser)
    shopper = buyer.new_page()
    sign_in(shopper, site, customer_email, shop_path)
    expect(shopper.locator("#shop")).to_have_attribute("data-visited", "true")
    shopper.locator(f"[data-item='{shop.product_id}'] a").click()
    shopper.wait_for_url(f"{site.url}/p/{shop.product_id}**")
    shopper.goto(f"{site.url}/checkout?product={shop.product_id}&sku={shop.sku_id}&qty=1")
    labels = {"name": "收货人", "phone": "手机号", "province": "省份", "city": "城市", "district": "区县",
              "detail": "详细地址"}  # fmt: skip
    for field, label in labels.items():
        shopper.get_by_label(label, exact=True).fill(ADDRESS[field])
    shopper.get_by_role("button", name="提交订单并支付").click()
    shopper.get_by_test_id("pay").click()
    shopper.wait_for_url(f"{site.url}/pay/return/**")
    buyer.close()

    # The distributor sees the order and what they earn on it.
    earned = split_line(PRICE, artist_bp=0, sharer_bp=1000, platform_bp=settings.platform_fee_bp).sharer
    yuan = f"¥{earned / 100:.2f}"
    mine.reload()
    expect(mine.locator("[data-orders] tbody tr")).to_have_count(1)
    expect(mine.locator("[data-orders] [data-commission]")).to_have_text(yuan)
    expect(mine.locator("[data-earned]")).to_have_text(yuan)
    expect(mine.locator("[data-customers]")).to_have_text("1")
    mine.screenshot(path=screenshot_path("distribution-dashboard"))
    them.close()

    # The brand sees the sales, charted, and the compliance page.
    page.reload()
    expect(page.locator("[data-kpi=gmv]")).to_have_text(f"¥{PRICE / 100:.2f}")
    expect(page.locator("[data-chart=distributor]")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#table-store")).to_contain_text("西湖店")
    # Narrowed to days before the sale, the report has nothing; the form keeps the days asked for.
    before = clock.now().date() - dt.timedelta(days=1)
    report_range = page.locator("[data-range]")
    report_range.get_by_label("开始日期").fill((before - dt.timedelta(days=6)).isoformat())
    report_range.get_by_label("结束日期").fill(before.isoformat())
    report_range.get_by_role("button", name="查看").click()
    page.wait_for_url(f"**to={before.isoformat()}**")
    expect(page.locator("[data-kpi=gmv]")).to_have_text("¥0.00")
    expect(page.locator("[data-range] [name=to]")).to_have_value(before.isoformat())
    page.goto(f"{site.url}/brand/{shop.brand_id}/distributors")
    page.get_by_role("link", name="合规报告").click()
    report = page.locator("[data-compliance]")
    expect(report.locator("[data-level='1']")).to_have_text(yuan)
    expect(report.locator("[data-level='2']")).to_have_text("¥0.00")
    expect(report.locator("[data-rewards]")).to_have_text("¥0.00")
    expect(report.locator("[data-statement]")).to_contain_text("因招募或加入支付的奖励：0 分")
    page.screenshot(path=screenshot_path("distribution-compliance"))
    page.goto(f"{site.url}/brand/{shop.brand_id}/distributors/compliance?lang=en")
    expect(page.locator("[data-statement]")).to_contain_text("Paid for recruiting or joining: 0 fen")
    expect(page.locator("[data-statement]")).to_contain_text("Levels paid: 1")
