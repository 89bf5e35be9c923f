"""The viewer's pages as the server renders them: the first video in the HTML, escaped user text, sign-in only
where needed, the share landing's click carried into checkout, the language switch and share QR codes (the
journeys in Chromium are in test_feed.py)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.search.test_feed_playback import MANIFEST
from tests.web.test_auth import token_for

XSS = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


def test_signed_out_visitors_browse_and_sign_in_only_to_buy(client: FlaskClient, db_session: Session) -> None:
    creator = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=creator, title="公开视频", manifest=dict(MANIFEST))
    db_session.commit()
    assert client.get(f"/v/{video.id}").status_code == 200
    for path in ("/me", "/me/orders", "/orders/1", "/checkout?product=1&sku=2"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next=/"), r.headers["Location"]
    assert (
        client.get("/checkout?product=1&sku=2").headers["Location"] == "/login?next=/checkout%3Fproduct%3D1%26sku%3D2"
    )


def test_a_video_page_renders_its_first_video_and_escapes_user_text(client: FlaskClient, db_session: Session) -> None:
    creator = factories.user(db_session, artist=True, display_name=XSS)
    video = factories.video(db_session, uploader=creator, title=XSS, description=XSS, hashtags=[XSS],
                            manifest=dict(MANIFEST))  # fmt: skip
    hidden = factories.video(db_session, uploader=creator, title="未发布", published=False)
    db_session.commit()
    html = client.get(f"/v/{video.id}?click=c_abc123").get_data(as_text=True)
    assert XSS not in html
    assert html.count(ESCAPED) >= 3  # title, description, creator (and the hashtag)
    # The poster and the player's sources are in the HTML: the first frame paints before any script runs.
    assert 'poster="http' in html
    assert "/public/videos/demo/poster.jpg" in html
    assert 'data-hls="http' in html
    assert "master.m3u8" in html
    assert 'data-click="c_abc123"' in html
    assert f'data-start="{video.id}"' in html
    assert client.get(f"/v/{hidden.id}").status_code == 404
    assert client.get("/v/999999").status_code == 404
    english = client.get(f"/v/{video.id}?lang=en").get_data(as_text=True)
    assert 'aria-label="Video feed, swipe up or down"' in english


def test_product_page_and_checkout_carry_the_share_click(client: FlaskClient, db_session: Session) -> None:
    owner = factories.user(db_session)
    brand = factories.brand(db_session, owner=owner)
    product = factories.product(db_session, brand=brand, name=XSS, description=XSS, prices=(12900,))
    sku = product.skus[0]
    buyer = factories.user(db_session)
    db_session.commit()
    page = client.get(f"/p/{product.id}?click=c_share1").get_data(as_text=True)
    assert XSS not in page
    assert ESCAPED in page
    assert 'data-click="c_share1"' in page
    assert "¥129.00" in page

    h = token_for(client, buyer)
    html = client.get(f"/checkout?product={product.id}&sku={sku.id}&qty=2&video=7&click=c_share1", headers=h)
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert XSS not in text
    assert ESCAPED in text
    assert "¥258.00" in text  # the summary: two at ¥129.00
    assert f'data-sku-id="{sku.id}" data-quantity="2" data-video-id="7" data-click="c_share1"' in text
    assert client.get(f"/checkout?product={product.id}&sku=999999", headers=h).status_code == 404


def test_me_shows_earnings_and_switches_language(client: FlaskClient, db_session: Session) -> None:
    user = factories.user(db_session, display_name=XSS)
    db_session.commit()
    h = token_for(client, user)
    html = client.get("/me", headers=h).get_data(as_text=True)
    assert ESCAPED in html
    assert XSS not in html
    assert "待结算" in html
    assert "<strong data-pending>¥0.00</strong>" in html
    r = client.get("/lang/en?next=/me")
    assert r.status_code == 302
    assert r.headers["Location"] == "/me"
    assert "lang=en" in r.headers["Set-Cookie"]
    assert "Pending (return window)" in client.get("/me", headers=h).get_data(as_text=True)
    assert client.get("/lang/zh?next=//evil.example").headers["Location"] == "/"


def test_share_qr_codes_only_for_our_own_share_links(client: FlaskClient) -> None:
    base = client.application.config["SETTINGS"].public_base_url.rstrip("/")
    r = client.get("/share/qr.svg", query_string={"u": f"{base}/s/k0.abc.def"})
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert b"<svg" in r.data
    assert b"<path" in r.data
    for url in ("https://evil.example/s/x", f"{base}/login", ""):
        assert client.get("/share/qr.svg", query_string={"u": url}).status_code == 404


def test_the_demo_feed_has_cards_to_buy(app_ctx: Flask, db_session: Session) -> None:
    """`make run`: every demo video carries product cards, some in time windows, all with stock."""
    from commerce.catalog.models import VideoProduct
    from web.demo import DEMO_CARDS, seed

    with app_ctx.app_context():
        summary = seed(db_session)
    assert any(line.startswith("demo product cards on videos") for line in summary), summary
    cards = db_session.scalars(select(VideoProduct)).all()
    assert len(cards) == sum(len(c) for c in DEMO_CARDS.values())
    assert any(c.start_seconds is not None for c in cards)
    assert all(any(s.is_active and s.stock > 0 for s in c.product.skus) for c in cards)


def test_the_empty_feed_says_why_in_both_languages(client: FlaskClient, db_session: Session) -> None:
    """Empty only while nothing public is in the index, and it says which: none published, or not indexed yet."""
    html = client.get("/").get_data(as_text=True)
    assert "还没有公开的视频" in html
    assert "There are no public videos yet" in client.get("/?lang=en").get_data(as_text=True)
    factories.video(db_session, uploader=factories.user(db_session, artist=True), title="刚发布")
    db_session.commit()  # live, but the relay has not indexed it yet
    html = client.get("/").get_data(as_text=True)
    assert "新视频正在上架" in html
    assert "还没有公开的视频" not in html
    assert "New videos are on their way" in client.get("/?lang=en").get_data(as_text=True)
