"""The brand and search pages over plain HTTP: sign-in and membership, English, escaping, and search that works
without JS (the first results are in the HTML)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.web.pages.shops import XSS_NAME


def sign_in(client: FlaskClient, email: str, csrf: str = "") -> str:
    """Sign in (as someone else when `csrf` is the current session's token); returns the new session's token."""
    r = client.post("/api/v1/auth/login", json={"email": email, "password": factories.PASSWORD},
                    headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert r.status_code == 200, r.get_json()
    return str(r.get_json()["csrf_token"])


def test_brand_pages_need_a_member(client: FlaskClient, db_session: Session) -> None:
    owner = factories.user(db_session, email="owner@example.com")
    brand = factories.brand(db_session, owner=owner, name="本店")
    other = factories.brand(db_session, name="别家")
    factories.product(db_session, brand=brand, name=XSS_NAME, status="draft")
    factories.user(db_session, email="viewer@example.com")
    for path in ("/brand", f"/brand/{brand.id}", f"/brand/{brand.id}/catalog", f"/brand/{brand.id}/sales"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next=/brand")
    csrf = sign_in(client, "viewer@example.com")
    assert client.get("/brand").status_code == 403
    assert client.get(f"/brand/{brand.id}/catalog").status_code == 403
    sign_in(client, "owner@example.com", csrf)
    assert client.get("/brand").headers["Location"] == f"/brand/{brand.id}"
    assert client.get(f"/brand/{other.id}/sales").status_code == 403
    html = client.get(f"/brand/{brand.id}/catalog?lang=en").get_data(as_text=True)
    assert "Catalog" in html
    assert "New product" in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "<script>window.__xss" not in html
    html = client.get(f"/brand/{brand.id}/sales").get_data(as_text=True)
    assert "chart.umd.min.js" in html  # charts load on the sales page only
    assert "chart.umd.min.js" not in client.get(f"/brand/{brand.id}").get_data(as_text=True)


def test_search_page_renders_without_js(client: FlaskClient) -> None:
    html = client.get("/search?q=%3Cscript%3E&type=products&sort=price_asc&lang=en").get_data(as_text=True)
    assert 'value="&lt;script&gt;"' in html  # the query is echoed as text
    assert "0 results" in html
    assert 'aria-current="page">Products' in html
    bad = client.get("/search?q=x&type=videos&sort=price_asc&in_stock=maybe")
    assert bad.status_code == 200  # a bad filter falls back to the plain search
    assert client.get("/tag/%E6%8A%A4%E8%82%A4").status_code == 200
