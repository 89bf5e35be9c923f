"""Coupons in Chromium at a phone viewport: the brand creates a 满减 coupon on its dashboard; a buyer claims it on
the product page and a platform coupon in the product sheet a video card opens, sees both applied at checkout (the
discount, what the brand and the platform fund, the reduced total) and pays that total; the dashboard then counts
the brand's coupon claimed and used, with the GMV and its cost."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from commerce.marketing import coupons
from commerce.orders.models import CouponFunding, CouponKind
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, open_shop, sign_in

pytestmark = pytest.mark.browser


def test_a_brand_coupon_is_created_claimed_applied_paid_and_counted(browser: Any, page: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="coupon", prefix="领券")  # a product at ¥123.45
    with site.app.extensions["db"].session() as s:
        admin = factories.user(s, email="coupon-admin@example.com", admin=True)
        s.commit()
        coupons.create_coupon(s, admin, None, funded_by=CouponFunding.PLATFORM, kind=CouponKind.AMOUNT, value=500,
                              name="平台补贴")  # fmt: skip
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}/coupons")
    form = page.locator("#coupon-form")
    form.get_by_label("名称", exact=True).fill("新客满减")
    form.get_by_label("类型").select_option("threshold")
    form.get_by_label("优惠金额（元）").fill("20")
    form.get_by_label("使用门槛（元，满多少可用）").fill("100")
    form.get_by_label("发放总量").fill("50")
    form.get_by_role("button", name="创建").click()
    row = page.locator("[data-coupons] tbody tr").first
    expect(row).to_contain_text("新客满减")
    expect(row).to_contain_text("满 ¥100.00 减 ¥20.00")
    expect(row.locator("[data-claimed]")).to_have_text("0/50")
    expect(row.locator("[data-used]")).to_have_text("0")

    buyer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    shopper = buyer.new_page()
    sign_in(shopper, site, shop.buyer_email, f"/p/{shop.product_id}")
    # The sheet a video card opens (the feed calls the same function) offers both coupons; the buyer takes the
    # platform's there.
    shopper.evaluate(f"xlSheet.product({{productId: {shop.product_id}}})")
    sheet = shopper.get_by_role("dialog")
    platform_chip = sheet.locator(".coupon-chip").filter(has_text="平台券")
    expect(platform_chip).to_contain_text("减 ¥5.00")
    platform_chip.get_by_role("button", name="领取").click()
    expect(platform_chip.get_by_role("button", name="已领取")).to_be_disabled()
    sheet.get_by_role("button", name="关闭").click()
    chip = shopper.locator(".coupon-chip").first
    expect(chip).to_contain_text("满 ¥100.00 减 ¥20.00")
    chip.get_by_role("button", name="领取").click()
    expect(chip.get_by_role("button", name="已领取")).to_be_disabled()
    shopper.screenshot(path=screenshot_path("coupon-claimed"))

    shopper.goto(f"{site.url}/checkout?product={shop.product_id}&sku={shop.sku_id}&qty=1")
    chosen = shopper.locator("[data-coupons]")
    expect(chosen.get_by_role("radio", name="满 ¥100.00 减 ¥20.00", exact=False)).to_be_checked()
    expect(chosen.get_by_role("radio", name="减 ¥5.00 · 平台补贴", exact=False)).to_be_checked()
    expect(chosen.locator("[data-brand-funded]")).to_have_text("¥20.00")
    expect(shopper.locator("[data-discount]")).to_have_text("−¥25.00")
    expect(chosen.locator("[data-platform-funded]")).to_have_text("¥5.00")
    expect(shopper.locator("[data-total]")).to_have_text("¥98.45")
    shopper.screenshot(path=screenshot_path("coupon-checkout"))
    labels = {"name": "收货人", "phone": "手机号", "province": "省份", "city": "城市", "district": "区县",
              "detail": "详细地址"}  # fmt: skip
    for field, label in labels.items():
        shopper.get_by_label(label, exact=True).fill(ADDRESS[field])
    shopper.get_by_role("button", name="提交订单并支付").click()
    expect(shopper.locator("h1")).to_have_text("¥98.45")  # the sandbox's pay page asks for the reduced total
    shopper.get_by_test_id("pay").click()
    shopper.wait_for_url(f"{site.url}/pay/return/**")
    buyer.close()

    page.reload()
    row = page.locator("[data-coupons] tbody tr").first
    expect(row.locator("[data-claimed]")).to_have_text("1/50")
    expect(row.locator("[data-used]")).to_have_text("1")
    expect(row.locator("[data-gmv]")).to_have_text("¥98.45")
    expect(row.locator("[data-cost]")).to_have_text("¥20.00")
    page.screenshot(path=screenshot_path("coupon-dashboard"))
