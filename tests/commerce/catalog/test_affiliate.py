"""Affiliate marketplace: rate bounds, versioned rates for checkout, browsing, showcases."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, links, showcase
from commerce.catalog.limits import CatalogLimits
from core.clock import FrozenClock, use_clock
from core.errors import PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer, events_since, outbox_mark, problem_fields

LIMITS = CatalogLimits(require_qualifications=False)  # 100–5000 bp; papers: tests/moderation/test_qualifications.py


@pytest.mark.parametrize(
    "case",
    [
        (99, 0, "artist_rate_bp", "rate_out_of_bounds"),
        (0, 0, "artist_rate_bp", "rate_out_of_bounds"),
        (5001, 0, "artist_rate_bp", "rate_out_of_bounds"),
        (1000, -1, "sharer_rate_bp", "sharer_rate_out_of_bounds"),
        (1000, 5001, "sharer_rate_bp", "sharer_rate_out_of_bounds"),
        (4000, 1001, "sharer_rate_bp", "rates_sum_too_high"),
    ],
)
def test_rates_outside_platform_limits_are_refused(
    client: FlaskClient, db_session: Session, shop: Shop, case: tuple[int, int, str, str]
) -> None:
    artist, sharer, field, code = case
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    r = client.put(
        f"/api/v1/products/{product.id}/affiliate",
        json={"artist_rate_bp": artist, "sharer_rate_bp": sharer},
        headers=bearer(client, shop.owner_a),
    )
    assert r.status_code == 422
    assert problem_fields(r)[field]["code"] == code
    assert affiliate.commission_rates(db_session, product.id).offer_id is None


def test_rate_bound_messages_name_the_limits(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    r = client.put(
        f"/api/v1/products/{product.id}/affiliate", json={"artist_rate_bp": 6000}, headers=bearer(client, shop.owner_a)
    )
    assert problem_fields(r)["artist_rate_bp"]["message"] == "佣金率应在 1% 到 50% 之间"


@pytest.mark.parametrize(("artist", "sharer"), [(100, 0), (5000, 0), (4000, 1000)])
def test_rates_at_the_bounds_are_accepted(db_session: Session, shop: Shop, artist: int, sharer: int) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    offer = affiliate.set_offer(
        db_session, shop.owner_a, product.id, artist_rate_bp=artist, sharer_rate_bp=sharer, limits=LIMITS
    )
    assert (offer.artist_rate_bp, offer.sharer_rate_bp) == (artist, sharer)


def test_rate_changes_apply_from_now_on_and_history_is_kept(db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    draft = factories.product(db_session, brand=shop.brand_a, status="draft")
    db_session.commit()
    t0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    clock = FrozenClock(t0)
    with use_clock(clock):
        mark = outbox_mark(db_session)
        first = affiliate.set_offer(
            db_session, shop.owner_a, product.id, artist_rate_bp=2000, sharer_rate_bp=500, limits=LIMITS
        )
        assert (
            affiliate.set_offer(
                db_session, shop.owner_a, product.id, artist_rate_bp=2000, sharer_rate_bp=500, limits=LIMITS
            ).id
            == first.id
        )  # same terms: no new version
        clock.advance(days=3)
        second = affiliate.set_offer(db_session, shop.owner_a, product.id, artist_rate_bp=1200, limits=LIMITS)
        clock.advance(days=1)
        now = affiliate.commission_rates(db_session, product.id)
        before = affiliate.commission_rates(db_session, product.id, at=t0 + dt.timedelta(days=1))
        affiliate.close_offer(db_session, shop.owner_a, product.id)
        after_close = affiliate.commission_rates(db_session, product.id)
    assert now == affiliate.CommissionRates(second.id, 1200, 0)
    assert before == affiliate.CommissionRates(first.id, 2000, 500)
    assert after_close == affiliate.CommissionRates(None, 0, 0)
    assert affiliate.commission_rates(db_session, product.id, at=t0 - dt.timedelta(seconds=1)).offer_id is None
    history = affiliate.offer_history(db_session, shop.member_a, product.id)
    assert [(o.id, o.effective_from, o.effective_to) for o in history] == [
        (second.id, t0 + dt.timedelta(days=3), t0 + dt.timedelta(days=4)),
        (first.id, t0, t0 + dt.timedelta(days=3)),
    ]
    assert events_since(db_session, mark) == [("product", str(product.id))] * 3
    with pytest.raises(ValidationFailed) as err:
        affiliate.set_offer(db_session, shop.owner_a, draft.id, artist_rate_bp=1000, limits=LIMITS)
    assert err.value.fields[0].code == "product_not_active"
    with pytest.raises(PermissionDenied):
        affiliate.set_offer(db_session, shop.owner_b, product.id, artist_rate_bp=1000, limits=LIMITS)


def test_artists_browse_and_filter_open_products(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    a1 = factories.product(db_session, brand=shop.brand_a, name="防晒霜", category="beauty.skincare", prices=[12900])
    a2 = factories.product(db_session, brand=shop.brand_a, name="口红", category="beauty.makeup", prices=[19900, 25900])
    b1 = factories.product(db_session, brand=shop.brand_b, name="蓝牙耳机", category="digital.audio", prices=[39900])
    b2 = factories.product(
        db_session, brand=shop.brand_b, name="手机壳", category="digital.phone_accessories", prices=[5900]
    )
    closed = factories.product(db_session, brand=shop.brand_b, name="没开放", prices=[100])
    db_session.commit()
    for product, rate in [(a1, 2500), (a2, 1000), (b1, 3000), (b2, 1500)]:
        affiliate.set_offer(db_session, shop.owner_a if product.brand_id == shop.brand_a.id else shop.owner_b,
                            product.id, artist_rate_bp=rate, limits=LIMITS)  # fmt: skip
    showcase.add(db_session, shop.artist, b1.id)
    h = bearer(client, shop.artist)

    def ids(query: str) -> list[int]:
        r = client.get(f"/api/v1/affiliate/products?{query}", headers=h)
        assert r.status_code == 200, r.get_json()
        return [i["product"]["id"] for i in r.get_json()["items"]]

    assert ids("") == [b2.id, b1.id, a2.id, a1.id]  # newest offer first
    assert closed.id not in ids("limit=100")
    assert ids("category=beauty") == [a2.id, a1.id]
    assert ids("category=digital.audio") == [b1.id]
    assert ids("price_min_fen=10000&price_max_fen=20000") == [a2.id, a1.id]
    assert ids("min_rate_bp=2000&sort=rate") == [b1.id, a1.id]
    assert ids(f"brand_id={shop.brand_b.id}&sort=price_asc") == [b2.id, b1.id]
    assert ids("sort=price_desc") == [b1.id, a2.id, a1.id, b2.id]
    assert ids("q=耳机") == [b1.id]
    item = client.get("/api/v1/affiliate/products?category=digital.audio", headers=h).get_json()["items"][0]
    assert (item["artist_rate_bp"], item["in_showcase"], item["showcase_count"]) == (3000, True, 1)
    # Cursor pages by rate never repeat or skip an item.
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/v1/affiliate/products?sort=rate&limit=3{cursor}", headers=h).get_json()
        seen += [i["product"]["id"] for i in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [b1.id, a1.id, b2.id, a2.id]
    r = client.get("/api/v1/affiliate/products?price_min_fen=500&price_max_fen=100", headers=h)
    assert "query.price_min_fen" in problem_fields(r)
    assert client.get("/api/v1/affiliate/products", headers=bearer(client, shop.viewer)).status_code == 403


def test_showcase_needs_an_open_offer_and_removal_takes_cards_off_videos(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    product = factories.product(db_session, brand=shop.brand_a, name="连衣裙")
    video = factories.video(db_session, uploader=shop.artist, duration=30)
    db_session.commit()
    h = bearer(client, shop.artist)
    r = client.post("/api/v1/me/showcase", json={"product_id": product.id}, headers=h)
    assert r.status_code == 422
    assert problem_fields(r)["product_id"]["code"] == "not_open_for_affiliation"

    affiliate.set_offer(db_session, shop.owner_a, product.id, artist_rate_bp=2000, limits=LIMITS)
    r = client.post("/api/v1/me/showcase", json={"product_id": product.id}, headers=h)
    assert r.status_code == 201
    assert client.post("/api/v1/me/showcase", json={"product_id": product.id}, headers=h).status_code == 201
    public = client.get(f"/api/v1/artists/{shop.artist.id}/showcase").get_json()["items"]
    assert [(i["product"]["id"], i["artist_rate_bp"], i["available"]) for i in public] == [(product.id, 2000, True)]
    links.set_links(db_session, shop.artist, video.id, [links.LinkSpec(product.id)], limits=LIMITS)

    affiliate.close_offer(db_session, shop.owner_a, product.id)
    assert client.get(f"/api/v1/artists/{shop.artist.id}/showcase").get_json()["items"] == []
    mine = client.get("/api/v1/me/showcase", headers=h).get_json()["items"]
    assert [(i["product"]["id"], i["available"]) for i in mine] == [(product.id, False)]

    mark = outbox_mark(db_session)
    assert client.delete(f"/api/v1/me/showcase/{product.id}", headers=h).status_code == 204
    assert links.list_links(db_session, shop.artist, video.id) == []
    assert ("video", str(video.id)) in events_since(db_session, mark)
    assert client.delete(f"/api/v1/me/showcase/{product.id}", headers=h).status_code == 404
    assert (
        client.post(
            "/api/v1/me/showcase", json={"product_id": product.id}, headers=bearer(client, shop.viewer)
        ).status_code
        == 403
    )
