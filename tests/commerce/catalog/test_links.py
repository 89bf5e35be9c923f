"""Video–product links: who may link what, time windows, limits, outbox events for the feed."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, links, products, showcase
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.links import LinkSpec
from commerce.catalog.models import ProductStatus
from core.errors import PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer, events_since, outbox_mark, problem_fields

LIMITS = CatalogLimits(require_qualifications=False)  # papers: tests/moderation/test_qualifications.py


def test_artist_links_own_brand_and_showcase_products_only(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    own_brand = factories.brand(db_session, owner=shop.artist, name="艺人自有品牌")
    own = factories.product(db_session, brand=own_brand, name="自有商品")
    market = factories.product(db_session, brand=shop.brand_a, name="联盟商品")
    stranger = factories.product(db_session, brand=shop.brand_b, name="别人的商品")
    video = factories.video(db_session, uploader=shop.artist, duration=60)
    db_session.commit()
    affiliate.set_offer(db_session, shop.owner_a, market.id, artist_rate_bp=2000, limits=LIMITS)
    h = bearer(client, shop.artist)
    url = f"/api/v1/videos/{video.id}/products"

    r = client.put(url, json={"links": [{"product_id": own.id}, {"product_id": stranger.id}]}, headers=h)
    assert r.status_code == 403
    assert r.get_json()["code"] == "product_not_linkable"
    assert problem_fields(r)["links.1.product_id"]["code"] == "product_not_linkable"
    # In the marketplace but not yet in the showcase: still not linkable.
    r = client.post(url, json={"product_id": market.id}, headers=h)
    assert r.status_code == 403
    showcase.add(db_session, shop.artist, market.id)
    r = client.put(url, json={"links": [{"product_id": own.id}, {"product_id": market.id}]}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert [lk["product"]["id"] for lk in r.get_json()] == [own.id, market.id]
    assert links.list_links(db_session, None, video.id)[1].product_id == market.id


def test_brand_video_links_only_its_own_brand(db_session: Session, shop: Shop) -> None:
    own = factories.product(db_session, brand=shop.brand_a)
    other = factories.product(db_session, brand=shop.brand_b)
    video = factories.video(db_session, uploader=shop.member_a, brand_id=shop.brand_a.id)
    db_session.commit()
    affiliate.set_offer(db_session, shop.owner_b, other.id, artist_rate_bp=2000, limits=LIMITS)
    with pytest.raises(PermissionDenied) as err:
        links.set_links(db_session, shop.member_a, video.id, [LinkSpec(other.id)], limits=LIMITS)
    assert err.value.code == "product_not_linkable"
    # Another member of the brand may edit the brand's video; an outsider may not.
    assert (
        links.set_links(db_session, shop.owner_a, video.id, [LinkSpec(own.id)], limits=LIMITS)[0].product_id == own.id
    )
    with pytest.raises(PermissionDenied) as err:
        links.set_links(db_session, shop.owner_b, video.id, [LinkSpec(other.id)], limits=LIMITS)
    assert err.value.code == "not_video_owner"


@pytest.mark.parametrize(
    "case",
    [
        ({"start_seconds": 10, "end_seconds": 31}, "links.0.end_seconds", "window_outside_video"),
        ({"start_seconds": 30}, "links.0.start_seconds", "window_outside_video"),
        ({"start_seconds": -1, "end_seconds": 5}, "links.0.start_seconds", "window_outside_video"),
        ({"start_seconds": 12, "end_seconds": 8}, "links.0.end_seconds", "window_inverted"),
        ({"start_seconds": 8, "end_seconds": 8}, "links.0.end_seconds", "window_inverted"),
        ({"end_seconds": 0}, "links.0.end_seconds", "window_outside_video"),
    ],
)
def test_windows_outside_the_video_get_a_field_error(
    client: FlaskClient, db_session: Session, shop: Shop, case: tuple[dict[str, float], str, str]
) -> None:
    window, field, code = case
    product = factories.product(db_session, brand=shop.brand_a)
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id, duration=30)
    db_session.commit()
    r = client.put(
        f"/api/v1/videos/{video.id}/products",
        json={"links": [{"product_id": product.id, **window}]},
        headers={**bearer(client, shop.owner_a), "Accept-Language": "en"},
    )
    assert r.status_code == 422
    fields = problem_fields(r)
    assert set(fields) == {field}
    assert fields[field]["code"] == code
    if code == "window_outside_video":
        assert fields[field]["message"] == "The time must lie within the video (0–30 s)"
    assert links.list_links(db_session, shop.owner_a, video.id) == []


def test_valid_windows_and_the_whole_video(db_session: Session, shop: Shop) -> None:
    p1, p2, p3 = (factories.product(db_session, brand=shop.brand_a) for _ in range(3))
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id, duration=30.5)
    db_session.commit()
    result = links.set_links(
        db_session,
        shop.owner_a,
        video.id,
        [LinkSpec(p1.id, start_seconds=0, end_seconds=30.5), LinkSpec(p2.id, start_seconds=12.3456), LinkSpec(p3.id)],
        limits=LIMITS,
    )
    assert [(lk.start_seconds, lk.end_seconds) for lk in result] == [(0, 30.5), (12.346, None), (None, None)]


def test_windows_wait_for_a_known_duration(db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id, duration=None)  # type: ignore[arg-type]
    db_session.commit()
    with pytest.raises(ValidationFailed) as err:
        links.set_links(db_session, shop.owner_a, video.id, [LinkSpec(product.id, start_seconds=1)], limits=LIMITS)
    assert err.value.fields[0].code == "video_duration_unknown"
    assert links.set_links(db_session, shop.owner_a, video.id, [LinkSpec(product.id)], limits=LIMITS)


def test_product_sku_and_count_checks(db_session: Session, shop: Shop) -> None:
    many = [factories.product(db_session, brand=shop.brand_a) for _ in range(LIMITS.video_max_products + 1)]
    draft = factories.product(db_session, brand=shop.brand_a, status="draft")
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id)
    db_session.commit()
    with pytest.raises(ValidationFailed) as err:
        links.set_links(db_session, shop.owner_a, video.id, [LinkSpec(p.id) for p in many], limits=LIMITS)
    assert (err.value.fields[0].field, err.value.fields[0].code) == ("links", "too_many_products")
    with pytest.raises(ValidationFailed) as err:
        links.set_links(
            db_session,
            shop.owner_a,
            video.id,
            [
                LinkSpec(draft.id),
                LinkSpec(many[0].id, sku_id=many[1].skus[0].id),
                LinkSpec(many[2].id),
                LinkSpec(many[2].id),
                LinkSpec(999_999_999),
            ],
            limits=LIMITS,
        )
    assert {(f.field, f.code) for f in err.value.fields} == {
        ("links.0.product_id", "product_not_active"),
        ("links.1.sku_id", "sku_not_in_product"),
        ("links.3.product_id", "duplicate_product"),
        ("links.4.product_id", "product_not_found"),
    }
    link = links.add_link(
        db_session, shop.owner_a, video.id, LinkSpec(many[0].id, sku_id=many[0].skus[0].id), limits=LIMITS
    )
    assert link.sku_id == many[0].skus[0].id
    for p in many[1 : LIMITS.video_max_products]:
        links.add_link(db_session, shop.owner_a, video.id, LinkSpec(p.id), limits=LIMITS)
    with pytest.raises(ValidationFailed):
        links.add_link(db_session, shop.owner_a, video.id, LinkSpec(many[-1].id), limits=LIMITS)
    assert len(links.list_links(db_session, shop.owner_a, video.id)) == LIMITS.video_max_products


def test_links_on_a_published_video_change_and_the_feed_hears_of_it(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    p1, p2 = (factories.product(db_session, brand=shop.brand_a) for _ in range(2))
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id, published=True, duration=20)
    db_session.commit()
    h = bearer(client, shop.owner_a)
    url = f"/api/v1/videos/{video.id}/products"

    mark = outbox_mark(db_session)
    r = client.post(url, json={"product_id": p1.id, "start_seconds": 2, "end_seconds": 9}, headers=h)
    assert r.status_code == 201
    assert sorted(events_since(db_session, mark)) == [("product", str(p1.id)), ("video", str(video.id))]

    mark = outbox_mark(db_session)
    r = client.put(url, json={"links": [{"product_id": p2.id}, {"product_id": p1.id, "start_seconds": 3}]}, headers=h)
    assert r.status_code == 200
    assert sorted(events_since(db_session, mark)) == [
        ("product", str(p1.id)),
        ("product", str(p2.id)),
        ("video", str(video.id)),
    ]
    public = client.get(url).get_json()  # anyone can see the cards of a live video
    assert [(c["product"]["id"], c["position"], c["start_seconds"], c["end_seconds"]) for c in public] == [
        (p2.id, 0, None, None),
        (p1.id, 1, 3.0, None),
    ]
    assert all(c["available"] for c in public)

    mark = outbox_mark(db_session)
    r = client.put(url, json={"links": [{"product_id": p2.id}, {"product_id": p1.id, "start_seconds": 3}]}, headers=h)
    assert r.status_code == 200
    assert events_since(db_session, mark) == []  # nothing changed, nothing to re-index

    mark = outbox_mark(db_session)
    assert client.delete(f"{url}/{p2.id}", headers=h).status_code == 204
    assert sorted(events_since(db_session, mark)) == [("product", str(p2.id)), ("video", str(video.id))]
    assert client.delete(f"{url}/{p2.id}", headers=h).status_code == 404

    # A card whose product went off sale stays on the video (marked unavailable) and the rest can still be edited.
    products.update_product(db_session, shop.owner_a, p1.id, status=ProductStatus.ARCHIVED)
    assert client.get(url).get_json()[0]["available"] is False
    r = client.put(url, json={"links": [{"product_id": p1.id, "start_seconds": 4}]}, headers=h)
    assert r.status_code == 200
    assert (
        client.put(url, json={"links": [{"product_id": p1.id}]}, headers=bearer(client, shop.viewer)).status_code == 403
    )


def test_cards_of_unpublished_videos_are_private(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    video = factories.video(db_session, uploader=shop.owner_a, brand_id=shop.brand_a.id, published=False)
    db_session.commit()
    assert client.get(f"/api/v1/videos/{video.id}/products").status_code == 404
    assert client.get(f"/api/v1/videos/{video.id}/products", headers=bearer(client, shop.member_a)).status_code == 200
    assert client.get("/api/v1/videos/999999999/products").status_code == 404


def test_product_picker_lists_what_the_editor_may_link(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    own_brand = factories.brand(db_session, owner=shop.artist, name="艺人自有品牌")
    own = factories.product(db_session, brand=own_brand, name="自有面霜")
    market = factories.product(db_session, brand=shop.brand_a, name="联盟口红")
    factories.product(db_session, brand=shop.brand_a, name="未入橱窗的粉底")
    factories.product(db_session, brand=shop.brand_b, name="别人的面霜")
    video = factories.video(db_session, uploader=shop.artist, duration=60)
    db_session.commit()
    affiliate.set_offer(db_session, shop.owner_a, market.id, artist_rate_bp=2000, limits=LIMITS)
    showcase.add(db_session, shop.artist, market.id)
    url = f"/api/v1/videos/{video.id}/linkable_products"

    r = client.get(url, headers=bearer(client, shop.artist))
    assert r.status_code == 200, r.get_json()
    assert sorted(p["id"] for p in r.get_json()) == sorted([own.id, market.id])
    assert [p["id"] for p in client.get(f"{url}?q=面霜", headers=bearer(client, shop.artist)).get_json()] == [own.id]
    assert client.get(url, headers=bearer(client, shop.viewer)).status_code == 403  # not the uploader
    assert client.get(url).status_code == 401
