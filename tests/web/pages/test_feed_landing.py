"""What a visitor sees arriving, in Chromium: the site's icon (no 404 in the console), and a share link that is
tampered with or expired saying so, in zh-CN and English, with a way on to the video or the feed, recording no
attribution; a valid link still attributes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import LiveServer

pytestmark = [pytest.mark.browser]


def new_page(browser: Any, locale: str = "zh-CN") -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale)  # fmt: skip
    return context.new_page()


@pytest.mark.parametrize("path", ["/", "/login", "/search"])
def test_the_icon_is_served_and_nothing_404s(browser: Any, site: LiveServer, path: str) -> None:
    page = new_page(browser)
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url + path)
    page.wait_for_load_state("networkidle")
    icon = page.locator("link[rel=icon]")
    assert icon.count() == 1
    href = icon.get_attribute("href")
    response = page.request.get(site.url + "/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert page.request.get(site.url + href).status == 200
    page.context.close()
    assert failed == [], failed
    assert errors == [], errors


TEXT = {
    "zh-CN": {"expired": "这个分享链接已过期", "tampered": "这个分享链接无效", "video": "看看这个视频",
              "feed": "去首页看更多视频"},
    "en": {"expired": "This share link has expired", "tampered": "This share link is not valid",
           "video": "Watch the video", "feed": "Browse more videos"},
}  # fmt: skip


def share_links(site: LiveServer) -> tuple[int, dict[str, str]]:
    """A live video and three links to it: valid, with a tampered signature, and past its validity."""
    import datetime as dt

    from commerce.attribution import links, service
    from commerce.attribution.links import ShareClaim, TargetKind
    from core import clock
    from tests import factories
    from tests.search.test_feed_playback import MANIFEST

    settings = site.app.config["SETTINGS"]
    policy = site.app.extensions["money_policy"]
    keys = settings.signing_keys()
    with site.app.extensions["db"].session() as s:
        sharer = factories.user(s)
        video = factories.video(s, uploader=factories.user(s, artist=True), title="分享的视频", manifest=dict(MANIFEST))
        s.commit()
        valid = service.create_share_link(s, sharer, target_kind=TargetKind.VIDEO, target_id=video.id, keys=keys,
                                          policy=policy, base_url=site.url)  # fmt: skip
        old = clock.now().replace(microsecond=0) - policy.share_link_ttl - dt.timedelta(days=1)
        expired = links.sign(ShareClaim(sharer.id, TargetKind.VIDEO, video.id, old, keys[0][0]), keys)
        video_id = video.id
    signature = valid.token.rsplit(".", 1)[1]
    tampered = valid.token[: -len(signature)] + signature[::-1]
    return video_id, {"valid": valid.url, "tampered": f"{site.url}/s/{tampered}", "expired": f"{site.url}/s/{expired}"}


def clicks(site: LiveServer) -> int:
    from sqlalchemy import func, select

    from commerce.attribution.models import ShareClick

    with site.app.extensions["db"].session() as s:
        return int(s.scalar(select(func.count()).select_from(ShareClick)) or 0)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", ["tampered", "expired"])
def test_a_bad_share_link_says_so_and_attributes_nothing(
    browser: Any, site: LiveServer, kind: str, locale: str
) -> None:
    video_id, urls = share_links(site)
    before = clicks(site)
    page = new_page(browser, locale)
    response = page.goto(urls[kind])
    assert response.status == (410 if kind == "expired" else 404)
    assert page.url == urls[kind]  # no silent redirect
    text = TEXT[locale]
    assert page.get_by_role("heading", level=1).inner_text() == text[kind]
    to_video = page.get_by_role("link", name=text["video"])
    if kind == "expired":  # authentic, just old: what was shared is still offered
        assert to_video.get_attribute("href").startswith(f"/v/{video_id}")
        to_video.click()
        page.wait_for_url(f"**/v/{video_id}*", wait_until="domcontentloaded")  # the player keeps loading
        assert page.locator(f'.slide[data-video-id="{video_id}"]').count() == 1
        page.go_back()
    else:
        assert to_video.count() == 0  # nothing in a forged link is trusted
    page.get_by_role("link", name=text["feed"]).click()
    page.wait_for_url(lambda url: url.split("?")[0].rstrip("/") == site.url, wait_until="domcontentloaded")
    assert clicks(site) == before
    assert "xl_click" not in {c["name"] for c in page.context.cookies()}
    page.context.close()


def test_a_valid_share_link_still_attributes(browser: Any, site: LiveServer) -> None:
    video_id, urls = share_links(site)
    before = clicks(site)
    page = new_page(browser)
    page.goto(urls["valid"])
    page.wait_for_url(f"**/v/{video_id}?click=*", wait_until="domcontentloaded")
    assert clicks(site) == before + 1
    assert "xl_click" in {c["name"] for c in page.context.cookies()}
    page.context.close()
