"""The booking flow in Chromium: a brand writes a brief, sees a ranked list, invites the top artist; the artist
accepts and delivers a draft; the brand approves; the artist is paid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.media.clips import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page: Any, site: LiveServer, email: str) -> None:
    page.goto(f"{site.url}/login?next=/bookings")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}/bookings")


def seed(site: LiveServer) -> dict[str, int]:
    from commerce.artists import metrics, profiles
    from commerce.artists.models import LengthTier

    with site.app.extensions["db"].session() as s:
        owner = factories.user(s, email="brand-owner@example.com", display_name="品牌主理人")
        brand = factories.brand(s, owner=owner, name="花西子")
        factories.product(s, brand=brand, name="空气蜜粉", category="beauty.makeup", prices=(15900,))
        top = factories.user(s, email="top@example.com", artist=True, display_name="对口达人")
        dear = factories.user(s, email="dear@example.com", artist=True, display_name="天价达人")
        s.commit()
        profiles.update_profile(s, top, {"categories": ["beauty.makeup"], "rates": {LengthTier.UP_TO_60S: 200_000}})
        profiles.update_profile(s, dear, {"categories": ["beauty.makeup"], "rates": {LengthTier.UP_TO_60S: 900_000},
                                          "declared_followers": 8_000_000})  # fmt: skip
        metrics.refresh(s)
        return {"top": top.id, "dear": dear.id}


def test_brand_books_the_top_artist_who_delivers_and_is_paid(
    browser: Any, page: Any, worker_site: LiveServer, tmp_path: Path
) -> None:
    site = worker_site  # a real Celery worker transcodes the draft and runs the payment tasks
    ids = seed(site)
    sign_in(page, site, "brand-owner@example.com")
    page.goto(f"{site.url}/campaigns/new")
    page.get_by_label("标题").fill("秋冬底妆种草")
    page.locator("select[name=category]").select_option("beauty.makeup")
    page.get_by_label("空气蜜粉").check()
    page.get_by_label("预算下限（元）").fill("1000")
    page.get_by_label("预算上限（元）").fill("3000")
    page.get_by_label("草稿截止（北京时间）").fill("2030-01-15T18:00")
    page.get_by_label("话题（用逗号分隔）").fill("秋冬底妆")
    page.screenshot(path=screenshot_path("booking-1-campaign-editor"), full_page=True)
    page.get_by_role("button", name="保存并匹配艺人").click()
    page.wait_for_url("**/match?campaign=*")
    cards = page.locator(".bk-match")
    cards.first.wait_for()
    assert cards.first.get_attribute("data-artist-id") == str(ids["top"])
    assert cards.count() == 2
    assert "自报粉丝" in cards.nth(1).inner_text()  # the dear artist's claim, labelled and not scored
    page.screenshot(path=screenshot_path("booking-2-ranked"), full_page=True)
    cards.first.get_by_role("button", name="邀请").click()
    cards.first.get_by_text("已邀请").wait_for()

    artist = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    ap = artist.new_page()
    sign_in(ap, site, "top@example.com")
    ap.get_by_text("秋冬底妆种草").click()
    ap.wait_for_url("**/bookings/*")
    ap.get_by_role("button", name="接受").click()
    ap.locator('[data-state="accepted"]').wait_for()
    ap.screenshot(path=screenshot_path("booking-3-artist-accepted"), full_page=True)
    booking_url = ap.url

    # The brand pays the fee into escrow at the (sandbox) payment provider and comes back.
    page.goto(booking_url)
    page.get_by_role("button", name="在线支付托管").click()
    page.wait_for_url("**/sandbox/pay/*")
    page.get_by_test_id("pay").click()
    page.wait_for_url(booking_url)
    page.locator('[data-state="funded"]').wait_for()
    assert "¥2000.00" in page.locator("[data-escrow]").inner_text()
    page.screenshot(path=screenshot_path("booking-4-funded"), full_page=True)

    # The artist delivers a draft through the media pipeline: a resumable upload, private and unpublished.
    ap.goto(booking_url)
    ap.locator("input[name=draft_file]").set_input_files(str(make_clip("square", tmp_path)))
    ap.get_by_role("button", name="上传并提交").click()
    # The page waits for the worker to process the draft, then submits it.
    ap.locator('[data-state="draft_submitted"]').wait_for(timeout=120_000)
    video_id = latest_video(site, ids["top"])
    ap.screenshot(path=screenshot_path("booking-5-draft-submitted"), full_page=True)

    # The brand watches the private draft on the booking page and approves it.
    page.goto(booking_url)
    player = page.locator(f'[data-video-id="{video_id}"] video')
    player.wait_for()
    # no-store: the player may already hold part of the file in Chromium's cache, and a fetch
    # completed from that partial entry is a range request the server rightly answers with 206.
    src = player.get_attribute("src")
    assert page.evaluate("(u) => fetch(u, {cache: 'no-store'}).then(r => r.status)", src) == 200
    page.get_by_role("button", name="通过草稿").click()
    page.locator('[data-state="approved"]').wait_for()

    # The artist publishes: live, with the campaign's product card.
    ap.goto(booking_url)
    ap.get_by_role("button", name="发布视频").click()
    ap.locator('[data-state="published"]').wait_for()

    # After the live check the periodic job completes the booking and pays the artist from escrow.
    from commerce.booking import timers
    from commerce.booking.bookings import Deps
    from core import clock
    from core.clock import FrozenClock, use_clock

    settings = site.app.config["SETTINGS"]
    later = FrozenClock(clock.now() + dt.timedelta(hours=settings.booking_live_check_hours + 1))
    with use_clock(later), site.app.extensions["db"].session() as s:
        assert timers.sweep(s, deps=Deps.from_settings(settings, s)) == {"completed": 1, "paid": 1}
    ap.goto(booking_url)
    ap.locator('[data-state="paid"]').wait_for()
    assert "¥1900.00" in ap.locator("[data-paid]").inner_text()  # ¥2000 less the 5 % platform fee
    wallet = ap.request.get(f"{site.url}/api/v1/wallet").json()
    assert wallet["available"] == 190_000
    ap.screenshot(path=screenshot_path("booking-6-paid"), full_page=True)
    artist.close()

    # The brand rates the artist; the rating feeds the artist's measured reliability.
    page.goto(booking_url)
    page.locator("#rating-form select[name=stars]").select_option("5")
    page.get_by_role("button", name="提交评价").click()
    page.locator("[data-rating]").wait_for()


def latest_video(site: LiveServer, artist_id: int) -> int:
    """The draft the artist delivered: processed by the worker, private and unpublished."""
    from sqlalchemy import select

    from media.models import Video, VideoStatus

    with site.app.extensions["db"].session() as s:
        video = s.scalar(select(Video).where(Video.uploader_id == artist_id).order_by(Video.id.desc()).limit(1))
        assert video is not None
        assert video.status == VideoStatus.READY
        assert not video.is_live
        return video.id
