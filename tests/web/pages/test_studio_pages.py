"""The studio's pages as the server renders them: sign-in first, own videos only, escaped titles, both languages,
and the earnings page's daily series (the browser journey is in test_studio.py)."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from media.models import VideoStatus
from tests import factories
from tests.web.test_auth import token_for

XSS = '<img src=x onerror="alert(1)">'


def test_signed_out_visitors_sign_in_first(client: FlaskClient) -> None:
    for path in ("/studio", "/studio/videos/1", "/studio/earnings"):
        r = client.get(path)
        assert r.status_code == 302
        assert r.headers["Location"] == f"/login?next={path}"


def test_the_studio_lists_own_videos_escaped_with_status_and_counters(client: FlaskClient, db_session: Session) -> None:
    artist = factories.user(db_session, artist=True)
    ready = factories.video(db_session, uploader=artist, title=XSS)
    factories.video_stats(db_session, ready, views=12, product_clicks=3, purchases=1)
    failed = factories.video(db_session, uploader=artist, title="坏文件", failure_code="not_media", published=False)
    failed.status = VideoStatus.FAILED
    other = factories.video(db_session, uploader=factories.user(db_session, artist=True), title="别人的视频")
    db_session.commit()
    h = token_for(client, artist)

    html = client.get("/studio", headers=h).get_data(as_text=True)
    assert XSS not in html
    assert "&lt;img src=x onerror=" in html
    assert "别人的视频" not in html
    assert "播放 12 · 点击 3 · 订单 1" in html
    assert f'data-processing-for="{failed.id}"' in html  # the failed one shows its reason live
    assert '<progress max="100" value="0" aria-label="上传进度">' in html
    english = client.get("/studio?lang=en", headers=h).get_data(as_text=True)
    assert "Upload a video" in english
    assert "Views 12 · Clicks 3 · Orders 1" in english

    detail = client.get(f"/studio/videos/{failed.id}", headers=h).get_data(as_text=True)
    assert "data-reload-when-ready" in detail
    assert client.get(f"/studio/videos/{other.id}", headers=h).status_code == 403  # live, but not yours to edit


def test_viewers_are_told_who_may_upload(client: FlaskClient, db_session: Session) -> None:
    viewer = factories.user(db_session)
    db_session.commit()
    html = client.get("/studio", headers=token_for(client, viewer)).get_data(as_text=True)
    assert "只有艺人和品牌成员可以上传视频" in html
    assert "data-studio-upload" not in html


def test_the_earnings_page_carries_thirty_days_for_the_charts(client: FlaskClient, db_session: Session) -> None:
    artist = factories.user(db_session, artist=True)
    db_session.commit()
    html = client.get("/studio/earnings", headers=token_for(client, artist)).get_data(as_text=True)
    data = re.search(r'<script type="application/json" id="studio-report">(.*?)</script>', html, re.S)
    assert data is not None
    days = json.loads(data.group(1))
    assert len(days) == 30
    assert set(days[0]) >= {"day", "funnel", "earned", "orders"}
    assert "vendor/chart.umd.min.js" in html
