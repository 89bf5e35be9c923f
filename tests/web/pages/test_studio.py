"""The creator studio in Chromium against the live site with a real Celery worker: an artist uploads a generated
clip through a connection that drops once, sees the progress reach 100 %, watches it process, links a showcase
product by scrubbing, and the video reaches the feed; a file that is not a video fails with its reason and the
right way out; the earnings page charts the funnel and earnings from real engagement and ledger data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests import factories
from tests.browser import LiveServer, in_feed, screenshot_path, until
from tests.media.clips import ffmpeg

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROCESSING_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def creator(worker_site: LiveServer) -> dict[str, Any]:
    """An artist with an affiliate product of another brand in their showcase."""
    from commerce.catalog import showcase

    with worker_site.app.extensions["db"].session() as s:
        owner = factories.user(s, email="studio-brand@example.com")
        brand = factories.brand(s, owner=owner, name="星炼美妆")
        product = factories.product(s, brand=brand, name="丝绒雾面口红", category="beauty.makeup", prices=(12900,))
        factories.offer(s, product=product, artist_rate_bp=2000)
        artist = factories.user(s, email="studio-artist@example.com", artist=True, display_name="小星")
        s.commit()
        showcase.add(s, artist, product.id)
        return {"artist": artist.id, "product": product.id, "product_name": product.name}


def sign_in(page: Any, site: LiveServer, email: str) -> None:
    page.goto(f"{site.url}/studio")
    page.wait_for_url("**/login?next=/studio")  # signed out: sign in first, then back
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{site.url}/studio")


def vertical_clip(tmp_path: Path) -> Path:
    """A 3.5 s 360x640 clip with sound, as a phone would record it upright."""
    out = tmp_path / "vertical.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=3.5",
           "-f", "lavfi", "-i", "sine=f=440:d=3.5:sample_rate=48000",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
           "-movflags", "+faststart", str(out))  # fmt: skip
    return out


def api_get(page: Any, url: str) -> Any:
    """GET through the page's own session, as its scripts do."""
    return page.evaluate("async (u) => (await fetch(u, {credentials: 'same-origin'})).json()", url)


def upload(page: Any, path: Path, title: str) -> None:
    form = page.locator("form[data-studio-upload]")
    form.get_by_label("视频文件").set_input_files(str(path))
    form.get_by_label("标题").fill(title)
    form.get_by_label("话题（空格或逗号分隔）").fill("#口红 试色")
    form.get_by_role("button", name="上传").click()


def test_creator_uploads_through_a_dropped_connection_links_a_product_and_reaches_the_feed(
    worker_site: LiveServer, creator: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    site = worker_site
    clip = vertical_clip(tmp_path)
    sign_in(page, site, "studio-artist@example.com")

    # The first chunk request dies on the wire: the uploader asks the server where it stands and goes on.
    dropped: list[str] = []

    def flaky(route: Any) -> None:
        if route.request.method == "PUT" and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/uploads/*/chunk", flaky)
    upload(page, clip, "口红试色 <b>不加粗</b>")
    progress = page.get_by_label("上传进度")
    page.wait_for_function("() => document.querySelector('[data-upload-progress]').dataset.done === 'true'")
    assert dropped, "the first chunk was not sent through the flaky route"
    assert progress.evaluate("p => p.value") == 100
    assert page.locator("[data-upload-pct]").inner_text() == "100%"
    page.screenshot(path=screenshot_path("studio-upload-progress"), full_page=True)

    panel = page.locator("[data-upload-processing] [data-processing]")
    panel.wait_for()
    video_id = int(panel.get_attribute("data-video-id"))
    # A moment of the worker's progress (or its end, on a fast machine) for the screenshot.
    page.wait_for_function(
        "() => { const p = document.querySelector('[data-upload-processing] [data-processing]'); "
        "return p.dataset.status === 'ready' || p.textContent.includes('%'); }",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    page.screenshot(path=screenshot_path("studio-processing"), full_page=True)
    # The server holds exactly the file's bytes, whatever the dropped chunk carried.
    with site.app.extensions["db"].session() as s:
        from media.models import Video

        original = s.get(Video, video_id).original_key
    assert (
        hashlib.sha256(site.app.extensions["storage"].get(original)).digest()
        == hashlib.sha256(clip.read_bytes()).digest()
    )
    page.locator("[data-upload-processing] [data-processing][data-status=ready]").wait_for(
        timeout=PROCESSING_TIMEOUT_MS
    )
    assert page.get_by_label("处理进度").evaluate("p => p.value") == 100
    assert api_get(page, f"/api/v1/videos/{video_id}")["status"] == "ready"
    page.locator(f"[data-studio-list] li[data-video-id='{video_id}'][data-status=ready]").wait_for()  # no reload

    # Link the showcase product by scrubbing: the card shows from 1.0 s to 3.0 s.
    page.get_by_role("link", name="关联商品 →").click()
    page.wait_for_url(f"**/studio/videos/{video_id}")
    assert page.locator("h1").inner_text() == "口红试色 <b>不加粗</b>"  # escaped, not markup
    player = page.locator("video[data-player]")
    player.evaluate("v => new Promise((ok) => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))")
    page.get_by_role("button", name=f"添加：{creator['product_name']}").click()
    card = page.locator(f"[data-card='{creator['product']}']")
    for seconds, button in ((1.0, "设为开始"), (3.0, "设为结束")):
        player.evaluate("(v, s) => new Promise((ok) => { v.addEventListener('seeked', ok, {once: true}); "
                        "v.currentTime = s; })", seconds)  # fmt: skip
        card.get_by_role("button", name=f"{button}：{creator['product_name']}").click()
    assert card.get_by_label("开始（秒）").input_value() == "1"
    assert card.get_by_label("结束（秒）").input_value() == "3"
    page.get_by_role("button", name="保存商品卡片").click()
    page.get_by_text("已保存").wait_for()
    card.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("studio-link-products"))  # the viewport: the player stays on top
    links = api_get(page, f"/api/v1/videos/{video_id}/products")
    assert [(lk["product"]["id"], lk["start_seconds"], lk["end_seconds"]) for lk in links] == [
        (creator["product"], 1.0, 3.0)
    ]

    # A suggested hashtag, accepted, joins the video's hashtags.
    tag = page.locator("[data-hashtag]").first.get_attribute("data-hashtag")
    chip = page.locator(f"[data-hashtag='{tag}']")
    chip.get_by_role("button", name=f"添加话题 #{tag}").click()
    chip.wait_for(state="detached")
    assert tag in api_get(page, f"/api/v1/videos/{video_id}")["hashtags"]

    # The worker relays the outbox to the search index: the new video is in the feed.
    until(lambda: in_feed(page, video_id), seconds=60)
    charts_show_real_engagement(worker_site, page, video_id, creator["product"])
    # Last, as watching it adds a view the charts above would count: a new viewer's feed page has the video.
    viewer = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    feed = viewer.new_page()
    feed.goto(f"{worker_site.url}/")
    feed.locator(f"article.slide[data-video-id='{video_id}']").wait_for(state="attached")
    viewer.close()


def charts_show_real_engagement(site: LiveServer, page: Any, video_id: int, product_id: int) -> None:
    """Two viewers watch the video, one taps the product card; the aggregator counts them (the beat job, run here);
    the earnings page charts today's views and clicks from that log."""
    from search import engagement

    viewer = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    vp = viewer.new_page()
    vp.goto(f"{site.url}/login")
    for device, events in (
        ("studio-viewer-1", [{"kind": "view", "video_id": video_id, "watch_ms": 3000},
                             {"kind": "product_click", "video_id": video_id, "product_id": product_id}]),
        ("studio-viewer-2", [{"kind": "view", "video_id": video_id, "watch_ms": 2000}]),
    ):  # fmt: skip
        accepted = vp.evaluate(
            """async (body) => {
                const csrf = document.querySelector('meta[name=csrf-token]').content;
                const r = await fetch('/api/v1/engagement/events', {method: 'POST', body: JSON.stringify(body),
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
                return (await r.json()).accepted;
            }""",
            {"device_id": device, "events": events},
        )
        assert accepted == len(events)
    viewer.close()
    with site.app.extensions["db"].session() as s:
        engagement.drain(s)

    page.goto(f"{site.url}/studio/earnings")
    page.wait_for_function("() => window.studioCharts && window.studioCharts.earned")
    funnel = page.evaluate("() => studioCharts.funnel.data.datasets.map((d) => d.data)")
    assert [len(series) for series in funnel] == [30, 30, 30]
    assert [series[-1] for series in funnel] == [2, 1, 0]  # today: views, clicks, orders
    assert page.locator("[data-total=views]").inner_text() == "2"
    earned = page.evaluate("() => studioCharts.earned.data.datasets.map((d) => d.label)")
    assert earned == ["待结算", "已结算"]
    page.screenshot(path=screenshot_path("studio-charts"), full_page=True)


def test_a_file_that_is_not_a_video_fails_with_its_reason_and_asks_for_another(
    worker_site: LiveServer, creator: dict[str, Any], page: Any, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("这不是视频，只是一些文字。\n" * 200, encoding="utf-8")
    sign_in(page, worker_site, "studio-artist@example.com")
    upload(page, notes, "不是视频")
    failure = page.locator("[data-upload-processing] [data-failure]")
    failure.wait_for(timeout=PROCESSING_TIMEOUT_MS)
    assert failure.get_attribute("data-failure") == "not_media"
    assert "这不是视频文件" in failure.inner_text()
    assert failure.get_by_role("button", name="重试").count() == 0  # the same file would fail the same way
    another = failure.get_by_role("button", name="上传其他文件")
    another.click()
    assert page.evaluate("document.activeElement.name") == "file"
