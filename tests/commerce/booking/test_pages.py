"""The booking pages render for each side, in Chinese by default and English with ?lang=en, escaping user text."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.artists import profiles
from commerce.booking import bookings, campaigns
from commerce.booking.models import Campaign
from tests import factories
from tests.commerce.booking.conftest import POLICY, Market, spec


def sign_in(client: FlaskClient, user: object) -> None:
    r = client.post("/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.get_json()


def test_pages_need_a_session(client: FlaskClient, campaign: Campaign) -> None:
    for path in ("/campaigns", "/bookings", f"/match?campaign={campaign.id}", "/notifications", "/campaigns/new"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/login?next=")


def test_brand_pages_show_the_ranking_with_its_breakdown(
    client: FlaskClient, db_session: Session, market: Market, campaign: Campaign
) -> None:
    profiles.update_profile(db_session, market.artist2, {"declared_followers": 9_000_000})
    sign_in(client, market.owner)
    html = client.get("/campaigns").get_data(as_text=True)
    assert "秋冬底妆种草" in html
    assert "匹配艺人" in html
    html = client.get(f"/match?campaign={campaign.id}").get_data(as_text=True)
    assert html.index("小鹿") < html.index("阿宁")  # within budget ranks above over budget
    assert "内容匹配" in html
    assert "带货表现" in html
    assert "履约可靠" in html
    assert "自报粉丝" in html
    assert "未核实，不计分" in html
    assert "data-invite" in html
    en = client.get(f"/match?campaign={campaign.id}&lang=en").get_data(as_text=True)
    assert "Sales performance" in en
    assert "unverified, not scored" in en
    filtered = client.get(f"/match?campaign={campaign.id}&q=阿宁").get_data(as_text=True)
    assert "阿宁" in filtered
    assert "小鹿" not in filtered
    assert client.get(f"/campaigns/{campaign.id}/edit").status_code == 200
    assert 'id="campaign-form"' in client.get("/campaigns/new").get_data(as_text=True)


def test_other_brands_cannot_open_the_matching_page(client: FlaskClient, market: Market, campaign: Campaign) -> None:
    sign_in(client, market.outsider)
    r = client.get(f"/match?campaign={campaign.id}", headers={"Accept": "text/html"})
    assert r.status_code == 403


def test_inbox_and_booking_page_show_the_timeline_and_the_callers_steps(
    client: FlaskClient, db_session: Session, market: Market, campaign: Campaign
) -> None:
    b = bookings.invite(db_session, market.owner, campaign.id, market.artist.id, message="<b>来拍</b>", policy=POLICY)
    sign_in(client, market.artist)
    html = client.get("/bookings").get_data(as_text=True)
    assert "秋冬底妆种草" in html
    assert "待你处理" in html
    html = client.get(f"/bookings/{b.id}").get_data(as_text=True)
    for action in ('data-action="quote"', 'data-action="accept"', 'data-action="decline"'):
        assert action in html
    assert "&lt;b&gt;来拍&lt;/b&gt;" in html  # the invitation's words, escaped
    assert "<b>来拍</b>" not in html
    assert 'data-version="1"' in html
    notes = client.get("/notifications").get_data(as_text=True)
    assert "邀请你参与「秋冬底妆种草」" in notes


def test_user_text_is_escaped_everywhere(client: FlaskClient, db_session: Session, market: Market) -> None:
    evil = "<script>alert(1)</script>"
    c = campaigns.create(db_session, market.owner, market.brand.id, spec(market, title=evil, brief=evil), policy=POLICY)
    profiles.update_profile(db_session, market.artist, {"bio": evil, "declared_note": evil})
    sign_in(client, market.owner)
    for path in ("/campaigns", f"/match?campaign={c.id}", f"/artists/{market.artist.id}", "/campaigns/open"):
        html = client.get(path).get_data(as_text=True)
        assert evil not in html, path
    assert "&lt;script&gt;" in client.get(f"/artists/{market.artist.id}").get_data(as_text=True)


def test_artist_pages(client: FlaskClient, db_session: Session, market: Market, campaign: Campaign) -> None:
    profiles.update_profile(db_session, market.artist, {"declared_followers": 120_000, "bio": "底妆测评"})
    html = client.get(f"/artists/{market.artist.id}").get_data(as_text=True)
    assert "平台实测数据" in html
    assert "自报数据" in html
    assert "不参与排序" in html
    assert "阿宁" in html  # similar artists
    sign_in(client, market.artist)
    assert 'id="profile-form"' in client.get("/me/artist-profile").get_data(as_text=True)
    html = client.get("/campaigns/open").get_data(as_text=True)
    assert f'data-apply="{campaign.id}"' in html
