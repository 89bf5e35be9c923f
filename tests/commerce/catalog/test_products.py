"""Products and SKUs: ownership, validation, listing, outbox events."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from commerce.catalog import affiliate, products
from commerce.catalog.limits import CatalogLimits
from commerce.catalog.models import ProductStatus
from core.errors import PermissionDenied, ValidationFailed
from tests import factories
from tests.commerce.catalog.conftest import Shop
from tests.commerce.catalog.helpers import bearer, events_since, outbox_mark, problem_fields

LIMITS = CatalogLimits()
_n = itertools.count()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


_PNG = _png()

NEW_PRODUCT = {
    "name": "清透防晒霜 SPF50+",
    "category": "beauty.skincare",
    "description": "高倍防晒",
    "status": "active",
    "skus": [
        {"code": "SUN-30", "attributes": {"规格": "30ml"}, "price_fen": 8900, "stock": 10},
        {"code": "SUN-50", "attributes": {"规格": "50ml"}, "price_fen": 12900, "list_price_fen": 15900, "stock": 5},
    ],
}


def test_brand_member_creates_product_with_skus_and_an_outbox_event(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    mark = outbox_mark(db_session)
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/products", json=NEW_PRODUCT, headers=bearer(client, shop.member_a)
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "active"
    assert body["category_path"] == "美妆/护肤"
    assert (body["price_min_fen"], body["price_max_fen"]) == (8900, 12900)
    assert [s["code"] for s in body["skus"]] == ["SUN-30", "SUN-50"]
    assert body["skus"][1]["list_price_fen"] == 15900
    assert body["affiliate"] is None
    assert events_since(db_session, mark) == [("product", str(body["id"]))]


def test_every_edit_over_the_api_writes_an_outbox_event(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a, prices=(8900,))
    db_session.commit()
    h = bearer(client, shop.member_a)
    sku_id = product.skus[0].id
    edits = [
        (f"/api/v1/products/{product.id}", {"name": "新名字", "description": "新描述"}),
        (f"/api/v1/products/{product.id}/skus/{sku_id}", {"price_fen": 7900}),
        (f"/api/v1/products/{product.id}/skus/{sku_id}", {"stock": 0}),
    ]
    for url, body in edits:
        mark = outbox_mark(db_session)
        r = client.patch(url, json=body, headers=h)
        assert r.status_code == 200, r.get_json()
        assert events_since(db_session, mark) == [("product", str(product.id))]


OWNER_ONLY_OPERATIONS: dict[str, Callable[[FlaskClient, int, int, dict[str, str]], int]] = {
    "patch": lambda c, pid, sid, h: c.patch(f"/api/v1/products/{pid}", json={"name": "改名"}, headers=h).status_code,
    "add_sku": lambda c, pid, sid, h: (
        c.post(
            f"/api/v1/products/{pid}/skus", json={"price_fen": 100, "attributes": {"色": f"黑{next(_n)}"}}, headers=h
        ).status_code
    ),
    "patch_sku": lambda c, pid, sid, h: (
        c.patch(f"/api/v1/products/{pid}/skus/{sid}", json={"stock": 1}, headers=h).status_code
    ),
    "delete_sku": lambda c, pid, sid, h: c.delete(f"/api/v1/products/{pid}/skus/{sid}", headers=h).status_code,
    "set_offer": lambda c, pid, sid, h: (
        c.put(f"/api/v1/products/{pid}/affiliate", json={"artist_rate_bp": 1000}, headers=h).status_code
    ),
    "offer_history": lambda c, pid, sid, h: c.get(f"/api/v1/products/{pid}/affiliate/history", headers=h).status_code,
    "upload_image": lambda c, pid, sid, h: (
        c.post(
            f"/api/v1/products/{pid}/images",
            data={"file": (io.BytesIO(_PNG), "p.png")},
            headers=h,
            content_type="multipart/form-data",
        ).status_code
    ),
}


@pytest.mark.parametrize("operation", sorted(OWNER_ONLY_OPERATIONS))
def test_another_brand_cannot_touch_the_product_but_members_and_admins_can(
    client: FlaskClient, db_session: Session, shop: Shop, operation: str
) -> None:
    product = factories.product(db_session, brand=shop.brand_a, prices=[1000, 2000])
    db_session.commit()
    pid, sid = product.id, product.skus[1].id
    op = OWNER_ONLY_OPERATIONS[operation]
    mark = outbox_mark(db_session)
    for outsider in (shop.owner_b, shop.artist, shop.viewer):
        assert op(client, pid, sid, bearer(client, outsider)) == 403, outsider
    assert events_since(db_session, mark) == []
    assert op(client, pid, sid, {}) == 401
    assert op(client, pid, sid, bearer(client, shop.member_a)) in (200, 201, 204)
    assert op(client, pid, sid, bearer(client, shop.admin)) in (200, 201, 204)


def test_other_brand_cannot_create_in_a_brand_it_is_not_member_of(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/products", json=NEW_PRODUCT, headers=bearer(client, shop.owner_b)
    )
    assert r.status_code == 403
    assert r.get_json()["code"] == "not_brand_member"
    with pytest.raises(PermissionDenied):
        products.list_brand_products(db_session, shop.owner_b, shop.brand_a.id)


def test_drafts_are_visible_only_to_their_brand(client: FlaskClient, db_session: Session, shop: Shop) -> None:
    draft = factories.product(db_session, brand=shop.brand_a, status="draft")
    active = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    assert client.get(f"/api/v1/products/{draft.id}").status_code == 404
    assert client.get(f"/api/v1/products/{draft.id}", headers=bearer(client, shop.owner_b)).status_code == 404
    assert client.get(f"/api/v1/products/{draft.id}", headers=bearer(client, shop.member_a)).status_code == 200
    assert client.get(f"/api/v1/products/{active.id}").status_code == 200
    listed = client.get(f"/api/v1/products?brand_id={shop.brand_a.id}").get_json()["items"]
    assert [p["id"] for p in listed] == [active.id]


def test_product_validation_reports_each_field(client: FlaskClient, shop: Shop) -> None:
    h = bearer(client, shop.owner_a)
    bad = {
        "name": "坏商品",
        "category": "美妆",
        "skus": [
            {"code": "X1", "price_fen": 0},
            {"code": "X2", "price_fen": 500, "list_price_fen": 400, "stock": -1, "attributes": {"色": "红"}},
        ],
    }
    r = client.post(f"/api/v1/brands/{shop.brand_a.id}/products", json=bad, headers=h)
    assert r.status_code == 422
    assert problem_fields(r)["category"]["code"] == "unknown_category"
    bad["category"] = "beauty"  # a top-level category is not a leaf
    r = client.post(f"/api/v1/brands/{shop.brand_a.id}/products", json=bad, headers=h)
    assert problem_fields(r)["category"]["code"] == "unknown_category"
    bad["category"] = "beauty.makeup"
    r = client.post(f"/api/v1/brands/{shop.brand_a.id}/products", json=bad, headers={**h, "Accept-Language": "en"})
    fields = problem_fields(r)
    assert fields["skus.0.price_fen"]["code"] == "price_out_of_range"
    assert fields["skus.1.list_price_fen"]["message"] == "The list price cannot be below the price"
    assert fields["skus.1.stock"]["code"] == "stock_negative"
    bad["skus"][0]["price_fen"] = -500
    for lang, label, sentence in (("zh-CN", "第 1 个规格的售价", "价格不能为负数"),
                                  ("en", "Price of SKU 1", "The price cannot be negative")):  # fmt: skip
        r = client.post(f"/api/v1/brands/{shop.brand_a.id}/products", json=bad, headers={**h, "Accept-Language": lang})
        error = problem_fields(r)["skus.0.price_fen"]
        assert (error["code"], error["label"], error["message"]) == ("price_negative", label, sentence)
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/products",
        json={"name": "无SKU", "category": "beauty.makeup", "status": "active"},
        headers=h,
    )
    assert problem_fields(r)["status"]["code"] == "active_needs_sku"
    r = client.post(
        f"/api/v1/brands/{shop.brand_a.id}/products",
        json={**NEW_PRODUCT, "skus": [NEW_PRODUCT["skus"][0], {**NEW_PRODUCT["skus"][0], "attributes": {}}]},
        headers=h,
    )
    assert problem_fields(r)["skus.0.code"]["code"] == "sku_code_taken"


def test_a_single_sku_product_can_go_on_sale_at_once(db_session: Session, shop: Shop) -> None:
    product = products.create_product(
        db_session,
        shop.owner_a,
        shop.brand_a.id,
        name="单品",
        category="food.snacks",
        status=ProductStatus.ACTIVE,
        skus=[products.SkuSpec(price_fen=990)],
        limits=LIMITS,
    )
    assert product.status == ProductStatus.ACTIVE
    assert (product.price_min_fen, product.skus[0].code[:1]) == (990, "S")


def test_sku_codes_are_unique_per_brand_not_globally(db_session: Session, shop: Shop) -> None:
    spec = products.SkuSpec(price_fen=100, code="SAME-CODE")
    products.create_product(
        db_session, shop.owner_a, shop.brand_a.id, name="甲", category="food.snacks", skus=[spec], limits=LIMITS
    )
    products.create_product(
        db_session, shop.owner_b, shop.brand_b.id, name="乙", category="food.snacks", skus=[spec], limits=LIMITS
    )
    with pytest.raises(ValidationFailed) as err:
        products.create_product(
            db_session, shop.owner_a, shop.brand_a.id, name="丙", category="food.snacks", skus=[spec], limits=LIMITS
        )
    assert err.value.fields[0].code == "sku_code_taken"


def test_sku_edits_keep_the_price_band_and_the_last_active_sku(db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a, prices=[1000, 3000])
    db_session.commit()
    cheap, dear = product.skus
    mark = outbox_mark(db_session)
    products.update_sku(db_session, shop.owner_a, product.id, cheap.id, price_fen=1500, limits=LIMITS)
    assert (product.price_min_fen, product.price_max_fen) == (1500, 3000)
    products.deactivate_sku(db_session, shop.owner_a, product.id, dear.id)
    assert (product.price_min_fen, product.price_max_fen) == (1500, 1500)
    assert events_since(db_session, mark) == [("product", str(product.id))] * 2
    with pytest.raises(ValidationFailed) as err:
        products.deactivate_sku(db_session, shop.owner_a, product.id, cheap.id)
    assert err.value.fields[0].code == "last_active_sku"
    sku = products.update_sku(db_session, shop.owner_a, product.id, cheap.id, list_price_fen=2000, limits=LIMITS)
    assert sku.list_price_fen == 2000
    sku = products.update_sku(db_session, shop.owner_a, product.id, cheap.id, list_price_fen=None, limits=LIMITS)
    assert sku.list_price_fen is None
    with pytest.raises(ValidationFailed):
        products.update_sku(db_session, shop.owner_a, product.id, cheap.id, stock=-5, limits=LIMITS)
    assert cheap.stock == 10  # the failed edit changed nothing
    mark = outbox_mark(db_session)
    products.add_sku(db_session, shop.owner_a, product.id, products.SkuSpec(price_fen=500, stock=1), limits=LIMITS)
    assert product.price_min_fen == 500
    assert events_since(db_session, mark) == [("product", str(product.id))]


def test_patch_sku_list_price_null_removes_it_and_omitting_keeps_it(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    product = factories.product(db_session, brand=shop.brand_a, prices=[1000])
    db_session.commit()
    h = bearer(client, shop.owner_a)
    url = f"/api/v1/products/{product.id}/skus/{product.skus[0].id}"
    assert client.patch(url, json={"list_price_fen": 1800}, headers=h).get_json()["list_price_fen"] == 1800
    assert client.patch(url, json={"stock": 3}, headers=h).get_json()["list_price_fen"] == 1800
    assert client.patch(url, json={"list_price_fen": None}, headers=h).get_json()["list_price_fen"] is None


def test_archiving_closes_the_affiliate_offer(db_session: Session, shop: Shop) -> None:
    product = factories.product(db_session, brand=shop.brand_a)
    db_session.commit()
    affiliate.set_offer(db_session, shop.owner_a, product.id, artist_rate_bp=1500, limits=LIMITS)
    assert affiliate.commission_rates(db_session, product.id).artist_rate_bp == 1500
    mark = outbox_mark(db_session)
    products.update_product(db_session, shop.owner_a, product.id, status=ProductStatus.ARCHIVED)
    assert products.current_offer(db_session, product.id) is None
    assert affiliate.commission_rates(db_session, product.id).offer_id is None
    assert events_since(db_session, mark) == [("product", str(product.id))]


def test_brand_listing_filters_and_pages_with_a_stable_cursor(
    client: FlaskClient, db_session: Session, shop: Shop
) -> None:
    made = [
        factories.product(db_session, brand=shop.brand_a, category=c, status=s)
        for c, s in [
            ("beauty.skincare", "active"),
            ("beauty.makeup", "draft"),
            ("digital.audio", "active"),
            ("beauty.skincare", "archived"),
            ("beauty.makeup", "active"),
        ]
    ]
    factories.product(db_session, brand=shop.brand_b)
    db_session.commit()
    h = bearer(client, shop.member_a)
    seen, cursor = [], None
    while True:
        url = f"/api/v1/brands/{shop.brand_a.id}/products?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=h).get_json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.id for p in reversed(made)]
    beauty = client.get(f"/api/v1/brands/{shop.brand_a.id}/products?category=beauty", headers=h).get_json()
    assert {p["id"] for p in beauty["items"]} == {made[0].id, made[1].id, made[3].id, made[4].id}
    drafts = client.get(f"/api/v1/brands/{shop.brand_a.id}/products?status=draft", headers=h).get_json()
    assert [p["id"] for p in drafts["items"]] == [made[1].id]
    r = client.get(f"/api/v1/brands/{shop.brand_a.id}/products?cursor=not-a-cursor", headers=h)
    assert r.status_code == 400
    assert r.get_json()["code"] == "invalid_cursor"
    r = client.get(f"/api/v1/brands/{shop.brand_a.id}/products?limit=abc", headers=h)
    assert "query.limit" in problem_fields(r)


def test_category_tree_is_served(client: FlaskClient) -> None:
    tree = client.get("/api/v1/catalog/categories").get_json()
    beauty = next(c for c in tree if c["code"] == "beauty")
    assert {"code": "beauty.skincare", "name_zh": "护肤", "name_en": "Skincare", "children": []} in beauty["children"]
