"""Reports: GMV, orders, funnel and earnings by day and video, brand sales per artist and sharer, own data only."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce import reports
from commerce.orders import refunds, settlement
from commerce.orders.refunds import RefundItem
from core.clock import FrozenClock
from core.errors import PermissionDenied, ValidationFailed
from search import engagement
from search.engagement import EventIn
from search.models import EngagementKind
from tests.commerce.money import NOTIFY_URL, Market, orders_of, pay, place, share_click, ship_and_deliver

TODAY = dt.date(2026, 5, 1)


def _watch(session: Session, m: Market, video_id: int, *, viewers: int, clicks: int) -> None:
    """Viewers watch the video (distinct devices); some tap the product card; the aggregator counts them."""
    for i in range(viewers):
        events = [EventIn(EngagementKind.VIEW, video_id, watch_ms=15_000)]
        if i < clicks:
            events.append(EventIn(EngagementKind.PRODUCT_CLICK, video_id, product_id=m.product.id))
        engagement.record_events(session, user=None, device_id=f"viewer-device-{i:04d}", ip_hash=f"ip{i}",
                                 events=events)  # fmt: skip
    engagement.drain(session)


def test_artist_sharer_and_brand_reports(market: Market, frozen: FrozenClock) -> None:
    m = market
    _watch(m.session, m, m.video.id, viewers=20, clicks=5)
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    first = place(m, qty=2, click_ids=[click.click_id])  # 20 000 fen, artist + sharer
    pay(m, first)
    ship_and_deliver(m, orders_of(m, first)[0])
    frozen.advance(days=1)
    other = m.user()
    second = place(m, buyer=other, device="other")  # 10 000 fen, artist only
    pay(m, second)
    (order2,) = orders_of(m, second)
    ship_and_deliver(m, order2)
    refunds.force_refund(m.session, m.admin, order2.id, items=[RefundItem(order2.lines[0].id, amount=4_000)],
                         reason="partial", provider=m.provider, notify_url=NOTIFY_URL)  # fmt: skip
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    period = reports.Period(TODAY, TODAY + dt.timedelta(days=9))

    artist = reports.creator_report(m.session, m.artist, period)
    assert (artist.sales.gmv, artist.sales.orders, artist.sales.refunded) == (26_000, 2, 4_000)
    assert artist.sales.commission == 4_000 + 2_000 - 800  # 20 % of each, less the refunded share
    assert (artist.funnel.views, artist.funnel.product_clicks, artist.funnel.orders) == (20, 5, 2)
    assert artist.funnel.conversion_bp == 1000
    video_sales, video_funnel = artist.by_video[m.video.id]
    assert (video_sales.gmv, video_funnel.views) == (26_000, 20)
    assert artist.by_day[TODAY].gmv == 20_000
    assert artist.by_day[TODAY + dt.timedelta(days=1)].gmv == 6_000
    assert artist.earnings.available == 5_200
    assert artist.earnings.pending == 0

    sharer = reports.creator_report(m.session, m.sharer, period)
    assert (sharer.sales.gmv, sharer.sales.orders, sharer.sales.commission) == (20_000, 1, 2_000)
    assert sharer.funnel.views == 1  # one visit through their link
    assert sharer.earnings.available == 2_000

    brand = reports.brand_report(m.session, m.owner, m.brand.id, period)
    assert (brand.sales.gmv, brand.sales.orders) == (26_000, 2)
    assert brand.by_artist[m.artist.id].gmv == 26_000
    assert brand.by_artist[m.artist.id].commission == 5_200
    assert brand.by_sharer[m.sharer.id].gmv == 20_000
    assert brand.by_sharer[m.sharer.id].commission == 2_000
    assert brand.funnel.views == 20

    stranger = m.user()
    assert reports.creator_report(m.session, stranger, period).sales.orders == 0  # only your own sales
    with pytest.raises(PermissionDenied):
        reports.brand_report(m.session, m.sharer, m.brand.id, period)
    with pytest.raises(ValidationFailed):
        reports.Period(TODAY, TODAY - dt.timedelta(days=1))


def test_reports_api_is_filtered_to_the_caller(market: Market, frozen: FrozenClock, client: FlaskClient) -> None:
    from core.accounts import service as accounts

    m = market
    pay(m, place(m))
    me = client.get("/api/v1/reports/me?since=2026-04-25&until=2026-05-01",
                    headers={"Authorization": f"Bearer {accounts.issue_token(m.session, m.artist)}"})  # fmt: skip
    assert me.status_code == 200, me.get_json()
    body = me.get_json()
    assert body["sales"]["gmv"] == 10_000
    assert body["earnings"]["pending"] == 2_000
    assert len(body["by_day"]) == 7
    owner = {"Authorization": f"Bearer {accounts.issue_token(m.session, m.owner)}"}
    brand = client.get(f"/api/v1/reports/brands/{m.brand.id}", headers=owner).get_json()
    assert brand["by_artist"][0]["user_id"] == m.artist.id
    assert brand["by_artist"][0]["name"] == m.artist.display_name  # charts label people and videos by name
    assert [(v["video_id"], v["title"], v["gmv"]) for v in brand["by_video"]] == [(m.video.id, m.video.title, 10_000)]
    outsider = {"Authorization": f"Bearer {accounts.issue_token(m.session, m.sharer)}"}
    assert client.get(f"/api/v1/reports/brands/{m.brand.id}", headers=outsider).status_code == 403
    bad = client.get("/api/v1/reports/me?since=2026-05-01&until=2025-01-01", headers=owner)
    assert bad.status_code == 422


def test_daily_series_of_funnel_and_earnings(market: Market, frozen: FrozenClock, client: FlaskClient) -> None:
    """Per day: views and clicks from the engagement log, orders paid that day, and what was earned on them,
    split by whether it is still pending or already settled; the days add up to the period's totals."""
    from core.accounts import service as accounts

    m = market
    day2 = TODAY + dt.timedelta(days=1)
    _watch(m.session, m, m.video.id, viewers=6, clicks=2)
    click = share_click(m, m.sharer, viewer=m.buyer)
    frozen.advance(minutes=5)
    first = place(m, click_ids=[click.click_id])  # 10 000 fen: artist 2 000, sharer 1 000
    pay(m, first)
    ship_and_deliver(m, orders_of(m, first)[0])  # its return window starts today
    frozen.advance(days=1)
    _watch(m.session, m, m.video.id, viewers=3, clicks=1)
    pay(m, place(m, buyer=m.user(), device="other"))  # not delivered: stays pending
    frozen.advance(days=8)
    settlement.settle_due(m.session)
    period = reports.Period(TODAY, TODAY + dt.timedelta(days=9))

    artist = reports.creator_report(m.session, m.artist, period)
    day1_funnel, day2_funnel = artist.funnel_by_day[TODAY], artist.funnel_by_day[day2]
    assert (day1_funnel.views, day1_funnel.product_clicks, day1_funnel.orders) == (6, 2, 1)
    assert (day2_funnel.views, day2_funnel.product_clicks, day2_funnel.orders) == (3, 1, 1)
    assert sum(f.views for f in artist.funnel_by_day.values()) == artist.funnel.views
    assert sum(f.orders for f in artist.funnel_by_day.values()) == artist.funnel.orders
    assert vars(artist.earned_by_day[TODAY]) == {"pending": 0, "settled": 2_000}
    assert vars(artist.earned_by_day[day2]) == {"pending": 2_000, "settled": 0}
    assert (artist.earnings.pending, artist.earnings.available) == (2_000, 2_000)  # the ledger agrees

    sharer = reports.creator_report(m.session, m.sharer, period)
    assert sharer.funnel_by_day[TODAY].views == 1  # the visit through their link
    assert vars(sharer.earned_by_day[TODAY]) == {"pending": 0, "settled": 1_000}

    brand = reports.brand_report(m.session, m.owner, m.brand.id, period)
    assert brand.funnel_by_day[day2].views == 3
    assert brand.earned_by_day[TODAY].settled + brand.earned_by_day[day2].pending > 0

    token = accounts.issue_token(m.session, m.artist)
    body = client.get(f"/api/v1/reports/me?since={TODAY}&until={day2}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()  # fmt: skip
    assert [(d["day"], d["funnel"]["views"], d["funnel"]["orders"], d["earned"]) for d in body["by_day"]] == [
        (str(TODAY), 6, 1, {"pending": 0, "settled": 2_000}),
        (str(day2), 3, 1, {"pending": 2_000, "settled": 0}),
    ]
