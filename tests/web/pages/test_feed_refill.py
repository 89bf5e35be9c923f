"""The feed in Chromium on the site `make run` serves (a real worker transcodes and indexes): a signed-in viewer who
swipes through every video still gets a full page, an autoplay swiped past at once is no view, and the product
cards leave the creator handle and the prices in sight on small and large phones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from tests import factories
from tests.browser import LiveServer, screenshot_path
from tests.celery_worker import wait_until
from tests.media.clips import AAC, H264, _tone, _video, ffmpeg
from tests.web.pages.shops import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP_SECONDS = 4.0  # a real watch of it: a quarter, one second
VIEWPORTS = [(360, 640), (390, 844), (430, 932)]
LONG_NAME = "超长昵称的时尚穿搭博主小鹿鹿 Official Fashion Channel"
LONG_TITLE = "法式碎花裙三种穿法：通勤、约会、度假一条裙子全搞定 One dress three looks for every day"
LONG_DESC = "一条裙子，通勤、约会、度假三种搭配，显瘦又百搭。" * 4
TAGS = ["穿搭", "OOTD", "连衣裙", "夏日", "通勤"]


@dataclass
class Seeded:
    videos: list[int]  # in the order the first page serves them
    viewer_email: str


def _upload(site: LiveServer, token: str, clip: Path) -> int:
    auth = {"Authorization": f"Bearer {token}"}
    data = clip.read_bytes()
    start = requests.post(f"{site.url}/api/v1/uploads", headers=auth, timeout=30, json={
        "size": len(data), "content_type": "video/mp4", "checksum_sha256": hashlib.sha256(data).hexdigest(),
        "filename": clip.name, "title": LONG_TITLE, "description": LONG_DESC, "hashtags": TAGS,
    })  # fmt: skip
    assert start.status_code == 201, start.text
    upload = start.json()
    r = requests.put(upload["chunk_url"], data=data, headers={**auth, "Upload-Offset": "0"}, timeout=30)
    assert r.status_code == 200, r.text
    assert requests.post(f"{site.url}/api/v1/uploads/{upload['id']}/complete", headers=auth, timeout=30).ok
    return int(upload["video_id"])


@pytest.fixture(scope="module")
def seeded(worker_site: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Six public videos by six creators (one clip transcoded by the worker, its ladder shared by the other five),
    each with two product cards on all the time; a viewer who has watched nothing."""
    from commerce.catalog.models import Product
    from core.accounts import service as accounts
    from core.accounts.models import User
    from core.outbox import emit
    from media.models import Video

    site = worker_site
    db = site.app.extensions["db"]
    with db.session() as s:
        creators = [factories.user(s, artist=True, display_name=f"{LONG_NAME} {n}") for n in range(6)]
        factories.user(s, email="swiper@example.com", display_name="刷不停")
        owner = factories.user(s)
        brand = factories.brand(s, owner=owner, name="花西子")
        products = [
            factories.product(s, brand=brand, name="空气蜜粉 控油定妆 持久不脱妆 大容量装", prices=(14900,)),
            factories.product(s, brand=brand, name="法式碎花连衣裙 夏季显瘦", prices=(25900,)),
        ]
        token = accounts.issue_token(s, creators[0])
        s.commit()
        product_ids = [p.id for p in products]
        creator_ids = [c.id for c in creators]

    clip = tmp_path_factory.mktemp("refill") / "clip.mp4"
    ffmpeg(*_video("360x640", CLIP_SECONDS), *_tone(CLIP_SECONDS), *H264, *AAC, "-movflags", "+faststart", str(clip))
    first = _upload(site, token, clip)

    def ready() -> bool:
        with db.session() as s:
            video = s.get(Video, first)
            assert video is not None
            assert video.status != "failed", video.error
            return bool(video.is_live)

    wait_until(ready, timeout=240, interval=1, message="the worker transcoding the clip")
    with db.session() as s:
        source = s.get(Video, first)
        assert source is not None
        ids = [first]
        for creator_id in creator_ids[1:]:
            creator = s.get(User, creator_id)
            assert creator is not None
            copy = factories.video(
                s, uploader=creator, title=LONG_TITLE, description=LONG_DESC, hashtags=TAGS,
                duration=source.duration_seconds or CLIP_SECONDS, manifest=dict(source.manifest),
            )  # fmt: skip
            ids.append(copy.id)
        for video_id in ids:
            for product_id in product_ids:
                factories.video_link(s, video=s.get(Video, video_id), product=s.get(Product, product_id))  # type: ignore[arg-type]
            emit(s, "video", video_id)
        s.commit()

    def indexed() -> bool:
        found = requests.get(f"{site.url}/api/v1/feed?limit=10", timeout=10).json()["items"]
        return {v["id"] for v in found} >= set(ids)

    wait_until(indexed, timeout=60, interval=0.5, message="the six videos reaching the feed")
    return Seeded(ids, "swiper@example.com")


def slide_ids(page: Any) -> list[int]:
    return [
        int(i)
        for i in page.evaluate("() => [...document.querySelectorAll('#feed .slide')].map(s => s.dataset.videoId)")
    ]


def current(page: Any) -> int:
    return int(
        page.evaluate("""() => { const f = document.getElementById('feed');
        const s = [...f.querySelectorAll('.slide')].find((el) => Math.abs(el.offsetTop - f.scrollTop) < 5);
        return s ? s.dataset.videoId : '0'; }""")
    )


def swipe(page: Any, key: str = "ArrowDown") -> int:
    before = current(page)
    page.keyboard.press(key)
    page.wait_for_function(
        """(before) => { const f = document.getElementById('feed');
        const s = [...f.querySelectorAll('.slide')].find((el) => Math.abs(el.offsetTop - f.scrollTop) < 2);
        return s && s.dataset.videoId !== String(before); }""",
        arg=before,
    )
    return current(page)


def views_of(site: LiveServer, email: str) -> list[tuple[int, int, bool | None]]:
    from core.accounts.models import User
    from search.models import EngagementEvent, EngagementKind

    with site.app.extensions["db"].session() as s:
        user_id = s.scalar(select(User.id).where(User.email == email))
        rows = s.execute(
            select(EngagementEvent.video_id, EngagementEvent.watch_ms, EngagementEvent.counted)
            .where(EngagementEvent.user_id == user_id, EngagementEvent.kind == EngagementKind.VIEW)
            .order_by(EngagementEvent.id)
        ).all()
    return [(v, w or 0, c) for v, w, c in rows]


def test_a_viewer_who_swipes_through_every_video_still_gets_a_full_page(
    page: Any, worker_site: LiveServer, seeded: Seeded
) -> None:
    from search import engagement
    from search.models import VideoStats
    from web.pages.feed import FIRST_PAGE

    site = worker_site
    sign_in(page, site, seeded.viewer_email, "/")
    page.wait_for_url(f"{site.url}/")  # the login page itself matches "/**"
    assert len(slide_ids(page)) == FIRST_PAGE
    skipped = current(page)
    page.wait_for_function("() => document.querySelector('#feed .slide video').currentTime > 0", timeout=30_000)
    order = [swipe(page)]  # the autoplay swiped past at once
    while True:
        video_id = order[-1]
        # Really watching: the page reports the media time that played.
        slide = f'.slide[data-video-id="{video_id}"]'
        page.wait_for_function(
            f"() => Number(document.querySelector('{slide}').dataset.watchMs || 0) >= 1500", timeout=30_000
        )
        if len(order) == len(seeded.videos) - 1:
            break
        page.wait_for_function(f"() => document.querySelectorAll('#feed .slide').length >= {len(order) + 2}")
        order.append(swipe(page))
    swipe(page, "ArrowUp")  # leaving the last one ends its view too
    assert sorted([skipped, *order]) == sorted(seeded.videos)

    wait_until(lambda: {v for v, _, _ in views_of(site, seeded.viewer_email)} >= set(seeded.videos),
               timeout=15, message="the views reaching the log")  # fmt: skip
    with site.app.extensions["db"].session() as s:
        engagement.drain(s)
        counted_views = {v: st.views for v, st in ((v, s.get(VideoStats, v)) for v in seeded.videos) if st}
    events = views_of(site, seeded.viewer_email)
    first_view = {v: (ms, counted) for v, ms, counted in reversed(events)}
    assert first_view[skipped][0] < 1000, events
    assert first_view[skipped][1] is False, events  # recorded, not counted
    assert skipped not in counted_views
    for video_id in order:
        assert first_view[video_id][0] >= 1000, events
        assert first_view[video_id][1] is True, events
        assert counted_views[video_id] == 1

    # A new visit (in English this time): a full page, the one swiped past first, then the watched ones, those
    # seen longest ago first.
    page.goto(f"{site.url}/?lang=en")
    again = slide_ids(page)
    assert len(again) == FIRST_PAGE, again
    assert page.locator("[data-empty]").count() == 0
    assert again[0] == skipped
    assert set(again[1:3]) == set(order[:2])
    assert again[3:] == order[2:4]
    page.screenshot(path=screenshot_path("feed-refilled"))


def card_overlaps(page: Any) -> dict[str, Any]:
    """Bounding rects of the current slide, in the browser: which visible card intersects the creator handle,
    another card's price or the action column, and whether every price is on top and inside the viewport."""
    result: dict[str, Any] = page.evaluate(
        """() => {
        const f = document.getElementById('feed');
        const slide = [...f.querySelectorAll('.slide')].find((el) => Math.abs(el.offsetTop - f.scrollTop) < 5);
        const box = (el) => el.getBoundingClientRect();
        const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const cards = [...slide.querySelectorAll('.pcard')].filter((c) => !c.hidden);
        const creator = box(slide.querySelector('.slide-creator'));
        const actions = box(slide.querySelector('.slide-actions'));
        const out = {cards: cards.length, creatorHit: [], priceHit: [], actionsHit: [], priceHidden: []};
        cards.forEach((card, i) => {
          const r = box(card);
          if (meet(r, creator)) out.creatorHit.push(i);
          if (meet(r, actions)) out.actionsHit.push(i);
          cards.forEach((other, j) => {
            if (i !== j && meet(r, box(other.querySelector('.pcard-price')))) out.priceHit.push([i, j]);
          });
          const p = box(card.querySelector('.pcard-price'));
          const top = document.elementFromPoint((p.left + p.right) / 2, (p.top + p.bottom) / 2);
          const inside = p.top >= 0 && p.left >= 0 && p.bottom <= innerHeight && p.right <= innerWidth;
          if (!inside || !card.querySelector('.pcard-price').contains(top)) out.priceHidden.push(i);
        });
        return out;
      }"""
    )
    return result


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_product_cards_never_cover_the_creator_or_a_price(
    browser: Any, worker_site: LiveServer, seeded: Seeded, size: tuple[int, int], lang: str
) -> None:
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=lang)  # fmt: skip
    page = context.new_page()
    page.goto(f"{worker_site.url}/v/{seeded.videos[0]}{'?lang=en' if lang == 'en' else ''}")
    page.wait_for_function("() => document.querySelectorAll('.slide .pcard:not([hidden])').length >= 2",
                           timeout=30_000)  # fmt: skip
    found = card_overlaps(page)
    page.screenshot(path=screenshot_path(f"feed-cards-{width}x{height}-{lang}"))
    context.close()
    assert found["cards"] == 2, found
    assert (found["creatorHit"], found["priceHit"], found["actionsHit"], found["priceHidden"]) == ([], [], [], []), (
        found
    )
