"""The product sheet's flash-sale card in Chromium: countdown and units left, a buyer grabs the last unit and goes
on to checkout, the next buyer sees it sold out."""

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
from tests.web.pages.shops import open_shop, sign_in

pytestmark = pytest.mark.browser


def test_a_buyer_grabs_the_last_unit_and_the_next_sees_it_sold_out(browser: Any, page: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="flash", prefix="秒杀")
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        sale = flash_sales.schedule(
            s, owner, shop.brand_id, sku_id=shop.sku_id, price_fen=990, quantity=1,
            starts_at=clock.now() - dt.timedelta(seconds=5), ends_at=clock.now() + dt.timedelta(hours=2),
        )  # fmt: skip
        second = factories.user(s, email="flash-second@example.com", created_at=clock.now() - dt.timedelta(days=9))
        s.commit()
        sale_id, second_email = sale.id, second.email

    sign_in(page, site, shop.buyer_email, f"/p/{shop.product_id}")
    page.get_by_role("button", name="选择规格并购买").click()
    card = page.get_by_role("dialog").locator(f"[data-flash-sale='{sale_id}']")
    expect(card.locator("[data-flash-countdown]")).to_contain_text("距结束 01:5")
    expect(card).to_contain_text("¥9.90")
    expect(card).to_contain_text("剩 1 件")
    page.screenshot(path=screenshot_path("flash-sale-card"))
    card.get_by_role("button", name="立即抢购").click()
    page.wait_for_url(lambda url: "/checkout?" in url and f"sku={shop.sku_id}" in url)

    other = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    late = other.new_page()
    sign_in(late, site, second_email, f"/p/{shop.product_id}")
    late.get_by_role("button", name="选择规格并购买").click()
    card = late.get_by_role("dialog").locator(f"[data-flash-sale='{sale_id}']")
    expect(card.get_by_role("button", name="已抢光")).to_be_disabled()
    expect(card).to_have_class("flash-card flash-sold-out")
    late.screenshot(path=screenshot_path("flash-sale-sold-out"))
    other.close()
