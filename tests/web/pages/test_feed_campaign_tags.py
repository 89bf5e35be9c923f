"""A video's product card in the feed says when its product has a live 拼团 or 砍价 (Chromium, phone): the tag names
the group size and price or the bargain's floor, an offer not yet started has none, and the card opens the sheet
where the offer is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commerce.marketing import bargains, group_buys
from core import clock
from core.accounts.models import User
from tests.browser import LiveServer, screenshot_path
from tests.web.pages.shops import open_shop

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _offers(site: LiveServer, shop: Any, *, group_starts_in: dt.timedelta) -> tuple[int, int]:
    with site.app.extensions["db"].session() as s:
        owner = s.scalar(select(User).where(User.email == shop.owner_email))
        now = clock.now()
        group = group_buys.create_offer(
            s, owner, shop.brand_id, sku_id=shop.sku_id, price_fen=9_900, group_size=3, window_hours=24,
            starts_at=now + group_starts_in, ends_at=now + dt.timedelta(days=3),
        )  # fmt: skip
        cut = bargains.create_offer(
            s, owner, shop.brand_id, sku_id=shop.sku_id, floor_fen=7_000, max_helpers=5, window_hours=24,
            starts_at=now, ends_at=now + dt.timedelta(days=2),
        )  # fmt: skip
        return group.id, cut.id


def test_the_card_shows_the_live_group_buy_and_bargain_and_opens_the_sheet(browser: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="tags-zh", prefix="标签")
    group_id, cut_id = _offers(site, shop, group_starts_in=dt.timedelta(0))
    context = browser.new_context(**PHONE, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/v/{shop.video_id}")
    card = page.locator(f'.slide[data-video-id="{shop.video_id}"] .pcard[data-product-id="{shop.product_id}"]')
    expect(card.locator('[data-pcard-tag="group"]')).to_have_text("3 人团 ¥99.00")
    expect(card.locator('[data-pcard-tag="bargain"]')).to_have_text("砍价低至 ¥70.00")
    page.screenshot(path=screenshot_path("feed-campaign-tags"))
    card.click()
    sheet = page.get_by_role("dialog")
    expect(sheet.locator(f'[data-group-buy="{group_id}"]')).to_contain_text("3 人团")
    expect(sheet.locator(f'[data-bargain-offer="{cut_id}"]')).to_be_visible()
    context.close()


def test_an_offer_not_yet_started_has_no_tag_in_english(browser: Any, site: LiveServer) -> None:
    shop = open_shop(site, slug="tags-en", prefix="预告")
    _offers(site, shop, group_starts_in=dt.timedelta(hours=1))
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    page.goto(f"{site.url}/v/{shop.video_id}?lang=en")
    card = page.locator(f'.slide[data-video-id="{shop.video_id}"] .pcard[data-product-id="{shop.product_id}"]')
    expect(card.locator('[data-pcard-tag="bargain"]')).to_have_text("Bargain down to ¥70.00")
    expect(card.locator('[data-pcard-tag="group"]')).to_have_count(0)
    context.close()
