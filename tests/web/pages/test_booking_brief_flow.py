"""The brief check in Chromium at a phone's size, the brand in Chinese and the artist in English: a draft that misses
the brief (too short, a hashtag and a product card missing) shows both sides the checklist and cannot be approved;
the artist fixes it for a revision round; the brand approves; the video goes live under its real title. On every
booking page the tab bar stays, the timeline reads as sentences without internal ids, and "waiting for you" shows
only for the side that must act."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.media.clips import make_clip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERNAL_ID = re.compile(r"\b(id|_id)\b\s*[=:#]\s*\d|#\d+|booking\s*#|\b[a-z]+_[a-z_]+\b|[{}]")


def sign_in(page: Any, site: LiveServer, email: str, *, en: bool = False) -> None:
    page.goto(f"{site.url}/login?next=/bookings")
    page.get_by_label("E-mail" if en else "邮箱").fill(email)
    page.get_by_label("Password" if en else "密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in" if en else "登录").click()
    page.wait_for_url(f"{site.url}/bookings")


def seed(site: LiveServer) -> dict[str, int]:
    from commerce.artists import metrics, profiles
    from commerce.artists.models import LengthTier

    with site.app.extensions["db"].session() as s:
        owner = factories.user(s, email="brief-owner@example.com", display_name="品牌主理人")
        brand = factories.brand(s, owner=owner, name="花西子")
        factories.product(s, brand=brand, name="空气蜜粉", category="beauty.makeup", prices=(15900,))
        factories.product(s, brand=brand, name="雕花口红", category="beauty.makeup", prices=(21900,))
        artist = factories.user(s, email="brief-artist@example.com", artist=True, display_name="小鹿")
        s.commit()
        profiles.update_profile(s, artist, {"categories": ["beauty.makeup"], "rates": {LengthTier.UP_TO_60S: 200_000}})
        metrics.refresh(s)
        return {"artist": artist.id}


def tab_bar_stays(page: Any) -> None:
    tabs = page.locator("nav.app-tabs")
    assert tabs.is_visible()
    box = tabs.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] == pytest.approx(844, abs=1)  # pinned to the bottom of the phone's screen


def timeline_has_no_ids(page: Any) -> str:
    text = page.locator("[data-timeline]").inner_text()
    assert text.strip()
    assert not INTERNAL_ID.search(text), text
    return text


def inbox_waiting(page: Any, site: LiveServer, booking_url: str, side: str) -> bool:
    page.goto(f"{site.url}/bookings?side={side}")
    tab_bar_stays(page)
    row = page.locator(f'[data-booking-id="{booking_url.rsplit("/", 1)[-1]}"]')
    row.wait_for()
    return row.locator("[data-waiting]").count() == 1


def upload_draft(ap: Any, clip: Path, *, title: str, hashtags: str | None, drop_product: str | None) -> None:
    form = ap.locator("form[data-draft-upload]")
    form.get_by_label("Title").fill(title)
    if hashtags is not None:
        form.get_by_label("Hashtags (comma separated)").fill(hashtags)
    if drop_product:
        form.get_by_label(drop_product).uncheck()
    form.locator("input[name=draft_file]").set_input_files(str(clip))
    form.get_by_role("button", name="Upload and submit").click()


def test_a_draft_that_misses_the_brief_is_fixed_before_the_brand_can_approve_it(
    browser: Any, page: Any, worker_site: LiveServer, tmp_path: Path
) -> None:
    site = worker_site  # a real Celery worker transcodes each draft, so its length is the one ffprobe measured
    seed(site)
    sign_in(page, site, "brief-owner@example.com")
    page.goto(f"{site.url}/campaigns/new")
    tab_bar_stays(page)
    page.get_by_label("标题").fill("秋冬底妆种草")
    page.locator("select[name=category]").select_option("beauty.makeup")
    page.get_by_label("空气蜜粉").check()
    page.get_by_label("雕花口红").check()
    page.get_by_label("预算下限（元）").fill("1000")
    page.get_by_label("预算上限（元）").fill("3000")
    page.get_by_label("最短时长（秒）").fill("3")
    page.get_by_label("最长时长（秒）").fill("60")
    page.get_by_label("草稿截止（北京时间）").fill("2030-01-15T18:00")
    page.get_by_label("话题（用逗号分隔）").fill("花西子，秋冬底妆")
    page.screenshot(path=screenshot_path("booking-brief-0-campaign"), full_page=True)
    page.get_by_role("button", name="保存并匹配艺人").click()
    page.wait_for_url("**/match?campaign=*")
    tab_bar_stays(page)
    card = page.locator(".bk-match").first
    card.get_by_role("button", name="邀请").click()
    card.get_by_text("已邀请").wait_for()

    artist = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                 has_touch=True, locale="en-US")  # fmt: skip
    ap = artist.new_page()
    sign_in(ap, site, "brief-artist@example.com", en=True)
    ap.get_by_text("秋冬底妆种草").click()
    ap.wait_for_url("**/bookings/*")
    booking_url = ap.url.split("?")[0]
    assert inbox_waiting(page, site, booking_url, "brand") is False  # invited: the artist answers
    assert inbox_waiting(ap, site, booking_url, "artist") is True
    ap.goto(booking_url)
    ap.get_by_role("button", name="Accept").click()
    ap.locator('[data-state="accepted"]').wait_for()
    assert ap.locator("[data-waiting]").count() == 0  # the brand funds it now

    page.goto(booking_url)
    assert page.locator("[data-waiting]").count() == 1
    page.get_by_role("button", name="在线支付托管").click()
    page.wait_for_url("**/sandbox/pay/*")
    page.get_by_test_id("pay").click()
    page.wait_for_url(booking_url)
    page.locator('[data-state="funded"]').wait_for()
    assert page.locator("[data-waiting]").count() == 0

    # The first draft misses the brief three ways: 1.5 s long (3–60 s asked), no hashtags, one product card left off.
    ap.goto(booking_url)
    tab_bar_stays(ap)
    assert ap.locator("[data-waiting]").count() == 1
    assert "3–60 s" in ap.locator("form[data-draft-upload]").inner_text()
    upload_draft(ap, make_clip("square", tmp_path), title="IMG_0412", hashtags="", drop_product="雕花口红")
    ap.locator('[data-state="draft_submitted"]').wait_for(timeout=120_000)
    check = ap.locator("[data-brief-check]")
    assert check.get_attribute("data-ok") == "false"
    assert "1.5 s long: shorter than 3–60 s" in check.inner_text()
    assert "Missing the must-have hashtags #花西子 #秋冬底妆" in check.inner_text()
    assert "Does not link the promoted products 「雕花口红」" in check.inner_text()
    assert "Fix what is marked and submit the draft again" in check.inner_text()
    assert ap.locator("[data-waiting]").count() == 1  # the fix is the artist's move
    tab_bar_stays(ap)
    timeline_has_no_ids(ap)
    ap.screenshot(path=screenshot_path("booking-brief-1-artist-sees-the-checklist"), full_page=True)

    # The brand sees the same checklist and cannot approve; the API says why when asked anyway.
    page.goto(booking_url)
    tab_bar_stays(page)
    assert page.locator("[data-brief-check]").get_attribute("data-ok") == "false"
    assert "缺少必带话题 #花西子 #秋冬底妆" in page.locator("[data-brief-check]").inner_text()
    approve = page.locator('form[data-action="approve"] button')
    assert approve.is_disabled()
    why = page.locator("[data-approve-blocked]").inner_text()
    assert "草稿未满足需求，不能通过" in why
    assert "短于要求的 3–60 秒" in why
    assert "未挂推广商品 「雕花口红」" in why
    assert page.locator("[data-waiting]").count() == 0  # nothing the brand can approve yet
    booking_id = booking_url.rsplit("/", 1)[-1]
    status, title = page.evaluate(
        f"xl.api('POST', '/api/v1/bookings/{booking_id}/approve', {{}}, {{idempotent: true}})"
        ".then(r => [r.status, r.data.title])"
    )
    assert status == 409
    assert "草稿不符合需求，不能通过" in title
    assert "缺少必带话题 #花西子 #秋冬底妆" in title
    text = timeline_has_no_ids(page)
    assert "艺人 小鹿 提交了草稿「IMG_0412」" in text
    assert "品牌 品牌主理人 将 ¥2000.00 存入担保" in text
    page.screenshot(path=screenshot_path("booking-brief-2-brand-cannot-approve"), full_page=True)
    assert inbox_waiting(page, site, booking_url, "brand") is False
    assert inbox_waiting(ap, site, booking_url, "artist") is True

    # The artist fixes it: a 5 s cut, the tags (prefilled from the brief) and both cards, for one revision round.
    ap.goto(booking_url)
    assert "Submitting again uses 1 revision round" in ap.locator(".bk-steps").inner_text()
    upload_draft(ap, make_clip("portrait", tmp_path), title="空气蜜粉上妆实测 草稿", hashtags=None, drop_product=None)
    ap.locator('[data-brief-check][data-ok="true"]').wait_for(timeout=120_000)
    assert "The draft meets the brief" in ap.locator("[data-brief-check]").inner_text()
    assert ap.locator("[data-waiting]").count() == 0  # now the brand reviews it
    assert "1 / 2" in ap.locator(".bk-facts").inner_text()
    timeline_has_no_ids(ap)
    ap.screenshot(path=screenshot_path("booking-brief-3-artist-fixed-it"), full_page=True)
    assert inbox_waiting(ap, site, booking_url, "artist") is False

    assert inbox_waiting(page, site, booking_url, "brand") is True
    page.goto(booking_url)
    assert page.locator("[data-waiting]").count() == 1
    assert "草稿符合需求" in page.locator("[data-brief-check]").inner_text()
    page.screenshot(path=screenshot_path("booking-brief-4-brand-may-approve"), full_page=True)
    page.get_by_role("button", name="通过草稿").click()
    page.locator('[data-state="approved"]').wait_for()
    assert page.locator("[data-waiting]").count() == 0

    ap.goto(booking_url)
    assert ap.locator("[data-waiting]").count() == 1
    ap.get_by_role("button", name="Publish").click()
    ap.locator('[data-state="published"]').wait_for()
    tab_bar_stays(ap)
    assert ap.locator("[data-video-title]").inner_text() == "空气蜜粉上妆实测"
    video_id = ap.locator("[data-video-id]").get_attribute("data-video-id")
    live = ap.request.get(f"{site.url}/api/v1/videos/{video_id}").json()
    assert live["title"] == "空气蜜粉上妆实测"  # not the file name, not "draft"
    text = timeline_has_no_ids(ap)
    assert "Artist 小鹿 published “空气蜜粉上妆实测”" in text
    assert ap.locator("[data-waiting]").count() == 0
    ap.screenshot(path=screenshot_path("booking-brief-5-published"), full_page=True)
    artist.close()

    page.goto(booking_url)
    tab_bar_stays(page)
    assert page.locator("[data-waiting]").count() == 0  # the live check runs; nobody has to act
    assert "艺人 小鹿 发布了视频「空气蜜粉上妆实测」" in timeline_has_no_ids(page)
    assert inbox_waiting(page, site, booking_url, "brand") is False
