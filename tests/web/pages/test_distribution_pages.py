"""Distribution pages over plain HTTP: sign-in and membership, bad invites and unknown shops say so (never a 500),
English, escaping of names people chose."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.catalog.limits import CatalogLimits
from commerce.distribution import service
from commerce.distribution.models import DistributorStatus
from core import clock
from tests import factories
from tests.web.pages.test_brand_and_search_render import sign_in

XSS = "<script>window.__xss=1</script>"


def test_pages_need_the_right_person_and_bad_input_is_said(client: FlaskClient, db_session: Session) -> None:
    owner = factories.user(db_session, email="d-owner@example.com")
    staff = factories.user(db_session, email="d-staff@example.com", display_name=XSS)
    factories.user(db_session, email="d-viewer@example.com")
    brand = factories.brand(db_session, owner=owner, name="分销品牌")
    db_session.commit()
    service.set_terms(db_session, owner, brand.id, binding_days=15, default_rate_bp=1000, limits=CatalogLimits())
    link = service.create_invite(db_session, owner, brand.id, keys=[("k1", b"k")], base_url="http://x")
    for path in (f"/brand/{brand.id}/distributors", "/me/distribution", "/distribution/join/abc"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next=")
    assert client.get("/shop/999999").status_code == 404
    csrf = sign_in(client, "d-viewer@example.com")
    assert client.get(f"/brand/{brand.id}/distributors").status_code == 403
    assert client.get(f"/brand/{brand.id}/distributors/compliance").status_code == 403
    bad = client.get("/distribution/join/k1.forged.token")
    assert bad.status_code == 410
    assert "邀请链接无效" in bad.get_data(as_text=True)
    assert client.get("/me/distribution").status_code == 200
    csrf = sign_in(client, "d-staff@example.com", csrf)
    d = service.accept_invite(db_session, staff, link.token, keys=[("k1", b"k")])
    service.decide(db_session, owner, brand.id, d.id, status=DistributorStatus.APPROVED)
    html = client.get(f"/shop/{d.id}?lang=en").get_data(as_text=True)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html  # the distributor's own name
    assert "<script>window.__xss" not in html
    assert "Nothing in this shop yet" in html
    sign_in(client, "d-owner@example.com", csrf)
    page = client.get(f"/brand/{brand.id}/distributors?lang=en").get_data(as_text=True)
    assert "Approved" in page
    assert "chart.umd.min.js" in page
    assert "recruiting earns nothing" in page


def test_report_pages_filter_by_dates_and_say_a_bad_range(client: FlaskClient, db_session: Session) -> None:
    owner = factories.user(db_session, email="r-owner@example.com")
    staff = factories.user(db_session, email="r-staff@example.com")
    brand = factories.brand(db_session, owner=owner, name="日期品牌")
    db_session.commit()
    service.set_terms(db_session, owner, brand.id, binding_days=15, default_rate_bp=1000, limits=CatalogLimits())
    link = service.create_invite(db_session, owner, brand.id, keys=[("k1", b"k")], base_url="http://x")
    d = service.accept_invite(db_session, staff, link.token, keys=[("k1", b"k")])
    service.decide(db_session, owner, brand.id, d.id, status=DistributorStatus.APPROVED)
    csrf = sign_in(client, "r-owner@example.com")
    page = f"/brand/{brand.id}/distributors"
    html = client.get(page + "?from=2026-01-01&to=2026-01-31").get_data(as_text=True)
    assert 'name="from" value="2026-01-01"' in html
    assert 'name="to" value="2026-01-31"' in html
    assert "data-range-error" not in html
    today = clock.now().date()
    for query, lang, words in (("?from=2026-02-01&to=2026-01-01", "zh-CN", "日期范围无效"),
                               ("?from=nonsense&lang=en", "en", "Invalid date range"),
                               ("?to=2020-01-01&from=2010-01-01", "zh-CN", "最长 366 天")):  # fmt: skip
        r = client.get(page + query, headers={"Accept-Language": lang})
        assert r.status_code == 200, query
        body = r.get_data(as_text=True)
        assert words in body
        assert f'name="to" value="{today.isoformat()}"' in body  # the default range, shown as such
    sign_in(client, "r-staff@example.com", csrf)
    mine = client.get("/me/distribution?from=2026-03-01&to=2026-03-02&lang=en").get_data(as_text=True)
    assert 'name="from" value="2026-03-01"' in mine
    assert '<input type="hidden" name="lang" value="en">' in mine
    assert "Invalid date range" in client.get("/me/distribution?from=2026-03-05&to=2026-03-01&lang=en").get_data(
        as_text=True
    )
    keys = client.application.config["SETTINGS"].signing_keys()  # the app's, so the page can read the invite
    theirs = service.create_invite(db_session, staff, brand.id, keys=keys, base_url="http://x")
    service.decide(db_session, owner, brand.id, d.id, status=DistributorStatus.SUSPENDED)
    closed = client.get(f"/distribution/join/{theirs.token}?lang=en")
    assert closed.status_code == 410
    assert "The distributor who invited you is suspended" in closed.get_data(as_text=True)
    suspended = client.get("/me/distribution?lang=en").get_data(as_text=True)
    assert "The brand has suspended you" in suspended
    assert client.get(f"/shop/{d.id}").status_code == 404
    assert client.get(page).status_code == 403
