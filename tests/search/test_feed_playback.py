"""Feed cards carry the player's URLs, so the H5 feed plays a video without asking for it separately."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from search.backends.embedded import EmbeddedEngine
from tests import factories
from tests.search.test_feed import make_video

MANIFEST = {
    "prefix": "public/videos/demo",
    "hls": "hls/master.m3u8",
    "mp4": {"path": "faststart.mp4"},
    "poster": {"path": "poster.jpg"},
    "storyboard": {"vtt": "storyboard.vtt", "image": "storyboard.jpg"},
    "preview": {"path": "preview.mp4"},
}


def test_feed_cards_carry_playback_urls_once_processed(
    db_session: Session, search_engine: EmbeddedEngine, index_now: Callable[[], None], client: FlaskClient
) -> None:
    creator = factories.user(db_session, artist=True)
    ready = make_video(db_session, creator, title="有清单")
    ready.manifest = dict(MANIFEST)
    index_now()
    items = {v["id"]: v for v in client.get("/api/v1/feed?limit=10").get_json()["items"]}
    playback = items[ready.id]["playback"]
    assert playback["hls"].endswith("/public/videos/demo/hls/master.m3u8")
    assert playback["mp4"].endswith("/public/videos/demo/faststart.mp4")
    assert playback["poster"].endswith("/public/videos/demo/poster.jpg")
    assert playback["storyboard"].endswith("/public/videos/demo/storyboard.vtt")
    assert playback["storyboard_image"].endswith("/public/videos/demo/storyboard.jpg")
