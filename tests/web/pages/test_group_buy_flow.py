"""拼团 in Chromium at a phone viewport: the opener opens a group from the product sheet and pays in the sandbox, takes
the group's share link from its page; a friend follows the link to the group, joins, pays; both see the group
completed. The friend's order credits the opener as its sharer, as any share would; nothing more."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commerce.marketing import group_buys
from commerce.marketing.models import GroupBuyGroup, GroupStatus
from commerce.orders.models import Order
from core import clock
from core.accounts.models import User
from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import ADDRESS, PRICE, open_shop, sign_in
from tests.web.pages.test_csp import RECORD
from tests.web.pages.test_flash_sales_flow import LOCAL

pytestmark = pytest.mark.browser

GROUP_PRICE = 9_900
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
LABELS = {
    "name": "收货人",
    "phone": "手机号",
    "province": "省份",
    "city": "城市",
    "district": "区县",
    "detail": "详细地址",
}


def phone(browser: Any, violations: list[str]) -> Any:
    """A phone-sized context that reports every Content-Security-Policy violation to the test."""
    context = browser.new_context(**PHONE)
    context.expose_binding("__cspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(RECORD)
    return context


def check_out_and_pay(page: Any, site: LiveServer, detail: str) -> None:
    """On the checkout page at the group price: the address, the order, the sandbox's pay page, back."""
    expect(page.locator("[data-total]")).to_have_text("¥99.00")
    expect(page.locator("[data-group-buy]")).to_contain_text("拼团价：成团后发货")
    for field, label in LABELS.items():
        page.get_by_label(label, exact=True).fill(detail if field == "detail" else ADDRESS[field])
    page.get_by_role("button", name="提交订单并支付").click()
    expect(page.locator("h1")).to_have_text("¥99.00")
    page.get_by_test_id("pay").click()
    page.wait_for_url(f"{site.url}/pay/return/**")
    expect(page.get_by_test_id("payment-status")).to_have_text("支付成功")
    page.get_by_role("link", name="查看拼团进度").click()
    page.wait_for_url(f"{site.url}/group/**")


def test_open_from_the_sheet_share_join_pay_and_both_see_it_complete(browser: Any, page: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="pintuan", prefix="拼团")
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        offer = group_buys.create_offer(
            s, owner, shop.brand_id, sku_id=shop.sku_id, price_fen=GROUP_PRICE, group_size=2, window_hours=24,
            starts_at=clock.now(), ends_at=clock.now() + dt.timedelta(days=3),
        )  # fmt: skip
        friend = factories.user(s, email="pintuan-friend@example.com", created_at=clock.now() - dt.timedelta(days=30))
        s.commit()
        offer_id, friend_email = offer.id, friend.email

    # The opener finds the group buy in the product sheet and opens a group at the group price.
    violations: list[str] = []
    opener_ctx = phone(browser, violations)
    opener = opener_ctx.new_page()
    sign_in(opener, site, shop.buyer_email, f"/p/{shop.product_id}")
    opener.get_by_role("button", name="选择规格并购买").click()
    card = opener.get_by_role("dialog").locator(f'[data-group-buy="{offer_id}"]')
    expect(card).to_contain_text("2 人团")
    opener.screenshot(path=screenshot_path("group-buy-sheet"))
    card.get_by_role("button", name="拼团 ¥99.00").click()
    opener.wait_for_url(lambda url: "/checkout?" in url and f"sku={shop.sku_id}" in url)
    check_out_and_pay(opener, site, "文三路 1 号")
    page_box = opener.locator("#group-page")
    expect(page_box.locator("[data-group-members]")).to_have_text("1/2")
    expect(page_box.locator("[data-group-paid]")).to_have_text("1/2")
    expect(page_box.locator("[data-group-status]")).to_have_text("还差 1 人支付即可成团")
    expect(page_box.locator("[data-group-time-left]")).to_contain_text("剩余 23:5")
    expect(page_box.get_by_role("button", name="已支付")).to_be_disabled()
    opener.get_by_role("button", name="获取分享链接").click()
    share = opener.locator("[data-group-share-url]")
    expect(share).to_be_visible()
    expect(share).not_to_have_value("")
    url = share.input_value()
    assert url.startswith(f"{site.url}/s/")
    group_id = int(url.rsplit("g=", 1)[1])
    assert opener.url.startswith(f"{site.url}/group/{group_id}")
    opener.screenshot(path=screenshot_path("group-buy-waiting"))

    # The friend follows the share link to the group, joins, and pays at the group price.
    friend_ctx = phone(browser, violations)
    member = friend_ctx.new_page()
    sign_in(member, site, friend_email, "/me")
    member.goto(url)
    member.wait_for_url(f"{site.url}/group/{group_id}?click=**")
    expect(member.locator("#group-page [data-group-members]")).to_have_text("1/2")
    member.get_by_role("button", name="参加拼团").click()
    member.wait_for_url(lambda u: "/checkout?" in u and "click=" in u)
    check_out_and_pay(member, site, "天目山路 88 号")
    expect(member.locator("#group-page [data-group-status]")).to_have_text("拼团成功！订单将尽快发货")
    expect(member.locator("#group-page [data-group-paid]")).to_have_text("2/2")
    member.screenshot(path=screenshot_path("group-buy-complete-member"))

    # The opener's page, left open, hears of it (it asks the group's state every few seconds); in English too.
    expect(opener.locator("#group-page [data-group-status]")).to_have_text("拼团成功！订单将尽快发货", timeout=30_000)
    expect(opener.locator("#group-page [data-group-members]")).to_have_text("2/2")
    opener.goto(f"{site.url}/group/{group_id}?lang=en")
    expect(opener.locator("#group-page [data-group-status]")).to_have_text("The group is complete! Orders ship soon")
    opener_ctx.close()
    friend_ctx.close()
    assert violations == []  # the sheet, the group page and checkout all under the strict policy

    with site.app.extensions["db"].session() as s:
        group = s.get(GroupBuyGroup, group_id)
        assert group is not None
        assert (group.status, group.paid) == (GroupStatus.COMPLETED, 2)
        leader = s.scalar(select(User).where(User.email == shop.buyer_email))
        friend_order = s.scalar(select(Order).join(User, User.id == Order.buyer_id).where(User.email == friend_email))
        assert leader is not None
        assert friend_order is not None
        assert friend_order.total == GROUP_PRICE
        assert friend_order.lines[0].sharer_id == leader.id  # the usual share credit, through the leader's link
        assert friend_order.lines[0].unit_price == GROUP_PRICE < PRICE

    # A stranger finds the group complete: nothing to join.
    page.goto(f"{site.url}/group/{group_id}")
    expect(page.locator("#group-page [data-group-paid]")).to_have_text("2/2")
    expect(page.locator("#group-page [data-group-action]")).to_be_hidden()

    # The brand's dashboard: the offer's groups, members, paid, GMV and cost, charted; a new offer from the form.
    sign_in(page, site, shop.owner_email, f"/brand/{shop.brand_id}")
    page.get_by_role("link", name="拼团").click()
    page.wait_for_url(f"**/brand/{shop.brand_id}/group-buys")
    row = page.locator(f'[data-group-buys] tr[data-group-buy="{offer_id}"]')
    expect(row.locator("[data-groups]")).to_have_text("0/1/0")
    expect(row.locator("[data-joined]")).to_have_text("2")
    expect(row.locator("[data-paid]")).to_have_text("2")
    expect(row.locator("[data-gmv]")).to_have_text("¥198.00")
    expect(row.locator("[data-cost]")).to_have_text(f"¥{2 * (PRICE - GROUP_PRICE) / 100:.2f}")
    page.locator("[data-campaign-charts][data-drawn='true']").wait_for()
    assert page.evaluate("Chart.getChart('chart-campaign-money').data.datasets[0].data") == [2 * GROUP_PRICE / 100]
    form = page.locator("#group-buy-form")
    form.get_by_label("商品规格").select_option(str(shop.sku_id))
    form.get_by_label("拼团价（元）").fill("200")
    form.get_by_label("成团人数").fill("3")
    form.get_by_label("开始时间").fill(page.evaluate(LOCAL, 60))
    form.get_by_label("结束时间").fill(page.evaluate(LOCAL, 7200))
    form.get_by_role("button", name="创建拼团").click()
    price = form.get_by_label("拼团价（元）")
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-field-error]")).to_have_text("拼团价须低于商品原价")
    price.fill("88")
    form.get_by_role("button", name="创建拼团").click()
    expect(page.locator("[data-group-buys] tbody tr")).to_have_count(2)
    expect(page.locator("[data-group-buys] tbody tr").first).to_contain_text("3 人团")
    page.screenshot(path=screenshot_path("group-buy-dashboard"), full_page=True)
