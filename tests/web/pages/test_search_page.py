"""Search in Chromium on the live site, whose worker carries the catalog and videos into the search index:
suggestions as you type, choosing one, narrowing with a facet, a hashtag page, an artist's profile with their
videos and a follow button, and names with markup shown as text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser import LiveServer, screenshot_path
from tests.celery_worker import wait_until
from tests.web.pages.shops import XSS_NAME, open_shop, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def indexed(site: LiveServer) -> None:
    from core import outbox

    def drained() -> bool:
        with site.app.extensions["db"].session() as s:
            return outbox.pending_count(s) == 0

    wait_until(drained, timeout=60, message="the worker's relay indexing the shops")


def test_suggestions_results_facets_hashtags_and_artists(page: Any, worker_site: LiveServer) -> None:
    site = worker_site
    summer = open_shop(site, slug="summer", prefix="夏日", hashtags=("护肤",))
    autumn = open_shop(site, slug="autumn", prefix="秋日", hashtags=("护肤", "秋冬"))
    indexed(site)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # Suggestions as you type, chosen with the keyboard.
    page.goto(f"{site.url}/search")
    box = page.get_by_role("combobox")
    # One input event, so one list: keystrokes further apart than the debounce (a loaded machine) would ask
    # twice, and the later list could replace the options the test is reading.
    box.fill("夏日")
    listbox = page.get_by_role("listbox")
    listbox.get_by_role("option").first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    texts = [t.strip() for t in listbox.get_by_role("option").evaluate_all("els => els.map(e => e.dataset.text)")]
    assert "夏日护肤分享" in texts, texts
    for _ in range(texts.index("夏日护肤分享") + 1):
        box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == f"suggestion-{texts.index('夏日护肤分享')}"
    box.press("Enter")
    page.wait_for_url("**/search?*")
    assert parse_qs(urlsplit(page.url).query)["q"] == ["夏日护肤分享"]
    assert page.locator(f'#results [data-video-id="{summer.video_id}"]').get_attribute("href") == (
        f"/v/{summer.video_id}"
    )

    # A broader query finds both videos; the brand facet narrows to one.
    page.goto(f"{site.url}/search?q=护肤")
    results = page.locator("#results [data-video-id]")
    assert results.count() == 2
    page.get_by_text("筛选与排序").click()
    page.locator('[data-facet="brand"]').get_by_label("秋日品牌").check()  # the form applies itself on change
    page.wait_for_url("**brand=*")
    assert [results.nth(i).get_attribute("data-video-id") for i in range(results.count())] == [str(autumn.video_id)]
    page.screenshot(path=screenshot_path("search-results"), full_page=True)

    # Products: a name with markup is text, and nothing in it ran.
    page.get_by_role("link", name="商品").click()
    page.wait_for_url("**type=products*")
    page.locator("#results").get_by_text(XSS_NAME).first.wait_for()
    assert page.locator("#results img").count() == 0
    assert page.evaluate("window.__xss") is None

    # "More" appends the next page in place: one result a page, both shown after one tap, the URL unchanged.
    first_page = f"{site.url}/search?q=护肤&limit=1"
    page.goto(first_page)
    assert results.count() == 1
    more = page.get_by_role("link", name="更多结果")
    assert "limit=1" in (more.get_attribute("href") or "")  # the page size carries over
    more.click()
    expect(results).to_have_count(2)
    assert {results.nth(i).get_attribute("data-video-id") for i in range(2)} == {
        str(summer.video_id),
        str(autumn.video_id),
    }
    expect(more).to_have_count(0)  # the last page: no more link
    expect(results.nth(1)).to_be_focused()  # keyboard users carry on from the first new result
    assert unquote(page.url) == first_page

    # The hashtag page lists the videos carrying it.
    page.goto(f"{site.url}/tag/护肤")
    ids = {page.locator(".ds-grid [data-video-id]").nth(i).get_attribute("data-video-id") for i in range(2)}
    assert ids == {str(summer.video_id), str(autumn.video_id)}
    page.goto(f"{site.url}/tag/秋冬")
    assert page.locator(".ds-grid [data-video-id]").count() == 1

    # The artist's profile shows their videos; following asks to sign in first, then counts.
    page.goto(f"{site.url}/search?q=夏日艺人&type=artists")
    page.locator("#results [data-artist-id]").first.click()
    page.locator(f'#videos [data-video-id="{summer.video_id}"]').wait_for()
    artist_url = urlsplit(page.url).path
    page.get_by_role("button", name="关注").click()
    page.wait_for_url("**/login?next=*")
    sign_in(page, site, summer.buyer_email, artist_url)
    page.get_by_role("button", name="关注").click()
    page.get_by_role("button", name="已关注").wait_for()
    assert page.locator("[data-followers]").inner_text() == "1"
    assert dialogs == []
