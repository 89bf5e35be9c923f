"""砍价 in Chromium at a phone viewport: the buyer opens the product sheet from a video, sees the offer's disclosed
terms and starts a bargain; a friend opens its link (signed out), signs in on the way, and helps with one button;
the buyer sees the new price and what is left, and buys at the bargained price in the sandbox. The brand then finds
the bargain's figures and chart on its dashboard, and a bad floor price is refused next to the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commerce.marketing import bargains
from core import clock
from core.accounts.models import User
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, PRICE, open_shop, sign_in
from tests.web.pages.test_csp import RECORD

pytestmark = pytest.mark.browser

FLOOR, HELPS = PRICE - 3_000, 2  # ¥123.45 → ¥93.45 in two cuts of ¥15.00
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
LOCAL = ("(s) => { const d = new Date(Date.now() + s * 1000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
         " return d.toISOString().slice(0, 19); }")  # fmt: skip


def watched(context: Any, violations: list[str]) -> Any:
    """Every content-security-policy violation of the context's pages lands in `violations`."""
    context.expose_binding("__cspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(RECORD)
    return context.new_page()


def test_a_friend_helps_and_the_buyer_buys_at_the_bargained_price(browser: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="kanjia", prefix="砍价")
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        offer = bargains.create_offer(
            s, owner, shop.brand_id, sku_id=shop.sku_id, floor_fen=FLOOR, max_helpers=HELPS, window_hours=24,
            starts_at=clock.now(), ends_at=clock.now() + dt.timedelta(days=2),
        )  # fmt: skip
        friend = factories.user(s, email="kanjia-friend@example.com", display_name="好友小王",
                                created_at=clock.now() - dt.timedelta(days=30))  # fmt: skip
        s.commit()
        offer_id, friend_email = offer.id, friend.email

    # The buyer opens the product sheet from the video: the offer's terms are shown before anything is asked.
    violations: list[str] = []
    buyer = browser.new_context(**PHONE)
    shopper = watched(buyer, violations)
    sign_in(shopper, site, shop.buyer_email, f"/v/{shop.video_id}")
    shopper.locator(f'.slide[data-video-id="{shop.video_id}"] .pcard[data-product-id="{shop.product_id}"]').click()
    card = shopper.get_by_role("dialog").locator(f'[data-bargain-offer="{offer_id}"]')
    expect(card).to_contain_text("最低 ¥93.45")
    expect(card.locator("[data-bargain-terms]")).to_have_text("2 位好友助力砍到底价，每刀 ¥15.00，不随机、无需转发")
    shopper.screenshot(path=screenshot_path("bargain-sheet"))
    card.get_by_role("button", name="砍价").click()
    shopper.wait_for_url("**/bargain/*")
    expect(shopper.locator("[data-price-now]")).to_have_text("¥123.45")
    expect(shopper.locator("[data-left]")).to_have_text("¥30.00")
    expect(shopper.locator("[data-schedule] li")).to_have_text(["第 1 刀 −¥15.00", "第 2 刀 −¥15.00"])
    expect(shopper.locator("[data-no-helpers]")).to_be_visible()
    link = shopper.locator("[data-help-link]").input_value()
    assert link.startswith(site.url + "/bargain/")
    path = link.removeprefix(site.url)

    # The friend opens the link signed out, signs in when pressing help, and helps: one button, nothing to post.
    other = browser.new_context(**PHONE)
    pal = watched(other, violations)
    pal.goto(link)
    expect(pal.locator("[data-left]")).to_have_text("¥30.00")
    pal.get_by_role("button", name="帮 TA 砍 ¥15.00").click()
    pal.wait_for_url("**/login?next=**")
    pal.get_by_label("邮箱").fill(friend_email)
    pal.get_by_label("密码").fill(factories.PASSWORD)
    pal.get_by_role("button", name="登录").click()
    pal.wait_for_url(f"{site.url}{path}")
    pal.get_by_role("button", name="帮 TA 砍 ¥15.00").click()
    expect(pal.get_by_role("button", name="已助力")).to_be_disabled()
    expect(pal.locator("[data-left]")).to_have_text("¥15.00")
    expect(pal.locator("[data-helpers]")).to_contain_text("好友小王")
    expect(pal.locator("progress[data-progress]")).to_have_attribute("value", "1")
    pal.screenshot(path=screenshot_path("bargain-friend-helped"))
    pal.goto(f"{link}?lang=en")  # the same page in English
    expect(pal.get_by_role("button", name="Helped")).to_be_disabled()
    expect(pal.locator("[data-bargain-phase]")).to_have_text("In progress")
    other.close()

    # The buyer sees the new price and what is left, and buys at it.
    shopper.reload()
    expect(shopper.locator("[data-price-now]")).to_have_text("¥108.45")
    expect(shopper.locator("[data-left]")).to_have_text("¥15.00")
    expect(shopper.locator("[data-helps-left]")).to_have_text("1")
    expect(shopper.locator("[data-schedule] li").first).to_have_text("第 1 刀 −¥15.00 ✓")
    shopper.screenshot(path=screenshot_path("bargain-buyer-after-help"))
    shopper.get_by_role("link", name="以 ¥108.45 立即购买").click()
    shopper.wait_for_url(lambda url: "/checkout?" in url and f"sku={shop.sku_id}" in url)
    expect(shopper.locator("[data-bargain-cut]")).to_have_text("−¥15.00")
    expect(shopper.locator("[data-total]")).to_have_text("¥108.45")
    labels = {"name": "收货人", "phone": "手机号", "province": "省份", "city": "城市", "district": "区县",
              "detail": "详细地址"}  # fmt: skip
    for field, label in labels.items():
        shopper.get_by_label(label, exact=True).fill(ADDRESS[field])
    shopper.get_by_role("button", name="提交订单并支付").click()
    expect(shopper.locator("h1")).to_have_text("¥108.45")
    shopper.get_by_test_id("pay").click()
    shopper.wait_for_url(f"{site.url}/pay/return/**")
    shopper.goto(link)
    expect(shopper.locator("[data-bargain-phase]")).to_have_text("已下单")
    expect(shopper.locator("[data-buy-now]")).to_have_count(0)
    buyer.close()

    # The brand's dashboard: started, paid, GMV and the cut it funded, charted.
    brand = browser.new_context(**PHONE)
    page = watched(brand, violations)
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}")
    page.get_by_role("link", name="砍价").click()
    page.wait_for_url(f"**/brand/{shop.brand_id}/bargains")
    row = page.locator(f'[data-bargain-offers] tr[data-bargain-offer="{offer_id}"]')
    expect(row).to_contain_text("砍价精华液 30ml")
    expect(row.locator("[data-started]")).to_have_text("1")
    expect(row.locator("[data-paid]")).to_have_text("1")
    expect(row.locator("[data-gmv]")).to_have_text("¥108.45")
    expect(row.locator("[data-cost]")).to_have_text("¥15.00")
    page.locator("[data-campaign-charts][data-drawn='true']").wait_for()
    assert page.evaluate("Chart.getChart('chart-campaign-money').data.datasets.map((d) => d.data)") == [
        [108.45], [15.0]]  # fmt: skip
    page.screenshot(path=screenshot_path("bargain-dashboard"), full_page=True)

    # A new offer: a floor above the price is refused next to the field; then it is made.
    form = page.locator("#bargain-form")
    form.get_by_label("商品规格").select_option(str(shop.sku_id))
    form.get_by_label("底价（元）").fill("200")
    form.get_by_label("助力人数").fill("5")
    form.get_by_label("开始时间").fill(page.evaluate(LOCAL, 60))
    form.get_by_label("结束时间").fill(page.evaluate(LOCAL, 7200))
    form.get_by_role("button", name="创建砍价").click()
    floor = form.get_by_label("底价（元）")
    expect(floor).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-field-error]")).to_have_text("砍价底价须低于商品原价")
    floor.fill("99")
    form.get_by_role("button", name="创建砍价").click()
    expect(page.locator("[data-bargain-offers] tbody tr")).to_have_count(2)
    expect(page.locator("[data-bargain-offers] tbody tr").first).to_contain_text("¥123.45 → ¥99.00 · 5 人助力")
    brand.close()
    assert violations == [], violations  # every page and script of the flow under the strict policy
