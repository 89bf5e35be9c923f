"""Security headers on every kind of response — pages (feed, video, product, studio, brand, booking, login), API
JSON, problem+json errors, HTML error pages, the API docs, static files and stored objects — and a
Content-Security-Policy that runs no inline script yet lets media, images and uploads reach the object store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from core.settings import PROJECT_ROOT
from core.storage.s3 import S3Storage
from tests import factories
from tests.search.test_feed_playback import MANIFEST
from tests.web.test_auth import token_for

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
PUBLIC_ORIGIN = "http://127.0.0.1:8000"  # make_settings' PUBLIC_BASE_URL, where the local store's URLs point


def csp(value: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = sources
    return directives


def assert_page_policy(h: Headers, *, store: tuple[str, ...] = (PUBLIC_ORIGIN,), wechat_sdk: bool = False) -> None:
    for name, value in COMMON.items():
        assert h.get(name) == value, name
    permissions = h["Permissions-Policy"]
    assert "camera=()" in permissions
    assert "geolocation=()" in permissions
    policy = csp(h["Content-Security-Policy"])
    # No 'unsafe-inline', no 'unsafe-eval', no other host; WeChat's JS-SDK only where a share card is set.
    assert policy["script-src"] == (["'self'", "https://res.wx.qq.com"] if wechat_sdk else ["'self'"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for directive in ("media-src", "img-src", "connect-src"):
        assert set(store) <= set(policy[directive]), (directive, policy[directive])
    assert "blob:" in policy["media-src"]  # hls.js plays through Media Source ...
    assert "blob:" in policy["worker-src"]  # ... and runs its worker from a blob
    assert "Strict-Transport-Security" not in h  # plain http


@dataclass
class World:
    video_id: int
    product_id: int
    brand_id: int
    artist_id: int
    owner: dict[str, str]
    artist: dict[str, str]


@pytest.fixture
def world(client: FlaskClient, db_session: Session) -> World:
    owner = factories.user(db_session, email="owner@example.com")
    artist = factories.user(db_session, email="artist@example.com", artist=True)
    brand = factories.brand(db_session, owner=owner)
    product = factories.product(db_session, brand=brand, name="蜜粉")
    video = factories.video(db_session, uploader=artist, title="公开视频", manifest=dict(MANIFEST))
    db_session.commit()
    return World(video.id, product.id, brand.id, artist.id, token_for(client, owner), token_for(client, artist))


def page_paths(w: World) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/", {}),  # the feed
        (f"/v/{w.video_id}", {}),
        (f"/p/{w.product_id}", {}),
        ("/login", {}),
        ("/search?q=蜜粉", {}),
        ("/me", w.artist),
        ("/studio", w.artist),
        (f"/studio/videos/{w.video_id}", w.artist),
        ("/studio/earnings", w.artist),
        (f"/brand/{w.brand_id}", w.owner),
        (f"/brand/{w.brand_id}/catalog", w.owner),
        (f"/brand/{w.brand_id}/sales", w.owner),
        ("/campaigns", w.owner),
        ("/campaigns/open", w.artist),
        ("/me/artist-profile", w.artist),
        ("/notifications", w.artist),
        (f"/artists/{w.artist_id}", {}),
        ("/bookings", w.artist),
    ]


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"<{tag} {k}>" for k, v in attrs if k.startswith("on") or (v or "").startswith("javascript:")]
        if tag == "script":
            self._open = dict(attrs)

    def handle_data(self, data: str) -> None:
        script = self._open
        if script is not None and not script.get("src") and script.get("type") != "application/json" and data.strip():
            self.inline.append(data.strip()[:80])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def inline_scripts(html: str) -> list[str]:
    parser = _Scripts()
    parser.feed(html)
    return parser.inline + parser.handlers


def test_every_page_type_carries_the_headers_and_runs_no_inline_script(client: FlaskClient, world: World) -> None:
    for path, headers in page_paths(world):
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code)
        assert r.mimetype == "text/html"
        assert_page_policy(r.headers, wechat_sdk=re.match(r"/[vp]/\d+$", path) is not None)
        assert inline_scripts(r.get_data(as_text=True)) == [], path  # the policy would block them


def test_no_template_holds_inline_script() -> None:
    """Every template, also those the page test does not render: scripts come from web/static, data from data-
    attributes or `<script type="application/json">`."""
    templates = sorted((PROJECT_ROOT / "web" / "templates").rglob("*.html"))
    assert len(templates) > 30
    found = {str(t.relative_to(PROJECT_ROOT)): inline_scripts(t.read_text()) for t in templates}
    assert {name: scripts for name, scripts in found.items() if scripts} == {}


@pytest.mark.parametrize(
    ("path", "status", "mimetype"),
    [
        ("/api/v1/feed?limit=2", 200, "application/json"),
        ("/api/v1/me", 401, "application/problem+json"),
        ("/api/v1/videos/999999", 404, "application/problem+json"),
        ("/no-such-page", 404, "text/html"),  # the HTML error page
        ("/api/v1/docs", 200, "text/html"),
        ("/api/v1/docs/init.js", 200, "text/javascript"),
        ("/api/v1/docs/static/swagger-ui-bundle.js", 200, "text/javascript"),
        ("/api/v1/openapi.json", 200, "application/json"),
        ("/static/feed/feed.js", 200, "text/javascript"),
        ("/healthz", None, "application/json"),
    ],
)
def test_api_problem_docs_and_static_responses_carry_them_too(
    client: FlaskClient, path: str, status: int | None, mimetype: str
) -> None:
    r = client.get(path, headers={"Accept": "text/html"} if path == "/no-such-page" else {})
    assert status is None or r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.mimetype == mimetype
    assert_page_policy(r.headers)


def test_the_docs_page_loads_swagger_from_our_origin_only(client: FlaskClient) -> None:
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert inline_scripts(html) == []
    assert re.findall(r'src="([^"]+)"', html) == [
        "docs/static/swagger-ui-bundle.js", "docs/static/swagger-ui-standalone-preset.js", "docs/init.js",
    ]  # fmt: skip
    assert "validatorUrl: null" in client.get("/api/v1/docs/init.js").get_data(as_text=True)  # no third-party badge


def test_stored_objects_are_sandboxed(app_ctx: Flask, client: FlaskClient) -> None:
    store = app_ctx.extensions["storage"]
    store.put("public/csp-test/page.html", b"<script>alert(1)</script>")
    try:
        r = client.get("/storage/public/public/csp-test/page.html")
        assert r.status_code == 200
        policy = csp(r.headers["Content-Security-Policy"])
        assert "sandbox" in policy  # an uploaded page runs nothing
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        for name, value in COMMON.items():
            assert r.headers[name] == value
        signed = client.get(store.presigned_get_url("public/csp-test/page.html").removeprefix(PUBLIC_ORIGIN))
        assert signed.status_code == 200
        assert "sandbox" in csp(signed.headers["Content-Security-Policy"])
    finally:
        store.delete("public/csp-test/page.html")


def test_hsts_only_over_https(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://xinglian.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(secure.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 180 * 86400
    assert "Strict-Transport-Security" in client.get("/api/v1/feed", base_url="https://xinglian.example").headers


@pytest.mark.parametrize(
    ("store", "origins"),
    [
        (dict(endpoint_url="https://oss-cn-hangzhou.aliyuncs.com/"), ["https://oss-cn-hangzhou.aliyuncs.com"]),
        (dict(endpoint_url="http://127.0.0.1:9000", public_base_url="https://cdn.example.com/media"),
         ["http://127.0.0.1:9000", "https://cdn.example.com"]),
        (dict(region="ap-southeast-1"), ["https://s3.ap-southeast-1.amazonaws.com", "https://xl-media.s3.amazonaws.com"]),
    ],
)  # fmt: skip
def test_on_s3_pages_may_play_from_and_upload_to_the_bucket_and_its_cdn(
    app_ctx: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, store: dict[str, str], origins: list[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = S3Storage(bucket="xl-media", prefix="prod", **store)  # type: ignore[arg-type]
    assert s3.browser_origins() == origins
    # Every URL the store hands to browsers is on one of them.
    for url in (s3.presigned_get_url("videos/1/master.m3u8"), s3.presigned_put_url("uploads/1"),
                s3.presigned_part_url("uploads/1", "u1", 1), s3.public_url("videos/1/poster.jpg")):  # fmt: skip
        assert any(url.startswith(o + "/") for o in origins), url
    monkeypatch.setitem(app_ctx.extensions, "storage", s3)
    r = client.get("/login")
    assert_page_policy(r.headers, store=tuple(origins))
    assert PUBLIC_ORIGIN not in csp(r.headers["Content-Security-Policy"])["media-src"]
